using System.Text;
using LmWrapper.Caching;
using LmWrapper.Reliability;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace LmWrapper.Reliability.Tests;

/// <summary>One cache file shared by processes × threads; cache files that must be refused, naming the path, untouched.</summary>
public sealed class CacheTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lmwrapper-reliability-cache-").FullName;

    public void Dispose()
    {
        foreach (var d in Directory.EnumerateDirectories(_dir))
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task ProcessesAndThreadsSharingOneFileLoseNoWriteAndSeeNoLockError()
    {
        var counts = ReliabilityCounts.FromEnvironment();
        var r = await CacheStorm.RunAsync(counts.CacheProcesses, counts.CacheThreads, counts.CacheOperations, seed: 3301);
        output.WriteLine($"{r.Processes} processes × {r.Threads} threads × {r.Operations} operations (seed {r.Seed}): {r.KeepPromptsStored} prompts stored, {r.LostWrites} lost, {r.FailedProcesses} failed, integrity {(r.IntegrityOk ? "ok" : "FAILED")}");
        Assert.True(r.FailedProcesses == 0, string.Join("\n", r.Errors));
        Assert.Equal(0, r.LostWrites);
        Assert.True(r.KeepPromptsStored > 0);
        Assert.True(r.IntegrityOk);
    }

    [Fact]
    public void AFileThatIsNotSqliteIsRefusedNamingItsPathAndNeverReplaced()
    {
        string path = Path.Combine(_dir, "cache.sqlite3");
        File.WriteAllText(path, "notes.txt that someone named cache.sqlite3 by mistake");
        Assert.Null(CacheStorm.CheckRefused(path));
    }

    [Fact]
    public void ACorruptCacheFileIsRefusedNamingItsPathAndNeverReplaced()
    {
        string path = Path.Combine(_dir, "corrupt.sqlite3");
        using (var cache = LmCache.Open(path))
        {
            using var lm = new MockLm(p => p.Text!, "c", new LanguageModelOptions { Cache = cache, CacheByDefault = true });
            foreach (int i in Enumerable.Range(0, 200))
            {
                lm.Predict(new LmPrompt("p" + i) { MaxTokens = 3 });
            }
        }

        SqliteConnection.ClearAllPools();
        var bytes = File.ReadAllBytes(path);
        for (int i = 100; i < 4096; i++)
        {
            bytes[i] = 0xA5; // the schema page (after the 100-byte file header) is garbage
        }

        File.WriteAllBytes(path, bytes);
        File.Delete(path + "-wal");
        File.Delete(path + "-shm");
        Assert.Null(CacheStorm.CheckRefused(path));
        Assert.Equal(bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public void AnotherProgramsSqliteDatabaseIsRefusedAndNotTouched()
    {
        string path = Path.Combine(_dir, "other.sqlite3");
        using (var conn = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices (total) VALUES (12.5);";
            cmd.ExecuteNonQuery();
        }

        Assert.Null(CacheStorm.CheckRefused(path));
        Assert.False(File.Exists(path + "-wal"));
    }

    [Fact]
    public void ACacheInAFolderThatCannotBeWrittenIsRefusedNamingThePath()
    {
        string path = CacheStorm.ReadOnlyCachePath(_dir);
        var e = Assert.Throws<LmCacheException>(() => LmCache.Open(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void ANewCacheFileIsReadableByItsOwnerOnly()
    {
        string path = Path.Combine(_dir, "private.sqlite3");
        using (var cache = LmCache.Open(path))
        {
            using var lm = new MockLm(p => p.Text!, "m", new LanguageModelOptions { Cache = cache, CacheByDefault = true });
            lm.Predict(new LmPrompt("hello") { MaxTokens = 3 });
            Assert.True(File.Exists(path));
            if (!OperatingSystem.IsWindows())
            {
                foreach (var file in new[] { path, path + "-wal", path + "-shm" }.Where(File.Exists))
                {
                    var mode = File.GetUnixFileMode(file);
                    Assert.Equal(UnixFileMode.None, mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite));
                }
            }
        }

        Assert.True(Encoding.ASCII.GetString(File.ReadAllBytes(path).AsSpan(0, 15)) == "SQLite format 3");
    }
}
