using LmWrapper.Caching;
using LmWrapper.Retry;
using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

/// <summary>A fresh fake OpenAI server per test, and models pointed at it with tiny retry delays and no shared cache.</summary>
public abstract class OpenAiTestBase : IAsyncLifetime
{
    protected static readonly LmRetryPolicy FastRetries = new()
    {
        MaxRetries = 4,
        InitialDelay = TimeSpan.FromMilliseconds(1),
        MaxDelay = TimeSpan.FromMilliseconds(5),
        MaxTotalWait = TimeSpan.FromSeconds(2),
    };

    protected FakeOpenAiServer Server { get; private set; } = null!;

    protected virtual FakeOpenAiServerOptions? ServerOptions => null;

    public async Task InitializeAsync() => Server = await FakeOpenAiServer.StartNewAsync(ServerOptions);

    public async Task DisposeAsync() => await Server.DisposeAsync();

    protected OpenAiOptions Options(LmCache? cache = null, LmRetryPolicy? retry = null) => new()
    {
        BaseUrl = new Uri(Server.BaseUrl),
        Retry = retry ?? FastRetries,
        ModelOptions = new LanguageModelOptions { Cache = cache ?? LmCache.OpenInMemory(), CacheByDefault = cache is not null },
        GetEnvironmentVariable = _ => null,
        HomeDirectory = Path.Combine(Path.GetTempPath(), "lmwrapper-no-home-" + Guid.NewGuid().ToString("N")),
    };

    protected OpenAiLm Lm(string model, LmCache? cache = null, LmRetryPolicy? retry = null, bool retryOnRateLimit = true, string? apiKey = FakeOpenAiServer.DefaultApiKey) =>
        OpenAiLm.Get(model, apiKey, retryOnRateLimit, Options(cache, retry));

    protected FakeOpenAiRecordedRequest LastRequest => Server.Requests[^1];
}
