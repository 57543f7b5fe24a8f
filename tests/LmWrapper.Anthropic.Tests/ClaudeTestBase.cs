using LmWrapper.Caching;
using LmWrapper.Testing.Anthropic;
using LmWrapper.Retry;

namespace LmWrapper.Anthropic.Tests;

/// <summary>Each test gets its own fake server on 127.0.0.1 and its own in-memory cache.</summary>
public abstract class ClaudeTestBase : IAsyncLifetime
{
    protected FakeAnthropicServer Server { get; } = new();

    protected LmCache Cache { get; } = LmCache.OpenInMemory();

    /// <summary>Retries fast enough for tests, with room for a few attempts.</summary>
    protected static LmRetryPolicy FastRetry { get; } = new()
    {
        MaxRetries = 4,
        InitialDelay = TimeSpan.FromMilliseconds(1),
        MaxDelay = TimeSpan.FromMilliseconds(5),
        MaxTotalWait = TimeSpan.FromSeconds(10),
    };

    public Task InitializeAsync() => Server.StartAsync();

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Cache.Dispose();
    }

    protected ClaudeOptions Options(LmRetryPolicy? retry = null) => new()
    {
        BaseUrl = Server.BaseUrl,
        Retry = retry ?? FastRetry,
        ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache },
        GetEnvironmentVariable = _ => null,
        HomeDirectory = Path.Combine(Path.GetTempPath(), "lmwrapper-no-home-" + Guid.NewGuid().ToString("N")),
    };

    protected ClaudeLm Model(ClaudeModelInfo? model = null, LmRetryPolicy? retry = null, ClaudeOptions? options = null) =>
        ClaudeLm.Get(model ?? ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, options ?? Options(retry));

    protected IReadOnlyList<FakeAnthropicRecordedRequest> MessageRequests => Server.RequestsTo("/v1/messages");

    protected System.Text.Json.Nodes.JsonObject LastBody => MessageRequests[^1].Json!.AsObject();
}
