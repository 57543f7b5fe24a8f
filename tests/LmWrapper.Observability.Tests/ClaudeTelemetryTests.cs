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
