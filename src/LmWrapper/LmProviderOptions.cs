using LmWrapper.Retry;

namespace LmWrapper;

/// <summary>
/// The settings every HTTP provider shares (OpenAI, Claude): where the API is, how to send (an <see cref="HttpClient"/>
/// or a handler), retries, the per-attempt timeout, and (from <see cref="LmOptions"/>) the model settings and logger.
/// Each provider's options derive from it and add their own.
/// </summary>
public abstract record LmProviderOptions : LmOptions
{
    /// <summary>
    /// The API's address (a proxy, a compatible server, a fake server in tests). Null means the provider's environment
    /// variable when set, else its public address. A custom address becomes part of <see cref="LanguageModel.ModelIdentity"/>,
    /// so answers cached from different servers never mix.
    /// </summary>
    public Uri? BaseUrl { get; init; }

    /// <summary>
    /// The client to send through (not disposed by the model; its own Timeout applies as well as <see cref="RequestTimeout"/>).
    /// Null means the model makes a light one over a connection pool shared by its models (or over <see cref="HttpMessageHandler"/>).
    /// </summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>The handler for the client the model makes (ignored when <see cref="HttpClient"/> is set; not disposed by the model).</summary>
    public HttpMessageHandler? HttpMessageHandler { get; init; }

    /// <summary>When and how long to retry passing failures (429, 5xx, 408, 409, dropped connections, timeouts). Default <see cref="LmRetryPolicy.Default"/>.</summary>
    public LmRetryPolicy Retry { get; init; } = LmRetryPolicy.Default;

    /// <summary>The limit for one attempt of one request; an attempt that runs past it is retried as a passing failure. Default 10 minutes.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The limit for one call in all (every attempt, retry wait and rate-limit pause); past it the prompt fails with a
    /// transport error that says so. Null (the default) means every attempt at the full <see cref="RequestTimeout"/> plus
    /// the retry policy's <see cref="LmRetryPolicy.MaxTotalWait"/>, capped at 30 minutes
    /// (<see cref="Http.LmHttpPipelineSettings.DefaultTotalTimeout"/>); <see cref="Timeout.InfiniteTimeSpan"/> for none.
    /// </summary>
    public TimeSpan? TotalTimeout { get; init; }

    /// <summary>Reads an environment variable (key and base URL lookup). Null means the process environment; tests set their own.</summary>
    internal Func<string, string?>? GetEnvironmentVariable { get; init; }

    /// <summary>The home folder searched for key files. Null means the user's profile folder; tests set their own.</summary>
    internal string? HomeDirectory { get; init; }

    /// <summary>Reads an environment variable through <see cref="GetEnvironmentVariable"/> (null or blank as null).</summary>
    internal string? Environment(string name)
    {
        string? value = (GetEnvironmentVariable ?? System.Environment.GetEnvironmentVariable)(name);
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    /// <summary>Checks the shared settings, naming the first that is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    protected internal void ValidateShared()
    {
        Retry.Validate();
        if (RequestTimeout <= TimeSpan.Zero && RequestTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), RequestTimeout, "RequestTimeout must be positive (or Timeout.InfiniteTimeSpan).");
        }

        if (TotalTimeout is { } total && total <= TimeSpan.Zero && total != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(TotalTimeout), total, "TotalTimeout must be positive, Timeout.InfiniteTimeSpan, or null for the default.");
        }
    }
}
