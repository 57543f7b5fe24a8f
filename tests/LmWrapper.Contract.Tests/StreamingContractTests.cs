using System.Text.Json;
using LmWrapper.Caching;
using LmWrapper.HuggingFace;
using static LmWrapper.TestSupport.StreamCollector;

namespace LmWrapper.Contract.Tests;

/// <summary>
/// PredictStreamingAsync keeps PredictAsync's contract on every provider (OpenAI and Claude behind their fakes, a local
/// model, MockLm): validation before anything is sent, the same prediction, the cache read first and written at the end,
/// cancellation that stops the stream, and typed errors.
/// </summary>
public sealed class StreamingContractTests
{
    public static TheoryData<string> All => new() { "openai", "anthropic", "local", "mock" };

    public static TheoryData<string> Remote => new() { "openai", "anthropic" };

    [Theory]
    [MemberData(nameof(All))]
    public async Task TheStreamIsThePredictionAndIsCachedLikeIt(string name)
    {
        await using var setup = await Setup.StartAsync(name);
        var lm = setup.Lm;
        var prompt = setup.Prompt;
        var (updates, streamed) = await CollectAsync(lm, prompt);
        Assert.False(streamed.HasErrors);
        Assert.False(streamed.WasCached);
        Assert.True(updates.Count(u => !u.IsFinal) >= 2, $"{name} streamed the answer in one piece");
        Assert.Equal(streamed.CompletionText, string.Concat(updates.Select(u => u.Text)));
        Assert.All(updates, u => Assert.False(u.WasCached));

        var cached = await lm.PredictAsync(prompt);
        Assert.True(cached.WasCached);
        Assert.Equal(Essence(streamed), Essence(cached));
        var fresh = await lm.PredictAsync(prompt with { Cache = false });
        Assert.False(fresh.WasCached);
        Assert.Equal(Essence(fresh), Essence(streamed));

        int requests = setup.Requests;
        var (again, replayed) = await CollectAsync(lm, prompt);
        Assert.Equal(requests, setup.Requests);
        Assert.Equal(2, again.Count);
        Assert.All(again, u => Assert.True(u.WasCached));
        Assert.Equal(streamed.CompletionText, again[0].Text);
        Assert.Equal(Essence(streamed), Essence(replayed));
    }

    [Theory]
    [MemberData(nameof(Remote))]
    public async Task StreamsAreCountedInTheSpendAsPredictAsyncCountsThem(string name)
    {
        await using var setup = await Setup.StartAsync(name);
        var lm = setup.Lm;
        var (_, fresh) = await CollectAsync(lm, setup.Prompt);
        var (_, cached) = await CollectAsync(lm, setup.Prompt);
        var spend = lm.Spend.Snapshot();
        Assert.Equal(1, spend.Requests);
        Assert.Equal(1, spend.CachedSamples);
        Assert.Equal(fresh.Usage!.InputTokens, spend.InputTokens);
        Assert.Equal(fresh.Usage.OutputTokens, spend.OutputTokens);
        Assert.Equal(lm.CostOf(fresh), spend.Cost);
        Assert.True(spend.Cost > 0m);
        Assert.Equal(lm.CacheSavingOf(cached), spend.CacheSavings);
    }

    [Theory]
    [MemberData(nameof(All))]
    public async Task BadPromptsAreRefusedWhenTheStreamIsAskedFor(string name)
    {
        await using var setup = await Setup.StartAsync(name);
        Assert.Throws<LmPromptException>(() => setup.Lm.PredictStreamingAsync(setup.Prompt with { MaxTokens = 0 }));
        Assert.Throws<ArgumentNullException>(() => setup.Lm.PredictStreamingAsync(null!));
        Assert.Equal(0, setup.Requests);
        Assert.Equal(0, setup.Cache.GetStats().Entries);
    }

    [Theory]
    [MemberData(nameof(All))]
    public async Task CancellingMidStreamThrowsStopsTheStreamAndCachesNothing(string name)
    {
        await using var setup = await Setup.StartAsync(name);
        setup.Provider?.DelayStreamEvents(TimeSpan.FromMilliseconds(30));
        using var cts = new CancellationTokenSource();
        var stream = setup.Lm.PredictStreamingAsync(setup.LongPrompt, cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await stream.MoveNextAsync());
        Assert.False(stream.Current.IsFinal);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            while (await stream.MoveNextAsync())
            {
            }
        });
        await stream.DisposeAsync();
        if (setup.Provider is { } provider)
        {
            for (int i = 0; i < 500 && provider.AbortedStreams == 0; i++)
            {
                await Task.Delay(20);
            }

            Assert.Equal(1, provider.AbortedStreams);
        }

        Assert.Equal(0, setup.Cache.GetStats().Entries);
    }

    [Theory]
    [MemberData(nameof(Remote))]
    public async Task AStreamCutAfterTextIsATransportErrorAndARefusalBeforeItAFailedPrediction(string name)
    {
        await using var setup = await Setup.StartAsync(name);
        var provider = setup.Provider!;
        provider.StreamCutAfterTextOnce();
        var e = await Assert.ThrowsAsync<LmProviderException>(async () =>
        {
            await foreach (var u in setup.Lm.PredictStreamingAsync(setup.LongPrompt))
            {
            }
        });
        Assert.Equal(LmErrorKind.Transport, e.Error.Kind);
        Assert.Equal(0, setup.Cache.GetStats().Entries);

        provider.ContextTooLongOnce();
        var (updates, failed) = await CollectAsync(setup.Lm, setup.Prompt);
        Assert.Single(updates);
        Assert.Equal(LmErrorKind.ContextLength, failed.Error!.Kind);
        int requests = setup.Requests;
        var again = await setup.Lm.PredictAsync(setup.Prompt);
        Assert.True(again.WasCached); // a permanent error is cached, as PredictAsync caches it
        Assert.Equal(LmErrorKind.ContextLength, again.Error!.Kind);
        Assert.Equal(requests, setup.Requests);
    }

    /// <summary>Everything a prediction says but the ids of the request that made it.</summary>
    private static string Essence(LmPrediction p) => string.Join("\n", p.Completions.Select(c => JsonSerializer.Serialize(new
    {
        c.CompletionText,
        c.FinishReason,
        Tokens = c.HasCompletionTokens ? c.CompletionTokens : null,
        Logprobs = c.HasCompletionLogprobs ? c.CompletionLogprobs : null,
        Top = c.HasTopTokenLogprobs ? c.TopTokenLogprobs : null,
        c.Usage,
        Error = c.Error?.Kind,
        Data = c.ProviderData?.Where(kv => kv.Key is not ("id" or "request_id")).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList(),
    })));

    private sealed class Setup : IAsyncDisposable
    {
        private Setup(LanguageModel lm, LmCache cache, Provider? provider, Func<int> requests, LmPrompt prompt, LmPrompt longPrompt)
        {
            Lm = lm;
            Cache = cache;
            Provider = provider;
            RequestCount = requests;
            Prompt = prompt;
            LongPrompt = longPrompt;
        }

        public LanguageModel Lm { get; }

        public LmCache Cache { get; }

        public Provider? Provider { get; }

        public LmPrompt Prompt { get; }

        public LmPrompt LongPrompt { get; }

        public int Requests => RequestCount();

        private Func<int> RequestCount { get; }

        public static async Task<Setup> StartAsync(string name)
        {
            var cache = LmCache.OpenInMemory();
            var prompt = new LmPrompt("Tell me about streams, please.") { MaxTokens = 30, Temperature = 0 };
            var longPrompt = new LmPrompt("Tell me a long story about rivers and the sea.") { MaxTokens = 60, Temperature = 0 };
            switch (name)
            {
                case "openai" or "anthropic":
                    var provider = await Provider.StartAsync(name);
                    return new Setup(provider.Model(cache), cache, provider, () => provider.PredictionRequests, prompt, longPrompt);
                case "local":
                    var local = HuggingFaceLm.Get(Stories(), new HuggingFaceLmOptions
                    {
                        Threads = 2,
                        ModelOptions = new LanguageModelOptions { Cache = cache, CacheByDefault = true },
                    });
                    return new Setup(local, cache, null, () => 0, new LmPrompt("Once upon a time") { MaxTokens = 12, Temperature = 0, Logprobs = 2 }, new LmPrompt("Once upon a time") { MaxTokens = 200, Temperature = 0 });
                case "mock":
                    var mock = new MockLm(options: new LanguageModelOptions { Cache = cache, CacheByDefault = true });
                    return new Setup(mock, cache, null, () => mock.CallCount, prompt, new LmPrompt(string.Join(' ', Enumerable.Repeat("river", 60))) { MaxTokens = 60 });
                default:
                    throw new ArgumentOutOfRangeException(nameof(name));
            }
        }

        public async ValueTask DisposeAsync()
        {
            Lm.Dispose();
            if (Provider is not null)
            {
                await Provider.DisposeAsync();
            }

            Cache.Dispose();
        }

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
    }
}
