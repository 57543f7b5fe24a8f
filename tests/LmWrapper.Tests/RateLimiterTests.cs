using LmWrapper.Caching;
using LmWrapper.RateLimiting;
using Microsoft.Extensions.Time.Testing;

namespace LmWrapper.Tests;

public class RateLimiterTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Advances fake time in steps, letting woken waiters run, and records how many were admitted by each step.</summary>
    private static async Task<List<(TimeSpan At, long Started)>> Drive(FakeTimeProvider time, LmRateLimiter limiter, TimeSpan until, TimeSpan step)
    {
        var timeline = new List<(TimeSpan, long)>();
        for (var t = TimeSpan.Zero; t <= until; t += step)
        {
            await Task.Delay(2);
            timeline.Add((time.GetUtcNow() - Start, limiter.RequestsStarted));
            time.Advance(step);
        }

        return timeline;
    }

    private static int MaxInAnyWindow(List<(TimeSpan At, long Started)> timeline, TimeSpan window)
    {
        int max = 0;
        foreach (var (at, startedBefore) in timeline)
        {
            // starts in [at, at + window): admitted by the last step before at + window, minus those admitted before at.
            long before = timeline.LastOrDefault(x => x.At < at).Started;
            long end = timeline.Last(x => x.At < at + window).Started;
            max = Math.Max(max, (int)(end - before));
        }

        return max;
    }

    [Fact]
    public async Task RequestsAreSpacedEvenlyAndNoMinuteHoldsMoreThanTheLimit()
    {
        var time = new FakeTimeProvider(Start);
        var limiter = new LmRateLimiter(requestsPerMinute: 10, tokensPerMinute: null, timeProvider: time);
        var waiters = Enumerable.Range(0, 40).Select(_ => limiter.WaitAsync(0, CancellationToken.None).AsTask()).ToList();
        var timeline = await Drive(time, limiter, TimeSpan.FromMinutes(3), TimeSpan.FromMilliseconds(500));

        Assert.True(MaxInAnyWindow(timeline, TimeSpan.FromMinutes(1)) <= 10);
        // Steady use of the allowance: 10 a minute over three minutes (the first at once).
        Assert.InRange(limiter.RequestsStarted, 30, 31);
        // Evenly spaced: about one every 6 s, never a burst.
        Assert.True(timeline.Single(x => x.At == TimeSpan.FromSeconds(30)).Started <= 6);
        Assert.Equal(40 - limiter.RequestsStarted, waiters.Count(w => !w.IsCompleted));
    }

    [Fact]
    public async Task TokensPerMinuteIsHonoured()
    {
        var time = new FakeTimeProvider(Start);
        var limiter = new LmRateLimiter(requestsPerMinute: null, tokensPerMinute: 1000, timeProvider: time);
        _ = Enumerable.Range(0, 10).Select(_ => limiter.WaitAsync(300, CancellationToken.None).AsTask()).ToList();
        var timeline = await Drive(time, limiter, TimeSpan.FromSeconds(150), TimeSpan.FromSeconds(1));
        Assert.Equal(3, timeline.Single(x => x.At == TimeSpan.FromSeconds(30)).Started); // 900 tokens fit, 1200 do not
        Assert.Equal(6, timeline.Single(x => x.At == TimeSpan.FromSeconds(90)).Started);
        Assert.True(MaxInAnyWindow(timeline, TimeSpan.FromMinutes(1)) <= 3);
    }

    [Fact]
    public async Task APauseHoldsEveryRequestBack()
    {
        var time = new FakeTimeProvider(Start);
        var limiter = new LmRateLimiter(timeProvider: time);
        await limiter.WaitAsync(0, CancellationToken.None); // no limits: straight through
        limiter.Pause(TimeSpan.FromSeconds(20));
        var held = Enumerable.Range(0, 5).Select(_ => limiter.WaitAsync(0, CancellationToken.None).AsTask()).ToList();
        var timeline = await Drive(time, limiter, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        Assert.Equal(1, timeline.Single(x => x.At == TimeSpan.FromSeconds(19)).Started);
        Assert.Equal(6, timeline.Single(x => x.At == TimeSpan.FromSeconds(21)).Started);
        Assert.All(held, t => Assert.True(t.IsCompletedSuccessfully));
    }

    [Fact]
    public void LimitsAreLearnedFromHeadersUnlessSetExplicitly()
    {
        var learned = new LmRateLimiter();
        Assert.False(learned.IsLimiting);
        learned.Observe(500, 200_000);
        Assert.Equal(500, learned.RequestsPerMinute);
        Assert.Equal(200_000, learned.TokensPerMinute);

        var fixedLimits = new LmRateLimiter(requestsPerMinute: 60);
        fixedLimits.Observe(500, 1000);
        Assert.Equal(60, fixedLimits.RequestsPerMinute);
        Assert.Equal(1000, fixedLimits.TokensPerMinute);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LmRateLimiter(requestsPerMinute: 0));
    }

    [Fact]
    public async Task CancellationEndsAWait()
    {
        var limiter = new LmRateLimiter(requestsPerMinute: 1, timeProvider: new FakeTimeProvider(Start));
        await limiter.WaitAsync(0, CancellationToken.None);
        using var cts = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => limiter.WaitAsync(0, cts.Token).AsTask());
    }

    [Fact]
    public async Task PredictManyAsapRunsWithinTheModelsLimit()
    {
        var time = new FakeTimeProvider(Start);
        var limiter = new LmRateLimiter(requestsPerMinute: 6, tokensPerMinute: null, timeProvider: time);
        using var cache = LmCache.OpenInMemory();
        var lm = new CountingLm(new LanguageModelOptions { CacheByDefault = true, Cache = cache, MaxConcurrency = 8, RateLimiter = limiter });
        var run = Task.Run(() => lm.PredictMany(Enumerable.Range(0, 12).Select(i => new LmPrompt($"p{i}")), CompletionWindow.Asap).ToList());
        var timeline = await Drive(time, limiter, TimeSpan.FromSeconds(130), TimeSpan.FromSeconds(1));
        var results = await run;
        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"p{i}|s0"), results.Select(r => r.CompletionText));
        Assert.True(MaxInAnyWindow(timeline, TimeSpan.FromMinutes(1)) <= 6);
        Assert.Equal(12, lm.CallCount);
    }
}
