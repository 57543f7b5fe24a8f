using System.Globalization;
using System.Net.Http.Headers;

namespace LmWrapper.Retry;

/// <summary>
/// Reads how long a server asks a client to wait from an HTTP response: <c>retry-after-ms</c>, then
/// <c>retry-after</c> (seconds or an HTTP date), then rate-limit reset headers (<c>x-ratelimit-reset-requests</c> /
/// <c>x-ratelimit-reset-tokens</c> in OpenAI's "1s", "6m0s", "20ms" form) for a limit whose remaining count is 0.
/// </summary>
public static class LmRetryHints
{
    /// <summary>The wait the headers ask for, or null when they give no hint.</summary>
    /// <param name="headers">The response headers.</param>
    /// <param name="now">The current time (for an HTTP-date retry-after); null for the clock's.</param>
    public static TimeSpan? FromHeaders(HttpResponseHeaders headers, DateTimeOffset? now = null)
    {
        ArgumentNullException.ThrowIfNull(headers);
        if (First(headers, "retry-after-ms") is { } ms
            && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out double msValue) && msValue >= 0)
        {
            return TimeSpan.FromMilliseconds(msValue);
        }

        if (First(headers, "retry-after") is { } after)
        {
            if (double.TryParse(after, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds >= 0)
            {
                return TimeSpan.FromSeconds(seconds);
            }

            if (DateTimeOffset.TryParse(after, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
            {
                var wait = date - (now ?? DateTimeOffset.UtcNow);
                return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
            }
        }

        TimeSpan? best = null;
        foreach (var kind in (ReadOnlySpan<string>)["requests", "tokens"])
        {
            if (First(headers, "x-ratelimit-remaining-" + kind) == "0"
                && First(headers, "x-ratelimit-reset-" + kind) is { } reset
                && TryParseDuration(reset, out var d)
                && (best is null || d > best))
            {
                best = d;
            }
        }

        return best;
    }

    /// <summary>Parses a Go-style duration as OpenAI's rate-limit headers use it: "20ms", "1.5s", "6m0s", "1h2m3s".</summary>
    /// <param name="text">The text.</param>
    /// <param name="duration">The duration.</param>
    public static bool TryParseDuration(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.AsSpan().Trim();
        double totalMs = 0;
        while (!s.IsEmpty)
        {
            int i = 0;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (i == 0 || !double.TryParse(s[..i], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            {
                return false;
            }

            s = s[i..];
            int u = 0;
            while (u < s.Length && char.IsAsciiLetter(s[u]))
            {
                u++;
            }

            double scale = s[..u] switch
            {
                "ms" => 1,
                "s" or "" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => double.NaN,
            };
            if (double.IsNaN(scale))
            {
                return false;
            }

            totalMs += value * scale;
            s = s[u..];
        }

        duration = TimeSpan.FromMilliseconds(totalMs);
        return true;
    }

    private static string? First(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault()?.Trim() : null;
}
