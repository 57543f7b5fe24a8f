using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

/// <summary>The Python lmwrapper README's "Chat", "Retries on rate limit" and "Built-in token counting" examples, in C#.</summary>
public sealed class ReadmeExampleTests : OpenAiTestBase
{
    [Fact]
    public void ChatExamples()
    {
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt35Turbo, FakeOpenAiServer.DefaultApiKey, options: Options());

        // Single user utterance
        var pred = lm.Predict("What is 2+2?");
        Assert.Equal("2+2 is equal to 4.", pred.CompletionText);

        // Conversation alternating between user and assistant.
        pred = lm.Predict(new LmPrompt(["What is 2+2?", "4", "What is 5+3?", "8", "What is 4+4?"]) { MaxTokens = 10 });
        Assert.Equal("8", pred.CompletionText);
        var roles = LastRequest.Json.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()!).ToArray();
        Assert.Equal(["user", "assistant", "user", "assistant", "user"], roles);

        // The system message, with LmChatTurn objects.
        pred = lm.Predict(new LmPrompt([
            LmChatTurn.System("You always answer like a pirate"),
            LmChatTurn.User("How does bitcoin work?"),
        ]) { MaxTokens = 25, Temperature = 0 });
        Assert.StartsWith("Arr, me matey! Bitcoin be a digital currency that be workin' on a technology called blockchain", pred.CompletionText);
        Assert.Equal("length", pred.FinishReason);
        Assert.Equal(25, pred.Usage!.OutputTokens);
    }

    [Fact]
    public void RetriesOnRateLimitExample()
    {
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt35TurboInstruct, FakeOpenAiServer.DefaultApiKey, retryOnRateLimit: true, options: Options());
        Server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(10)), times: 3);
        var pred = lm.Predict(new LmPrompt("Once upon a") { MaxTokens = 10 });
        Assert.Equal(" time, there were three of us.", pred.CompletionText);
        Assert.Equal(4, Server.Requests.Count);
    }

    [Fact]
    public void BuiltInTokenCountingExample()
    {
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt35TurboInstruct, FakeOpenAiServer.DefaultApiKey, options: Options());
        Assert.Equal(7, lm.EstimateTokensInPrompt(new LmPrompt("My name is Spingldorph") { MaxTokens = 10 }));
        Assert.False(lm.CouldCompletionGoOverTokenLimit(new LmPrompt("My name is Spingldorph") { MaxTokens = 1000 }));
        Assert.True(lm.CouldCompletionGoOverTokenLimit(new LmPrompt("My name is Spingldorph") { MaxTokens = 4090 }));
        Assert.Empty(Server.Requests);
    }
}
