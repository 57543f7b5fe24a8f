using Microsoft.Data.Sqlite;

namespace LmWrapper.Caching;

/// <summary>The batch journal: which provider batches were created for which cache keys, so a rerun resumes them.</summary>
public sealed partial class LmCache
{
    /// <summary>Records a batch about to be submitted, with the keys it covers. Written before the upload starts.</summary>
    internal void AddBatchJob(string localId, string backend, string modelIdentity, int attempt, long estimatedTokens, int requestCount, IEnumerable<(CacheKey Key, int SampleCount)> items)
    {
        lock (_lock)
        {
            Run(() =>
            {
                ThrowIfDisposed();
                using var tx = _connection.BeginTransaction(deferred: false);
                long modelId = ModelId(modelIdentity, tx);
                using (var job = _connection.CreateCommand())
                {
                    job.Transaction = tx;
                    job.CommandText = """
                        INSERT INTO batch_jobs(local_id, backend, model_id, provider_id, attempt, estimated_tokens, request_count, created)
                        VALUES ($l, $b, $m, NULL, $a, $t, $r, $c)
                        ON CONFLICT(local_id) DO UPDATE SET attempt = excluded.attempt, estimated_tokens = excluded.estimated_tokens, request_count = excluded.request_count
                        """;
                    job.Parameters.AddWithValue("$l", localId);
                    job.Parameters.AddWithValue("$b", backend);
                    job.Parameters.AddWithValue("$m", modelId);
                    job.Parameters.AddWithValue("$a", attempt);
                    job.Parameters.AddWithValue("$t", estimatedTokens);
                    job.Parameters.AddWithValue("$r", requestCount);
                    job.Parameters.AddWithValue("$c", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
                    job.ExecuteNonQuery();
                }

                using var item = _connection.CreateCommand();
                item.Transaction = tx;
                item.CommandText = "INSERT OR REPLACE INTO batch_items(key, local_id, sample_count) VALUES ($k, $l, $n)";
                var k = item.Parameters.Add("$k", SqliteType.Blob);
                item.Parameters.AddWithValue("$l", localId);
                var n = item.Parameters.Add("$n", SqliteType.Integer);
                item.Prepare();
                foreach (var (key, count) in items)
                {
                    k.Value = key.ToBytes();
                    n.Value = count;
                    item.ExecuteNonQuery();
                }

                tx.Commit();
            });
        }
    }

    /// <summary>Records the provider's id of a submitted batch.</summary>
    internal void SetBatchProviderId(string localId, string providerId) =>
        Execute("UPDATE batch_jobs SET provider_id = $p WHERE local_id = $l", ("$p", providerId), ("$l", localId));

    /// <summary>Forgets a batch and its items.</summary>
    internal void DeleteBatchJob(string localId) =>
        Execute("DELETE FROM batch_items WHERE local_id = $l; DELETE FROM batch_jobs WHERE local_id = $l;", ("$l", localId));

    /// <summary>Forgets answered items (their results are in the cache), in one transaction.</summary>
    internal void RemoveBatchItems(IEnumerable<(string LocalId, CacheKey Key)> items)
    {
        lock (_lock)
        {
            Run(() =>
            {
                ThrowIfDisposed();
                using var tx = _connection.BeginTransaction(deferred: false);
                using var cmd = _connection.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = "DELETE FROM batch_items WHERE key = $k AND local_id = $l";
                var k = cmd.Parameters.Add("$k", SqliteType.Blob);
                var l = cmd.Parameters.Add("$l", SqliteType.Text);
                cmd.Prepare();
                foreach (var (localId, key) in items)
                {
                    k.Value = key.ToBytes();
                    l.Value = localId;
                    cmd.ExecuteNonQuery();
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
    internal List<BatchJournalEntry> FindBatchJobs(string backend, string modelIdentity, Func<CacheKey, bool> covers, List<BatchJournalEntry> emptied)
    {
        lock (_lock)
        {
            return Run(() =>
            {
                ThrowIfDisposed();
                var jobs = new List<BatchJournalEntry>();
                using var tx = _connection.BeginTransaction(deferred: false);
                using (var prune = _connection.CreateCommand())
                {
                    prune.Transaction = tx;
                    prune.CommandText = """
                        DELETE FROM batch_items WHERE local_id IN (SELECT j.local_id FROM batch_jobs j JOIN models m ON m.id = j.model_id WHERE j.backend = $b AND m.identity = $m)
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
                               (SELECT count(*) FROM batch_items i WHERE i.local_id = j.local_id), j.request_count, j.created
                        FROM batch_jobs j JOIN models m ON m.id = j.model_id WHERE j.backend = $b AND m.identity = $m
                        """;
                    list.Parameters.AddWithValue("$b", backend);
                    list.Parameters.AddWithValue("$m", modelIdentity);
                    using var r = list.ExecuteReader();
                    while (r.Read())
                    {
                        var entry = new BatchJournalEntry(
                            r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.GetInt32(2), r.GetInt64(3), r.GetInt32(5), DateTimeOffset.FromUnixTimeSeconds(r.GetInt64(6)));
                        (r.GetInt64(4) == 0 ? emptied : jobs).Add(entry);
                    }
                }

                if (jobs.Count > 0)
                {
                    using var items = _connection.CreateCommand();
                    items.Transaction = tx;
                    items.CommandText = "SELECT key, sample_count FROM batch_items WHERE local_id = $l";
                    var l = items.Parameters.Add("$l", SqliteType.Text);
                    foreach (var job in jobs)
                    {
                        l.Value = job.LocalId;
                        using var r = items.ExecuteReader();
                        while (r.Read())
                        {
                            var key = CacheKey.FromBytes(r.GetFieldValue<byte[]>(0));
                            if (covers(key))
                            {
                                job.Items.Add((key, r.GetInt32(1)));
                            }
                        }
                    }
                }

                tx.Commit();
                return jobs;
            });
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
