using LmWrapper.Caching;

namespace LmWrapper.Tests;

/// <summary>The cache's read-only views for tools: the batch journal listing, per-model counts and clearing.</summary>
public sealed class LmCacheListingTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static CacheKey Key(string model, string text) => CacheKey.Compute(model, new LmPrompt(text));

    private static byte[] Payload(string text) => System.Text.Encoding.UTF8.GetBytes($"{{\"completion_text\":\"{text}\"}}");

    [Fact]
    public void ListBatchJobs_lists_every_backend_and_model_with_pending_counts_and_keys()
    {
        using var cache = LmCache.Open(_dir.File("c.sqlite3"));
        var a = new[] { Key("m/a", "1"), Key("m/a", "2"), Key("m/a", "3") };
        var b = new[] { Key("m/b", "x") };
        cache.AddBatchJob("lmw_a", "openai", "m/a", 1, 10, 3, a.Select(k => (k, 1)), DateTimeOffset.FromUnixTimeSeconds(1000));
        cache.AddBatchJob("lmw_b", "anthropic", "m/b", 2, 10, 1, b.Select(k => (k, 2)), DateTimeOffset.FromUnixTimeSeconds(2000));
        cache.SetBatchProviderId("lmw_a", "batch_123");

        // One answer of batch a is cached: it is no longer pending.
        cache.Store("m/a", [(a[1], 0, Payload("two"))]);

        var jobs = cache.ListBatchJobs();
        Assert.Equal(["lmw_a", "lmw_b"], jobs.Select(j => j.LocalId));
        Assert.Equal(new LmBatchJournalRecord("lmw_a", "openai", "m/a", "batch_123", 1, 3, 2, DateTimeOffset.FromUnixTimeSeconds(1000)), jobs[0]);
        Assert.Null(jobs[1].ProviderId);
        Assert.Equal("anthropic", jobs[1].Backend);
        Assert.Equal(2, jobs[1].Attempt);
        Assert.Equal(1, jobs[1].PendingRequests);

        Assert.Equal(new[] { a[0], a[2] }.Order(), cache.ListBatchJobKeys("lmw_a").Order());

        // A key with fewer samples cached than the batch asked for is still pending.
        cache.Store("m/b", [(b[0], 0, Payload("one of two"))]);
        Assert.Equal(b, cache.ListBatchJobKeys("lmw_b"));
        Assert.Empty(cache.ListBatchJobKeys("lmw_unknown"));
    }

    [Fact]
    public void Clear_of_one_model_leaves_the_others()
    {
        using var cache = LmCache.Open(_dir.File("c.sqlite3"));
        cache.Store("m/a", [(Key("m/a", "1"), 0, Payload("a1")), (Key("m/a", "1"), 1, Payload("a1b")), (Key("m/a", "2"), 0, Payload("a2"))]);
        cache.Store("m/b", [(Key("m/b", "1"), 0, Payload("b1"))]);

        Assert.Equal(new Dictionary<string, long> { ["m/a"] = 3, ["m/b"] = 1 }, cache.CountEntriesByModel());
        Assert.Equal(3, cache.Clear("m/a"));
        Assert.Equal(0, cache.Clear("m/none"));
        Assert.Equal(new Dictionary<string, long> { ["m/b"] = 1 }, cache.CountEntriesByModel());
        Assert.Equal(1, cache.GetStats().Entries);
    }
}
