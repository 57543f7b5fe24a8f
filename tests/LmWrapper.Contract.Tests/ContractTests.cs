using LmWrapper.Caching;

namespace LmWrapper.Contract.Tests;

/// <summary>
/// The same scenarios against every provider, through its fake server and its production client code: the outcomes
/// (what is returned, what is thrown, what is cached, what it costs) must be identical.
/// </summary>
public sealed class ContractTests
{
    public static TheoryData<string> Providers => new() { "openai", "anthropic" };

    private static readonly LmPrompt Prompt = new("What is 2+2?") { MaxTokens = 20, Temperature = 0 };

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task SuccessIsAnAnswerWithUsageThatCostsMoneyOnceAndNothingFromTheCache(string name)
    {
        await using var provider = await Provider.StartAsync(name);
        using var cache = LmCache.OpenInMemory();
        using var lm = provider.Model(cache);
        var fresh = await lm.PredictAsync(Prompt);
        Assert.False(fresh.HasErrors, fresh.ErrorMessage);
        Assert.NotEmpty(fresh.CompletionText);
        Assert.False(fresh.WasCached);
        Assert.NotNull(fresh.Usage);
        decimal cost = lm.CostOf(fresh);
        Assert.True(cost > 0);
        Assert.Equal(lm.ModelInfo.Prices!.CostOf(fresh.Usage!), cost);
        Assert.Equal(0m, lm.CacheSavingOf(fresh));

        var cached = await lm.PredictAsync(Prompt);
        Assert.True(cached.WasCached);
        Assert.Equal(fresh.CompletionText, cached.CompletionText);
        Assert.Equal(0m, lm.CostOf(cached));
        Assert.Equal(cost, lm.CacheSavingOf(cached));
        Assert.Equal(1, provider.PredictionRequests);

        var estimate = lm.EstimateCost(Prompt);
        Assert.True(estimate.MaxTotalCost >= cost);
        Assert.Equal(estimate.MaxTotalCost / 2, lm.EstimateCost(Prompt, CompletionWindow.BatchAny).MaxTotalCost);
        Assert.True(lm.ModelInfo.Has(LmCapabilities.Chat | LmCapabilities.Batch));
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task SpendCountsWhatCostOfAndCacheSavingOfSayAndWhatFailed(string name)
    {
        await using var provider = await Provider.StartAsync(name);
        using var cache = LmCache.OpenInMemory();
        using var lm = provider.Model(cache);
        var fresh = await lm.PredictAsync(Prompt);
        var cached = await lm.PredictAsync(Prompt);
        provider.ServerErrorAlways();
        var failed = await lm.PredictAsync(new LmPrompt("What is 9+9?") { MaxTokens = 20, Temperature = 0 });
        var spend = lm.Spend.Snapshot();

        Assert.True(failed.HasErrors);
        Assert.Equal(2, spend.Requests);
        Assert.Equal(1, spend.FailedRequests);
        Assert.Equal(1, spend.CachedSamples);
        Assert.Equal(fresh.Usage!.InputTokens, spend.InputTokens);
        Assert.Equal(fresh.Usage.OutputTokens, spend.OutputTokens);
        Assert.Equal(lm.CostOf(fresh), spend.Cost);
        Assert.Equal(lm.CacheSavingOf(cached), spend.CacheSavings);
        Assert.True(spend.Cost > 0m);
        Assert.Equal(0m, spend.BatchSavings);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A429ThenSuccessIsRetriedAndAnswered(string name)
    {
        await using var provider = await Provider.StartAsync(name);
        using var cache = LmCache.OpenInMemory();
        using var lm = provider.Model(cache);
        provider.RateLimitOnce();
        var p = await lm.PredictAsync(Prompt);
        Assert.False(p.HasErrors, p.ErrorMessage);
        Assert.Equal(2, provider.PredictionRequests);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task ServerErrorsBeyondTheRetriesAreAServerErrorThatIsNotCached(string name)
    {
        await using var provider = await Provider.StartAsync(name);
        using var cache = LmCache.OpenInMemory();
        using var lm = provider.Model(cache);
        provider.ServerErrorAlways();
        var p = await lm.PredictAsync(Prompt);
        Assert.Equal(LmErrorKind.Server, p.Error!.Kind);
        Assert.True(p.Error.StatusCode >= 500);
        Assert.NotNull(p.Error.RequestId);
        Assert.False(p.IsErrorPermanent);
        Assert.Equal(3, provider.PredictionRequests); // 1 + MaxRetries
        Assert.Equal(0, cache.GetStats().Entries);
        Assert.Equal(0m, lm.CostOf(p));
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A404IsANotFoundErrorThatIsNeverCached(string name)
    {
        await using var provider = await Provider.StartAsync(name);
        using var cache = LmCache.OpenInMemory();
        using var lm = provider.Model(cache);
        provider.NotFoundOnce();
        var p = await lm.PredictAsync(Prompt);
        Assert.Equal(LmErrorKind.NotFound, p.Error!.Kind);
        Assert.Equal(404, p.Error.StatusCode);
        Assert.False(p.IsErrorPermanent);
        Assert.Equal(1, provider.PredictionRequests); // not retried
        Assert.False((await lm.PredictAsync(Prompt)).HasErrors); // not cached: the next call asks again
        Assert.Equal(2, provider.PredictionRequests);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A400IsAPermanentErrorThatIsCachedAndATooLongPromptSaysSo(string name)
    {
        await using var provider = await Provider.StartAsync(name);
        using var cache = LmCache.OpenInMemory();
        using var lm = provider.Model(cache);
        provider.BadRequestOnce();
        var p = await lm.PredictAsync(Prompt);
        Assert.Equal(LmErrorKind.InvalidRequest, p.Error!.Kind);
        Assert.Equal(400, p.Error.StatusCode);
        Assert.Equal("invalid_request_error", p.Error.ProviderCode);
        Assert.True(p.IsErrorPermanent);
        var again = await lm.PredictAsync(Prompt);
        Assert.True(again.WasCached);
        Assert.Equal(p.Error, again.Error);
        Assert.Equal(1, provider.PredictionRequests);

        provider.ContextTooLongOnce();
        var tooLong = await lm.PredictAsync(Prompt with { MaxTokens = 21 });
        Assert.Equal(LmErrorKind.ContextLength, tooLong.Error!.Kind);
        Assert.True(tooLong.IsErrorPermanent);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task AMalformedBodyIsAMalformedResponseErrorThatIsNotRetriedNorCached(string name)
    {
        await using var provider = await Provider.StartAsync(name);
        using var cache = LmCache.OpenInMemory();
        using var lm = provider.Model(cache);
        provider.MalformedBodyOnce();
        var p = await lm.PredictAsync(Prompt);
        Assert.Equal(LmErrorKind.MalformedResponse, p.Error!.Kind);
        Assert.False(p.IsErrorPermanent);
        Assert.Equal(1, provider.PredictionRequests); // retrying would pay again
        Assert.Equal(0, cache.GetStats().Entries);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task AnAttemptPastTheRequestTimeoutIsRetried(string name)
    {
        await using var provider = await Provider.StartAsync(name);
        using var cache = LmCache.OpenInMemory();
        using var lm = provider.Model(cache, requestTimeout: TimeSpan.FromMilliseconds(300));
        provider.SlowOnce(TimeSpan.FromSeconds(5));
        var p = await lm.PredictAsync(Prompt);
        Assert.False(p.HasErrors, p.ErrorMessage);
        Assert.Equal(2, provider.PredictionRequests);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task CancellationIsThrownNeverReturned(string name)
    {
        await using var provider = await Provider.StartAsync(name);
        using var cache = LmCache.OpenInMemory();
        using var lm = provider.Model(cache);
        provider.SlowOnce(TimeSpan.FromSeconds(5));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lm.PredictAsync(Prompt, cts.Token));
        Assert.Equal(0, cache.GetStats().Entries);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task PredictManyGivesTheSameErrorsInPlace(string name)
    {
        await using var provider = await Provider.StartAsync(name);
        using var cache = LmCache.OpenInMemory();
        using var lm = provider.Model(cache);
        provider.NotFoundOnce();
        var results = new List<LmPrediction>();
        await foreach (var p in lm.PredictManyAsync([Prompt], CompletionWindow.Asap))
        {
            results.Add(p);
        }

        Assert.Equal(LmErrorKind.NotFound, Assert.Single(results).Error!.Kind);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public void AMissingKeyIsThrownAtGetWithTheSameMessageShape(string name)
    {
        var home = Path.Combine(Path.GetTempPath(), "lmwrapper-contract-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<LmAuthenticationException>(() => name == "openai"
            ? (LanguageModel)OpenAI.OpenAiLm.Get(OpenAI.OpenAiModelNames.Gpt4oMini, options: new OpenAI.OpenAiOptions { GetEnvironmentVariable = _ => null, HomeDirectory = home })
            : Anthropic.ClaudeLm.Get(Anthropic.ClaudeModelNames.Claude35Haiku, options: new Anthropic.ClaudeOptions { GetEnvironmentVariable = _ => null, HomeDirectory = home }));
        Assert.StartsWith("No ", e.Message, StringComparison.Ordinal);
        Assert.Contains("API key found. Looked at: the apiKey argument (not given)", e.Message, StringComparison.Ordinal);
        Assert.Contains(home, e.Message, StringComparison.Ordinal);
    }
}
