namespace LmWrapper.OpenAI.Tests;

public sealed class OpenAiMoreMappingTests : OpenAiTestBase
{
    [Fact]
    public async Task MetadataAndTheCacheFlagAreNeverSent()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var p = await lm.PredictAsync(new LmPrompt("hi") { MaxTokens = 3, Metadata = new { Secret = "do-not-send" }, Cache = false });
        Assert.DoesNotContain("do-not-send", LastRequest.Body);
        Assert.DoesNotContain("cache", LastRequest.Body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("metadata", LastRequest.Body, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("do-not-send", ((dynamic)p.Metadata!).Secret);
    }

    [Fact]
    public async Task SeveralEchoedCompletionsEachSplitPromptAndCompletion()
    {
        using var lm = Lm(OpenAiModelNames.Davinci002);
        var p = await lm.PredictAsync(new LmPrompt("Tell me") { MaxTokens = 12, NumCompletions = 2, Echo = true, Logprobs = 2 });
        Assert.Equal(2, LastRequest.Json.GetProperty("n").GetInt32());
        Assert.Equal(2, p.Completions.Count);
        Assert.NotEqual(p.Completions[0].CompletionText, p.Completions[1].CompletionText);
        foreach (var c in p.Completions)
        {
            Assert.Equal(["Tell", " me"], c.PromptTokens);
            Assert.Equal(12, c.CompletionTokens.Count);
            Assert.Equal(c.CompletionText, string.Concat(c.CompletionTokens));
            Assert.Equal(0, c.CompletionTokenOffsets[0]);
            Assert.StartsWith(" You said", c.CompletionText);
        }

        Assert.Equal(24, p.Completions.Sum(c => c.Usage!.OutputTokens));
        Assert.Equal(2, p.Completions.Sum(c => c.Usage!.InputTokens));
    }
}
