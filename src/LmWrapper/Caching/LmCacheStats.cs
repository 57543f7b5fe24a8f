namespace LmWrapper.Caching;

/// <summary>A snapshot of a cache's size and of how well it served this process.</summary>
/// <param name="Entries">Stored samples (one per completion; a prompt asked with NumCompletions = 3 holds 3).</param>
/// <param name="PayloadBytes">The bytes of the stored predictions themselves.</param>
/// <param name="FileBytes">The size of the database on disk, including its write-ahead log.</param>
/// <param name="Hits">Samples served from the cache by this <see cref="LmCache"/> instance since it opened.</param>
/// <param name="Misses">Samples this instance looked for and did not find.</param>
/// <param name="OldestEntry">When the oldest entry was stored, or null when the cache is empty.</param>
public sealed record LmCacheStats(long Entries, long PayloadBytes, long FileBytes, long Hits, long Misses, DateTimeOffset? OldestEntry)
{
    /// <summary>Hits divided by lookups (0 when there were none).</summary>
    public double HitRatio => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
}
