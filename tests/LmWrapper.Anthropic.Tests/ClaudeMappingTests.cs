using System.Text.Json.Nodes;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

public sealed class ClaudeMappingTests : ClaudeTestBase
{
    [Fact]
    public void APlainStringIsOneUserTurnWithTheDefaultMaxTokens()
    {
        using var lm = Model();
        var p = lm.Predict(new LmPrompt("What is 2+2?"));
        var body = LastBody;
        Assert.Equal("claude-3-5-haiku-20241022", body["model"]!.GetValue<string>());
        Assert.Equal(4096, body["max_tokens"]!.GetValue<int>());
        Assert.Equal(lm.DefaultTokensGenerated, body["max_tokens"]!.GetValue<int>());
        var messages = body["messages"]!.AsArray();
        Assert.Single(messages);
        Assert.Equal("user", messages[0]!["role"]!.GetValue<string>());
        Assert.Equal("What is 2+2?", messages[0]!["content"]!.GetValue<string>());
        Assert.Null(body["system"]);
        Assert.Null(body["top_p"]);
        Assert.Null(body["stop_sequences"]);
        Assert.Equal("Echo: What is 2+2?", p.CompletionText);
    }

    [Fact]
    public void PredictOnAStringSendsMaxTokens100()
    {
        using var lm = Model();
        lm.Predict("hello there");
        Assert.Equal(100, LastBody["max_tokens"]!.GetValue<int>());
    }

    [Fact]
    public void TheDefaultMaxTokensIsModelSpecific()
    {
        using var lm = Model(ClaudeModelNames.Claude3Haiku);
        Assert.Equal(4096, lm.DefaultTokensGenerated);
        var custom = ClaudeModelNames.Register(new ClaudeModelInfo("claude-test-small-output", 100_000, 1_000, 1m, 2m));
        using var small = Model(custom);
        Assert.Equal(1000, small.DefaultTokensGenerated);
        small.Predict(new LmPrompt("hi"));
        Assert.Equal(1000, LastBody["max_tokens"]!.GetValue<int>());
    }

    [Fact]
    public void SystemTurnBecomesTheSystemFieldAndTurnsKeepTheirOrder()
    {
        using var lm = Model();
        lm.Predict(new LmPrompt([
            LmChatTurn.System("You always answer like a pirate"),
            LmChatTurn.User("How does bitcoin work?"),
            LmChatTurn.Assistant("Arr, it be a ledger."),
            LmChatTurn.User("Tell me more."),
        ]) { MaxTokens = 25, Temperature = 0 });
        var body = LastBody;
        Assert.Equal("You always answer like a pirate", body["system"]!.GetValue<string>());
        var messages = body["messages"]!.AsArray();
        Assert.Equal(["user", "assistant", "user"], messages.Select(m => m!["role"]!.GetValue<string>()));
        Assert.Equal(["How does bitcoin work?", "Arr, it be a ledger.", "Tell me more."], messages.Select(m => m!["content"]!.GetValue<string>()));
        Assert.Equal(25, body["max_tokens"]!.GetValue<int>());
        Assert.Equal(0.0, body["temperature"]!.GetValue<double>());
    }

    [Fact]
    public void AlternatingStringsMapToUserAndAssistantTurns()
    {
        using var lm = Model();
        lm.Predict(new LmPrompt(["What is 2+2?", "4", "What is 5+3?", "8", "What is 4+4?"]) { MaxTokens = 10 });
        var roles = LastBody["messages"]!.AsArray().Select(m => m!["role"]!.GetValue<string>());
        Assert.Equal(["user", "assistant", "user", "assistant", "user"], roles);
    }

    [Fact]
    public void TemperatureTopPAndStopSequencesAreSent()
    {
        using var lm = Model();
        lm.Predict(new LmPrompt("q") { Temperature = 0.3, TopP = 0.9, Stop = ["\n\n", "END"] });
        var body = LastBody;
        Assert.Equal(0.3, body["temperature"]!.GetValue<double>());
        Assert.Equal(0.9, body["top_p"]!.GetValue<double>());
        Assert.Equal(["\n\n", "END"], body["stop_sequences"]!.AsArray().Select(s => s!.GetValue<string>()));
    }

    [Fact]
    public void TopPZeroIsGreedySentAsTemperatureZeroAlone()
    {
        // Also on a 4.5 model, which refuses temperature and top_p together: greedy is one setting.
        foreach (var model in new[] { ClaudeModelNames.ClaudeHaiku45, ClaudeModelNames.Claude35Haiku })
        {
            using var lm = Model(model);
            var p = lm.Predict(new LmPrompt("q") { TopP = 0, Temperature = 0.7 });
            Assert.False(p.HasErrors, p.ErrorMessage);
            Assert.Equal(0, LastBody["temperature"]!.GetValue<double>());
            Assert.Null(LastBody["top_p"]);
        }
    }

    [Fact]
    public void OnAModelThatTakesOneSamplingSettingTopPAloneIsSentWithoutTemperature()
    {
        using var lm = Model(ClaudeModelNames.ClaudeHaiku45);
        var p = lm.Predict(new LmPrompt("q") { TopP = 0.5 });
        Assert.False(p.HasErrors);
        Assert.Null(LastBody["temperature"]);
        Assert.Equal(0.5, LastBody["top_p"]!.GetValue<double>());

        lm.Predict(new LmPrompt("q") { Temperature = 0.2 });
        Assert.Equal(0.2, LastBody["temperature"]!.GetValue<double>());
        Assert.Null(LastBody["top_p"]);
    }

    [Fact]
    public void HeadersCarryTheKeyAndTheVersion()
    {
        using var lm = Model();
        lm.Predict(new LmPrompt("q"));
        var headers = MessageRequests[0].Headers;
        Assert.Equal(FakeAnthropicServer.DefaultApiKey, headers["x-api-key"]);
        Assert.Equal("2023-06-01", headers["anthropic-version"]);
        Assert.StartsWith("application/json", headers["content-type"], StringComparison.Ordinal);
    }

    [Fact]
    public void ResponseBlocksUsageAndProviderDataAreMapped()
    {
        Server.Responder = _ => new FakeAnthropicReply(["Hello", " world"]) { CacheCreationInputTokens = 2, CacheReadInputTokens = 3 };
        using var lm = Model();
        var prompt = new LmPrompt([LmChatTurn.System("be brief please"), LmChatTurn.User("say hello to the world")]);
        var p = lm.Predict(prompt);
        Assert.Equal("Hello world", p.CompletionText);
        Assert.Equal("end_turn", p.FinishReason);

        // Fake input tokens: 3 (system words) + 3 per message + 5 words = 11; Claude reports 11 - 2 - 3 = 6 uncached.
        Assert.Equal(new LmUsage(11, 2, 3), p.Usage);
        var data = p.ProviderData!;
        Assert.Equal("6", data["input_tokens"]);
        Assert.Equal("2", data["cache_creation_input_tokens"]);
        Assert.Equal("3", data["cache_read_input_tokens"]);
        Assert.Equal("claude-3-5-haiku-20241022", data["model"]);
        Assert.StartsWith("msg_", data["id"], StringComparison.Ordinal);
        Assert.StartsWith("req_", data["request_id"], StringComparison.Ordinal);
        Assert.Equal("standard", data["service_tier"]);
        Assert.False(data.ContainsKey("stop_sequence"));
    }

    [Fact]
    public void MaxTokensCutsTheAnswerWithFinishReasonMaxTokens()
    {
        Server.Responder = _ => new FakeAnthropicReply("one two three four five");
        using var lm = Model();
        var p = lm.Predict(new LmPrompt("count") { MaxTokens = 3 });
        Assert.Equal("one two three", p.CompletionText);
        Assert.Equal("max_tokens", p.FinishReason);
        Assert.Equal(3, p.Usage!.OutputTokens);
    }

    [Fact]
    public void AStopSequenceCutsTheAnswerAndIsReported()
    {
        Server.Responder = _ => new FakeAnthropicReply("alpha beta END gamma");
        using var lm = Model();
        var p = lm.Predict(new LmPrompt("go") { Stop = ["END"] });
        Assert.Equal("alpha beta ", p.CompletionText);
        Assert.Equal("stop_sequence", p.FinishReason);
        Assert.Equal("END", p.ProviderData!["stop_sequence"]);
    }

    [Fact]
    public void PredictionsHaveNoLogprobsAndSaySo()
    {
        using var lm = Model();
        var p = lm.Predict(new LmPrompt("q"));
        Assert.False(p.HasCompletionLogprobs);
        Assert.Throws<LmPredictionDataUnavailableException>(() => p.CompletionLogprobs);
        Assert.Throws<LmPredictionDataUnavailableException>(() => p.CompletionTokens);
        var none = lm.Predict(new LmPrompt("q") { Logprobs = 0 });
        Assert.False(none.HasErrors);
    }

    [Fact]
    public void AnAssistantPrefillIsSentLastAndTheCompletionContinuesIt()
    {
        Server.Responder = r => new FakeAnthropicReply(r.Messages[^1].Role == "assistant" ? " continued" : "fresh");
        using var lm = Model();
        var p = lm.Predict(new LmPrompt([LmChatTurn.User("Write a poem"), LmChatTurn.Assistant("Roses are")]));
        Assert.Equal(" continued", p.CompletionText);
        Assert.Equal("assistant", LastBody["messages"]!.AsArray()[^1]!["role"]!.GetValue<string>());
    }

    [Fact]
    public void ModelIdentityNamesTheModelAndACustomBaseUrl()
    {
        using var lm = Model();
        Assert.Equal($"anthropic/claude-3-5-haiku-20241022@{Server.BaseUrl.AbsoluteUri.TrimEnd('/')}", lm.ModelIdentity);
        using var real = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "k", new ClaudeOptions { ModelOptions = new() { Cache = Cache } });
        Assert.Equal("anthropic/claude-3-5-haiku-20241022", real.ModelIdentity);
        Assert.Equal(200_000, real.TokenLimit);
        Assert.True(real.IsChatModel);
    }

    [Fact]
    public async Task AsyncPredictWorksLikeSync()
    {
        using var lm = Model();
        var p = await lm.PredictAsync(new LmPrompt("async question"));
        Assert.Equal("Echo: async question", p.CompletionText);
        Assert.Single(MessageRequests);
    }

    [Fact]
    public void NonAsciiTextRoundTrips()
    {
        using var lm = Model();
        var p = lm.Predict(new LmPrompt("héllo wörld 你好 🙂"));
        Assert.Equal("Echo: héllo wörld 你好 🙂", p.CompletionText);
        Assert.Equal("héllo wörld 你好 🙂", LastBody["messages"]!.AsArray()[0]!["content"]!.GetValue<string>());
    }
}
