using System.Net;
using System.Net.Sockets;
using LmWrapper.Anthropic;
using LmWrapper.Batching;
using LmWrapper.Caching;
using LmWrapper.Http;
using LmWrapper.OpenAI;
using LmWrapper.Retry;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Reliability.Tests;

/// <summary>The shared resilience layer's bounds: a call's total time, refused and dropped connections, a rejected key in a batch.</summary>
public sealed class ResilienceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lmwrapper-reliability-resilience-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private OpenAiLm Gpt(string baseUrl, LmRetryPolicy retry, TimeSpan? requestTimeout = null, TimeSpan? totalTimeout = null, string key = FakeOpenAiServer.DefaultApiKey, LmCache? cache = null) =>
        OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, key, options: new OpenAiOptions
        {
            BaseUrl = new Uri(baseUrl),
            GetEnvironmentVariable = _ => null,
            HomeDirectory = _dir,
            Retry = retry,
            RequestTimeout = requestTimeout ?? TimeSpan.FromMinutes(10),
            TotalTimeout = totalTimeout,
            ModelOptions = new LanguageModelOptions
            {
                Cache = cache,
                CacheByDefault = cache is not null,
                Batch = new BatchOptions { WorkingDirectory = Path.Combine(_dir, "batches"), PollInterval = TimeSpan.FromMilliseconds(5) },
            },
        });

    [Fact]
    public void TheDefaultTotalLimitIsEveryAttemptAtTheFullTimeoutPlusTheWaitBudgetCappedAtThirtyMinutes()
    {
        var defaults = new LmHttpPipelineSettings { ProviderName = "x" };
        Assert.Equal(TimeSpan.FromMinutes(30), defaults.EffectiveTotalTimeout);
        var small = defaults with { RequestTimeout = TimeSpan.FromSeconds(10), Retry = new LmRetryPolicy { MaxRetries = 3, MaxTotalWait = TimeSpan.FromSeconds(5) } };
        Assert.Equal(TimeSpan.FromSeconds(45), small.EffectiveTotalTimeout);
        Assert.Equal(TimeSpan.FromSeconds(7), (small with { TotalTimeout = TimeSpan.FromSeconds(7) }).EffectiveTotalTimeout);
    }

    [Fact]
    public async Task ACallThatKeepsTimingOutStopsAtItsTotalLimitWithAMessageNamingIt()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync();
        server.EnqueueFault(FakeOpenAiFault.Slow(TimeSpan.FromSeconds(3)) with { PathPrefix = "/v1/chat/completions" }, times: 50);
        using var lm = Gpt(server.BaseUrl, new LmRetryPolicy { MaxRetries = 40, InitialDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(2) }, TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(900));
        var p = await lm.PredictAsync(new LmPrompt("What is 1+1?") { MaxTokens = 5 });
        Assert.True(p.HasErrors);
        Assert.Equal(LmErrorKind.Transport, p.Error!.Kind);
        Assert.Contains("TotalTimeout", p.ErrorMessage, StringComparison.Ordinal);

        // 40 retries were allowed; the total limit stopped it long before (900 ms of 200 ms attempts, and a few more).
        var attempts = System.Text.RegularExpressions.Regex.Match(p.ErrorMessage!, @"after (\d+) attempt");
        Assert.True(attempts.Success, p.ErrorMessage);
        Assert.InRange(int.Parse(attempts.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 8);
    }

    [Fact]
    public async Task AClosedPortIsReportedAfterOneAttemptNamingTheAddress()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var lm = Gpt($"http://127.0.0.1:{port}/v1", new LmRetryPolicy { MaxRetries = 8, InitialDelay = TimeSpan.FromSeconds(5) });
        var p = await lm.PredictAsync(new LmPrompt("What is 1+1?") { MaxTokens = 5 });
        Assert.True(p.HasErrors);
        Assert.Equal(LmErrorKind.Transport, p.Error!.Kind);
        Assert.Contains("refused", p.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", p.ErrorMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("attempts", p.ErrorMessage, StringComparison.Ordinal); // not retried: a 5 s backoff was never waited
    }

    [Fact]
    public async Task ConnectionsDroppedOnEveryAttemptSaySoAfterTheRetries()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync();
        server.EnqueueFault(FakeOpenAiFault.DropConnection() with { PathPrefix = "/v1/chat/completions" }, times: 3);
        using var lm = Gpt(server.BaseUrl, new LmRetryPolicy { MaxRetries = 2, InitialDelay = TimeSpan.FromMilliseconds(1) });
        var p = await lm.PredictAsync(new LmPrompt("What is 1+1?") { MaxTokens = 5 });
        Assert.True(p.HasErrors);
        Assert.Contains("dropped", p.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("after 3 attempts", p.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnOpenAiBatchWhoseKeyIsRejectedLeavesNoRequestFileAndNoJournalRow()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync();
        using var cache = LmCache.Open(Path.Combine(_dir, "cache.sqlite3"));
        using var lm = Gpt(server.BaseUrl, LmRetryPolicy.None, key: "sk-not-a-key-the-server-knows", cache: cache);
        await Assert.ThrowsAsync<LmAuthenticationException>(async () =>
        {
            await foreach (var _ in lm.PredictManyAsync([new LmPrompt("What is 1+1?") { MaxTokens = 5 }], CompletionWindow.BatchAny))
            {
            }
        });
        Assert.Equal(0, cache.PendingBatchCount());
        string work = Path.Combine(_dir, "batches");
        Assert.Empty(Directory.Exists(work) ? Directory.GetFiles(work) : []);
    }

    [Fact]
    public async Task AClaudeBatchWhoseKeyIsRejectedLeavesNoRequestFileAndNoJournalRow()
    {
        var server = new FakeAnthropicServer();
        await server.StartAsync();
        await using var _ = server;
        using var cache = LmCache.Open(Path.Combine(_dir, "claude.sqlite3"));
        string work = Path.Combine(_dir, "claude-batches");
        using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "sk-ant-unknown", new ClaudeOptions
        {
            BaseUrl = server.BaseUrl,
            GetEnvironmentVariable = _ => null,
            HomeDirectory = _dir,
            Retry = LmRetryPolicy.None,
            ModelOptions = new LanguageModelOptions { Cache = cache, CacheByDefault = true, Batch = new BatchOptions { WorkingDirectory = work } },
        });
        await Assert.ThrowsAsync<LmAuthenticationException>(async () =>
        {
            await foreach (var p in lm.PredictManyAsync([new LmPrompt("What is 1+1?") { MaxTokens = 5 }], CompletionWindow.BatchAny))
            {
            }
        });
        Assert.Equal(0, cache.PendingBatchCount());
        Assert.Empty(Directory.Exists(work) ? Directory.GetFiles(work) : []);
    }
}
