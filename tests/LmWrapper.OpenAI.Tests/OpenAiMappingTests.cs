using System.Text.Json;
using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

public sealed class OpenAiMappingTests : OpenAiTestBase
{
    private static string[] Names(JsonElement obj) => [.. obj.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task ChatPromptMapsEveryField()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var prompt = new LmPrompt([LmChatTurn.System("Be brief"), LmChatTurn.User("What is 3+4?", name: "ann"), LmChatTurn.Assistant("7"), LmChatTurn.User("What is 1+1?")])
        {
            MaxTokens = 12,
            Temperature = 0.25,
            TopP = 0.875,
            Stop = ["\n", "END"],
            Logprobs = 4,
            PresencePenalty = 0.5,
            FrequencyPenalty = -0.75,
            Seed = 42,
            NumCompletions = 2,
        };
        var p = await lm.PredictAsync(prompt);
        Assert.False(p.HasErrors, p.ErrorMessage);
        var r = LastRequest;
        Assert.Equal("/v1/chat/completions", r.Path);
        Assert.Equal("application/json", r.Headers["content-type"].Split(';')[0]);
        var b = r.Json;
        Assert.Equal(
            ["frequency_penalty", "logprobs", "max_completion_tokens", "messages", "model", "n", "presence_penalty", "seed", "stop", "temperature", "top_logprobs", "top_p"],
            Names(b));
        Assert.Equal("gpt-4o-mini", b.GetProperty("model").GetString());
        Assert.Equal(12, b.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal(0.25, b.GetProperty("temperature").GetDouble());
        Assert.Equal(0.875, b.GetProperty("top_p").GetDouble());
        Assert.Equal(["\n", "END"], b.GetProperty("stop").EnumerateArray().Select(s => s.GetString()!).ToArray());
        Assert.True(b.GetProperty("logprobs").GetBoolean());
        Assert.Equal(4, b.GetProperty("top_logprobs").GetInt32());
        Assert.Equal(0.5, b.GetProperty("presence_penalty").GetDouble());
        Assert.Equal(-0.75, b.GetProperty("frequency_penalty").GetDouble());
        Assert.Equal(42, b.GetProperty("seed").GetInt32());
        Assert.Equal(2, b.GetProperty("n").GetInt32());
        var messages = b.GetProperty("messages").EnumerateArray().ToArray();
        Assert.Equal(["system", "user", "assistant", "user"], messages.Select(m => m.GetProperty("role").GetString()!).ToArray());
        Assert.Equal(["Be brief", "What is 3+4?", "7", "What is 1+1?"], messages.Select(m => m.GetProperty("content").GetString()!).ToArray());
        Assert.Equal("ann", messages[1].GetProperty("name").GetString());
        Assert.False(messages[0].TryGetProperty("name", out _));
        Assert.Equal(2, p.Completions.Count);
        Assert.Equal("2", p.CompletionText);
        Assert.All(p.TopTokenLogprobs, t => Assert.Equal(4, t.Count));
    }

    [Fact]
    public async Task PlainPromptSendsOneUserTurnAndOnlyTheDefaults()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4o);
        var p = await lm.PredictAsync(new LmPrompt("Hello there"));
        var b = LastRequest.Json;
        Assert.Equal(["logprobs", "max_completion_tokens", "messages", "model", "temperature", "top_logprobs", "top_p"], Names(b));
        Assert.Equal(lm.DefaultTokensGenerated, b.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal(1, b.GetProperty("top_logprobs").GetInt32()); // Logprobs = 1 asks for the top alternative, as in the seed
        Assert.Equal(8000, lm.DefaultTokensGenerated);
        Assert.Equal(1, b.GetProperty("temperature").GetDouble());
        var m = Assert.Single(b.GetProperty("messages").EnumerateArray());
        Assert.Equal("user", m.GetProperty("role").GetString());
        Assert.Equal("Hello there", m.GetProperty("content").GetString());
        Assert.StartsWith("You said: \"Hello there\".", p.CompletionText);
        Assert.True(p.HasTopTokenLogprobs);
        Assert.Equal(p.CompletionTokens.Count, p.TopTokenLogprobs.Count);
        Assert.True(p.HasCompletionLogprobs);
    }

    [Fact]
    public async Task PredictStringUsesAHundredTokens()
    {
        using var lm = Lm(OpenAiModelNames.Gpt35Turbo);
        await lm.PredictAsync("What is 2+2?");
        Assert.Equal(100, LastRequest.Json.GetProperty("max_completion_tokens").GetInt32());
    }

    [Fact]
    public async Task TheLegacyMaxTokensOptionSendsTheOldName()
    {
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt35Turbo, Testing.FakeOpenAiServer.DefaultApiKey, options: Options() with { UseLegacyMaxTokens = true });
        await lm.PredictAsync("What is 2+2?");
        Assert.Equal(100, LastRequest.Json.GetProperty("max_tokens").GetInt32());
        Assert.False(LastRequest.Json.TryGetProperty("max_completion_tokens", out _));
    }

    [Fact]
    public async Task ReasoningModelsGetMaxCompletionTokensAndNoSamplingFields()
    {
        using var lm = Lm(OpenAiModelNames.O3Mini);
        var p = await lm.PredictAsync(new LmPrompt("What is 6*7?") { MaxTokens = 200, Seed = 3 });
        Assert.False(p.HasErrors, p.ErrorMessage);
        var b = LastRequest.Json;
        Assert.Equal(["max_completion_tokens", "messages", "model", "seed"], Names(b));
        Assert.Equal(200, b.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal("6*7 is equal to 42.", p.CompletionText);
        Assert.False(p.HasCompletionLogprobs);
        Assert.Equal("16", p.ProviderData!["reasoning_tokens"]);
    }

    [Theory]
    [InlineData("gpt-4o-mini")]
    [InlineData("davinci-002")]
    public async Task TopPZeroIsGreedySentAsTemperatureZero(string model)
    {
        using var lm = Lm(model);
        var p = await lm.PredictAsync(new LmPrompt("Say hi") { MaxTokens = 3, TopP = 0, Temperature = 0.9 });
        Assert.False(p.HasErrors, p.ErrorMessage);
        var b = LastRequest.Json;
        Assert.Equal(0, b.GetProperty("temperature").GetDouble());
        Assert.Equal(1, b.GetProperty("top_p").GetDouble());
    }

    [Fact]
    public async Task CompletionModelMapsEveryFieldIncludingEcho()
    {
        using var lm = Lm(OpenAiModelNames.Davinci002);
        var prompt = new LmPrompt("Once upon a")
        {
            MaxTokens = 4,
            Temperature = 0,
            TopP = 0.5,
            Stop = ["!"],
            Logprobs = 3,
            Echo = true,
            PresencePenalty = 1,
            FrequencyPenalty = 1.5,
            Seed = 7,
        };
        var p = await lm.PredictAsync(prompt);
        Assert.False(p.HasErrors, p.ErrorMessage);
        var r = LastRequest;
        Assert.Equal("/v1/completions", r.Path);
        var b = r.Json;
        Assert.Equal(["echo", "frequency_penalty", "logprobs", "max_tokens", "model", "presence_penalty", "prompt", "seed", "stop", "temperature", "top_p"], Names(b));
        Assert.Equal("Once upon a", b.GetProperty("prompt").GetString());
        Assert.Equal(3, b.GetProperty("logprobs").GetInt32());
        Assert.True(b.GetProperty("echo").GetBoolean());
        Assert.Equal(4, b.GetProperty("max_tokens").GetInt32());
        Assert.Equal(0.5, b.GetProperty("top_p").GetDouble());
        Assert.Equal(7, b.GetProperty("seed").GetInt32());

        Assert.Equal(" time, there were", p.CompletionText);
        Assert.Equal("length", p.FinishReason);
        Assert.Equal(["Once", " upon", " a"], p.PromptTokens);
        Assert.Null(p.PromptLogprobs[0]);
        Assert.All(p.PromptLogprobs.Skip(1), x => Assert.True(x < 0));
        Assert.Equal([" time", ",", " there", " were"], p.CompletionTokens);
        Assert.Equal([0, 5, 6, 12], p.CompletionTokenOffsets);
        Assert.Equal(4, p.CompletionLogprobs.Count);
        Assert.All(p.TopTokenLogprobs, t => Assert.Equal(3, t.Count));
        Assert.Equal(7, p.FullLogprobs.Count);
        Assert.Equal("Once upon a time, there were", p.GetFullText());
    }

    [Fact]
    public async Task CompletionWithoutEchoHasOffsetsRelativeToTheCompletion()
    {
        using var lm = Lm(OpenAiModelNames.Gpt35TurboInstruct);
        var p = await lm.PredictAsync(new LmPrompt("Once upon a") { MaxTokens = 10 });
        var b = LastRequest.Json;
        Assert.Equal(1, b.GetProperty("logprobs").GetInt32());
        Assert.False(b.TryGetProperty("echo", out _));
        Assert.Equal(" time, there were three of us.", p.CompletionText);
        Assert.Equal("stop", p.FinishReason);
        Assert.Equal(0, p.CompletionTokenOffsets[0]);
        for (int i = 0; i < p.CompletionTokens.Count; i++)
        {
            Assert.Equal(p.CompletionTokens[i], p.CompletionText.Substring(p.CompletionTokenOffsets[i], p.CompletionTokens[i].Length));
        }

        Assert.False(p.HasPromptLogprobs);
        Assert.True(p.HasTopTokenLogprobs); // Logprobs = 1 gives the top alternative, as in the seed
        Assert.StartsWith("req_", p.ProviderData!["request_id"]);
        Assert.StartsWith("cmpl-", p.ProviderData["id"]);
    }

    [Fact]
    public async Task ChatPromptOnACompletionModelUsesTheDefaultStringForm()
    {
        using var lm = Lm(OpenAiModelNames.Gpt35TurboInstruct);
        await lm.PredictAsync(new LmPrompt(["What is 2+2?", "4", "What is 5+3?"]) { MaxTokens = 5 });
        Assert.Equal("user: What is 2+2?\nassistant: 4\nuser: What is 5+3?\nassistant:", LastRequest.Json.GetProperty("prompt").GetString());
    }

    [Fact]
    public async Task LogprobsZeroAsksForNone()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var p = await lm.PredictAsync(new LmPrompt("hi") { Logprobs = 0, MaxTokens = 5 });
        Assert.False(LastRequest.Json.TryGetProperty("logprobs", out _));
        Assert.False(p.HasCompletionLogprobs);
        Assert.Throws<LmPredictionDataUnavailableException>(() => p.CompletionLogprobs);
        using var instruct = Lm(OpenAiModelNames.Gpt35TurboInstruct);
        p = await instruct.PredictAsync(new LmPrompt("hi") { Logprobs = 0, MaxTokens = 5 });
        Assert.False(LastRequest.Json.TryGetProperty("logprobs", out _));
        Assert.False(p.HasCompletionLogprobs);
    }

    public static TheoryData<string, LmPrompt, string> Unhonourable => new()
    {
        { OpenAiModelNames.Gpt4oMini, new LmPrompt("x") { Echo = true }, nameof(LmPrompt.Echo) },
        { OpenAiModelNames.Gpt35TurboInstruct, new LmPrompt("x") { Echo = true }, nameof(LmPrompt.Echo) },
        { OpenAiModelNames.Gpt4oMini, new LmPrompt("x") { Logprobs = 21 }, nameof(LmPrompt.Logprobs) },
        { OpenAiModelNames.Gpt35TurboInstruct, new LmPrompt("x") { Logprobs = 6 }, nameof(LmPrompt.Logprobs) },
        { OpenAiModelNames.Gpt4oMini, new LmPrompt("x") { Stop = ["a", "b", "c", "d", "e"] }, nameof(LmPrompt.Stop) },
        { OpenAiModelNames.Gpt4oMini, new LmPrompt("x") { MaxTokens = 16_385 }, nameof(LmPrompt.MaxTokens) },
        { OpenAiModelNames.Gpt35TurboInstruct, new LmPrompt("x") { MaxTokens = 4_097 }, nameof(LmPrompt.MaxTokens) },
        { OpenAiModelNames.Gpt4oMini, new LmPrompt("x") { AddBosToken = true }, nameof(LmPrompt.AddBosToken) },
        { OpenAiModelNames.Gpt4oMini, new LmPrompt("x") { AddSpecialTokens = false }, nameof(LmPrompt.AddSpecialTokens) },
        { OpenAiModelNames.Gpt4oMini, new LmPrompt("x") { NumCompletions = 129 }, nameof(LmPrompt.NumCompletions) },
        { OpenAiModelNames.Gpt4oMini, new LmPrompt([LmChatTurn.User("x"), LmChatTurn.Tool("y", "calc")]), nameof(LmPrompt.Chat) },
        { OpenAiModelNames.O3, new LmPrompt("x") { Temperature = 0 }, nameof(LmPrompt.Temperature) },
        { OpenAiModelNames.O4Mini, new LmPrompt("x") { TopP = 0.5 }, nameof(LmPrompt.TopP) },
        { OpenAiModelNames.O1, new LmPrompt("x") { PresencePenalty = 1 }, nameof(LmPrompt.PresencePenalty) },
        { OpenAiModelNames.Gpt5, new LmPrompt("x") { FrequencyPenalty = 1 }, nameof(LmPrompt.FrequencyPenalty) },
        { OpenAiModelNames.O3Mini, new LmPrompt("x") { Stop = ["\n"] }, nameof(LmPrompt.Stop) },
        { OpenAiModelNames.O3Mini, new LmPrompt("x") { Logprobs = 2 }, nameof(LmPrompt.Logprobs) },
    };

    [Theory]
    [MemberData(nameof(Unhonourable))]
    public async Task FieldsTheModelCannotHonourAreRejectedBeforeAnyRequest(string model, LmPrompt prompt, string field)
    {
        using var lm = Lm(model);
        var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(prompt));
        Assert.Equal(field, e.FieldName);
        var many = Assert.Throws<LmPromptException>(() => lm.PredictManyAsync([new LmPrompt("fine"), prompt]));
        Assert.Contains("Prompt 1", many.Message);
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public async Task UsageAndFinishReasonAreReported()
    {
        Server.Responder = r => new FakeOpenAiReply("one two three four five six") { CachedPromptTokens = 4 };
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var p = await lm.PredictAsync(new LmPrompt("count please") { MaxTokens = 3 });
        Assert.Equal("one two three", p.CompletionText);
        Assert.Equal("length", p.FinishReason);
        Assert.Equal(new LmUsage(9, 3, 4), p.Usage); // 3 + (3 + "user" + "count please") in the fake's tokens
        Assert.Equal("gpt-4o-mini", p.ProviderData!["model"]);
        Assert.StartsWith("chatcmpl-", p.ProviderData["id"]);
        Assert.Equal("fp_fake0001", p.ProviderData["system_fingerprint"]);
        Assert.StartsWith("req_", p.ProviderData["request_id"]);
    }

    [Fact]
    public async Task TokensOffsetsAndLogprobsLineUpWithTheText()
    {
        Server.Responder = _ => "Grüße, 世界! Ünïcödé ok";
        using var lm = Lm(OpenAiModelNames.Gpt4o);
        var p = await lm.PredictAsync(new LmPrompt("x") { Logprobs = 5, MaxTokens = 50 });
        Assert.Equal("Grüße, 世界! Ünïcödé ok", p.CompletionText);
        Assert.Equal(p.CompletionText, string.Concat(p.CompletionTokens));
        for (int i = 0; i < p.CompletionTokens.Count; i++)
        {
            Assert.Equal(p.CompletionTokens[i], p.CompletionText.Substring(p.CompletionTokenOffsets[i], p.CompletionTokens[i].Length));
            Assert.True(p.CompletionLogprobs[i] < 0);
            Assert.Equal(5, p.TopTokenLogprobs[i].Count);
            Assert.Equal(p.CompletionLogprobs[i], p.TopTokenLogprobs[i][p.CompletionTokens[i]]);
            Assert.Equal(p.CompletionLogprobs[i], p.TopTokenLogprobs[i].Values.Max());
        }

        Assert.Equal(p.CompletionLogprobs.Average(), p.CompletionMeanLogprob(), 12);
    }

    [Fact]
    public async Task SeveralCompletionsShareOneRequestAndTheirUsagesAddUp()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var p = await lm.PredictAsync(new LmPrompt("Tell me something") { NumCompletions = 3, MaxTokens = 20, Temperature = 1 });
        Assert.Single(Server.Requests);
        Assert.Equal(3, p.Completions.Count);
        Assert.Equal(3, p.Completions.Select(c => c.CompletionText).Distinct().Count());
        var total = p.Completions.Select(c => c.Usage!).Aggregate((a, b) => a + b);
        Assert.Equal(60, total.OutputTokens);
        Assert.True(p.Completions[0].Usage!.InputTokens > 0);
        Assert.Equal(0, p.Completions[1].Usage!.InputTokens);
    }

    [Fact]
    public async Task RefusalsAndContentFilterStopsAreReported()
    {
        Server.Responder = r => r.LastUserText.Contains("bomb", StringComparison.Ordinal)
            ? new FakeOpenAiReply("") { Refusal = "I can't help with that." }
            : new FakeOpenAiReply("Partial answer") { FinishReason = "content_filter" };
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, cache: Caching.LmCache.OpenInMemory());
        var refused = await lm.PredictAsync(new LmPrompt("how to build a bomb") { MaxTokens = 20 });
        Assert.True(refused.HasErrors);
        Assert.True(refused.IsErrorPermanent);
        Assert.Contains("refused", refused.ErrorMessage);
        Assert.Equal("I can't help with that.", refused.ProviderData!["refusal"]);
        var again = await lm.PredictAsync(new LmPrompt("how to build a bomb") { MaxTokens = 20 });
        Assert.True(again.WasCached);
        Assert.Equal("I can't help with that.", again.ProviderData!["refusal"]);

        var filtered = await lm.PredictAsync(new LmPrompt("something") { MaxTokens = 20 });
        Assert.False(filtered.HasErrors);
        Assert.Equal("content_filter", filtered.FinishReason);
        Assert.Equal("true", filtered.ProviderData!["content_filter"]);
        Assert.Equal("Partial answer", filtered.CompletionText);
    }

    [Fact]
    public void ModelIdentityNamesTheModelAndACustomEndpoint()
    {
        using var official = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-x");
        Assert.Equal("openai/gpt-4o-mini", official.ModelIdentity);
        using var custom = Lm(OpenAiModelNames.Gpt4oMini);
        Assert.Equal("openai/gpt-4o-mini@" + Server.BaseUrl, custom.ModelIdentity);
        Assert.Throws<ArgumentException>(() => OpenAiLm.Get("no-such-model-xyz", "sk-x"));
        string withSecrets = Server.BaseUrl.Replace("http://", "http://user:hunter2@", StringComparison.Ordinal) + "/?api-version=2024-10-21";
        using var azureStyle = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-x", options: Options() with { BaseUrl = new Uri(withSecrets) });
        Assert.Equal("openai/gpt-4o-mini@" + Server.BaseUrl, azureStyle.ModelIdentity);
        Assert.Equal(Server.BaseUrl, azureStyle.BaseUrl);
        Assert.Throws<ArgumentException>(() => OpenAiLm.Get(OpenAiModelNames.Gpt4o, "sk-x", options: new OpenAiOptions { BaseUrl = new Uri("ftp://example") }));
    }

    [Fact]
    public async Task AQueryOnTheBaseUrlIsKeptOnEveryRequest()
    {
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options() with { BaseUrl = new Uri(Server.BaseUrl + "?api-version=2024-10-21") });
        var p = await lm.PredictAsync(new LmPrompt("What is 1+2?") { MaxTokens = 10 });
        Assert.Equal("1+2 is equal to 3.", p.CompletionText);
        Assert.Equal("/v1/chat/completions", LastRequest.Path);
        Assert.Equal("?api-version=2024-10-21", LastRequest.Query);
    }

    [Fact]
    public async Task CustomModelsAndOpenAiCompatibleServersWork()
    {
        Server.AddModel(new FakeOpenAiModel("my-org/llama-3-8b", IsChat: true, ContextWindow: 8192, MaxOutputTokens: 2048));
        var info = new OpenAiModelInfo("my-org/llama-3-8b", 8192, 2048, "cl100k_base", IsChatModel: true, Prices: null);
        OpenAiModelRegistry.Register(info);
        Assert.True(OpenAiModelRegistry.TryGet("my-org/llama-3-8b", out var found));
        Assert.Same(info, found);
        Assert.Contains(OpenAiModelRegistry.All, m => m.Name == "my-org/llama-3-8b");
        using var lm = Lm("my-org/llama-3-8b");
        var p = await lm.PredictAsync(new LmPrompt("What is 2+3?") { MaxTokens = 20 });
        Assert.Equal("2+3 is equal to 5.", p.CompletionText);
        Assert.Equal("my-org/llama-3-8b", LastRequest.Json.GetProperty("model").GetString());
        Assert.Throws<InvalidOperationException>(() => lm.CostOf(p));
        Assert.Throws<ArgumentException>(() => OpenAiModelRegistry.Register(info with { Name = "bad-enc", Encoding = "p50k_base" }));
    }

    [Fact]
    public async Task AModelUnknownToTheServerIsANotFoundErrorThatIsNeverCached()
    {
        using var lm = Lm("gpt-4o-mini", cache: Caching.LmCache.OpenInMemory());
        Server.Responder = FakeOpenAiServer.DefaultResponder;
        using var unknown = OpenAiLm.Get(new OpenAiModelInfo("gpt-7-preview", 8192, 1024, "o200k_base", true, null), FakeOpenAiServer.DefaultApiKey, options: Options(Caching.LmCache.OpenInMemory()));
        var p = await unknown.PredictAsync(new LmPrompt("hi") { MaxTokens = 5 });
        Assert.True(p.HasErrors);
        Assert.Equal(LmErrorKind.NotFound, p.Error!.Kind);
        Assert.False(p.IsErrorPermanent); // a wrong model name or base URL is the user's to fix: never cached
        Assert.Equal(404, p.Error.StatusCode);
        Assert.Equal("model_not_found", p.Error.ProviderCode);
        var again = await unknown.PredictAsync(new LmPrompt("hi") { MaxTokens = 5 });
        Assert.False(again.WasCached);
        Assert.Equal(2, Server.Requests.Count);
    }

    [Fact]
    public async Task ContextOverflowIsAPermanentErrorPrediction()
    {
        Server.AddModel(new FakeOpenAiModel("tiny-ctx", IsChat: true, ContextWindow: 40, MaxOutputTokens: 30));
        using var lm = OpenAiLm.Get(new OpenAiModelInfo("tiny-ctx", 40, 30, "cl100k_base", true, null), FakeOpenAiServer.DefaultApiKey, options: Options());
        var prompt = new LmPrompt(string.Join(' ', Enumerable.Repeat("word", 30))) { MaxTokens = 30 };
        Assert.True(lm.CouldCompletionGoOverTokenLimit(prompt));
        var p = await lm.PredictAsync(prompt);
        Assert.True(p.HasErrors);
        Assert.True(p.IsErrorPermanent);
        Assert.Contains("context_length_exceeded", p.ErrorMessage);
    }

    [Fact]
    public async Task PredictManyAnswersInOrderThroughConcurrentRequests()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var prompts = Enumerable.Range(0, 12).Select(i => new LmPrompt($"What is {i}+{i}?") { MaxTokens = 20 }).ToList();
        var results = new List<LmPrediction>();
        await foreach (var p in lm.PredictManyAsync(prompts))
        {
            results.Add(p);
        }

        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"{i}+{i} is equal to {2 * i}."), results.Select(r => r.CompletionText));
        Assert.Equal(12, Server.Requests.Count);
    }
}
