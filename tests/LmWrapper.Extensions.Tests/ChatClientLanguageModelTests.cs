using System.Net;
using LmWrapper.Caching;
using LmWrapper.Costs;
using LmWrapper.Extensions.AI;
using Microsoft.Extensions.AI;

namespace LmWrapper.Extensions.Tests;

public sealed class ChatClientLanguageModelTests
{
    [Fact]
    public void TheIdentityNamesProviderModelAndAddressWithoutUserInfoOrQuery()
    {
        var client = new RecordingChatClient();
        using var lm = client.AsLanguageModel();
        Assert.Equal("chatclient/hand/hand-model@http://127.0.0.1:9/v1", lm.ModelIdentity);
        Assert.DoesNotContain("secret", lm.ModelIdentity, StringComparison.Ordinal);
        Assert.Equal("hand-model", lm.ModelInfo.Name);
        Assert.True(lm.IsChatModel);
        Assert.Equal(128_000, lm.TokenLimit);

        var anonymous = new RecordingChatClient(metadata: new ChatClientMetadata());
        var e = Assert.Throws<ArgumentException>(() => anonymous.AsLanguageModel());
        Assert.Contains("ModelId", e.Message, StringComparison.Ordinal);
        using var named = anonymous.AsLanguageModel(new ChatClientLanguageModelOptions { ModelId = "mine", TokenLimit = 4096 });
        Assert.Equal("chatclient/chatclient/mine", named.ModelIdentity);
        Assert.Equal(4096, named.TokenLimit);
    }

    [Fact]
    public async Task PromptFieldsBecomeMessagesAndChatOptions()
    {
        var client = new RecordingChatClient();
        using var lm = client.AsLanguageModel();
        var prediction = await lm.PredictAsync(new LmPrompt([LmChatTurn.System("Be brief."), LmChatTurn.User("What is 2+2?", "ann"), LmChatTurn.Assistant("4"), LmChatTurn.User("And 3+3?")])
        {
            MaxTokens = 20,
            Temperature = 0.5,
            TopP = 0.8,
            FrequencyPenalty = 0.1,
            PresencePenalty = 0.2,
            Stop = ["\n\n"],
            Seed = 7,
        });

        var (messages, options) = Assert.Single(client.Calls);
        Assert.Equal([ChatRole.System, ChatRole.User, ChatRole.Assistant, ChatRole.User], messages.Select(m => m.Role));
        Assert.Equal(["Be brief.", "What is 2+2?", "4", "And 3+3?"], messages.Select(m => m.Text));
        Assert.Equal("ann", messages[1].AuthorName);
        Assert.Equal("hand-model", options!.ModelId);
        Assert.Equal(20, options.MaxOutputTokens);
        Assert.Equal(0.5f, options.Temperature);
        Assert.Equal(0.8f, options.TopP);
        Assert.Equal(0.1f, options.FrequencyPenalty);
        Assert.Equal(0.2f, options.PresencePenalty);
        Assert.Equal(["\n\n"], options.StopSequences!);
        Assert.Equal(7, options.Seed);
        Assert.Null(options.AdditionalProperties); // nothing beyond ChatOptions' own fields was asked for

        Assert.Equal("echo: And 3+3?", prediction.CompletionText);
        Assert.Equal(new LmUsage(7, 3, 2), prediction.Usage);
        Assert.Equal("stop", prediction.FinishReason);
        Assert.Equal("resp-1", prediction.ProviderData!["id"]);
        Assert.False(prediction.HasCompletionLogprobs);
    }

    [Fact]
    public async Task AGreedyPromptIsSentAsTemperatureZeroAndATextPromptAsOneUserMessage()
    {
        var client = new RecordingChatClient();
        using var lm = client.AsLanguageModel();
        await lm.PredictAsync(new LmPrompt("hello") { TopP = 0, Temperature = 0.9 });
        var (messages, options) = Assert.Single(client.Calls);
        Assert.Equal(ChatRole.User, Assert.Single(messages).Role);
        Assert.Equal(0f, options!.Temperature);
        Assert.Null(options.TopP);
    }

    [Fact]
    public async Task SeveralCompletionsAreSeveralCallsEachItsOwnSample()
    {
        var client = new RecordingChatClient((_, o) => new ChatResponse(new ChatMessage(ChatRole.Assistant, $"sample seed {o!.Seed}")));
        using var lm = client.AsLanguageModel();
        var prediction = await lm.PredictAsync(new LmPrompt("hi") { NumCompletions = 3, Seed = 10 });
        Assert.Equal(3, client.Calls.Count);
        Assert.Equal(["sample seed 10", "sample seed 11", "sample seed 12"], prediction.Completions.Select(c => c.CompletionText));
        var samples = client.Calls.Select(c => c.Options!.AdditionalProperties?.GetValueOrDefault(LmChatPropertyNames.Sample)).OrderBy(s => s as int? ?? 0).ToList();
        Assert.Equal([null, 1, 2], samples);
    }

    [Fact]
    public async Task LmWrappersCacheAndDeduplicationWorkOverAChatClient()
    {
        using var cache = LmCache.OpenInMemory();
        var client = new RecordingChatClient();
        using var lm = client.AsLanguageModel(new ChatClientLanguageModelOptions { ModelOptions = new LanguageModelOptions { Cache = cache, CacheByDefault = true, MaxConcurrency = 4 } });
        var prompts = Enumerable.Range(0, 10).Select(i => new LmPrompt($"question {i % 4}")).ToList();
        var answers = await lm.PredictManyAsync(prompts).ToListAsync();
        Assert.Equal(prompts.Select(p => "echo: " + p.Text), answers.Select(a => a.CompletionText));
        Assert.Equal(4, client.Calls.Count); // duplicates sent once
        var again = await lm.PredictAsync(new LmPrompt("question 1"));
        Assert.True(again.WasCached);
        Assert.Equal(new LmUsage(7, 3, 2), again.Usage);
        Assert.Equal(4, client.Calls.Count);
    }

    [Fact]
    public async Task CostsUseTheGivenPrices()
    {
        var client = new RecordingChatClient();
        using var lm = client.AsLanguageModel(new ChatClientLanguageModelOptions { Prices = new LmTokenPrices(1m, 2m) });
        var prediction = await lm.PredictAsync(new LmPrompt("hi"));
        Assert.Equal(new LmTokenPrices(1m, 2m).CostOf(new LmUsage(7, 3, 2)), lm.CostOf(prediction));
        Assert.True(lm.CostOf(prediction) > 0);
    }

    [Fact]
    public async Task AClientThatIgnoresStopSequencesHasItsTextCut()
    {
        var client = new RecordingChatClient((_, _) => new ChatResponse(new ChatMessage(ChatRole.Assistant, "first line\nsecond line")) { FinishReason = ChatFinishReason.Length });
        using var lm = client.AsLanguageModel();
        var prediction = await lm.PredictAsync(new LmPrompt("hi") { Stop = ["\n"] });
        Assert.Equal("first line", prediction.CompletionText);
        Assert.Equal("stop", prediction.FinishReason);
    }

    [Fact]
    public async Task LogprobsAndEchoAreRefusedBeforeAnyCallUnlessTheClientCanGiveThem()
    {
        var client = new RecordingChatClient();
        using var lm = client.AsLanguageModel();
        var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(new LmPrompt("hi") { Logprobs = 5 }));
        Assert.Equal(nameof(LmPrompt.Logprobs), e.FieldName);
        e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(new LmPrompt("hi") { Echo = true }));
        Assert.Equal(nameof(LmPrompt.Echo), e.FieldName);
        Assert.Empty(client.Calls);
    }

    [Fact]
    public void TokenCountIsTheDocumentedEstimateOrTheGivenCounter()
    {
        using var lm = new RecordingChatClient().AsLanguageModel();
        Assert.Equal(3, lm.EstimateTokensInPrompt(new LmPrompt("123456789"))); // ceil(9 / 4)
        Assert.Equal(3 + (4 + 2) + (4 + 1), lm.EstimateTokensInPrompt(new LmPrompt([LmChatTurn.System("12345678"), LmChatTurn.User("1")])));
        using var counted = new RecordingChatClient().AsLanguageModel(new ChatClientLanguageModelOptions { TokenCounter = p => p.GetTextAsStringDefaultForm().Length });
        Assert.Equal(9, counted.EstimateTokensInPrompt(new LmPrompt("123456789")));
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError, LmErrorKind.Server)]
    [InlineData(HttpStatusCode.TooManyRequests, LmErrorKind.RateLimitExhausted)]
    [InlineData(HttpStatusCode.BadRequest, LmErrorKind.InvalidRequest)]
    [InlineData(HttpStatusCode.NotFound, LmErrorKind.NotFound)]
    public async Task AnHttpFailureOfTheClientIsAFailedPrediction(HttpStatusCode status, LmErrorKind kind)
    {
        var client = new RecordingChatClient((_, _) => throw new HttpRequestException("it failed", null, status));
        using var lm = client.AsLanguageModel();
        var prediction = await lm.PredictAsync(new LmPrompt("hi"));
        Assert.True(prediction.HasErrors);
        Assert.Equal(kind, prediction.Error!.Kind);
        Assert.Equal((int)status, prediction.Error.StatusCode);
    }

    [Fact]
    public async Task ARefusedKeyIsThrownAndABugPropagates()
    {
        using var unauthorized = new RecordingChatClient((_, _) => throw new HttpRequestException("no", null, HttpStatusCode.Unauthorized)).AsLanguageModel();
        await Assert.ThrowsAsync<LmAuthenticationException>(() => unauthorized.PredictAsync(new LmPrompt("hi")));
        using var buggy = new RecordingChatClient((_, _) => throw new InvalidOperationException("a bug")).AsLanguageModel();
        await Assert.ThrowsAsync<InvalidOperationException>(() => buggy.PredictAsync(new LmPrompt("hi")));
    }
}
