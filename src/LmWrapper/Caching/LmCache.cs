using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace LmWrapper.Caching;

/// <summary>
/// The local response cache: one SQLite file (WAL mode) per project, safe for several threads and processes at once.
/// Reruns of the same prompts are free, and a crashed run resumes without paying twice.
/// </summary>
/// <remarks>
/// <para>Location: <see cref="ResolveProjectCachePath(string?)"/> walks up from the working directory to the folder holding
/// <c>.git</c> or a <c>.lmwrapper</c> marker and uses <c>.lmwrapper_cache/cache.sqlite3</c> there; the
/// <c>LMWRAPPER_CACHE_DIR</c> environment variable overrides that, and code can open any file with <see cref="Open"/>.</para>
/// <para>Each completion sample is one entry, keyed by <see cref="CacheKey"/> and the sample index.</para>
/// </remarks>
public sealed partial class LmCache : IDisposable
{
    /// <summary>The environment variable that names the folder of the default cache file.</summary>
    public const string DirectoryEnvironmentVariable = "LMWRAPPER_CACHE_DIR";

    /// <summary>The default cache file name.</summary>
    public const string DefaultFileName = "cache.sqlite3";

    /// <summary>The folder, at the project root, that holds the default cache file.</summary>
    public const string ProjectFolderName = ".lmwrapper_cache";

    /// <summary>The SQLite <c>application_id</c> that marks a file as an LmWrapper cache ("LmWr").</summary>
    internal const int ApplicationId = 0x4C6D5772;

    /// <summary>The schema version this build reads and writes.</summary>
    public const int SchemaVersion = 3;

    private static readonly ConcurrentDictionary<string, Lazy<LmCache>> SharedCaches = new(StringComparer.Ordinal);

    // Each step brings the schema from version (index) to (index + 1). Never edit a released step; add one.
    internal static readonly string[] Migrations =
    [
        """
        CREATE TABLE lmwrapper_meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE models(id INTEGER PRIMARY KEY, identity TEXT NOT NULL UNIQUE);
        CREATE TABLE responses(
            id INTEGER PRIMARY KEY,
            key BLOB NOT NULL,
            sample INTEGER NOT NULL,
            model_id INTEGER NOT NULL,
            created INTEGER NOT NULL,
            payload BLOB NOT NULL);
        CREATE UNIQUE INDEX responses_key_sample ON responses(key, sample);
        INSERT INTO lmwrapper_meta(name, value) VALUES ('created_by', 'LmWrapper');
        """,
        """
        CREATE TABLE batch_jobs(
            local_id TEXT PRIMARY KEY,
            backend TEXT NOT NULL,
            model_id INTEGER NOT NULL,
            provider_id TEXT,
            attempt INTEGER NOT NULL,
            estimated_tokens INTEGER NOT NULL,
            request_count INTEGER NOT NULL,
            created INTEGER NOT NULL);
        CREATE TABLE batch_items(
            key BLOB NOT NULL,
            local_id TEXT NOT NULL,
            sample_count INTEGER NOT NULL,
            PRIMARY KEY(key, local_id)) WITHOUT ROWID;
        CREATE INDEX batch_items_job ON batch_items(local_id);
        """,
        // v3: a compact journal. Items name their batch by a small integer instead of its 36-character local id (which
        // v2 stored twice per item, with an index on it), and sit in (job, key) order, so a batch's items, written
        // sorted by key, are appended to the b-tree instead of scattered over it. Pending v2 batches are carried over.
        """
        CREATE TABLE batch_jobs_v3(
            id INTEGER PRIMARY KEY,
            local_id TEXT NOT NULL UNIQUE,
            backend TEXT NOT NULL,
            model_id INTEGER NOT NULL,
            provider_id TEXT,
            attempt INTEGER NOT NULL,
            estimated_tokens INTEGER NOT NULL,
            request_count INTEGER NOT NULL,
            created INTEGER NOT NULL);
        INSERT INTO batch_jobs_v3(local_id, backend, model_id, provider_id, attempt, estimated_tokens, request_count, created)
            SELECT local_id, backend, model_id, provider_id, attempt, estimated_tokens, request_count, created
            FROM batch_jobs WHERE local_id IS NOT NULL ORDER BY created, local_id;
        CREATE TABLE batch_items_v3(
            job_id INTEGER NOT NULL,
            key BLOB NOT NULL,
            sample_count INTEGER NOT NULL,
            PRIMARY KEY(job_id, key)) WITHOUT ROWID;
        INSERT INTO batch_items_v3(job_id, key, sample_count)
            SELECT j.id, i.key, i.sample_count FROM batch_items i JOIN batch_jobs_v3 j ON j.local_id = i.local_id
            ORDER BY j.id, i.key;
        DROP TABLE batch_items;
        DROP TABLE batch_jobs;
        ALTER TABLE batch_jobs_v3 RENAME TO batch_jobs;
        ALTER TABLE batch_items_v3 RENAME TO batch_items;
        """,
    ];

    private readonly SqliteConnection _connection;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _modelIds = new(StringComparer.Ordinal);
    private readonly SqliteCommand _insert;
    private readonly SqliteParameter _insertKey;
    private readonly SqliteParameter _insertSample;
    private readonly SqliteParameter _insertModel;
    private readonly SqliteParameter _insertCreated;
    private readonly SqliteParameter _insertPayload;
    private sqlite3_stmt? _rawSelect;
    private sqlite3_stmt? _rawFind;
    private sqlite3_stmt? _rawPayload;
    private sqlite3_stmt? _rawPayloadByKey;
    private long _hits;
    private long _misses;
    private bool _disposed;

    private LmCache(string filePath, SqliteConnection connection)
    {
        FilePath = filePath;
        _connection = connection;

        _insert = connection.CreateCommand();
        _insert.CommandText = """
            INSERT INTO responses(key, sample, model_id, created, payload) VALUES ($key, $sample, $model, $created, $payload)
            ON CONFLICT(key, sample) DO NOTHING
            """;
        _insertKey = _insert.Parameters.Add("$key", SqliteType.Blob);
        _insertSample = _insert.Parameters.Add("$sample", SqliteType.Integer);
        _insertModel = _insert.Parameters.Add("$model", SqliteType.Integer);
        _insertCreated = _insert.Parameters.Add("$created", SqliteType.Integer);
        _insertPayload = _insert.Parameters.Add("$payload", SqliteType.Blob);
        _insert.Prepare();
    }

    /// <summary>The cache file (":memory:" for an in-memory cache).</summary>
    public string FilePath { get; }

    /// <summary>
    /// Opens (creating if needed) the cache file at <paramref name="filePath"/>. The caller owns the returned instance;
    /// several instances, in this or other processes, may share one file.
    /// </summary>
    /// <param name="filePath">The SQLite file to use.</param>
    /// <exception cref="LmCacheException">The file is corrupted, is not an LmWrapper cache, was made by a newer LmWrapper, or cannot be opened for writing (its folder is not writable); the message names the path.</exception>
    public static LmCache Open(string filePath) => OpenFile(filePath, shared: false);

    private static LmCache OpenFile(string filePath, bool shared)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        string full = Path.GetFullPath(filePath);
        var dir = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(dir))
        {
            try
            {
                Directory.CreateDirectory(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw CannotOpen(full, e);
            }
        }

        CheckHeader(full);
        CreateOwnerOnly(full);
        var cs = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 60,
        }.ToString();
        var cache = OpenConnection(full, cs, inMemory: false);
        cache.IsShared = shared;
        return cache;
    }

    /// <summary>Opens a private cache that lives in memory only (for tests and throwaway runs).</summary>
    public static LmCache OpenInMemory() =>
        OpenConnection(":memory:", "Data Source=:memory:;Pooling=False", inMemory: true);

    /// <summary>
    /// The process-wide shared cache for the project that contains <paramref name="startDirectory"/> (default: the
    /// working directory); see <see cref="ResolveProjectCachePath(string?)"/>. The instance is shared
    /// (<see cref="IsShared"/>): disposing it does nothing, so no caller can close it under another.
    /// </summary>
    /// <param name="startDirectory">Where to start looking for the project root.</param>
    /// <exception cref="LmCacheException">The file cannot be opened; the next call tries again.</exception>
    public static LmCache ForProject(string? startDirectory = null) => Shared(ResolveProjectCachePath(startDirectory));

    /// <summary>
    /// The process-wide shared instance for one cache file, opened on the first call that succeeds (a failed open is
    /// not remembered: the next call tries again) and never closed: its <see cref="Dispose"/> does nothing.
    /// </summary>
    /// <param name="filePath">The cache file.</param>
    /// <exception cref="LmCacheException">The file cannot be opened; the next call tries again.</exception>
    public static LmCache Shared(string filePath)
    {
        string full = Path.GetFullPath(filePath);
        var lazy = SharedCaches.GetOrAdd(full, p => new Lazy<LmCache>(() => OpenFile(p, shared: true)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            // A faulted Lazy keeps its exception: drop it so that the next call opens the file afresh.
            SharedCaches.TryRemove(KeyValuePair.Create(full, lazy));
            throw;
        }
    }

    /// <summary>
    /// Whether this is a process-wide shared instance (<see cref="ForProject"/>, <see cref="Shared"/>). A shared instance
    /// is not owned by any caller: its <see cref="Dispose"/> does nothing. An instance from <see cref="Open"/> or
    /// <see cref="OpenInMemory"/> belongs to its caller, who disposes it.
    /// </summary>
    public bool IsShared { get; private set; }

    /// <summary>
    /// Where the default cache lives: <c>$LMWRAPPER_CACHE_DIR/cache.sqlite3</c> when that variable is set; else
    /// <c>.lmwrapper_cache/cache.sqlite3</c> in the nearest folder, from <paramref name="startDirectory"/> upward, that
    /// holds <c>.git</c> or a <c>.lmwrapper</c> marker; else a per-user folder
    /// (<c>~/.cache/lmwrapper/cache.sqlite3</c> or the platform's local application data).
    /// </summary>
    /// <param name="startDirectory">Where to start looking (default: the working directory).</param>
    public static string ResolveProjectCachePath(string? startDirectory = null) =>
        ResolveProjectCachePath(startDirectory, Environment.GetEnvironmentVariable(DirectoryEnvironmentVariable));

    internal static string ResolveProjectCachePath(string? startDirectory, string? env)
    {
        if (!string.IsNullOrWhiteSpace(env))
        {
            return Path.GetFullPath(Path.Combine(env, DefaultFileName));
        }

        for (var dir = new DirectoryInfo(Path.GetFullPath(startDirectory ?? Directory.GetCurrentDirectory())); dir is not null; dir = dir.Parent)
        {
            if (Path.Exists(Path.Combine(dir.FullName, ".lmwrapper")) || Path.Exists(Path.Combine(dir.FullName, ".git")))
            {
                return Path.Combine(dir.FullName, ProjectFolderName, DefaultFileName);
            }
        }

        string baseDir = OperatingSystem.IsWindows()
            ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "lmwrapper", DefaultFileName);
    }

    /// <summary>
    /// Looks up samples 0 … <paramref name="count"/> − 1 of <paramref name="key"/>. Found samples go to
    /// <paramref name="found"/> as (sample index, payload).
    /// </summary>
    internal void GetSamples(CacheKey key, int count, List<(int Sample, byte[] Payload)> found)
    {
        lock (_lock)
        {
            Run(() =>
            {
                ThrowIfDisposed();
                ReadSamples(key, count, found);
            });
        }
    }

    /// <summary>
    /// Finds which samples of many keys are cached, in one read transaction and in the order given (sorted keys walk
    /// neighbouring index pages). Only the index is read: each sample found comes back as its request's index, its
    /// sample index and its row, whose payload <see cref="ReadPayloads"/> reads when it is needed. (Spreading the lookups
    /// over several read-only connections was measured slower on 2 cores: 131k vs 184k prompts/s at 1M entries.)
    /// </summary>
    internal List<(int Index, int Sample, long Row)> FindSamplesMany(IReadOnlyList<(CacheKey Key, int Count)> requests)
    {
        var found = new List<(int, int, long)>(Math.Min(requests.Count, 1 << 16));
        InReadTransaction(db =>
        {
            _rawFind ??= Prepare(db, "SELECT sample, id FROM responses WHERE key = ?1 AND sample < ?2");
            Span<byte> keyBytes = stackalloc byte[16];
            long hits = 0;
            long wanted = 0;
            for (int i = 0; i < requests.Count; i++)
            {
                var (key, count) = requests[i];
                key.WriteBytes(keyBytes);
                raw.sqlite3_bind_blob(_rawFind, 1, keyBytes);
                raw.sqlite3_bind_int(_rawFind, 2, count);
                wanted += count;
                try
                {
                    while (Step(db, _rawFind))
                    {
                        found.Add((i, raw.sqlite3_column_int(_rawFind, 0), raw.sqlite3_column_int64(_rawFind, 1)));
                        hits++;
                    }
                }
                finally
                {
                    raw.sqlite3_reset(_rawFind);
                }
            }

            Interlocked.Add(ref _hits, hits);
            Interlocked.Add(ref _misses, wanted - hits);
        });

        return found;
    }

    /// <summary>
    /// Reads the payloads of rows <see cref="FindSamplesMany"/> found, in one read transaction. Where a row no longer
    /// holds that key's sample (evicted or removed since), the sample is looked up by key; one no longer cached gives null.
    /// </summary>
    /// <param name="rows">The rows, with the key and sample each must still hold.</param>
    /// <param name="payloads">Where each row's payload goes, by position in <paramref name="rows"/>.</param>
    internal void ReadPayloads(ReadOnlySpan<(long Row, CacheKey Key, int Sample)> rows, byte[]?[] payloads)
    {
        var list = rows.ToArray();
        InReadTransaction(db =>
        {
            _rawPayload ??= Prepare(db, "SELECT key, sample, payload FROM responses WHERE id = ?1");
            Span<byte> keyBytes = stackalloc byte[16];
            for (int i = 0; i < list.Length; i++)
            {
                var (row, key, sample) = list[i];
                key.WriteBytes(keyBytes);
                raw.sqlite3_bind_int64(_rawPayload, 1, row);
                payloads[i] = null;
                try
                {
                    if (Step(db, _rawPayload) && raw.sqlite3_column_int(_rawPayload, 1) == sample
                        && raw.sqlite3_column_blob(_rawPayload, 0).SequenceEqual(keyBytes))
                    {
                        payloads[i] = raw.sqlite3_column_blob(_rawPayload, 2).ToArray();
                    }
                }
                finally
                {
                    raw.sqlite3_reset(_rawPayload);
                }

                if (payloads[i] is null)
                {
                    // The row changed since it was found (removed, or evicted and written again): look the sample up
                    // by key, as a lookup would have.
                    _rawPayloadByKey ??= Prepare(db, "SELECT payload FROM responses WHERE key = ?1 AND sample = ?2");
                    raw.sqlite3_bind_blob(_rawPayloadByKey, 1, keyBytes);
                    raw.sqlite3_bind_int(_rawPayloadByKey, 2, sample);
                    try
                    {
                        if (Step(db, _rawPayloadByKey))
                        {
                            payloads[i] = raw.sqlite3_column_blob(_rawPayloadByKey, 0).ToArray();
                        }
                    }
                    finally
                    {
                        raw.sqlite3_reset(_rawPayloadByKey);
                    }
                }
            }
        });
    }

    /// <summary>Runs <paramref name="read"/> in one read transaction on the cache's connection, under its lock.</summary>
    private void InReadTransaction(Action<sqlite3> read)
    {
        lock (_lock)
        {
            Run(() =>
            {
                ThrowIfDisposed();
                using var tx = _connection.BeginTransaction(deferred: true);
                read(_connection.Handle!);
                tx.Commit();
            });
        }
    }

    /// <summary>Steps a bound statement: true for a row, false when done; a failure becomes a <see cref="SqliteException"/>.</summary>
    private static bool Step(sqlite3 db, sqlite3_stmt stmt)
    {
        int rc = raw.sqlite3_step(stmt);
        return rc == raw.SQLITE_ROW || (rc == raw.SQLITE_DONE ? false : throw new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), rc));
    }

    /// <summary>
    /// The lookup on the hot path goes straight to SQLite's C API (through SQLitePCLRaw, which Microsoft.Data.Sqlite is
    /// built on): a prepared statement, a stack-allocated key and no ADO.NET reader per lookup.
    /// </summary>
    private void ReadSamples(CacheKey key, int count, List<(int, byte[])> found)
    {
        var db = _connection.Handle!;
        _rawSelect ??= Prepare(db, "SELECT sample, payload FROM responses WHERE key = ?1 AND sample < ?2");
        Span<byte> keyBytes = stackalloc byte[16];
        key.WriteBytes(keyBytes);
        raw.sqlite3_bind_blob(_rawSelect, 1, keyBytes);
        raw.sqlite3_bind_int(_rawSelect, 2, count);
        int hits = 0;
        try
        {
            while (Step(db, _rawSelect))
            {
                found.Add((raw.sqlite3_column_int(_rawSelect, 0), raw.sqlite3_column_blob(_rawSelect, 1).ToArray()));
                hits++;
            }
        }
        finally
        {
            raw.sqlite3_reset(_rawSelect);
        }

        Interlocked.Add(ref _hits, hits);
        Interlocked.Add(ref _misses, count - hits);
    }

    private static sqlite3_stmt Prepare(sqlite3 db, string sql)
    {
        int rc = raw.sqlite3_prepare_v2(db, sql, out var stmt);
        if (rc != raw.SQLITE_OK)
        {
            throw new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), rc);
        }

        return stmt;
    }

    /// <summary>Stores samples (an existing sample under the same key and index is kept, never overwritten).</summary>
    internal void Store(string modelIdentity, IEnumerable<(CacheKey Key, int Sample, byte[] Payload)> entries)
    {
        lock (_lock)
        {
            Run(() =>
            {
                ThrowIfDisposed();
                using var tx = _connection.BeginTransaction(deferred: false);
                try
                {
                    long modelId = ModelId(modelIdentity, tx);
                    _insert.Transaction = tx;
                    _insertModel.Value = modelId;
                    _insertCreated.Value = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
                    foreach (var (key, sample, payload) in entries)
                    {
                        _insertKey.Value = key.ToBytes();
                        _insertSample.Value = sample;
                        _insertPayload.Value = payload;
                        _insert.ExecuteNonQuery();
                    }

                    tx.Commit();
                }
                finally
                {
                    _insert.Transaction = null;
                }
            });
        }
    }

    /// <summary>Removes every sample stored under <paramref name="key"/>. Returns how many were removed.</summary>
    /// <param name="key">The key (see <see cref="CacheKey.Compute"/>).</param>
    public int Remove(CacheKey key) => Execute("DELETE FROM responses WHERE key = $k", ("$k", key.ToBytes()));

    /// <summary>Removes every entry. Returns how many were removed.</summary>
    public int Clear() => Execute("DELETE FROM responses");

    /// <summary>Removes entries stored longer ago than <paramref name="maxAge"/>. Returns how many were removed.</summary>
    /// <param name="maxAge">The oldest an entry may be; zero or more.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxAge"/> is negative (which would remove every entry).</exception>
    public int EvictOlderThan(TimeSpan maxAge)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAge, TimeSpan.Zero);
        long cutoff = DateTimeOffset.UtcNow.Add(-maxAge).ToUnixTimeSeconds();
        return Execute("DELETE FROM responses WHERE created < $c", ("$c", cutoff));
    }

    /// <summary>Removes the oldest entries until at most <paramref name="maxEntries"/> remain. Returns how many were removed.</summary>
    /// <param name="maxEntries">How many entries to keep at most.</param>
    public int EvictToMaxEntries(long maxEntries)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxEntries);
        return Execute(
            "DELETE FROM responses WHERE id <= (SELECT id FROM responses ORDER BY id DESC LIMIT 1 OFFSET $n)",
            ("$n", maxEntries));
    }

    /// <summary>
    /// Removes the oldest entries until the file fits in <paramref name="maxBytes"/>, then compacts the file.
    /// Returns how many entries were removed.
    /// </summary>
    /// <param name="maxBytes">The largest the cache file may be.</param>
    public int EvictToMaxBytes(long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        var stats = GetStats();
        if (stats.FileBytes <= maxBytes || stats.Entries == 0)
        {
            return 0;
        }

        // Keep the newest entries whose payloads fit the same share of the file the payloads have now (less 5%).
        double payloadShare = stats.PayloadBytes / (double)Math.Max(1, stats.FileBytes);
        long keepPayload = (long)(maxBytes * payloadShare * 0.95);
        int removed = 0;
        lock (_lock)
        {
            Run(() =>
            {
                ThrowIfDisposed();
                long cutoffId = long.MinValue;
                long sum = 0;
                using (var cmd = _connection.CreateCommand())
                {
                    cmd.CommandText = "SELECT id, length(payload) FROM responses ORDER BY id DESC";
                    using var r = cmd.ExecuteReader();
                    while (r.Read())
                    {
                        sum += r.GetInt64(1);
                        if (sum > keepPayload)
                        {
                            cutoffId = r.GetInt64(0);
                            break;
                        }
                    }
                }

                if (cutoffId != long.MinValue)
                {
                    using var del = _connection.CreateCommand();
                    del.CommandText = "DELETE FROM responses WHERE id <= $id";
                    del.Parameters.AddWithValue("$id", cutoffId);
                    removed = del.ExecuteNonQuery();
                }
            });
        }

        Compact();
        return removed;
    }

    /// <summary>Checkpoints the write-ahead log and rebuilds the file so that it takes no more space than its entries need.</summary>
    public void Compact()
    {
        lock (_lock)
        {
            Run(() =>
            {
                ThrowIfDisposed();
                using var cmd = _connection.CreateCommand();
                cmd.CommandText = "PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);";
                cmd.ExecuteNonQuery();
            });
        }
    }

    /// <summary>Counts entries and bytes, and reports this instance's hits and misses.</summary>
    public LmCacheStats GetStats()
    {
        lock (_lock)
        {
            return Run(() =>
            {
                ThrowIfDisposed();
                using var cmd = _connection.CreateCommand();
                cmd.CommandText = "SELECT count(*), coalesce(sum(length(payload)), 0), min(created) FROM responses";
                using var r = cmd.ExecuteReader();
                r.Read();
                long entries = r.GetInt64(0);
                long payload = r.GetInt64(1);
                DateTimeOffset? oldest = r.IsDBNull(2) ? null : DateTimeOffset.FromUnixTimeSeconds(r.GetInt64(2));
                return new LmCacheStats(entries, payload, FileBytes(), _hits, _misses, oldest);
            });
        }
    }

    /// <summary>
    /// Runs SQLite's integrity check over the whole file. Returns an empty list when the file is sound, else SQLite's
    /// descriptions of what is wrong.
    /// </summary>
    public IReadOnlyList<string> CheckIntegrity()
    {
        lock (_lock)
        {
            return Run(() =>
            {
                ThrowIfDisposed();
                using var cmd = _connection.CreateCommand();
                cmd.CommandText = "PRAGMA integrity_check";
                using var r = cmd.ExecuteReader();
                var problems = new List<string>();
                while (r.Read())
                {
                    var line = r.GetString(0);
                    if (line != "ok")
                    {
                        problems.Add(line);
                    }
                }

                return (IReadOnlyList<string>)problems;
            });
        }
    }

    /// <summary>
    /// Closes the cache file. Does nothing on a shared instance (<see cref="IsShared"/>), which lives as long as the
    /// process, so a <c>using</c> around <see cref="ForProject"/> cannot close it for every other model.
    /// </summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed || IsShared)
            {
                return;
            }

            _disposed = true;
            _rawSelect?.Dispose();
            _rawFind?.Dispose();
            _rawPayload?.Dispose();
            _rawPayloadByKey?.Dispose();
            _insert.Dispose();
            _connection.Dispose();
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"LmCache({FilePath})";

    private long FileBytes()
    {
        if (FilePath == ":memory:")
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
            return (long)cmd.ExecuteScalar()!;
        }

        long size = 0;
        foreach (var suffix in new[] { string.Empty, "-wal" })
        {
            var fi = new FileInfo(FilePath + suffix);
            if (fi.Exists)
            {
                size += fi.Length;
            }
        }

        return size;
    }

    private long ModelId(string identity, SqliteTransaction tx)
    {
        if (_modelIds.TryGetValue(identity, out var id))
        {
            return id;
        }

        using var cmd = _connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO models(identity) VALUES ($i) ON CONFLICT(identity) DO NOTHING; SELECT id FROM models WHERE identity = $i;";
        cmd.Parameters.AddWithValue("$i", identity);
        id = (long)cmd.ExecuteScalar()!;
        _modelIds[identity] = id;
        return id;
    }

    private int Execute(string sql, params (string Name, object Value)[] parameters)
    {
        lock (_lock)
        {
            return Run(() =>
            {
                ThrowIfDisposed();
                using var cmd = _connection.CreateCommand();
                cmd.CommandText = sql;
                foreach (var (name, value) in parameters)
                {
                    cmd.Parameters.AddWithValue(name, value);
                }

                return cmd.ExecuteNonQuery();
            });
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private void Run(Action action) => Run(() =>
    {
        action();
        return 0;
    });

    private T Run<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (SqliteException e) when (IsCorruption(e))
        {
            throw Corrupted(FilePath, e);
        }
    }

    private static bool IsCorruption(SqliteException e) =>
        (e.SqliteErrorCode & 0xFF) is 11 /* SQLITE_CORRUPT */ or 26 /* SQLITE_NOTADB */;

    private static LmCacheException Corrupted(string path, Exception e) => new(
        path,
        $"The LmWrapper cache file '{path}' is corrupted or is not a SQLite database ({e.Message}). " +
        "Nothing in it was changed. Move the file aside (or delete it) to start a fresh cache, or point LmWrapper at " +
        $"another file with {DirectoryEnvironmentVariable}.",
        e);

    private static void CheckHeader(string path)
    {
        var fi = new FileInfo(path);
        if (!fi.Exists || fi.Length == 0)
        {
            return;
        }

        Span<byte> header = stackalloc byte[16];
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            if (fs.ReadAtLeast(header, 16, throwOnEndOfStream: false) < 16 || !header.SequenceEqual("SQLite format 3\0"u8))
            {
                throw new LmCacheException(
                    path,
                    $"The LmWrapper cache file '{path}' is not a SQLite database (its header is wrong: the file is corrupted " +
                    "or belongs to another program). Nothing in it was changed. Move it aside or delete it to start a fresh " +
                    $"cache, or point LmWrapper at another file with {DirectoryEnvironmentVariable}.");
            }
        }
    }

    /// <summary>
    /// Creates a missing cache file empty (SQLite starts a database in an empty file) and readable by its owner only
    /// (mode 0600 on Unix; SQLite gives its -wal and -shm files the same mode): prompts and answers are private.
    /// </summary>
    private static void CreateOwnerOnly(string path)
    {
        if (OperatingSystem.IsWindows() || Path.Exists(path))
        {
            return; // an existing file keeps its mode; anything else in the way is SQLite's to report
        }

        try
        {
            using var created = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.ReadWrite | FileShare.Delete,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process made it first.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CannotOpen(path, e);
        }
    }

    private static LmCache OpenConnection(string path, string connectionString, bool inMemory)
    {
        var conn = new SqliteConnection(connectionString);
        try
        {
            conn.Open();
            using (var cmd = conn.CreateCommand())
            {
                cmd.CommandText = "PRAGMA busy_timeout = 60000;";
                cmd.ExecuteNonQuery();
            }

            // Another program's database is refused before anything changes it (switching to WAL mode is a change).
            var (appId, version, tables) = ReadIdentity(conn);
            CheckIdentity(path, appId, version, tables);
            if (!inMemory)
            {
                using var cmd = conn.CreateCommand();
                cmd.CommandText = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -32768;";
                cmd.ExecuteNonQuery();
            }

            Migrate(path, conn);
            if (!inMemory)
            {
                WriteGitIgnore(path);
            }

            return new LmCache(path, conn);
        }
        catch (SqliteException e) when (IsCorruption(e))
        {
            conn.Dispose();
            throw Corrupted(path, e);
        }
        catch (SqliteException e) when ((e.SqliteErrorCode & 0xFF) is 14 /* SQLITE_CANTOPEN */ or 8 /* SQLITE_READONLY */ or 23 /* SQLITE_AUTH */ or 3 /* SQLITE_PERM */)
        {
            conn.Dispose();
            throw CannotOpen(path, e);
        }
        catch
        {
            conn.Dispose();
            throw;
        }
    }

    private static LmCacheException CannotOpen(string path, Exception e) => new(
        path,
        $"The LmWrapper cache file '{path}' cannot be opened for writing ({e.Message}). Check that its folder exists, is a " +
        $"folder and is writable, or point LmWrapper at another file (LmCache.Open or {DirectoryEnvironmentVariable}).",
        e);

    private static void Migrate(string path, SqliteConnection conn)
    {
        var (appId, version, tables) = ReadIdentity(conn);
        CheckIdentity(path, appId, version, tables);
        if (appId == ApplicationId && version == SchemaVersion)
        {
            return;
        }

        // Take the write lock first, then look again: another process may have migrated meanwhile.
        using var tx = conn.BeginTransaction(deferred: false);
        (appId, version, tables) = ReadIdentity(conn, tx);
        CheckIdentity(path, appId, version, tables);
        for (int v = version; v < SchemaVersion; v++)
        {
            using var step = conn.CreateCommand();
            step.Transaction = tx;
            step.CommandText = Migrations[v];
            step.ExecuteNonQuery();
        }

        using (var mark = conn.CreateCommand())
        {
            mark.Transaction = tx;
            mark.CommandText = string.Create(
                CultureInfo.InvariantCulture,
                $"PRAGMA application_id = {ApplicationId}; PRAGMA user_version = {SchemaVersion};");
            mark.ExecuteNonQuery();
        }

        tx.Commit();
    }

    private static (long AppId, int Version, long Tables) ReadIdentity(SqliteConnection conn, SqliteTransaction? tx = null)
    {
        using var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT (SELECT application_id FROM pragma_application_id()), (SELECT user_version FROM pragma_user_version()), (SELECT count(*) FROM sqlite_master)";
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.GetInt64(0), r.GetInt32(1), r.GetInt64(2));
    }

    private static void CheckIdentity(string path, long appId, int version, long tables)
    {
        bool foreign = appId != ApplicationId && (appId != 0 || tables > 0);
        if (foreign)
        {
            throw new LmCacheException(
                path,
                $"The file '{path}' is a SQLite database that does not belong to LmWrapper (application_id {appId}, " +
                $"{tables} schema objects). LmWrapper will not touch it. Point LmWrapper at another cache file " +
                $"(LmCache.Open or {DirectoryEnvironmentVariable}), or move this file aside.");
        }

        if (version > SchemaVersion)
        {
            throw new LmCacheException(
                path,
                $"The cache file '{path}' has schema version {version}, written by a newer LmWrapper; this version reads " +
                $"up to {SchemaVersion}. Upgrade LmWrapper, or use another cache file.");
        }
    }

    private static void WriteGitIgnore(string path)
    {
        var dir = Path.GetDirectoryName(path);
        if (dir is null || !string.Equals(Path.GetFileName(dir), ProjectFolderName, StringComparison.Ordinal))
        {
            return;
        }

        var ignore = Path.Combine(dir, ".gitignore");
        if (!File.Exists(ignore))
        {
            try
            {
                File.WriteAllText(ignore, "# LmWrapper's response cache: local to this machine.\n*\n");
            }
            catch (IOException)
            {
                // Another process wrote it at the same moment; either copy is fine.
            }
        }
    }
}
