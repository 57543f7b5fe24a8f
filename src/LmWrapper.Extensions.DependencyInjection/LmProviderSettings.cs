using LmWrapper.Retry;

namespace LmWrapper.DependencyInjection;

/// <summary>
/// Settings of a model behind an HTTP API (OpenAI, Claude) registered with <c>services.AddLmWrapper(…)</c>: the model
/// settings plus the key, the address and the HTTP client. The key is never logged, never put in an exception and never
/// shown by <see cref="ToString"/>.
/// </summary>
/// <remarks>
/// Requests go through an <see cref="HttpClient"/> from <c>IHttpClientFactory</c>, named <see cref="HttpClientName"/>
/// (by default <c>LmWrapperBuilder.HttpClientNameFor(name)</c>), so handlers, proxies and certificates are configured
/// the usual way (<c>services.AddHttpClient(name).ConfigurePrimaryHttpMessageHandler(…)</c>). LmWrapper already retries
/// with the server's hints and a bounded total wait (<see cref="LmRetryPolicy"/>); do not add a second retry handler.
/// The model is a singleton and keeps its client for its lifetime, so the factory's handler rotation does not apply: to
/// follow DNS changes, give the primary handler a <see cref="SocketsHttpHandler.PooledConnectionLifetime"/>.
/// </remarks>
public abstract class LmProviderSettings : LmModelSettings
{
    /// <summary>The API key. Null means the provider's usual lookup (its environment variable, then its key file). Never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>The API's address (a proxy, a compatible server); null means the provider's environment variable, else its public address.</summary>
    public Uri? BaseUrl { get; set; }

    /// <summary>The limit for one attempt of one request; null means the provider's default (10 minutes).</summary>
    public TimeSpan? RequestTimeout { get; set; }

    /// <summary>The most total time spent waiting between retries of one request; null means the default (<see cref="LmRetryPolicy.Default"/>).</summary>
    public TimeSpan? MaxTotalRetryWait { get; set; }

    /// <summary>The named <c>IHttpClientFactory</c> client to send through; null means the one LmWrapper registers for this model.</summary>
    public string? HttpClientName { get; set; }

    /// <inheritdoc/>
    public override IEnumerable<string> Validate()
    {
        foreach (var problem in base.Validate())
        {
            yield return problem;
        }

        if (ApiKey is { } key && (key.Length == 0 || key.Any(char.IsControl)))
        {
            // Never the key itself: only what is wrong with it.
            yield return key.Length == 0
                ? "ApiKey is empty; leave it unset to use the provider's environment variable or key file."
                : "ApiKey contains a control character (a line break, tab or similar); check it holds just the one key, on one line.";
        }

        if (BaseUrl is { } url && (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)))
        {
            yield return $"BaseUrl must be an absolute http or https address, but was '{url.OriginalString}'.";
        }

        if (RequestTimeout is { } timeout && timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            yield return $"RequestTimeout must be positive, but was {timeout}.";
        }

        if (MaxTotalRetryWait is { } wait && wait < TimeSpan.Zero)
        {
            yield return $"MaxTotalRetryWait must not be negative, but was {wait}.";
        }
    }

    /// <summary>The retry policy these settings give.</summary>
    public LmRetryPolicy ToRetryPolicy() =>
        MaxTotalRetryWait is { } wait ? LmRetryPolicy.Default with { MaxTotalWait = wait } : LmRetryPolicy.Default;

    /// <summary>The settings in words, for diagnostics; the key appears only as whether one is set.</summary>
    public override string ToString() =>
        $"{GetType().Name}(Model = {Model ?? "(unset)"}, ApiKey = {(ApiKey is null ? "(unset)" : "(set, hidden)")}, BaseUrl = {BaseUrl?.ToString() ?? "(default)"}, CacheByDefault = {CacheByDefault}, MaxConcurrency = {MaxConcurrency})";
}
