using System.Runtime.CompilerServices;
using LmWrapper.Caching;

namespace LmWrapper.Tests;

/// <summary>LanguageModel.PredictStreamingAsync: the base's contract, its default hook, and MockLm word by word.</summary>
public sealed class StreamingTests : IDisposable
{
    private readonly LmCache _cache = LmCache.OpenInMemory();

    public void Dispose() => _cache.Dispose();

    [Fact]
    public async Task MockStreamsWordByWordAndEqualsPredict()
    {
        using var lm = new MockLm();
        var prompt = new LmPrompt("one two  three ") { MaxTokens = 10 };
        var updates = await CollectAsync(lm, prompt);
        Assert.Equal(["one", " two", "  three", " "], updates.Where(u => !u.IsFinal).Select(u => u.Text));
        Assert.Equal(["one"], updates[0].Tokens!);
        Assert.Null(updates[0].Logprobs);
        var final = updates[^1].Prediction!;
        var whole = await lm.PredictAsync(prompt);
        Assert.Equal(whole.CompletionText, final.CompletionText);
        Assert.Equal(whole.CompletionTokens, final.CompletionTokens);
        Assert.Equal(whole.Usage, final.Usage);
        Assert.Equal(whole.FinishReason, final.FinishReason);
    }

    [Fact]
    public async Task MockHonoursStopAndMaxTokensWhileStreaming()
    {
        using var lm = new MockLm();
        var updates = await CollectAsync(lm, new LmPrompt("a b c STOP d e") { MaxTokens = 2, Stop = ["STOP"] });
        Assert.Equal("a b", string.Concat(updates.Select(u => u.Text)));
        Assert.Equal("length", updates[^1].Prediction!.FinishReason);
    }

    [Fact]
    public async Task OnlyTheSamplesTheCacheLacksAreStreamedAndAllAreStored()
    {
        int calls = 0;
        using var lm = new MockLm(_ => "answer " + Interlocked.Increment(ref calls), name: "counter", options: new LanguageModelOptions { Cache = _cache, CacheByDefault = true });
        var two = await CollectAsync(lm, new LmPrompt("q") { NumCompletions = 2 });
        Assert.Equal(["answer 1", "answer 2"], two[^1].Prediction!.Completions.Select(c => c.CompletionText));

        var four = await CollectAsync(lm, new LmPrompt("q") { NumCompletions = 4 });
        Assert.Equal(4, lm.CallCount);
        var cached = four.Where(u => u.WasCached && !u.IsFinal).ToList();
        Assert.Equal([0, 1], cached.Select(u => u.SampleIndex));
        Assert.Equal(["answer 1", "answer 2"], cached.Select(u => u.Text));
        Assert.Equal(" 3", string.Concat(four.Where(u => u.SampleIndex == 2 && !u.IsFinal).Select(u => u.Text))[^2..]);
        var final = four[^1].Prediction!;
        Assert.False(four[^1].WasCached);
        Assert.Equal([true, true, false, false], final.Completions.Select(c => c.WasCached));
        Assert.Equal(4, _cache.GetStats().Entries);

        var again = await CollectAsync(lm, new LmPrompt("q") { NumCompletions = 4 });
        Assert.True(again[^1].WasCached);
        Assert.Equal(5, again.Count);
        Assert.Equal(4, lm.CallCount);
    }

    [Fact]
    public async Task TheDefaultHookStreamsEachSampleWhole()
    {
        var lm = new CountingLm(new LanguageModelOptions { Cache = _cache, CacheByDefault = true });
        var updates = await CollectAsync(lm, new LmPrompt("hello") { NumCompletions = 2 });
        Assert.Equal(3, updates.Count);
        Assert.Equal(["hello|s0", "hello|s1"], updates.Take(2).Select(u => u.Text));
        Assert.Equal([-0.5, -0.25], updates[0].Logprobs!);
        Assert.Equal(updates[1].Text, updates[^1].Prediction!.Completions[1].CompletionText);
        var cached = await lm.PredictAsync(new LmPrompt("hello") { NumCompletions = 2 });
        Assert.True(cached.WasCached);
        Assert.Equal(1, lm.CallCount);
    }

    [Fact]
    public async Task ARefusalBeforeAnyTextIsAFailedPredictionCachedLikePredictAsync()
    {
        var lm = new CountingLm(new LanguageModelOptions { Cache = _cache, CacheByDefault = true })
        {
            Intercept = _ => throw new LmProviderException(new LmError(LmErrorKind.InvalidRequest, "bad stop", 400)),
        };
        var updates = await CollectAsync(lm, new LmPrompt("x") { NumCompletions = 3 });
        var final = Assert.Single(updates).Prediction!;
        Assert.True(final.HasErrors);
        Assert.Equal(3, final.Completions.Count);
        Assert.All(final.Completions, c => Assert.Equal("bad stop", c.ErrorMessage));
        Assert.True((await lm.PredictAsync(new LmPrompt("x") { NumCompletions = 3 })).WasCached);
    }

    [Fact]
    public async Task AFailureAfterTextIsThrownAndNothingIsCached()
    {
        var lm = new ScriptedLm(_cache, Script(("partial", null), (null, new LmProviderException(new LmError(LmErrorKind.Transport, "cut")))));
        var seen = new List<LmStreamingUpdate>();
        var e = await Assert.ThrowsAsync<LmProviderException>(async () =>
        {
            await foreach (var u in lm.PredictStreamingAsync(new LmPrompt("x")))
            {
                seen.Add(u);
            }
        });
        Assert.Equal("cut", e.Message);
        Assert.Equal("partial", Assert.Single(seen).Text);
        Assert.Equal(0, _cache.GetStats().Entries);
    }

    [Fact]
    public async Task AHookThatBreaksTheContractIsAnError()
    {
        var wrongSample = new ScriptedLm(_cache, (_, _) => Updates(new LmStreamingUpdate { SampleIndex = 1, Text = "x" }));
        await Assert.ThrowsAsync<InvalidOperationException>(() => CollectAsync(wrongSample, new LmPrompt("x")));
        var unfinished = new ScriptedLm(_cache, (_, _) => Updates(new LmStreamingUpdate { Text = "x" }));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => CollectAsync(unfinished, new LmPrompt("x")));
        Assert.Contains("without finishing sample 0", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, _cache.GetStats().Entries);
    }

    [Fact]
    public async Task ValidationHappensWhenTheStreamIsAskedForAndCancellationStopsIt()
    {
        using var lm = new MockLm();
        Assert.Throws<LmPromptException>(() => lm.PredictStreamingAsync(new LmPrompt("x") { MaxTokens = 0 }));
        Assert.Equal(0, lm.CallCount);

        using var cts = new CancellationTokenSource();
        var stream = lm.PredictStreamingAsync(new LmPrompt("a b c d e f"), cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await stream.MoveNextAsync());
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await stream.MoveNextAsync());
        await stream.DisposeAsync();
    }

    private static async Task<List<LmStreamingUpdate>> CollectAsync(LanguageModel lm, LmPrompt prompt)
    {
        var updates = new List<LmStreamingUpdate>();
        await foreach (var u in lm.PredictStreamingAsync(prompt))
        {
            updates.Add(u);
        }

        Assert.Single(updates, u => u.IsFinal);
        Assert.True(updates[^1].IsFinal);
        return updates;
    }

    private static Func<LmUncachedRequest, CancellationToken, IAsyncEnumerable<LmStreamingUpdate>> Script(params (string? Text, Exception? Fault)[] steps) =>
        (_, _) => Run(steps);

    private static async IAsyncEnumerable<LmStreamingUpdate> Run((string? Text, Exception? Fault)[] steps)
    {
        foreach (var (text, fault) in steps)
        {
            await Task.Yield();
            if (fault is not null)
            {
                throw fault;
            }

            yield return new LmStreamingUpdate { Text = text! };
        }
    }

    private static async IAsyncEnumerable<LmStreamingUpdate> Updates(params LmStreamingUpdate[] updates)
    {
        foreach (var u in updates)
        {
            await Task.Yield();
            yield return u;
        }
    }

    /// <summary>A model whose stream is whatever the test scripts.</summary>
    private sealed class ScriptedLm(LmCache cache, Func<LmUncachedRequest, CancellationToken, IAsyncEnumerable<LmStreamingUpdate>> stream)
        : LanguageModel(new LanguageModelOptions { Cache = cache, CacheByDefault = true })
    {
        public override string ModelIdentity => "test/scripted";

        public override int TokenLimit => 100;

        public override bool IsChatModel => false;

        public override int EstimateTokensInPrompt(LmPrompt prompt) => 1;

        protected override Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(LmPrompt prompt, int numCompletions, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        protected override async IAsyncEnumerable<LmStreamingUpdate> PredictUncachedStreamingAsync(
            LmUncachedRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var u in stream(request, cancellationToken).WithCancellation(cancellationToken))
            {
                yield return u;
            }
        }
    }
}
