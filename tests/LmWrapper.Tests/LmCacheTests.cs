using LmWrapper.Caching;
using Microsoft.Data.Sqlite;

namespace LmWrapper.Tests;

public sealed class LmCacheTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static MockLm Lm(LmCache cache, string name = "m") =>
        new(p => "answer to " + p.Text, name, new LanguageModelOptions { CacheByDefault = true, Cache = cache });

    [Fact]
    public void TheProjectCacheIsFoundByWalkingUpToGitOrAMarker()
    {
        var repo = Directory.CreateDirectory(_dir.File("repo"));
        Directory.CreateDirectory(Path.Combine(repo.FullName, ".git"));
        var deep = Directory.CreateDirectory(Path.Combine(repo.FullName, "src", "a", "b"));
        Assert.Equal(
            Path.Combine(repo.FullName, ".lmwrapper_cache", "cache.sqlite3"),
            LmCache.ResolveProjectCachePath(deep.FullName, env: null));

        // A .lmwrapper marker file nearer than .git wins.
        var sub = Path.Combine(repo.FullName, "src");
        File.WriteAllText(Path.Combine(sub, ".lmwrapper"), "");
        Assert.Equal(Path.Combine(sub, ".lmwrapper_cache", "cache.sqlite3"), LmCache.ResolveProjectCachePath(deep.FullName, env: null));

        // The environment variable overrides both.
        Assert.Equal(Path.Combine(_dir.Path, "elsewhere", "cache.sqlite3"), LmCache.ResolveProjectCachePath(deep.FullName, _dir.File("elsewhere")));
    }

    [Fact]
    public void ANewCacheIsWalVersionedMarkedAndIgnoredByGit()
    {
        string file = Path.Combine(_dir.Path, ".lmwrapper_cache", "cache.sqlite3");
        using (var cache = LmCache.Open(file))
        {
            Lm(cache).Predict("hello");
        }

        using var conn = new SqliteConnection($"Data Source={file};Pooling=False");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode; ";
        Assert.Equal("wal", cmd.ExecuteScalar());
        cmd.CommandText = "PRAGMA user_version";
        Assert.Equal((long)LmCache.SchemaVersion, cmd.ExecuteScalar());
        cmd.CommandText = "PRAGMA application_id";
        Assert.Equal((long)LmCache.ApplicationId, cmd.ExecuteScalar());
        Assert.Contains("*", File.ReadAllText(Path.Combine(_dir.Path, ".lmwrapper_cache", ".gitignore")), StringComparison.Ordinal);
    }

    [Fact]
    public void EntriesSurviveReopeningAndAreSharedByInstances()
    {
        string file = _dir.File("c.sqlite3");
        using (var cache = LmCache.Open(file))
        {
            var lm = Lm(cache);
            lm.Predict(new LmPrompt("q") { NumCompletions = 2 });
        }

        using var a = LmCache.Open(file);
        using var b = LmCache.Open(file);
        var lmA = Lm(a);
        Assert.True(lmA.Predict(new LmPrompt("q") { NumCompletions = 2 }).WasCached);
        Assert.Equal(0, lmA.CallCount);
        Lm(b).Predict("fresh");
        Assert.True(Lm(a).Predict("fresh").WasCached);
        Assert.Equal(3, a.GetStats().Entries);
    }

    [Fact]
    public void StatsCountEntriesBytesHitsAndMisses()
    {
        using var cache = LmCache.Open(_dir.File("s.sqlite3"));
        var lm = Lm(cache);
        lm.Predict("one");
        lm.Predict("two");
        lm.Predict("one");
        var s = cache.GetStats();
        Assert.Equal(2, s.Entries);
        Assert.Equal(1, s.Hits);
        Assert.Equal(2, s.Misses);
        Assert.InRange(s.PayloadBytes, 40, 2000);
        Assert.True(s.FileBytes > s.PayloadBytes);
        Assert.NotNull(s.OldestEntry);
        Assert.Equal(1 / 3.0, s.HitRatio, 9);
    }

    [Fact]
    public void EvictionByCountAgeAndSize()
    {
        using var cache = LmCache.Open(_dir.File("e.sqlite3"));
        var lm = new MockLm(p => p.Text + new string('z', 2000), "big", new LanguageModelOptions { CacheByDefault = true, Cache = cache });
        for (int i = 0; i < 200; i++)
        {
            lm.Predict($"p{i}");
        }

        Assert.Equal(150, cache.EvictToMaxEntries(50));
        Assert.Equal(50, cache.GetStats().Entries);
        // The newest are kept.
        Assert.True(lm.Predict("p199").WasCached);
        Assert.False(lm.Predict("p0").WasCached);

        Assert.Equal(0, cache.EvictOlderThan(TimeSpan.FromHours(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.EvictOlderThan(TimeSpan.FromSeconds(-5)));
        Assert.Equal(51, cache.GetStats().Entries);
        Assert.Equal(51, cache.Clear());

        for (int i = 0; i < 300; i++)
        {
            lm.Predict($"q{i}");
        }

        long before = cache.GetStats().FileBytes;
        Assert.True(before > 600_000, $"file is {before} bytes");
        int removed = cache.EvictToMaxBytes(200_000);
        var after = cache.GetStats();
        Assert.True(after.FileBytes <= 200_000, $"file is {after.FileBytes} bytes after eviction");
        Assert.True(removed > 150 && after.Entries > 0, $"removed {removed}, left {after.Entries}");
        Assert.True(lm.Predict("q299").WasCached);
    }

    [Fact]
    public void BigFileLookupsFindEverySample()
    {
        using var cache = LmCache.Open(_dir.File("big.sqlite3"));
        var lm = Lm(cache);
        int n = 10_000;
        var prompts = Enumerable.Range(0, n).Select(i => new LmPrompt($"q{i}") { NumCompletions = 1 + (i % 3) }).ToList();
        int samples = prompts.Sum(p => p.NumCompletions);
        lm.PredictMany(prompts).ToList();
        Assert.Equal(samples, lm.CallCount); // MockLm counts samples
        var before = cache.GetStats();

        var again = lm.PredictMany(prompts).ToList();
        Assert.Equal(samples, lm.CallCount);
        Assert.All(again, p => Assert.True(p.WasCached));
        Assert.Equal(prompts.Select(p => "answer to " + p.Text), again.Select(p => p.CompletionText));
        Assert.Equal(prompts.Select(p => p.NumCompletions), again.Select(p => p.Completions.Count));
        var after = cache.GetStats();
        Assert.Equal(samples, after.Hits - before.Hits);
        Assert.Equal(before.Misses, after.Misses);
    }

    [Fact]
    public void AGarbageFileGivesAClearErrorNamingItAndIsNotTouched()
    {
        string file = _dir.File("garbage.sqlite3");
        byte[] junk = [.. Enumerable.Range(0, 5000).Select(i => (byte)(i * 7))];
        File.WriteAllBytes(file, junk);
        var e = Assert.Throws<LmCacheException>(() => LmCache.Open(file));
        Assert.Contains(file, e.Message, StringComparison.Ordinal);
        Assert.Equal(file, e.FilePath);
        Assert.Equal(junk, File.ReadAllBytes(file));
    }

    [Fact]
    public void AForeignSqliteDatabaseIsRefused()
    {
        string file = _dir.File("foreign.db");
        using (var conn = new SqliteConnection($"Data Source={file};Pooling=False"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices(total) VALUES (9.5);";
            cmd.ExecuteNonQuery();
        }

        var e = Assert.Throws<LmCacheException>(() => LmCache.Open(file));
        Assert.Contains("does not belong to LmWrapper", e.Message, StringComparison.Ordinal);
        Assert.Contains(file, e.Message, StringComparison.Ordinal);
        using var check = new SqliteConnection($"Data Source={file};Pooling=False");
        check.Open();
        using var count = check.CreateCommand();
        count.CommandText = "SELECT count(*) FROM sqlite_master";
        Assert.Equal(1L, count.ExecuteScalar());
    }

    [Fact]
    public void AForeignSqliteDatabaseIsLeftInItsJournalMode()
    {
        string file = _dir.File("foreign-journal.db");
        using (var conn = new SqliteConnection($"Data Source={file};Pooling=False"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "PRAGMA journal_mode = DELETE; CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL);";
            cmd.ExecuteNonQuery();
        }

        byte[] before = File.ReadAllBytes(file);
        Assert.Throws<LmCacheException>(() => LmCache.Open(file));
        SqliteConnection.ClearAllPools();
        // The header's bytes 18 and 19 are 2 in WAL mode, 1 in rollback mode: the file is byte for byte as it was.
        Assert.Equal(before, File.ReadAllBytes(file));
        Assert.False(File.Exists(file + "-wal"));
        using var check = new SqliteConnection($"Data Source={file};Pooling=False;Mode=ReadOnly");
        check.Open();
        using var mode = check.CreateCommand();
        mode.CommandText = "PRAGMA journal_mode";
        Assert.Equal("delete", mode.ExecuteScalar());
    }

    [Fact]
    public void ACacheFileThatCannotBeOpenedGivesACacheExceptionNamingThePath()
    {
        // A folder where the file should be: SQLite cannot open it (SQLITE_CANTOPEN, as for an unwritable folder).
        string folder = _dir.File("is-a-folder.sqlite3");
        Directory.CreateDirectory(folder);
        var e = Assert.Throws<LmCacheException>(() => LmCache.Open(folder));
        Assert.Equal(folder, e.FilePath);
        Assert.Contains(folder, e.Message, StringComparison.Ordinal);
        Assert.IsType<SqliteException>(e.InnerException);

        // A file where the folder should be.
        string blocker = _dir.File("a-file");
        File.WriteAllText(blocker, "x");
        string under = Path.Combine(blocker, "cache.sqlite3");
        var e2 = Assert.Throws<LmCacheException>(() => LmCache.Open(under));
        Assert.Equal(under, e2.FilePath);
        Assert.Contains(under, e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnOlderSchemaIsMigratedKeepingItsEntries()
    {
        string file = _dir.File("v1.sqlite3");
        using (var conn = new SqliteConnection($"Data Source={file};Pooling=False"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = LmCache.Migrations[0] + $"PRAGMA application_id = {LmCache.ApplicationId}; PRAGMA user_version = 1;" +
                "INSERT INTO models(id, identity) VALUES (1, 'mock/m');" +
                "INSERT INTO responses(key, sample, model_id, created, payload) VALUES ($k, 0, 1, 0, CAST('{\"completion_text\":\"from v1\"}' AS BLOB));";
            cmd.Parameters.AddWithValue("$k", CacheKey.Compute("mock/m", new LmPrompt("old") { MaxTokens = 100 }).ToBytes());
            cmd.ExecuteNonQuery();
        }

        using var cache = LmCache.Open(file);
        Assert.Equal("from v1", Lm(cache).Predict("old").CompletionText);
        Assert.Equal(0, cache.PendingBatchCount()); // the journal tables exist
    }

    [Fact]
    public void PayloadsAreReadByRowOrByKeyWhenTheRowChangedAndGoneOnesGiveNull()
    {
        using var cache = LmCache.OpenInMemory();
        var lm = Lm(cache);
        var prompts = Enumerable.Range(0, 5).Select(i => new LmPrompt($"r{i}") { MaxTokens = 100 }).ToArray();
        foreach (var p in prompts)
        {
            lm.Predict(p);
        }

        var keys = prompts.Select(p => CacheKey.Compute(lm.ModelIdentity, p)).ToArray();
        var found = cache.FindSamplesMany([.. keys.Select(k => (k, 2))]);
        Assert.Equal([0, 1, 2, 3, 4], found.Select(f => f.Index));
        Assert.All(found, f => Assert.Equal(0, f.Sample));

        // The newest row is freed and taken by another key (SQLite reuses the largest rowid): it must not be read as
        // r4's. r4 is then answered again (a new row), which is found by its key; r2 is gone for good.
        Assert.True(lm.RemovePromptFromCache(prompts[4]));
        var newcomer = new LmPrompt("newcomer") { MaxTokens = 100 };
        lm.Predict(newcomer);
        Assert.Equal(found[4].Row, cache.FindSamplesMany([(CacheKey.Compute(lm.ModelIdentity, newcomer), 1)]).Single().Row);
        lm.Predict(prompts[4]);
        Assert.True(lm.RemovePromptFromCache(prompts[2]));
        var payloads = new byte[]?[found.Count];
        cache.ReadPayloads([.. found.Select(f => (f.Row, keys[f.Index], f.Sample))], payloads);
        for (int i = 0; i < 5; i++)
        {
            if (i == 2)
            {
                Assert.Null(payloads[i]);
            }
            else
            {
                Assert.Equal($"answer to r{i}", LmWrapper.Serialization.PredictionJson.DeserializePayload(payloads[i]!, prompts[i], true).CompletionText);
            }
        }
    }

    [Fact]
    public void ACacheFromANewerLmWrapperIsRefused()
    {
        string file = _dir.File("newer.sqlite3");
        LmCache.Open(file).Dispose();
        using (var conn = new SqliteConnection($"Data Source={file};Pooling=False"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = $"PRAGMA user_version = {LmCache.SchemaVersion + 1}";
            cmd.ExecuteNonQuery();
        }

        var e = Assert.Throws<LmCacheException>(() => LmCache.Open(file));
        Assert.Contains("newer LmWrapper", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CorruptedPagesGiveAClearErrorNamingTheFile()
    {
        string file = _dir.File("corrupt.sqlite3");
        using (var cache = LmCache.Open(file))
        {
            var lm = Lm(cache);
            for (int i = 0; i < 300; i++)
            {
                lm.Predict($"p{i}");
            }

            cache.Compact();
        }

        // Smash the pages after the first (the header stays valid, the b-trees do not).
        using (var fs = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = 4096;
            var noise = new byte[fs.Length - 4096];
            new Random(1).NextBytes(noise);
            fs.Write(noise);
        }

        var e = Assert.Throws<LmCacheException>(() =>
        {
            using var cache = LmCache.Open(file);
            Lm(cache).PredictMany(Enumerable.Range(0, 300).Select(i => new LmPrompt($"p{i}"))).ToList();
        });
        Assert.Contains(file, e.Message, StringComparison.Ordinal);
        Assert.Contains("corrupted", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheKeyIsTheSameInAnotherProcess()
    {
        var (code, output) = ChildProcess.Run(["key", "openai/gpt-4o-mini", "What is 2+2?"], TimeSpan.FromSeconds(60));
        Assert.Equal(0, code);
        Assert.Equal(CacheKey.Compute("openai/gpt-4o-mini", new LmPrompt("What is 2+2?") { MaxTokens = 10 }).ToString(), output.Trim());
    }
}
