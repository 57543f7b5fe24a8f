namespace LmWrapper.RateLimiting;

/// <summary>
/// Paces the requests one model sends so they stay within requests-per-minute and tokens-per-minute limits, and holds
/// every request back when the provider says to slow down (HTTP 429 with a retry hint). Shared by all concurrent calls
/// of a model: <c>PredictMany(…, CompletionWindow.Asap)</c> and single predictions alike.
/// </summary>
/// <remarks>
/// Requests are spaced evenly (about 60 s / RPM apart) so a run uses its allowance steadily instead of in bursts, and a
/// hard sliding-window count guarantees that no window of one minute ever holds more than the limit. Both count the
/// window 2% longer than it is (<see cref="SafetyMargin"/>): requests reach the provider a little later or earlier than
/// they start, and a schedule with no slack at all would put some over the limit as the provider counts them. Limits are taken from
/// options, or learned from the provider's rate-limit headers through <see cref="Observe"/> when the options set none.
/// </remarks>
public sealed class LmRateLimiter
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly Queue<(DateTimeOffset At, long Tokens)> _window = new();
    private readonly bool _requestsFixed;
    private readonly bool _tokensFixed;
    private long _tokensInWindow;
    private DateTimeOffset _nextStart = DateTimeOffset.MinValue;
    private DateTimeOffset _pausedUntil = DateTimeOffset.MinValue;
    private readonly TimeSpan _span;

    /// <summary>Creates a limiter.</summary>
    /// <param name="requestsPerMinute">The most requests to start in any minute, or null to learn it (or have none).</param>
    /// <param name="tokensPerMinute">The most tokens (prompt plus requested completion) to send in any minute, or null.</param>
    /// <param name="timeProvider">The clock (tests pass their own). Default: the system clock.</param>
    public LmRateLimiter(int? requestsPerMinute = null, long? tokensPerMinute = null, TimeProvider? timeProvider = null)
        : this(requestsPerMinute, tokensPerMinute, timeProvider, TimeSpan.FromMinutes(1))
    {
    }

    /// <summary>A limiter whose "minute" is <paramref name="window"/> long (for fast tests and benchmarks).</summary>
    internal LmRateLimiter(int? requestsPerMinute, long? tokensPerMinute, TimeProvider? timeProvider, TimeSpan window)
    {
        if (requestsPerMinute is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(requestsPerMinute), requestsPerMinute, "Requests per minute must be at least 1.");
        }

        if (tokensPerMinute is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(tokensPerMinute), tokensPerMinute, "Tokens per minute must be at least 1.");
        }

        RequestsPerMinute = requestsPerMinute;
        TokensPerMinute = tokensPerMinute;
        _requestsFixed = requestsPerMinute is not null;
        _tokensFixed = tokensPerMinute is not null;
        _time = timeProvider ?? TimeProvider.System;
        Window = window;
        _span = window + (window * SafetyMargin);
    }

    /// <summary>How much longer than <see cref="Window"/> the limiter counts its window, as a fraction of it (0.02), against network jitter.</summary>
    public const double SafetyMargin = 0.02;

    /// <summary>The requests-per-minute limit in force, or null for none.</summary>
    public int? RequestsPerMinute { get; private set; }

    /// <summary>The tokens-per-minute limit in force, or null for none.</summary>
    public long? TokensPerMinute { get; private set; }

    /// <summary>The length of the limits' window (one minute).</summary>
    public TimeSpan Window { get; }

    /// <summary>Whether a limit is in force (otherwise <see cref="WaitAsync"/> only honours pauses).</summary>
    public bool IsLimiting => RequestsPerMinute is not null || TokensPerMinute is not null;

    /// <summary>How long every request is still held back by <see cref="Pause"/> (zero when it is not).</summary>
    public TimeSpan RemainingPause
    {
        get
        {
            lock (_lock)
            {
                var left = _pausedUntil - _time.GetUtcNow();
                return left > TimeSpan.Zero ? left : TimeSpan.Zero;
            }
        }
    }

    /// <summary>How many requests have been let through.</summary>
    public long RequestsStarted { get; private set; }

    /// <summary>
    /// Waits until a request of <paramref name="tokens"/> tokens may start, and counts it as started.
    /// </summary>
    /// <param name="tokens">The request's tokens (prompt plus the completion it may generate); ignored without a token limit.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async ValueTask WaitAsync(long tokens, CancellationToken cancellationToken)
    {
        while (true)
        {
            TimeSpan wait;
            lock (_lock)
            {
                var now = _time.GetUtcNow();
                var earliest = EarliestStart(now, tokens);
                if (earliest <= now)
                {
                    Admit(now, tokens);
                    return;
                }

                wait = earliest - now;
            }

            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Holds every request back for <paramref name="delay"/> (a provider said 429: retry after …).</summary>
    /// <param name="delay">How long the provider asked to wait.</param>
    public void Pause(TimeSpan delay)
    {
        lock (_lock)
        {
            var until = _time.GetUtcNow() + delay;
            if (until > _pausedUntil)
            {
                _pausedUntil = until;
            }
        }
    }

    /// <summary>
    /// Learns limits from a provider's rate-limit headers (for example OpenAI's <c>x-ratelimit-limit-requests</c> and
    /// <c>x-ratelimit-limit-tokens</c>). Limits set in the constructor are never replaced.
    /// </summary>
    /// <param name="requestLimit">The provider's requests-per-minute limit, if it said.</param>
    /// <param name="tokenLimit">The provider's tokens-per-minute limit, if it said.</param>
    public void Observe(int? requestLimit, long? tokenLimit)
    {
        lock (_lock)
        {
            if (!_requestsFixed && requestLimit is > 0)
            {
                RequestsPerMinute = requestLimit;
            }

            if (!_tokensFixed && tokenLimit is > 0)
            {
                TokensPerMinute = tokenLimit;
            }
        }
    }

    private DateTimeOffset EarliestStart(DateTimeOffset now, long tokens)
    {
        while (_window.Count > 0 && _window.Peek().At <= now - _span)
        {
            _tokensInWindow -= _window.Dequeue().Tokens;
        }

        var earliest = _pausedUntil;
        if (RequestsPerMinute is { } rpm)
        {
            if (_nextStart > earliest)
            {
                earliest = _nextStart; // even pacing
            }

            if (_window.Count >= rpm)
            {
                // The hard cap: the oldest start in the window must leave it first.
                var leaves = _window.ElementAt(_window.Count - rpm).At + _span;
                if (leaves > earliest)
                {
                    earliest = leaves;
                }
            }
        }

        if (TokensPerMinute is { } tpm && _window.Count > 0)
        {
            long excess = _tokensInWindow + Math.Min(tokens, tpm) - tpm;
            if (excess > 0)
            {
                foreach (var (at, t) in _window)
                {
                    excess -= t;
                    if (excess <= 0)
                    {
                        var leaves = at + _span;
                        if (leaves > earliest)
                        {
                            earliest = leaves;
                        }

                        break;
                    }
                }
            }
        }

        return earliest;
    }

    private void Admit(DateTimeOffset now, long tokens)
    {
        RequestsStarted++;
        if (!IsLimiting)
        {
            return;
        }

        _window.Enqueue((now, tokens));
        _tokensInWindow += tokens;
        if (RequestsPerMinute is { } rpm)
        {
            var spacing = _span / rpm;
            // Keep to the ideal schedule (so timer slack does not add up), but never let it run ahead of now by more than one step.
            var ideal = _nextStart == DateTimeOffset.MinValue || _nextStart < now - spacing ? now : _nextStart;
            _nextStart = ideal + spacing;
        }
    }
}
