namespace LmWrapper.Anthropic;

/// <summary>
/// When and how long <see cref="ClaudeLm"/> retries a request that failed for a passing reason: HTTP 429 (rate limit),
/// 529 (overloaded), 408, 409, other 5xx, dropped connections and timeouts. A value, like a Polly policy.
/// </summary>
/// <remarks>
/// The wait before retry <c>n</c> (from 0) is the server's hint when it gave one (<c>retry-after-ms</c> or
/// <c>retry-after</c>), otherwise <c>min(MaxDelay, InitialDelay × 2^n)</c> less up to <see cref="Jitter"/> of itself at
/// random. A server that answers <c>x-should-retry: false</c> is believed. The waits of one call add up to at most
/// <see cref="MaxTotalWait"/>: a hint that would go past it (a retry-after of an hour) ends the retries at once, so a call
/// never hangs for hours. Shaped so it can later become the provider-neutral policy in the core.
/// </remarks>
public sealed record ClaudeRetryOptions
{
    /// <summary>How many times one request is retried. Default 6; 0 turns retries off (a 429 is then an <see cref="LmRateLimitException"/> at once).</summary>
    public int MaxRetries { get; init; } = 6;

    /// <summary>The backoff before the first retry when the server gave no hint. Default 1 second.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest backoff the exponential schedule reaches (server hints are not capped by it). Default 60 seconds.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The most time one call spends waiting between attempts, all retries together. Default 5 minutes.</summary>
    public TimeSpan MaxTotalWait { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The fraction, in [0, 1], of each backoff taken off at random so that many clients do not retry in step. Default 0.25.</summary>
    public double Jitter { get; init; } = 0.25;

    /// <summary>No retries: every failure is reported at once.</summary>
    public static ClaudeRetryOptions None { get; } = new() { MaxRetries = 0 };

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxRetries, nameof(MaxRetries));
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialDelay, TimeSpan.Zero, nameof(InitialDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDelay, TimeSpan.Zero, nameof(MaxDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTotalWait, TimeSpan.Zero, nameof(MaxTotalWait));
        if (double.IsNaN(Jitter) || Jitter is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Jitter), Jitter, "Jitter must be in [0, 1].");
        }
    }

    /// <summary>The backoff before retry <paramref name="attempt"/> (from 0) when the server gave no hint.</summary>
    /// <param name="attempt">Which retry this is, from 0.</param>
    /// <param name="random">A number in [0, 1) that picks the jitter.</param>
    public TimeSpan BackoffFor(int attempt, double random)
    {
        double ms = InitialDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30));
        ms = Math.Min(ms, MaxDelay.TotalMilliseconds);
        ms *= 1 - (Jitter * random);
        return TimeSpan.FromMilliseconds(ms);
    }
}
