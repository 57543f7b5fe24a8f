using Microsoft.Data.Sqlite;

namespace LmWrapper.Caching;

/// <summary>Read-only views of the cache for tools (the <c>lmwrapper</c> command): the batch journal and per-model clearing.</summary>
public sealed partial class LmCache
{
    /// <summary>
    /// The provider batches the journal lists as not yet collected (all backends and models), oldest first. A batch
    /// leaves the journal once its results are cached.
    /// </summary>
    /// <exception cref="LmCacheException">The cache file cannot be read.</exception>
    public IReadOnlyList<LmBatchJournalRecord> ListBatchJobs()
    {
        lock (_lock)
        {
            return Run(() =>
            {
                ThrowIfDisposed();
                var jobs = new List<LmBatchJournalRecord>();
                using var cmd = _connection.CreateCommand();
                cmd.CommandText = """
                    SELECT j.local_id, j.backend, m.identity, j.provider_id, j.attempt, j.request_count,
                           (SELECT count(*) FROM batch_items i WHERE i.job_id = j.id
                             AND (SELECT count(*) FROM responses r WHERE r.key = i.key) < i.sample_count), j.created
                    FROM batch_jobs j JOIN models m ON m.id = j.model_id ORDER BY j.created, j.id
                    """;
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    jobs.Add(new LmBatchJournalRecord(
                        r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetInt32(4),
                        r.GetInt32(5), r.GetInt32(6), DateTimeOffset.FromUnixTimeSeconds(r.GetInt64(7))));
                }

                return (IReadOnlyList<LmBatchJournalRecord>)jobs;
            });
        }
    }

    /// <summary>The cache keys of the prompts a journaled batch still covers (those whose answers are not yet cached).</summary>
    /// <param name="localId">The batch's <see cref="LmBatchJournalRecord.LocalId"/>.</param>
    /// <exception cref="LmCacheException">The cache file cannot be read.</exception>
    public IReadOnlyList<CacheKey> ListBatchJobKeys(string localId)
    {
        ArgumentException.ThrowIfNullOrEmpty(localId);
        lock (_lock)
        {
            return Run(() =>
            {
                ThrowIfDisposed();
                var keys = new List<CacheKey>();
                using var cmd = _connection.CreateCommand();
                cmd.CommandText = """
                    SELECT i.key FROM batch_items i JOIN batch_jobs j ON j.id = i.job_id
                    WHERE j.local_id = $l AND (SELECT count(*) FROM responses r WHERE r.key = i.key) < i.sample_count
                    """;
                cmd.Parameters.AddWithValue("$l", localId);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    keys.Add(CacheKey.FromBytes((byte[])r.GetValue(0)));
                }

                return (IReadOnlyList<CacheKey>)keys;
            });
        }
    }

    /// <summary>Removes every entry of one model (by <see cref="LanguageModel.ModelIdentity"/>). Returns how many were removed.</summary>
    /// <param name="modelIdentity">The model's identity, for example "openai/gpt-4o-mini".</param>
    public int Clear(string modelIdentity)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelIdentity);
        return Execute("DELETE FROM responses WHERE model_id IN (SELECT id FROM models WHERE identity = $m)", ("$m", modelIdentity));
    }

    /// <summary>How many entries each model has in the cache, by <see cref="LanguageModel.ModelIdentity"/>.</summary>
    /// <exception cref="LmCacheException">The cache file cannot be read.</exception>
    public IReadOnlyDictionary<string, long> CountEntriesByModel()
    {
        lock (_lock)
        {
            return Run(() =>
            {
                ThrowIfDisposed();
                var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
                using SqliteCommand cmd = _connection.CreateCommand();
                cmd.CommandText = "SELECT m.identity, count(*) FROM responses r JOIN models m ON m.id = r.model_id GROUP BY m.identity";
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    counts[r.GetString(0)] = r.GetInt64(1);
                }

                return (IReadOnlyDictionary<string, long>)counts;
            });
        }
    }
}
