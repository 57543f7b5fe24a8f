using System.Diagnostics;
using System.Net.Http.Headers;
using LmWrapper.Retry;
using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

public sealed class OpenAiRetryTests : OpenAiTestBase
{
    private static LmPrompt Prompt => new("What is 2+2?") { MaxTokens = 10 };

    [Fact]
    public async Task RateLimitsAreRetriedHonouringRetryAfterMs()
    {
        Server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(120)), times: 2);
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, retry: FastRetries with { MaxDelay = TimeSpan.FromMilliseconds(1) });
        var sw = Stopwatch.StartNew();
        var p = await lm.PredictAsync(Prompt);
        sw.Stop();
        Assert.Equal("2+2 is equal to 4.", p.CompletionText);
        Assert.Equal(3, Server.Requests.Count);
        Assert.True(sw.ElapsedMilliseconds >= 235, $"waited only {sw.ElapsedMilliseconds} ms; the server asked for 2 x 120 ms");
    }

    [Fact]
    public async Task RetryAfterSecondsIsHonouredWhenThereIsNoMsHeader()
    {
        Server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(300), sendRetryAfterMs: false) with { SendRateLimitHeaders = false });
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var sw = Stopwatch.StartNew();
        await lm.PredictAsync(Prompt);
        Assert.True(sw.ElapsedMilliseconds >= 950, $"retry-after: 1 means a second, waited {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task WithRetryOnRateLimitOffA429IsARateLimitErrorAtOnce()
    {
        Server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromSeconds(7)));
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, retryOnRateLimit: false);
        Assert.False(lm.RetryOnRateLimit);
        var e = (await lm.PredictAsync(Prompt)).Error!;
        Assert.Equal(LmErrorKind.RateLimitExhausted, e.Kind);
        Assert.Equal(TimeSpan.FromSeconds(7), e.RetryAfter);
        Assert.Contains("rate_limit_exceeded", e.Message);
        Assert.Single(Server.Requests);
    }

    [Fact]
    public async Task AHintBeyondTheTotalBudgetGivesUpAtOnce()
    {
        Server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromHours(2)));
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var sw = Stopwatch.StartNew();
        var e = (await lm.PredictAsync(Prompt)).Error!;
        Assert.Equal(LmErrorKind.RateLimitExhausted, e.Kind);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2));
        Assert.Equal(TimeSpan.FromHours(2), e.RetryAfter);
        Assert.Contains("retry budget", e.Message);
        Assert.Single(Server.Requests);
    }

    [Fact]
    public async Task RetriesAreBoundedAndRateLimitExhaustionIsAnError()
    {
        Server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(1)), times: 10);
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, retry: FastRetries with { MaxRetries = 3 });
        var e = (await lm.PredictAsync(Prompt)).Error!;
        Assert.Equal(LmErrorKind.RateLimitExhausted, e.Kind);
        Assert.False(e.IsPermanent);
        Assert.Contains("after 4 attempts", e.Message);
        Assert.Equal(4, Server.Requests.Count);
    }

    [Fact]
    public async Task InsufficientQuotaIsNotRetried()
    {
        Server.EnqueueFault(FakeOpenAiFault.InsufficientQuota(), times: 3);
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var e = (await lm.PredictAsync(Prompt)).Error!;
        Assert.Equal(LmErrorKind.RateLimitExhausted, e.Kind);
        Assert.Equal("insufficient_quota", e.ProviderCode);
        Assert.Contains("quota", e.Message);
        Assert.Single(Server.Requests);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(502)]
    [InlineData(503)]
    [InlineData(504)]
    public async Task ServerErrorsAreRetried(int status)
    {
        Server.EnqueueFault(FakeOpenAiFault.ServerError(status), times: 2);
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var p = await lm.PredictAsync(Prompt);
        Assert.Equal("2+2 is equal to 4.", p.CompletionText);
        Assert.Equal(3, Server.Requests.Count);
    }

    [Fact]
    public async Task DroppedConnectionsAndTruncatedBodiesAreRetried()
    {
        Server.EnqueueFault(FakeOpenAiFault.DropConnection());
        Server.EnqueueFault(FakeOpenAiFault.TruncatedBody());
        using var lm = Lm(OpenAiModelNames.Gpt35TurboInstruct);
        var p = await lm.PredictAsync(Prompt);
        Assert.Equal(" 2+2 is equal to 4.", p.CompletionText);
        Assert.Equal(3, Server.Requests.Count);
    }

    [Fact]
    public async Task PersistentServerErrorsBecomeATransientErrorPredictionThatIsNotCached()
    {
        Server.EnqueueFault(FakeOpenAiFault.ServerError(503), times: 3);
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, cache: Caching.LmCache.OpenInMemory(), retry: FastRetries with { MaxRetries = 2 });
        var p = await lm.PredictAsync(Prompt);
        Assert.True(p.HasErrors);
        Assert.False(p.IsErrorPermanent);
        Assert.Contains("503", p.ErrorMessage);
        Assert.Contains("after 3 attempts", p.ErrorMessage);
        Assert.Equal(LmErrorKind.Server, p.Error!.Kind);
        Assert.Equal(503, p.Error.StatusCode);
        Assert.Equal(3, Server.Requests.Count);
        var again = await lm.PredictAsync(Prompt);
        Assert.False(again.HasErrors);
        Assert.False(again.WasCached);
    }

    [Fact]
    public async Task SlowAnswersPastTheRequestTimeoutAreRetried()
    {
        Server.EnqueueFault(FakeOpenAiFault.Slow(TimeSpan.FromSeconds(5)));
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options() with { RequestTimeout = TimeSpan.FromMilliseconds(200) });
        var sw = Stopwatch.StartNew();
        var p = await lm.PredictAsync(Prompt);
        Assert.Equal("2+2 is equal to 4.", p.CompletionText);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(4));
        Assert.Equal(2, Server.Requests.Count);
    }

    [Fact]
    public async Task CancellationIsNotRetried()
    {
        Server.EnqueueFault(FakeOpenAiFault.Slow(TimeSpan.FromSeconds(5)));
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lm.PredictAsync(Prompt, cts.Token));
        Assert.Single(Server.Requests);
    }

    [Fact]
    public void PolicyBacksOffExponentiallyWithJitterWithinItsBounds()
    {
        var policy = new LmRetryPolicy { MaxRetries = 5, InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromMilliseconds(350), Jitter = 0.25, MaxTotalWait = TimeSpan.FromSeconds(1) };
        for (int trial = 0; trial < 50; trial++)
        {
            Assert.InRange(policy.GetDelay(1, null, TimeSpan.Zero)!.Value.TotalMilliseconds, 75, 100);
            Assert.InRange(policy.GetDelay(2, null, TimeSpan.Zero)!.Value.TotalMilliseconds, 150, 200);
            Assert.InRange(policy.GetDelay(4, null, TimeSpan.Zero)!.Value.TotalMilliseconds, 262.5, 350);
        }

        Assert.Null(policy.GetDelay(6, null, TimeSpan.Zero));
        Assert.Equal(TimeSpan.FromMilliseconds(900), policy.GetDelay(1, TimeSpan.FromMilliseconds(900), TimeSpan.Zero));
        Assert.Null(policy.GetDelay(2, TimeSpan.FromMilliseconds(900), TimeSpan.FromMilliseconds(200)));
        Assert.Null(LmRetryPolicy.None.GetDelay(1, null, TimeSpan.Zero));
    }

    [Fact]
    public void RetryHintsAreReadFromEveryHeaderForm()
    {
        static HttpResponseHeaders Headers(params (string, string)[] pairs)
        {
            var h = new HttpResponseMessage().Headers;
            foreach (var (k, v) in pairs)
            {
                h.TryAddWithoutValidation(k, v);
            }

            return h;
        }

        var now = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), LmRetryHints.FromHeaders(Headers(("retry-after-ms", "1500"), ("retry-after", "9"))));
        Assert.Equal(TimeSpan.FromSeconds(9), LmRetryHints.FromHeaders(Headers(("retry-after", "9"))));
        Assert.Equal(TimeSpan.FromSeconds(30), LmRetryHints.FromHeaders(Headers(("retry-after", "Wed, 01 Jan 2025 00:00:30 GMT")), now));
        Assert.Equal(TimeSpan.FromSeconds(360), LmRetryHints.FromHeaders(Headers(("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "6m0s"), ("x-ratelimit-remaining-tokens", "5"), ("x-ratelimit-reset-tokens", "9m"))));
        Assert.Equal(TimeSpan.FromMilliseconds(20), LmRetryHints.FromHeaders(Headers(("x-ratelimit-remaining-tokens", "0"), ("x-ratelimit-reset-tokens", "20ms"))));
        Assert.Null(LmRetryHints.FromHeaders(Headers(("x-ratelimit-remaining-requests", "3"), ("x-ratelimit-reset-requests", "1s"))));
        Assert.True(LmRetryHints.TryParseDuration("1h2m3.5s", out var d));
        Assert.Equal(TimeSpan.FromSeconds(3723.5), d);
        Assert.False(LmRetryHints.TryParseDuration("soon", out _));
    }

    [Fact]
    public async Task RateLimitResetHeadersAloneAreHonoured()
    {
        Server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(150), sendRetryAfterMs: false, sendRetryAfter: false));
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, retry: FastRetries with { MaxDelay = TimeSpan.FromMilliseconds(1) });
        var sw = Stopwatch.StartNew();
        await lm.PredictAsync(Prompt);
        Assert.True(sw.ElapsedMilliseconds >= 145, $"x-ratelimit-reset-requests: 150ms, waited {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void PredictManyWaitsOutA429()
    {
        Server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(400)));
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options() with
        {
            ModelOptions = new LanguageModelOptions { MaxConcurrency = 1, CacheByDefault = false, Cache = Caching.LmCache.OpenInMemory() },
        });
        var prompts = Enumerable.Range(0, 3).Select(i => new LmPrompt($"What is {i}+1?") { MaxTokens = 10 }).ToList();
        var results = lm.PredictMany(prompts).ToList();
        Assert.All(results, r => Assert.False(r.HasErrors));
        var requests = Server.Requests;
        Assert.Equal(4, requests.Count);
        Assert.Equal("http_429", requests[0].Fault);
        Assert.All(requests.Skip(1), r => Assert.True(r.ReceivedAt - requests[0].ReceivedAt >= TimeSpan.FromMilliseconds(380)));
        Assert.Equal(TimeSpan.Zero, lm.RateLimitPause);
    }

    [Fact]
    public async Task ConcurrentRequestsWaitOutAnotherRequests429()
    {
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options() with
        {
            ModelOptions = new LanguageModelOptions { MaxConcurrency = 4, CacheByDefault = false, Cache = Caching.LmCache.OpenInMemory() },
        });
        await lm.PredictAsync(new LmPrompt("warm up") { MaxTokens = 2 });
        Server.ClearRequests();
        // A pause long enough that a starved test thread (CI runs test projects side by side) still sees it begin, and
        // within FastRetries' MaxTotalWait of 2 s, so the first request is retried after it.
        Server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(1000)));
        var first = lm.PredictAsync(new LmPrompt("What is 1+1?") { MaxTokens = 10 });
        while (lm.RateLimitPause == TimeSpan.Zero)
        {
            Assert.False(first.IsCompleted);
            await Task.Delay(2);
        }

        Assert.True(lm.RateLimitPause <= TimeSpan.FromMilliseconds(1000));
        var second = await lm.PredictAsync(new LmPrompt("What is 2+2?") { MaxTokens = 10 });
        var answered = await first;
        Assert.False(answered.HasErrors, answered.ErrorMessage);
        var requests = Server.Requests;
        Assert.Equal(3, requests.Count);
        Assert.All(requests.Skip(1), r => Assert.True(r.ReceivedAt - requests[0].ReceivedAt >= TimeSpan.FromMilliseconds(980), $"{(r.ReceivedAt - requests[0].ReceivedAt).TotalMilliseconds} ms"));
        Assert.Equal("2+2 is equal to 4.", second.CompletionText);
    }

    [Fact]
    public async Task TheModelLearnsItsLimitsFromTheRateLimitHeaders()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        Assert.Null(lm.RateLimiter.RequestsPerMinute);
        await lm.PredictAsync(new LmPrompt("What is 2+2?") { MaxTokens = 5 });
        Assert.Equal(10_000, lm.RateLimiter.RequestsPerMinute); // the fake's default x-ratelimit-limit-requests
        Assert.Equal(30_000_000, lm.RateLimiter.TokensPerMinute);

        using var pinned = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options() with
        {
            ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Caching.LmCache.OpenInMemory(), RequestsPerMinute = 60 },
        });
        await pinned.PredictAsync(new LmPrompt("What is 2+2?") { MaxTokens = 5 });
        Assert.Equal(60, pinned.RateLimiter.RequestsPerMinute); // set explicitly: headers do not override it
    }

    [Fact]
    public void TheBaseUrlComesFromOpenAiBaseUrlWhenTheOptionsLeaveItUnset()
    {
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, options: Options() with
        {
            BaseUrl = null,
            GetEnvironmentVariable = name => name switch
            {
                "OPENAI_BASE_URL" => Server.BaseUrl,
                "OPENAI_API_KEY" => FakeOpenAiServer.DefaultApiKey,
                _ => null,
            },
        });
        Assert.Equal("2+2 is equal to 4.", lm.Predict("What is 2+2?").CompletionText);
        Assert.Contains("@", lm.ModelIdentity, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "k", options: Options() with
        {
            BaseUrl = null,
            GetEnvironmentVariable = name => name == "OPENAI_BASE_URL" ? "not a url" : null,
        }));
    }
}
