using LmWrapper.Batching;
using LmWrapper.Caching;
using Microsoft.Data.Sqlite;

namespace LmWrapper.Tests;

/// <summary>The batch journal in the cache file: its round trips, and the upgrade of a v2 journal.</summary>
public sealed class BatchJournalTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static CacheKey Key(string text) => CacheKey.Compute("test/batch", new LmPrompt(text) { MaxTokens = 5 });

    private static CacheKey[] RandomKeys(int count, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => new CacheKey((ulong)rng.NextInt64(), (ulong)rng.NextInt64()))];
    }

    [Fact]
    public void ItemsComeBackAsWrittenAndAnsweredOnesAreForgotten()
    {
        using var cache = LmCache.Open(_dir.File("journal.sqlite3"));
        var a = RandomKeys(5000, 1); // unsorted: the journal sorts them itself
        var b = RandomKeys(300, 2);
        cache.AddBatchJob("lmw_a", "fake", "test/batch", 1, 100, a.Length, a.Select((k, i) => (k, 1 + (i % 3))));
        cache.AddBatchJob("lmw_b", "fake", "test/batch", 2, 100, b.Length, b.Select(k => (k, 1)));
        cache.SetBatchProviderId("lmw_a", "batch_a");

        var emptied = new List<BatchJournalEntry>();
        var jobs = cache.FindBatchJobs("fake", "test/batch", _ => true, emptied);
        Assert.Empty(emptied);
        var ja = jobs.Single(j => j.LocalId == "lmw_a");
        Assert.Equal("batch_a", ja.ProviderId);
        Assert.Null(jobs.Single(j => j.LocalId == "lmw_b").ProviderId);
        Assert.Equal(2, jobs.Single(j => j.LocalId == "lmw_b").Attempt);

        // Every key is stored as itself (the one reused key buffer is bound anew at each insert), with its count.
        var expected = a.Select((k, i) => (k, 1 + (i % 3))).OrderBy(x => x.k).ToList();
        Assert.Equal(expected, ja.Items.OrderBy(x => x.Key).ToList());

        // Only the keys asked about are returned.
        var asked = a.Take(10).ToHashSet();
        jobs = cache.FindBatchJobs("fake", "test/batch", asked.Contains, emptied);
        Assert.Equal(2, jobs.Count);
        Assert.Equal(asked.Order(), jobs.Single(j => j.LocalId == "lmw_a").Items.Select(x => x.Key).Order());
        Assert.Empty(jobs.Single(j => j.LocalId == "lmw_b").Items);

        // Another backend or model sees nothing.
        Assert.Empty(cache.FindBatchJobs("other", "test/batch", _ => true, emptied));
        Assert.Empty(cache.FindBatchJobs("fake", "test/other", _ => true, emptied));

        // Answered items go, from both batches at once; items of a batch the journal does not list are ignored.
        cache.RemoveBatchItems(a.Skip(100).Select(k => ("lmw_a", k)).Concat(b.Select(k => ("lmw_b", k))).Append(("lmw_gone", a[0])));
        jobs = cache.FindBatchJobs("fake", "test/batch", _ => true, emptied);
        Assert.Equal(a.Take(100).Order(), Assert.Single(jobs).Items.Select(x => x.Key).Order());
        Assert.Equal("lmw_b", Assert.Single(emptied).LocalId); // left with no items
        Assert.Equal(2, cache.PendingBatchCount());

        cache.DeleteBatchJob("lmw_a");
        cache.DeleteBatchJob("lmw_b");
        Assert.Equal(0, cache.PendingBatchCount());
        Assert.Equal(0L, Scalar(cache.FilePath, "SELECT count(*) FROM batch_items"));
    }

    [Fact]
    public void RecordingABatchAgainUpdatesItAndKeepsItsItems()
    {
        using var cache = LmCache.Open(_dir.File("journal.sqlite3"));
        var keys = RandomKeys(20, 3);
        cache.AddBatchJob("lmw_a", "fake", "test/batch", 1, 100, 10, keys.Take(10).Select(k => (k, 1)));
        cache.AddBatchJob("lmw_a", "fake", "test/batch", 2, 200, 20, keys.Select(k => (k, 2)));
        var job = Assert.Single(cache.FindBatchJobs("fake", "test/batch", _ => true, []));
        Assert.Equal((2, 200L, 20), (job.Attempt, job.EstimatedTokens, job.RequestCount));
        Assert.Equal(keys.Order(), job.Items.Select(x => x.Key).Order());
        Assert.All(job.Items, x => Assert.Equal(2, x.SampleCount));
    }

    [Fact]
    public void AV2JournalIsCarriedOverToV3()
    {
        string file = _dir.File("v2.sqlite3");
        var keys = RandomKeys(50, 4);
        WriteV2(file, conn =>
        {
            Exec(conn, """
                INSERT INTO models(id, identity) VALUES (1, 'test/batch'), (2, 'test/other');
                INSERT INTO batch_jobs VALUES ('lmw_1', 'fake', 1, 'batch_1', 1, 500, 40, 1700000000);
                INSERT INTO batch_jobs VALUES ('lmw_2', 'fake', 1, NULL, 2, 100, 10, 1700000100);
                INSERT INTO batch_jobs VALUES ('lmw_3', 'fake', 2, 'batch_3', 1, 10, 1, 1700000200);
                """);
            for (int i = 0; i < keys.Length; i++)
            {
                // A key in two batches, as v2 allowed; and an item whose batch is gone (dropped by the upgrade).
                string localId = i < 40 ? "lmw_1" : i < 49 ? "lmw_2" : "lmw_gone";
                Exec(conn, "INSERT INTO batch_items(key, local_id, sample_count) VALUES ($k, $l, $n)", ("$k", keys[i].ToBytes()), ("$l", localId), ("$n", 1 + (i % 2)));
            }

            Exec(conn, "INSERT INTO batch_items(key, local_id, sample_count) VALUES ($k, 'lmw_2', 3)", ("$k", keys[0].ToBytes()));
        });

        using (var cache = LmCache.Open(file))
        {
            Assert.Equal(3, cache.PendingBatchCount());
            var emptied = new List<BatchJournalEntry>();
            var jobs = cache.FindBatchJobs("fake", "test/batch", _ => true, emptied);
            Assert.Empty(emptied);
            Assert.Equal(["lmw_1", "lmw_2"], jobs.Select(j => j.LocalId).Order());
            var j1 = jobs.Single(j => j.LocalId == "lmw_1");
            Assert.Equal(("batch_1", 1, 500L, 40, DateTimeOffset.FromUnixTimeSeconds(1700000000)), (j1.ProviderId, j1.Attempt, j1.EstimatedTokens, j1.RequestCount, j1.RecordedAt));
            Assert.Equal(keys.Take(40).Select((k, i) => (k, 1 + (i % 2))).OrderBy(x => x.k), j1.Items.OrderBy(x => x.Key));
            var j2 = jobs.Single(j => j.LocalId == "lmw_2");
            Assert.Equal((null, 2, 100L, 10), (j2.ProviderId, j2.Attempt, j2.EstimatedTokens, j2.RequestCount));
            Assert.Equal(keys.Skip(40).Take(9).Select((k, i) => (k, 1 + ((40 + i) % 2))).Append((keys[0], 3)).OrderBy(x => x.Item1), j2.Items.OrderBy(x => x.Key));
            Assert.Empty(cache.FindBatchJobs("fake", "test/other", _ => true, emptied));
            Assert.Equal("batch_3", Assert.Single(emptied).ProviderId); // carried over though it has no items left
            emptied.Clear();

            // The upgraded journal takes new batches, whose ids follow the carried-over ones.
            cache.AddBatchJob("lmw_4", "fake", "test/batch", 1, 1, 1, [(keys[49], 1)]);
            Assert.Equal(4, cache.PendingBatchCount());
            cache.DeleteBatchJob("lmw_1");
            Assert.Equal(["lmw_2", "lmw_4"], cache.FindBatchJobs("fake", "test/batch", _ => true, emptied).Select(j => j.LocalId).Order());
            Assert.Empty(cache.CheckIntegrity());
        }

        Assert.Equal(3L, Scalar(file, "PRAGMA user_version"));
        Assert.Equal(0L, Scalar(file, "SELECT count(*) FROM sqlite_master WHERE name IN ('batch_jobs_v3', 'batch_items_v3', 'batch_items_job')"));
        Assert.Equal(0L, Scalar(file, "SELECT count(*) FROM pragma_table_info('batch_items') WHERE name = 'local_id'"));
        Assert.Equal(1L, Scalar(file, "SELECT count(*) FROM pragma_table_info('batch_jobs') WHERE name = 'id' AND pk = 1"));
    }

    [Fact]
    public void ABatchPendingInAV2JournalIsResumedAfterTheUpgradeWithoutSubmittingAgain()
    {
        string file = _dir.File("v2.sqlite3");
        string[] texts = [.. Enumerable.Range(0, 8).Select(i => $"r{i}")];
        var backend = new FakeBatchBackend();
        var lines = texts.Select(t => new FakeBatchBackend.Line(Key(t).ToString(), t, 1)).ToList();
        backend.Batches["batch_old"] = new FakeBatchBackend.Batch("batch_old", "lmw_old", lines, 80, BatchState.Completed, 1.0);
        WriteV2(file, conn =>
        {
            Exec(conn, """
                INSERT INTO models(id, identity) VALUES (1, 'test/batch');
                INSERT INTO batch_jobs VALUES ('lmw_old', 'fake', 1, 'batch_old', 1, 80, 8, 1700000000);
                """);
            foreach (var t in texts)
            {
                Exec(conn, "INSERT INTO batch_items(key, local_id, sample_count) VALUES ($k, 'lmw_old', 1)", ("$k", Key(t).ToBytes()));
            }
        });

        using var cache = LmCache.Open(file);
        var lm = new BatchTestLm(
            new LanguageModelOptions
            {
                Cache = cache,
                CacheByDefault = true,
                Batch = new BatchOptions
                {
                    PollInterval = TimeSpan.FromMilliseconds(1),
                    MaxPollInterval = TimeSpan.FromMilliseconds(5),
                    WorkingDirectory = _dir.File("work"),
                },
            },
            backend);

        // Asked for the old batch's prompts and two more: it reattaches and submits only the two.
        var results = lm.PredictMany([.. texts.Append("new1").Append("new2").Select(t => new LmPrompt(t) { MaxTokens = 5 })], CompletionWindow.BatchAny).ToList();
        Assert.All(results.Take(8), p => Assert.EndsWith("|batch_old#0", p.CompletionText, StringComparison.Ordinal));
        Assert.Equal(["new1", "new2"], backend.Batches["batch_1"].Lines.Select(l => l.Text));
        Assert.Equal(2, backend.Submissions);
        Assert.Equal(0, lm.DirectCalls);
        Assert.Equal(0, cache.PendingBatchCount());
        Assert.Contains("batch_old", backend.CleanedUp);
    }

    /// <summary>Writes a cache file as LmWrapper with schema v2 left it, then lets <paramref name="fill"/> add rows.</summary>
    private static void WriteV2(string file, Action<SqliteConnection> fill)
    {
        using var conn = new SqliteConnection($"Data Source={file};Pooling=False");
        conn.Open();
        Exec(conn, LmCache.Migrations[0] + LmCache.Migrations[1] + $"PRAGMA application_id = {LmCache.ApplicationId}; PRAGMA user_version = 2;");
        fill(conn);
    }

    private static void Exec(SqliteConnection conn, string sql, params (string Name, object Value)[] parameters)
    {
        using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value);
        }

        cmd.ExecuteNonQuery();
    }

    private static long Scalar(string file, string sql)
    {
        using var conn = new SqliteConnection($"Data Source={file};Pooling=False");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        return (long)cmd.ExecuteScalar()!;
    }
}
