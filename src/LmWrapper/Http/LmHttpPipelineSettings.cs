using LmWrapper.RateLimiting;
using LmWrapper.Retry;
using Microsoft.Extensions.Logging;

namespace LmWrapper.Http;

/// <summary>How an <see cref="LmHttpPipeline"/> sends: its client, retries, timeout and what it says in errors.</summary>
public sealed record LmHttpPipelineSettings
{
    /// <summary>The provider's name in messages ("OpenAI", "The Anthropic API", "The Hugging Face hub").</summary>
    public required string ProviderName { get; init; }

    /// <summary>When and how long to wait before retrying, and the total-wait budget. Default <see cref="LmRetryPolicy.Default"/>.</summary>
    public LmRetryPolicy Retry { get; init; } = LmRetryPolicy.Default;

    /// <summary>The limit for one attempt (until the whole body is in, or the headers for a streamed call); <see cref="Timeout.InfiniteTimeSpan"/> for none.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The limit for one call in all: every attempt, every wait between attempts and every pause of the rate limiter. When
    /// it runs out the call ends with an <see cref="LmProviderException"/> (<see cref="LmErrorKind.Transport"/>) that says
    /// so; a retry whose wait would outlast it is not made. Null (the default) means <see cref="DefaultTotalTimeout"/>;
    /// <see cref="Timeout.InfiniteTimeSpan"/> for none. Streamed calls count until their headers arrive.
    /// </summary>
    public TimeSpan? TotalTimeout { get; init; }

    /// <summary>The most a call may take in all when <see cref="TotalTimeout"/> is null: 30 minutes.</summary>
    public static TimeSpan MaxDefaultTotalTimeout { get; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// The total limit used when <see cref="TotalTimeout"/> is null: every attempt the policy allows at the full
    /// <see cref="RequestTimeout"/> plus the policy's <see cref="LmRetryPolicy.MaxTotalWait"/>, capped at
    /// <see cref="MaxDefaultTotalTimeout"/> (30 minutes; with the defaults, 9 × 10 minutes + 3 minutes is capped to it).
    /// </summary>
    public TimeSpan DefaultTotalTimeout
    {
        get
        {
            if (RequestTimeout == Timeout.InfiniteTimeSpan)
            {
                return MaxDefaultTotalTimeout;
            }

            double ms = (RequestTimeout.TotalMilliseconds * (Retry.MaxRetries + 1.0)) + Retry.MaxTotalWait.TotalMilliseconds;
            return ms >= MaxDefaultTotalTimeout.TotalMilliseconds ? MaxDefaultTotalTimeout : TimeSpan.FromMilliseconds(ms);
        }
    }

    /// <summary>The total limit in force: <see cref="TotalTimeout"/>, else <see cref="DefaultTotalTimeout"/>.</summary>
    public TimeSpan EffectiveTotalTimeout => TotalTimeout ?? DefaultTotalTimeout;

    /// <summary>Adds the headers every request carries (the key, versions), after <see cref="LmHttpCall.CreateRequest"/>.</summary>
    public Action<HttpRequestMessage>? PrepareRequest { get; init; }

    /// <summary>Where the key came from ("the OPENAI_API_KEY environment variable"), for the message of a 401/403; never the key.</summary>
    public string? KeySource { get; init; }

    /// <summary>What to do about a rejected key, appended to the message of a 401/403.</summary>
    public string? AuthenticationHint { get; init; }

    /// <summary>The model's rate limiter, for calls with <see cref="LmHttpCall.UsesRateLimiter"/>; null for none.</summary>
    public LmRateLimiter? RateLimiter { get; init; }

    /// <summary>Where retries are logged. Null means nowhere.</summary>
    public ILogger? Logger { get; init; }

    /// <summary>The model whose calls these are, for its retry metrics (<c>lmwrapper.retries</c>); null for calls of no model.</summary>
    internal LanguageModel? Model { get; init; }

    /// <summary>The clock for waits and timeouts. Null means the system's.</summary>
    public TimeProvider? TimeProvider { get; init; }
}
