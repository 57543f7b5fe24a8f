using System.Diagnostics;
using LmWrapper.Batching;
using LmWrapper.Caching;
using LmWrapper.OpenAI;
using LmWrapper.Retry;
using LmWrapper.Testing;

namespace LmWrapper.Observability.Tests;

/// <summary>OpenAiLm over the fake OpenAI server: retries, cost and cache savings, and a Batch API run.</summary>
public sealed class OpenAiTelemetryTests : IAsyncLifetime, IDisposable
{
    private static readonly LmRetryPolicy FastRetries = new()
    {
        MaxRetries = 4,
        InitialDelay = TimeSpan.FromMilliseconds(1),
        MaxDelay = TimeSpan.FromMilliseconds(5),
        MaxTotalWait = TimeSpan.FromSeconds(2),
    };

    private readonly string _workDirectory = Path.Combine(Path.GetTempPath(), "lmwrapper-obs-tests-" + Guid.NewGuid().ToString("N"));
    private FakeOpenAiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStagePolls = 1 });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose()
    {
        if (Directory.Exists(_workDirectory))
        {
            Directory.Delete(_workDirectory, recursive: true);
        }
    }

    private OpenAiLm Lm(TelemetryCollector t, LmCache cache, IProgress<BatchProgress>? progress = null, Microsoft.Extensions.Logging.ILogger? logger = null) =>
        OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: new OpenAiOptions
        {
            BaseUrl = new Uri(_server.BaseUrl),
            Retry = FastRetries,
            Logger = logger,
            ModelOptions = new LanguageModelOptions
            {
                Cache = cache,
                CacheByDefault = true,
                MeterFactory = t.MeterFactory,
                Batch = new BatchOptions
                {
                    PollInterval = TimeSpan.FromMilliseconds(1),
                    MaxPollInterval = TimeSpan.FromMilliseconds(5),
                    WorkingDirectory = _workDirectory,
                    Progress = progress,
                },
            },
        });

    [Fact]
    public async Task Retries_are_counted_and_become_events_of_the_call_activity()
    {
        using var t = new TelemetryCollector();
        using var cache = LmCache.OpenInMemory();
        using var lm = Lm(t, cache);
        _server.EnqueueFault(FakeOpenAiFault.ServerError(503), times: 2);
        var p = await lm.PredictAsync(new LmPrompt("What is 2+2?") { MaxTokens = 20, Temperature = 0 });

        Assert.False(p.HasErrors, p.ErrorMessage);
        var retries = t.Of("lmwrapper.retries").ToList();
        Assert.Equal(2, retries.Sum(m => m.Value));
        Assert.All(retries, m => Assert.Equal("503", m.Tag("error.type")));
        Assert.All(retries, m => Assert.Equal("openai", m.Tag("gen_ai.provider.name")));
        var a = Assert.Single(t.Activities);
        Assert.Equal("chat gpt-4o-mini", a.DisplayName);
        Assert.Equal("openai", a.GetTagItem("gen_ai.provider.name"));
        var events = a.Events.Where(e => e.Name == "lmwrapper.retry").ToList();
        Assert.Equal(2, events.Count);
        Assert.Equal(new object?[] { 1, 2 }, events.Select(e => e.Tags.First(x => x.Key == "lmwrapper.retry.attempt").Value).ToArray());
        Assert.Equal(1, t.Sum("lmwrapper.requests")); // one request, three attempts
    }

    [Fact]
    public async Task Spend_and_the_cost_metrics_equal_CostOf_and_CacheSavingOf()
    {
        using var t = new TelemetryCollector();
        using var cache = LmCache.OpenInMemory();
        using var lm = Lm(t, cache);
        var prompt = new LmPrompt("What is 3+4?") { MaxTokens = 20, Temperature = 0 };
        var fresh = await lm.PredictAsync(prompt);
        var cached = await lm.PredictAsync(prompt);
        var spend = lm.Spend.Snapshot();

        Assert.True(cached.WasCached);
        decimal cost = lm.CostOf(fresh);
        Assert.True(cost > 0m);
        Assert.Equal(cost, spend.Cost);
        Assert.Equal(lm.CacheSavingOf(cached), spend.CacheSavings);
        Assert.Equal(cost, spend.CacheSavings);
        Assert.Equal(0m, spend.BatchSavings);
        Assert.Equal(1, spend.Requests);
        Assert.Equal(1, spend.CachedSamples);
        Assert.Equal(fresh.Usage!.InputTokens, spend.InputTokens);
        Assert.Equal(fresh.Usage.OutputTokens, spend.OutputTokens);
        Assert.Equal((double)cost, t.Sum("lmwrapper.cost"), 12);
        Assert.Equal((double)cost, t.Sum("lmwrapper.cache.savings"), 12);
        var first = t.Activities.Single(a => Equals(a.GetTagItem("lmwrapper.cached"), false));
        Assert.Equal((double)cost, (double)first.GetTagItem("lmwrapper.cost_usd")!, 12);
        Assert.Equal(new[] { "stop" }, (string[])first.GetTagItem("gen_ai.response.finish_reasons")!);
    }

    [Fact]
    public async Task A_rejected_key_fails_the_activity_with_the_exception_type()
    {
        using var t = new TelemetryCollector();
        using var cache = LmCache.OpenInMemory();
        using var lm = Lm(t, cache);
        _server.EnqueueFault(FakeOpenAiFault.BadKey());
        await Assert.ThrowsAsync<LmAuthenticationException>(() => lm.PredictAsync(new LmPrompt("What is 1+1?") { MaxTokens = 5 }));

        var a = Assert.Single(t.Activities);
        Assert.Equal(ActivityStatusCode.Error, a.Status);
        Assert.Equal(typeof(LmAuthenticationException).FullName, a.GetTagItem("error.type"));
        Assert.Equal(typeof(LmAuthenticationException).FullName, Assert.Single(t.Of("lmwrapper.requests")).Tag("error.type"));
        Assert.Equal(typeof(LmAuthenticationException).FullName, Assert.Single(t.Of("gen_ai.client.operation.duration")).Tag("error.type"));
        Assert.Equal(0, lm.Spend.Snapshot().Requests); // nothing answered, nothing paid
    }

    [Fact]
    public async Task A_batch_run_counts_batch_states_saves_the_discount_and_reports_spend_on_progress()
    {
        using var t = new TelemetryCollector();
        using var cache = LmCache.OpenInMemory();
        var reports = new List<BatchProgress>();
        using var lm = Lm(t, cache, new SyncProgress<BatchProgress>(reports));
        var prompts = Enumerable.Range(0, 5).Select(i => new LmPrompt($"What is {i}+1?") { MaxTokens = 20, Temperature = 0 }).ToList();
        var results = new List<LmPrediction>();
        await foreach (var p in lm.PredictManyAsync(prompts, CompletionWindow.BatchAny))
        {
            results.Add(p);
        }

        Assert.All(results, p => Assert.False(p.HasErrors, p.ErrorMessage));
        decimal cost = results.Sum(lm.CostOf);
        var spend = lm.Spend.Snapshot();
        Assert.True(cost > 0m);
        Assert.Equal(cost, spend.Cost);
        Assert.Equal(cost, spend.BatchSavings); // a 50% discount saves what was paid
        Assert.Equal(5, spend.Requests);
        Assert.Equal(results.Sum(p => p.Usage!.InputTokens), spend.InputTokens);

        Assert.Equal(1, t.Sum("lmwrapper.batch.jobs", m => m.Tag("lmwrapper.batch.state") == "submitted"));
        Assert.Equal(1, t.Sum("lmwrapper.batch.jobs", m => m.Tag("lmwrapper.batch.state") == "completed"));
        Assert.Equal(5, t.Sum("lmwrapper.batch.requests", m => m.Tag("lmwrapper.batch.state") == "submitted"));
        Assert.Equal(5, t.Sum("lmwrapper.batch.requests", m => m.Tag("lmwrapper.batch.state") == "completed"));
        Assert.Equal(0, t.Sum("lmwrapper.batch.requests", m => m.Tag("lmwrapper.batch.state") == "failed"));
        Assert.Equal((double)cost, t.Sum("lmwrapper.batch.savings"), 12);
        Assert.Empty(t.Of("gen_ai.client.operation.duration")); // batch requests have no per-request duration

        var run = Assert.Single(t.Activities, a => a.DisplayName == "predict_many gpt-4o-mini");
        var batch = Assert.Single(t.Activities, a => a.DisplayName == "batch gpt-4o-mini");
        Assert.Equal(run.SpanId, batch.ParentSpanId);
        Assert.Equal(ActivityKind.Client, batch.Kind);
        Assert.Equal("completed", batch.GetTagItem("lmwrapper.batch.state"));
        Assert.Equal(_server.Batches.Single().Id, batch.GetTagItem("lmwrapper.batch.id"));
        Assert.Equal((double)cost, (double)run.GetTagItem("lmwrapper.cost_usd")!, 12);

        var last = reports[^1];
        Assert.NotNull(last.Spend);
        Assert.Equal(5, last.Spend!.Requests);
        Assert.Equal(cost, last.Spend.Cost);
        Assert.Contains(reports, r => r.Spend is { Requests: 0 }); // reported before anything was answered too
    }

    [Fact]
    public async Task A_batch_rerun_served_from_the_cache_counts_savings_not_requests()
    {
        using var t = new TelemetryCollector();
        using var cache = LmCache.OpenInMemory();
        using var lm = Lm(t, cache);
        var prompts = Enumerable.Range(0, 3).Select(i => new LmPrompt($"What is {i}+5?") { MaxTokens = 20, Temperature = 0 }).ToList();
        var first = lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        var before = lm.Spend.Snapshot();
        var second = lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        var spent = lm.Spend.Snapshot() - before;

        Assert.All(second, p => Assert.True(p.WasCached));
        Assert.Equal(0, spent.Requests);
        Assert.Equal(3, spent.CachedSamples);
        Assert.Equal(second.Sum(lm.CacheSavingOf), spent.CacheSavings);
        Assert.Equal(first.Sum(lm.CostOf), spent.CacheSavings); // the cache saves what the batch run paid
        Assert.Equal(3, t.Sum("lmwrapper.cache.hits"));
    }

    [Fact]
    public async Task An_expired_batch_is_counted_as_expired_its_activity_fails_and_the_resubmission_completes()
    {
        using var t = new TelemetryCollector();
        using var cache = LmCache.OpenInMemory();
        using var lm = Lm(t, cache);
        int created = 0;
        _server.BatchPlanner = _ => Interlocked.Increment(ref created) == 1 ? FakeOpenAiBatchPlan.Expire(answered: 2) : null;
        var prompts = Enumerable.Range(0, 4).Select(i => new LmPrompt($"What is {i}+7?") { MaxTokens = 20, Temperature = 0 }).ToList();
        var results = lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();

        Assert.All(results, p => Assert.False(p.HasErrors, p.ErrorMessage));
        Assert.Equal(2, t.Sum("lmwrapper.batch.jobs", m => m.Tag("lmwrapper.batch.state") == "submitted"));
        Assert.Equal(1, t.Sum("lmwrapper.batch.jobs", m => m.Tag("lmwrapper.batch.state") == "expired"));
        Assert.Equal(1, t.Sum("lmwrapper.batch.jobs", m => m.Tag("lmwrapper.batch.state") == "completed"));
        Assert.Equal(4 + 2, t.Sum("lmwrapper.batch.requests", m => m.Tag("lmwrapper.batch.state") == "submitted"));
        Assert.Equal(4, t.Sum("lmwrapper.batch.requests", m => m.Tag("lmwrapper.batch.state") == "completed"));
        var batches = t.Activities.Where(a => a.DisplayName == "batch gpt-4o-mini").ToList();
        Assert.Equal(2, batches.Count);
        var expired = Assert.Single(batches, a => a.Status == ActivityStatusCode.Error);
        Assert.Equal("expired", expired.GetTagItem("error.type"));
        Assert.Equal(4, lm.Spend.Snapshot().Requests); // each request is paid once, whichever batch answered it
    }

    private sealed class SyncProgress<T>(List<T> reports) : IProgress<T>
    {
        public void Report(T value)
        {
            lock (reports)
            {
                reports.Add(value);
            }
        }
    }
}
