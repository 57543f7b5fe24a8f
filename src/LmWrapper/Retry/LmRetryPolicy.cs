namespace LmWrapper.Retry;

/// <summary>
/// When and how long a provider client waits before retrying a request that failed for a passing reason (rate limit,
/// overloaded server, dropped connection): the server's own hint when it gives one, otherwise exponential backoff
/// with jitter; never more than <see cref="MaxRetries"/> retries and never more than <see cref="MaxTotalWait"/> of
/// waiting in all. A value: share it, or derive variations with <c>with { … }</c>.
/// </summary>
public sealed record LmRetryPolicy
{
    /// <summary>The default: up to 8 retries, backoff from 0.5 s doubling to at most 30 s, at most 3 minutes of waiting in all.</summary>
    public static LmRetryPolicy Default { get; } = new();

    /// <summary>Never retries.</summary>
    public static LmRetryPolicy None { get; } = new() { MaxRetries = 0 };

    /// <summary>The most retries after the first attempt. Default 8.</summary>
    public int MaxRetries { get; init; } = 8;

    /// <summary>The backoff before the first retry when the server gives no hint. Default 0.5 s.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest backoff between two attempts when the server gives no hint. Default 30 s.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most time spent waiting across all retries of one request. A server hint that would go past it ends the
    /// retrying at once (a Retry-After of hours fails fast rather than hanging). Default 3 minutes.
    /// </summary>
    public TimeSpan MaxTotalWait { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>How much of each backoff is randomized, from 0 (none) to 1 (anywhere in [0, delay]). Default 0.25.</summary>
    public double Jitter { get; init; } = 0.25;

    /// <summary>Checks the settings, naming the first that is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is negative, or the jitter is outside [0, 1].</exception>
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

    /// <summary>
    /// How long to wait before retry number <paramref name="retry"/> (1 for the first), or null to stop retrying.
    /// </summary>
    /// <param name="retry">Which retry this would be (1-based).</param>
    /// <param name="serverHint">How long the server asked to wait (retry-after headers), if it said.</param>
    /// <param name="waitedSoFar">The time already spent waiting for earlier retries of this request.</param>
    public TimeSpan? GetDelay(int retry, TimeSpan? serverHint, TimeSpan waitedSoFar)
    {
        if (retry < 1 || retry > MaxRetries)
        {
            return null;
        }

        TimeSpan delay;
        if (serverHint is { } hint)
        {
            delay = hint < TimeSpan.Zero ? TimeSpan.Zero : hint;
        }
        else
        {
            double ms = InitialDelay.TotalMilliseconds * Math.Pow(2, Math.Min(retry - 1, 30));
            ms = Math.Min(ms, MaxDelay.TotalMilliseconds);
            double jitter = Math.Clamp(Jitter, 0, 1);
            ms *= 1 - (jitter * Random.Shared.NextDouble());
            delay = TimeSpan.FromMilliseconds(ms);
        }

        if (waitedSoFar + delay > MaxTotalWait)
        {
            return null;
        }

        return delay;
    }
}
