using LmWrapper.Caching;
using LmWrapper.HuggingFace;
using LmWrapper.Internals;

namespace LmWrapper.Contract.Tests;

/// <summary>
/// The contract's scenarios that apply to a local model (no HTTP, so no 429, 5xx or timeouts): the same answers, usage,
/// costs (zero, fresh or cached), cache rules, validation before compute and cancellation as the API providers.
/// </summary>
public sealed class LocalModelContractTests
{
    private static readonly LmPrompt Prompt = new("Once upon a time") { MaxTokens = 12, Temperature = 0 };

    private static HuggingFaceLm Model(LmCache cache) => HuggingFaceLm.Get(Stories(), new HuggingFaceLmOptions
    {
        Threads = 2,
        ModelOptions = new LanguageModelOptions { Cache = cache, CacheByDefault = true },
    });

    private static string Stories()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "models", "stories260K");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/fixtures/models/stories260K not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public async Task SuccessIsAnAnswerWithUsageThatCostsNothingFreshOrCached()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Model(cache);
        var fresh = await lm.PredictAsync(Prompt);
        Assert.False(fresh.HasErrors);
        Assert.NotEmpty(fresh.CompletionText);
        Assert.False(fresh.WasCached);
        Assert.Equal(new LmUsage(5, 12), fresh.Usage);
        Assert.Equal(0m, lm.CostOf(fresh));
        Assert.Equal(0m, lm.CacheSavingOf(fresh));

        var cached = await lm.PredictAsync(Prompt);
        Assert.True(cached.WasCached);
        Assert.Equal(fresh.CompletionText, cached.CompletionText);
        Assert.Equal(fresh.CompletionLogprobs, cached.CompletionLogprobs);
        Assert.Equal(0m, lm.CostOf(cached));
        Assert.Equal(0m, lm.EstimateCost(Prompt).MaxTotalCost);
        Assert.Equal(0m, lm.EstimateCost(Prompt, CompletionWindow.BatchAny).MaxTotalCost);
        Assert.Equal(lm.TokenLimit, lm.ModelInfo.ContextWindow);
        Assert.True(lm.ModelInfo.Has(LmCapabilities.Logprobs | LmCapabilities.Echo | LmCapabilities.Internals));
    }

    [Fact]
    public async Task SpendCountsTokensAndNoDollarsFreshOrCached()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Model(cache);
        var fresh = await lm.PredictAsync(Prompt);
        await lm.PredictAsync(Prompt);
        var spend = lm.Spend.Snapshot();

        Assert.Equal(1, spend.Requests);
        Assert.Equal(1, spend.CachedSamples);
        Assert.Equal(fresh.Usage!.InputTokens, spend.InputTokens);
        Assert.Equal(fresh.Usage.OutputTokens, spend.OutputTokens);
        Assert.Equal(0m, spend.Cost);
        Assert.Equal(0m, spend.Saved);
    }

    [Fact]
    public async Task BadPromptsAreRefusedBeforeAnythingRunsWithTheSameExceptions()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Model(cache);
        await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(Prompt with { Temperature = 3 }));
        await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(Prompt with { MaxTokens = 0 }));
        await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(new LmPrompt([LmChatTurn.User("hi")])));
        var e = Assert.Throws<LmPromptException>(() => lm.PredictMany([Prompt, Prompt with { NumCompletions = 0 }]));
        Assert.StartsWith("Prompt 1:", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, cache.GetStats().Entries);
    }

    [Fact]
    public async Task CancellationIsThrownNeverReturnedAndNothingIsCached()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Model(cache);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lm.PredictAsync(Prompt with { MaxTokens = 200 }, cts.Token));
        Assert.Equal(0, cache.GetStats().Entries);
    }

    [Fact]
    public async Task PredictManyAnswersInOrderOnceEachAndInternalsAreLocalOnly()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Model(cache);
        var prompts = new[] { Prompt, new LmPrompt("") { MaxTokens = 12, Temperature = 0 }, Prompt };
        var many = new List<LmPrediction>();
        await foreach (var p in lm.PredictManyAsync(prompts, CompletionWindow.BatchAny, CancellationToken.None))
        {
            many.Add(p);
        }

        Assert.Equal(3, many.Count);
        Assert.Equal(many[0].CompletionText, many[2].CompletionText);
        Assert.Equal((await lm.PredictAsync(Prompt)).CompletionText, many[0].CompletionText);
        var withInternals = Prompt with { Internals = new ModelInternalsRequest { HiddenStates = true } };
        Assert.NotNull((await lm.PredictAsync(withInternals)).Internals);
        using var mock = new MockLm();
        Assert.Equal("Internals", Assert.Throws<LmPromptException>(() => mock.Predict(withInternals)).FieldName);
    }
}
