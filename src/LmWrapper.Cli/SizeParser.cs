using System.Globalization;

namespace LmWrapper.Cli;

/// <summary>Parses the sizes and ages the cache commands take: "1GB", "500MB", "30d", "12h".</summary>
internal static class SizeParser
{
    /// <summary>Parses a size: a number with B, KB, MB, GB or TB (powers of 1024; case-insensitive).</summary>
    /// <param name="text">The size.</param>
    /// <exception cref="CliUsageException">It is not a size.</exception>
    public static long ParseBytes(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().ToUpperInvariant();
        (string Suffix, long Factor)[] units = [("TB", 1L << 40), ("GB", 1L << 30), ("MB", 1L << 20), ("KB", 1L << 10), ("B", 1)];
        foreach (var (suffix, factor) in units)
        {
            if (t.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(t[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double n) && n >= 0 && double.IsFinite(n))
            {
                return (long)Math.Min(long.MaxValue, n * factor);
            }
        }

        throw new CliUsageException($"\"{text}\" is not a size: use a number with B, KB, MB, GB or TB, such as 1GB or 500MB.");
    }

    /// <summary>Parses an age: a number with s, m, h, d or w.</summary>
    /// <param name="text">The age.</param>
    /// <exception cref="CliUsageException">It is not an age.</exception>
    public static TimeSpan ParseAge(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim().ToLowerInvariant();
        if (t.Length >= 2 && double.TryParse(t[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double n) && n >= 0 && double.IsFinite(n))
        {
            switch (t[^1])
            {
                case 's': return TimeSpan.FromSeconds(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'd': return TimeSpan.FromDays(n);
                case 'w': return TimeSpan.FromDays(7 * n);
            }
        }

        throw new CliUsageException($"\"{text}\" is not an age: use a number with s, m, h, d or w, such as 30d or 12h.");
    }
}
