using System.Diagnostics;
using LmWrapper.Testing.Anthropic;
using LmWrapper.Retry;

namespace LmWrapper.Anthropic.Tests;

/// <summary>Retries on 429, 529, 5xx and connection faults, honouring hints, within bounds; error mapping.</summary>
public sealed class ClaudeRetryTests : ClaudeTestBase
{
    public static TheoryData<string> TransientFaults => new() { "429", "529", "500", "drop", "truncated" };

    private static FakeAnthropicFault Fault(string name) => name switch
    {
        "429" => FakeAnthropicFault.RateLimited(),
        "529" => FakeAnthropicFault.Overloaded(),
        "500" => FakeAnthropicFault.ServerError(),
        "drop" => FakeAnthropicFault.DropConnection(),
        "truncated" => FakeAnthropicFault.TruncatedBody(),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(TransientFaults))]
    public void APassingFaultIsRetriedAndTheAnswerComesThrough(string fault)
    {
        Server.InjectFault(Fault(fault), times: 2);
        using var lm = Model();
        var p = lm.Predict(new LmPrompt("q"));
        Assert.False(p.HasErrors);
        Assert.Equal("Echo: q", p.CompletionText);
        Assert.Equal(3, MessageRequests.Count);
    }

    [Fact]
    public void TheServersRetryHintIsHonoured()
    {
        Server.InjectFault(FakeAnthropicFault.RateLimited(TimeSpan.FromMilliseconds(300)));
        using var lm = Model(retry: FastRetry with { MaxDelay = TimeSpan.FromMilliseconds(1) });
        var watch = Stopwatch.StartNew();
        Assert.False(lm.Predict(new LmPrompt("q")).HasErrors);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(290), $"waited only {watch.Elapsed}");
        Assert.Equal(2, MessageRequests.Count);
    }

    [Fact]
    public async Task A429WaitPausesTheModelsRateLimiterSoOtherCallsHoldBackToo()
    {
        Server.InjectFault(FakeAnthropicFault.RateLimited(TimeSpan.FromMilliseconds(800)));
        using var lm = Model();
        var predict = lm.PredictAsync(new LmPrompt("q"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (MessageRequests.Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        await Task.Delay(50); // let the client read the 429 and pause
        var watch = Stopwatch.StartNew();
        await lm.RateLimiter.WaitAsync(0, CancellationToken.None);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(400), $"the limiter held back only {watch.Elapsed}");
        Assert.False((await predict).HasErrors);
    }

    [Fact]
    public void TheRequestsPerMinuteLimitIsLearnedFromTheHeaders()
    {
        Server.RequestsPerMinuteHeader = 4000;
        using var lm = Model();
        Assert.Null(lm.RateLimiter.RequestsPerMinute);
        lm.Predict(new LmPrompt("q"));
        Assert.Equal(4000, lm.RateLimiter.RequestsPerMinute);
        Assert.Null(lm.RateLimiter.TokensPerMinute);
    }

    [Fact]
    public void AHintBeyondTheTotalWaitEndsRetriesAtOnceWithTheHint()
    {
        Server.InjectFault(FakeAnthropicFault.RateLimited(TimeSpan.FromHours(1)));
        using var lm = Model();
        var watch = Stopwatch.StartNew();
        var e = lm.Predict(new LmPrompt("q")).Error!;
        Assert.Equal(LmErrorKind.RateLimitExhausted, e.Kind);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromHours(1), e.RetryAfter);
        Assert.Single(MessageRequests);
    }

    [Fact]
    public void WithRetriesOffA429IsARateLimitErrorAtOnce()
    {
        Server.InjectFault(FakeAnthropicFault.RateLimited(TimeSpan.FromSeconds(2)));
        using var lm = Model(retry: LmRetryPolicy.None);
        var e = lm.Predict(new LmPrompt("q")).Error!;
        Assert.Equal(LmErrorKind.RateLimitExhausted, e.Kind);
        Assert.Equal(TimeSpan.FromSeconds(2), e.RetryAfter);
        Assert.Contains("rate_limit_error", e.Message, StringComparison.Ordinal);
        Assert.Single(MessageRequests);
    }

    [Fact]
    public void RetriesStopAfterMaxRetries()
    {
        Server.InjectFault(FakeAnthropicFault.Overloaded(), times: 100);
        using var lm = Model(retry: FastRetry with { MaxRetries = 3 });
        var e = lm.Predict(new LmPrompt("q")).Error!;
        Assert.Equal(LmErrorKind.Server, e.Kind);
        Assert.Equal(529, e.StatusCode);
        Assert.Equal("overloaded_error", e.ProviderCode);
        Assert.NotNull(e.RequestId);
        Assert.Equal(4, MessageRequests.Count);
        Assert.Equal(0, Cache.GetStats().Entries); // a passing failure is never cached
    }

    [Fact]
    public void RetriesStopWhenTheTotalWaitIsSpent()
    {
        Server.InjectFault(FakeAnthropicFault.ServerError(), times: 100);
        var retry = new LmRetryPolicy
        {
            MaxRetries = 100,
            InitialDelay = TimeSpan.FromMilliseconds(40),
            MaxDelay = TimeSpan.FromMilliseconds(40),
            MaxTotalWait = TimeSpan.FromMilliseconds(130),
            Jitter = 0,
        };
        using var lm = Model(retry: retry);
        Assert.Equal(LmErrorKind.Server, lm.Predict(new LmPrompt("q")).Error!.Kind);
        Assert.Equal(4, MessageRequests.Count); // 3 waits of 40 ms fit in 130 ms; a 4th would not
    }

    [Fact]
    public void XShouldRetryFalseIsBelieved()
    {
        Server.InjectFault(FakeAnthropicFault.ServerError() with { ShouldRetry = false });
        using var lm = Model();
        Assert.Equal(500, lm.Predict(new LmPrompt("q")).Error!.StatusCode);
        Assert.Single(MessageRequests);
    }

    [Fact]
    public void ConnectionFaultsBeyondTheRetriesAreATransportErrorWithoutStatus()
    {
        Server.InjectFault(FakeAnthropicFault.DropConnection(), times: 100);
        using var lm = Model(retry: FastRetry with { MaxRetries = 2 });
        var e = lm.Predict(new LmPrompt("q")).Error!;
        Assert.Equal(LmErrorKind.Transport, e.Kind);
        Assert.Null(e.StatusCode);
        Assert.Contains("3 attempt", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, MessageRequests.Count);
    }

    [Fact]
    public void ASlowAnswerPastTheRequestTimeoutIsRetried()
    {
        Server.InjectFault(FakeAnthropicFault.Slow(TimeSpan.FromSeconds(20)));
        using var lm = Model(options: Options() with { RequestTimeout = TimeSpan.FromMilliseconds(1500) });
        var p = lm.Predict(new LmPrompt("q"));
        Assert.False(p.HasErrors);
        Assert.Equal(2, MessageRequests.Count);
    }

    [Fact]
    public void AnInvalidRequestIsAPermanentFailedPredictionThatIsCached()
    {
        Server.InjectFault(FakeAnthropicFault.Error(400, "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"));
        using var lm = Model();
        var p = lm.Predict(new LmPrompt("q"));
        Assert.True(p.HasErrors);
        Assert.True(p.IsErrorPermanent);
        Assert.Contains("prompt is too long", p.ErrorMessage, StringComparison.Ordinal);
        Assert.Single(MessageRequests);

        var again = lm.Predict(new LmPrompt("q"));
        Assert.True(again.WasCached);
        Assert.True(again.HasErrors);
        Assert.Single(MessageRequests);
    }

    [Fact]
    public void APromptOverTheContextWindowIsAPermanentFailedPrediction()
    {
        Server.ContextWindow = 50;
        using var lm = Model();
        var p = lm.Predict(new LmPrompt(string.Join(' ', Enumerable.Repeat("word", 60))) { MaxTokens = 5 });
        Assert.True(p.HasErrors);
        Assert.True(p.IsErrorPermanent);
        Assert.Contains("prompt is too long: 63 tokens > 50 maximum", p.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("invalid_request_error", p.ErrorMessage, StringComparison.Ordinal);
        Assert.Single(MessageRequests); // a 400 is not retried

        var fits = lm.Predict(new LmPrompt("short") { MaxTokens = 5 });
        Assert.False(fits.HasErrors);
    }

    [Fact]
    public void AResponderThatThrowsIsA500ThatIsRetried()
    {
        int calls = 0;
        Server.Responder = r => Interlocked.Increment(ref calls) == 1
            ? throw new InvalidOperationException("responder broke")
            : new FakeAnthropicReply("fine");
        using var lm = Model();
        Assert.Equal("fine", lm.Predict(new LmPrompt("q")).CompletionText);
        Assert.Equal(2, MessageRequests.Count);
    }

    [Fact]
    public void AnUnknownModelIsANotFoundErrorThatIsNotCached()
    {
        var ghost = new ClaudeModelInfo("claude-ghost-1", 1000, 100, 1m, 1m);
        Server.KnownModels = new HashSet<string>(["claude-3-5-haiku-20241022"]);
        using var lm = Model(ghost);
        var e = lm.Predict(new LmPrompt("q")).Error!;
        Assert.Equal(LmErrorKind.NotFound, e.Kind);
        Assert.Equal(404, e.StatusCode);
        Assert.Equal("not_found_error", e.ProviderCode);
        Assert.False(e.IsPermanent);
        Assert.Equal(0, Cache.GetStats().Entries);
        Assert.Single(MessageRequests);
    }

    [Fact]
    public void InPredictManyAFailureIsAFailedPredictionInItsPlace()
    {
        Server.InjectFault(FakeAnthropicFault.RateLimited());
        var options = Options(LmRetryPolicy.None) with { ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache, MaxConcurrency = 1 } };
        using var lm = Model(options: options);
        var results = lm.PredictMany([new LmPrompt("a"), new LmPrompt("b"), new LmPrompt("c")]).ToList();
        Assert.True(results[0].HasErrors);
        Assert.Equal(LmErrorKind.RateLimitExhausted, results[0].Error!.Kind);
        Assert.Equal(["Echo: b", "Echo: c"], results.Skip(1).Select(r => r.CompletionText));
        Assert.Equal(2, Cache.GetStats().Entries); // the passing failure is not cached

        Assert.Equal("Echo: a", lm.Predict(new LmPrompt("a")).CompletionText);
        Assert.Equal(4, MessageRequests.Count);
    }

    [Fact]
    public async Task CancellationStopsAWaitingRetry()
    {
        Server.InjectFault(FakeAnthropicFault.RateLimited(TimeSpan.FromSeconds(8)));
        using var lm = Model(retry: FastRetry with { MaxTotalWait = TimeSpan.FromSeconds(30) });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lm.PredictAsync(new LmPrompt("q"), cts.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
    }
}
