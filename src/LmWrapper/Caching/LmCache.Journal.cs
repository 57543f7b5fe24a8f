using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace LmWrapper.Caching;

/// <summary>The batch journal: which provider batches were created for which cache keys, so a rerun resumes them.</summary>
public sealed partial class LmCache
{
    /// <summary>
    /// Records a batch about to be submitted, with the keys it covers. Written before the upload starts. The batch
    /// orchestrator passes <paramref name="created"/> from its <see cref="TimeProvider"/>; null means the system clock.
    /// </summary>
    internal void AddBatchJob(
        string localId, string backend, string modelIdentity, int attempt, long estimatedTokens, int requestCount,
        IEnumerable<(CacheKey Key, int SampleCount)> items, DateTimeOffset? created = null)
    {
        lock (_lock)
        {
            Run(() =>
            {
                ThrowIfDisposed();
                using var tx = _connection.BeginTransaction(deferred: false);
                long modelId = ModelId(modelIdentity, tx);
                long jobId;
                using (var job = _connection.CreateCommand())
                {
                    job.Transaction = tx;
                    job.CommandText = """
                        INSERT INTO batch_jobs(local_id, backend, model_id, provider_id, attempt, estimated_tokens, request_count, created)
                        VALUES ($l, $b, $m, NULL, $a, $t, $r, $c)
                        ON CONFLICT(local_id) DO UPDATE SET attempt = excluded.attempt, estimated_tokens = excluded.estimated_tokens, request_count = excluded.request_count;
                        SELECT id FROM batch_jobs WHERE local_id = $l;
                        """;
                    job.Parameters.AddWithValue("$l", localId);
                    job.Parameters.AddWithValue("$b", backend);
                    job.Parameters.AddWithValue("$m", modelId);
                    job.Parameters.AddWithValue("$a", attempt);
                    job.Parameters.AddWithValue("$t", estimatedTokens);
                    job.Parameters.AddWithValue("$r", requestCount);
                    job.Parameters.AddWithValue("$c", (created ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds());
                    jobId = (long)job.ExecuteScalar()!;
                }

                // In key order, the batch's items are appended to the (job_id, key) b-tree rather than scattered over it.
                var sorted = items.ToArray();
                sorted.AsSpan().Sort(static (a, b) => a.Key.CompareTo(b.Key));
                var db = _connection.Handle!;
                using var insert = Prepare(db, "INSERT OR REPLACE INTO batch_items(job_id, key, sample_count) VALUES (?1, ?2, ?3)");
                raw.sqlite3_bind_int64(insert, 1, jobId);
                Span<byte> keyBytes = stackalloc byte[16];
                foreach (var (key, count) in sorted)
                {
                    key.WriteBytes(keyBytes);
                    raw.sqlite3_bind_blob(insert, 2, keyBytes);
                    raw.sqlite3_bind_int(insert, 3, count);
                    StepDone(db, insert);
                }

                tx.Commit();
            });
        }
    }

    /// <summary>Records the provider's id of a submitted batch.</summary>
    internal void SetBatchProviderId(string localId, string providerId) =>
        Execute("UPDATE batch_jobs SET provider_id = $p WHERE local_id = $l", ("$p", providerId), ("$l", localId));

    /// <summary>Forgets a batch and its items.</summary>
    internal void DeleteBatchJob(string localId)
    {
        lock (_lock)
        {
            Run(() =>
            {
                ThrowIfDisposed();
                using var tx = _connection.BeginTransaction(deferred: false);
                using var cmd = _connection.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = """
                    DELETE FROM batch_items WHERE job_id = (SELECT id FROM batch_jobs WHERE local_id = $l);
                    DELETE FROM batch_jobs WHERE local_id = $l;
                    """;
                cmd.Parameters.AddWithValue("$l", localId);
                cmd.ExecuteNonQuery();
                tx.Commit();
            });
        }
    }

    /// <summary>
    /// Forgets answered items (their results are in the cache), in one transaction. Items of batches the journal no
    /// longer lists are skipped.
    /// </summary>
    internal void RemoveBatchItems(IEnumerable<(string LocalId, CacheKey Key)> items)
    {
        lock (_lock)
        {
            Run(() =>
            {
                ThrowIfDisposed();
                using var tx = _connection.BeginTransaction(deferred: false);
                var jobIds = new Dictionary<string, long>(StringComparer.Ordinal);
                var rows = new List<(long JobId, CacheKey Key)>();
                using (var find = _connection.CreateCommand())
                {
                    find.Transaction = tx;
                    find.CommandText = "SELECT id FROM batch_jobs WHERE local_id = $l";
                    var l = find.Parameters.Add("$l", SqliteType.Text);
                    foreach (var (localId, key) in items)
                    {
                        if (!jobIds.TryGetValue(localId, out long jobId))
                        {
                            l.Value = localId;
                            jobId = find.ExecuteScalar() is long id ? id : -1;
                            jobIds[localId] = jobId;
                        }

                        if (jobId >= 0)
                        {
                            rows.Add((jobId, key));
                        }
                    }
                }

                // In (job, key) order the deletes walk the b-tree from one end to the other.
                rows.Sort(static (a, b) => a.JobId != b.JobId ? a.JobId.CompareTo(b.JobId) : a.Key.CompareTo(b.Key));
                var db = _connection.Handle!;
                using var delete = Prepare(db, "DELETE FROM batch_items WHERE job_id = ?1 AND key = ?2");
                Span<byte> keyBytes = stackalloc byte[16];
                foreach (var (jobId, key) in rows)
                {
                    key.WriteBytes(keyBytes);
                    raw.sqlite3_bind_int64(delete, 1, jobId);
                    raw.sqlite3_bind_blob(delete, 2, keyBytes);
                    StepDone(db, delete);
                }

                tx.Commit();
            });
        }
    }

    /// <summary>
    /// The journal's unfinished batches of one backend and model, each with the items (of those asked about) it covers.
    /// First drops items whose answers are already cached, and returns batches left with no items at all in
    /// <paramref name="emptied"/> (their provider files can be cleaned up).
    /// </summary>
    /// <param name="backend">The batch backend's name.</param>
    /// <param name="modelIdentity">The model's identity.</param>
    /// <param name="covers">Whether a key is one of this run's (only those items are returned).</param>
    /// <param name="emptied">Receives the batches left with no items.</param>
    internal List<BatchJournalEntry> FindBatchJobs(string backend, string modelIdentity, Func<CacheKey, bool> covers, List<BatchJournalEntry> emptied)
    {
        lock (_lock)
        {
            return Run(() =>
            {
                ThrowIfDisposed();
                var jobs = new List<BatchJournalEntry>();
                var jobIds = new List<long>();
                using var tx = _connection.BeginTransaction(deferred: false);
                using (var prune = _connection.CreateCommand())
                {
                    prune.Transaction = tx;
                    prune.CommandText = """
                        DELETE FROM batch_items WHERE job_id IN (SELECT j.id FROM batch_jobs j JOIN models m ON m.id = j.model_id WHERE j.backend = $b AND m.identity = $m)
                          AND (SELECT count(*) FROM responses r WHERE r.key = batch_items.key) >= batch_items.sample_count
                        """;
                    prune.Parameters.AddWithValue("$b", backend);
                    prune.Parameters.AddWithValue("$m", modelIdentity);
                    prune.ExecuteNonQuery();
                }

                using (var list = _connection.CreateCommand())
                {
                    list.Transaction = tx;
                    list.CommandText = """
                        SELECT j.local_id, j.provider_id, j.attempt, j.estimated_tokens,
                               (SELECT count(*) FROM batch_items i WHERE i.job_id = j.id), j.request_count, j.created, j.id
                        FROM batch_jobs j JOIN models m ON m.id = j.model_id WHERE j.backend = $b AND m.identity = $m
                        """;
                    list.Parameters.AddWithValue("$b", backend);
                    list.Parameters.AddWithValue("$m", modelIdentity);
                    using var r = list.ExecuteReader();
                    while (r.Read())
                    {
                        var entry = new BatchJournalEntry(
                            r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.GetInt32(2), r.GetInt64(3), r.GetInt32(5), DateTimeOffset.FromUnixTimeSeconds(r.GetInt64(6)));
                        if (r.GetInt64(4) == 0)
                        {
                            emptied.Add(entry);
                        }
                        else
                        {
                            jobs.Add(entry);
                            jobIds.Add(r.GetInt64(7));
                        }
                    }
                }

                if (jobs.Count > 0)
                {
                    var db = _connection.Handle!;
                    using var select = Prepare(db, "SELECT key, sample_count FROM batch_items WHERE job_id = ?1");
                    for (int i = 0; i < jobs.Count; i++)
                    {
                        raw.sqlite3_bind_int64(select, 1, jobIds[i]);
                        try
                        {
                            while (Step(db, select))
                            {
                                var key = CacheKey.FromBytes(raw.sqlite3_column_blob(select, 0));
                                if (covers(key))
                                {
                                    jobs[i].Items.Add((key, raw.sqlite3_column_int(select, 1)));
                                }
                            }
                        }
                        finally
                        {
                            raw.sqlite3_reset(select);
                        }
                    }
                }

                tx.Commit();
                return jobs;
            });
        }
    }

    /// <summary>Runs a bound statement that returns no rows, then resets it for the next bindings.</summary>
    private static void StepDone(sqlite3 db, sqlite3_stmt stmt)
    {
        try
        {
            Step(db, stmt);
        }
        finally
        {
            raw.sqlite3_reset(stmt);
        }
    }

    /// <summary>How many batches the journal lists as not yet collected (all backends and models).</summary>
    public int PendingBatchCount()
    {
        lock (_lock)
        {
            return Run(() =>
            {
                ThrowIfDisposed();
                using var cmd = _connection.CreateCommand();
                cmd.CommandText = "SELECT count(*) FROM batch_jobs";
                return Convert.ToInt32(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            });
        }
    }
}

/// <summary>One unfinished batch in the journal.</summary>
internal sealed record BatchJournalEntry(string LocalId, string? ProviderId, int Attempt, long EstimatedTokens, int RequestCount, DateTimeOffset RecordedAt)
{
    public List<(CacheKey Key, int SampleCount)> Items { get; } = [];
}
