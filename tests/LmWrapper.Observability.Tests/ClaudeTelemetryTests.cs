using LmWrapper.Anthropic;
using LmWrapper.Caching;
using LmWrapper.Retry;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Observability.Tests;

/// <summary>ClaudeLm over the fake Anthropic server.</summary>
public sealed class ClaudeTelemetryTests : IAsyncLifetime
{
    private readonly FakeAnthropicServer _server = new();

    public Task InitializeAsync() => _server.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    internal ClaudeLm Model(TelemetryCollector t, LmCache cache, Microsoft.Extensions.Logging.ILogger? logger = null) =>
        ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, new ClaudeOptions
        {
            BaseUrl = _server.BaseUrl,
            Retry = new LmRetryPolicy
            {
                MaxRetries = 4,
                InitialDelay = TimeSpan.FromMilliseconds(1),
                MaxDelay = TimeSpan.FromMilliseconds(5),
                MaxTotalWait = TimeSpan.FromSeconds(10),
            },
            Logger = logger,
            ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = cache, MeterFactory = t.MeterFactory },
        });

    [Fact]
    public async Task A_claude_batch_run_counts_its_batch_and_saves_the_discount()
    {
        using var t = new TelemetryCollector();
        using var cache = LmCache.OpenInMemory();
        string work = Path.Combine(Path.GetTempPath(), "lmwrapper-obs-claude-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, new ClaudeOptions
            {
                BaseUrl = _server.BaseUrl,
                ModelOptions = new LanguageModelOptions
                {
                    CacheByDefault = true,
                    Cache = cache,
                    MeterFactory = t.MeterFactory,
                    Batch = new Batching.BatchOptions { PollInterval = TimeSpan.FromMilliseconds(1), MaxPollInterval = TimeSpan.FromMilliseconds(5), WorkingDirectory = work },
                },
            });
            var prompts = new[] { "Name a colour", "Name a fruit", "Name a tree" }.Select(s => new LmPrompt(s) { MaxTokens = 20, Temperature = 0 }).ToList();
            var results = lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();

            Assert.All(results, p => Assert.False(p.HasErrors, p.ErrorMessage));
            decimal cost = results.Sum(lm.CostOf);
            var spend = lm.Spend.Snapshot();
            Assert.True(cost > 0m);
            Assert.Equal(cost, spend.Cost);
            Assert.Equal(cost, spend.BatchSavings);
            Assert.Equal(3, t.Sum("lmwrapper.batch.requests", m => m.Tag("lmwrapper.batch.state") == "completed" && m.Tag("gen_ai.provider.name") == "anthropic"));
            Assert.Equal(1, t.Sum("lmwrapper.batch.jobs", m => m.Tag("lmwrapper.batch.state") == "completed"));
            var run = Assert.Single(t.Activities, a => a.DisplayName == "predict_many " + lm.ModelName);
            Assert.Single(t.Activities, a => a.DisplayName == "batch " + lm.ModelName && a.ParentSpanId == run.SpanId);
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    [Fact]
    public async Task A_claude_call_after_an_overloaded_answer_is_one_chat_activity_with_a_retry_and_its_cost_in_spend()
    {
        using var t = new TelemetryCollector();
        using var cache = LmCache.OpenInMemory();
        using var lm = Model(t, cache);
        _server.InjectFault(FakeAnthropicFault.Overloaded(TimeSpan.FromMilliseconds(1)));
        var p = await lm.PredictAsync(new LmPrompt("Say hello") { MaxTokens = 30, Temperature = 0 });

        Assert.False(p.HasErrors, p.ErrorMessage);
        var retry = Assert.Single(t.Of("lmwrapper.retries"));
        Assert.Equal("529", retry.Tag("error.type"));
        Assert.Equal("anthropic", retry.Tag("gen_ai.provider.name"));
        Assert.Equal(lm.ModelName, retry.Tag("gen_ai.request.model"));
        var a = Assert.Single(t.Activities);
        Assert.Equal("chat " + lm.ModelName, a.DisplayName);
        Assert.Single(a.Events, e => e.Name == "lmwrapper.retry");
        Assert.Equal(30, a.GetTagItem("gen_ai.request.max_tokens"));
        Assert.Equal((long)p.Usage!.OutputTokens, a.GetTagItem("gen_ai.usage.output_tokens"));

        var spend = lm.Spend.Snapshot();
        Assert.Equal(lm.CostOf(p), spend.Cost);
        Assert.True(spend.Cost > 0m);
        Assert.Equal(p.Usage.InputTokens, t.Sum("gen_ai.client.token.usage", m => m.Tag("gen_ai.token.type") == "input"));

        var cached = await lm.PredictAsync(new LmPrompt("Say hello") { MaxTokens = 30, Temperature = 0 });
        Assert.True(cached.WasCached);
        Assert.Equal(lm.CacheSavingOf(cached), lm.Spend.Snapshot().CacheSavings);
    }
}
