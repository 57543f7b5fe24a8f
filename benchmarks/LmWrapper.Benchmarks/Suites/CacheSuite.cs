using System.Diagnostics;
using System.Globalization;
using LmWrapper.Caching;
using Microsoft.Data.Sqlite;

namespace LmWrapper.Benchmarks.Suites;

/// <summary>
/// The response cache with 1,000,000 entries: single-prompt hit latency, PredictMany over 100,000 cached prompts,
/// inserts, and file size; and, in the same run, the same lookups and inserts done with raw Microsoft.Data.Sqlite
/// prepared statements as the baseline.
/// </summary>
public sealed class CacheSuite : IBenchmarkSuite
{
    public string Name => "cache";

    public string Description => "response cache: hit latency, cached PredictMany, inserts, file size (vs raw SQLite)";

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        int entries = IntOption(args, "--entries", 1_000_000);
        int manyCount = Math.Min(entries, IntOption(args, "--many", 100_000));
        int singleCount = Math.Min(entries, IntOption(args, "--single", 20_000));
        var results = new Dictionary<string, double>();
        string dir = Path.Combine(Path.GetTempPath(), "lmwrapper-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var prompts = new LmPrompt[entries];
            for (int i = 0; i < entries; i++)
            {
                prompts[i] = new LmPrompt($"Question {i}: what is {i} plus {i + 1}? Answer with a number.") { MaxTokens = 16, Temperature = 0 };
            }

            // 1. Fill the cache through the same code path a model's answers take, and time the inserts.
            string file = Path.Combine(dir, "cache.sqlite3");
            using var cache = LmCache.Open(file);
            var lm = new BenchLm(new LanguageModelOptions { CacheByDefault = true, Cache = cache });
            long payloadBytes = 0;
            var sw = Stopwatch.StartNew();
            const int Chunk = 10_000;
            var batch = new List<(CacheKey, int, byte[])>(Chunk);
            for (int start = 0; start < entries; start += Chunk)
            {
                batch.Clear();
                for (int i = start; i < Math.Min(entries, start + Chunk); i++)
                {
                    var payload = Serialization.PredictionJson.SerializePayload(BenchLm.Answer(prompts[i], i));
                    payloadBytes += payload.Length;
                    batch.Add((CacheKey.Compute(lm.ModelIdentity, prompts[i]), 0, payload));
                }

                cache.Store(lm.ModelIdentity, batch);
            }

            sw.Stop();
            results["entries"] = entries;
            results["insert_per_s"] = entries / sw.Elapsed.TotalSeconds;
            Console.WriteLine($"inserted {entries:N0} entries in {sw.Elapsed.TotalSeconds:F1} s");

            cache.Compact();
            long fileBytes = new FileInfo(file).Length + (File.Exists(file + "-wal") ? new FileInfo(file + "-wal").Length : 0);
            results["payload_mb"] = payloadBytes / 1e6;
            results["file_mb"] = fileBytes / 1e6;
            results["file_bytes_per_payload_byte_ratio"] = fileBytes / (double)payloadBytes;

            // 2. Raw SQLite insert baseline: the same rows, prepared INSERTs, same transaction size.
            results["raw_sqlite_insert_per_s"] = RawInsert(Path.Combine(dir, "raw.sqlite3"), prompts, lm.ModelIdentity);

            var rng = new Random(42);
            var manyPrompts = Enumerable.Range(0, manyCount).Select(_ => prompts[rng.Next(entries)]).ToArray();

            if (args.Contains("--profile"))
            {
                for (int round = 0; round < 3; round++)
                {
                    var t = Stopwatch.StartNew();
                    var ks = manyPrompts.Select(p => CacheKey.Compute(lm.ModelIdentity, p)).ToArray();
                    double keyUs = t.Elapsed.TotalMicroseconds / manyCount;
                    t.Restart();
                    var rows = cache.FindSamplesMany(ks.Select(k => (k, 1)).ToArray()).Select(f => (f.Row, ks[f.Index], f.Sample)).ToArray();
                    var got = new byte[]?[rows.Length];
                    cache.ReadPayloads(rows, got);
                    double lookUs = t.Elapsed.TotalMicroseconds / manyCount;
                    t.Restart();
                    foreach (var pl in got)
                    {
                        Serialization.PredictionJson.DeserializePayload(pl!, manyPrompts[0], true);
                    }

                    double deserUs = t.Elapsed.TotalMicroseconds / manyCount;
                    Console.WriteLine($"key {keyUs:F2} us, lookup {lookUs:F2} us, deserialize {deserUs:F2} us");
                }
            }

            // 3. PredictMany over cached prompts, against raw lookups of the same keys (best of 5 each, interleaved).
            double bestMany = 0;
            double bestRaw = 0;
            var keys = manyPrompts.Select(p => CacheKey.Compute(lm.ModelIdentity, p).ToBytes()).ToArray();
            for (int round = 0; round < 5; round++)
            {
                // Start each timed round from a collected heap, so a full collection of the million prompts built above
                // does not land inside it by chance.
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
                sw.Restart();
                int n = 0;
                foreach (var p in lm.PredictMany(manyPrompts))
                {
                    n += p.WasCached ? 1 : 0;
                }

                sw.Stop();
                if (n != manyCount || lm.Calls != 0)
                {
                    throw new InvalidOperationException($"expected {manyCount} hits, got {n} (and {lm.Calls} model calls)");
                }

                bestMany = Math.Max(bestMany, manyCount / sw.Elapsed.TotalSeconds);
                bestRaw = Math.Max(bestRaw, RawLookups(file, keys));
            }

            results["predict_many_cached_prompts_per_s"] = bestMany;
            results["raw_sqlite_lookups_per_s"] = bestRaw;
            results["predict_many_vs_raw_sqlite_ratio"] = bestMany / bestRaw;

            // 4. Single-prompt hit latency through Predict.
            var single = Enumerable.Range(0, singleCount).Select(_ => prompts[rng.Next(entries)]).ToArray();
            for (int i = 0; i < Math.Min(2000, singleCount); i++)
            {
                lm.Predict(single[i]);
            }

            var micros = new double[singleCount];
            for (int i = 0; i < singleCount; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                var p = lm.Predict(single[i]);
                micros[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                if (!p.WasCached)
                {
                    throw new InvalidOperationException("a single lookup missed");
                }
            }

            Array.Sort(micros);
            results["single_hit_p50_us"] = micros[micros.Length / 2];
            results["single_hit_p99_us"] = micros[(int)(micros.Length * 0.99)];
            results["peak_working_set_mb"] = Process.GetCurrentProcess().PeakWorkingSet64 / 1e6;
            await Task.CompletedTask;
            return results;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static double RawInsert(string file, LmPrompt[] prompts, string model)
    {
        using var conn = new SqliteConnection($"Data Source={file};Pooling=False");
        conn.Open();
        using (var setup = conn.CreateCommand())
        {
            setup.CommandText = """
                PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                CREATE TABLE responses(id INTEGER PRIMARY KEY, key BLOB NOT NULL, sample INTEGER NOT NULL, model_id INTEGER NOT NULL, created INTEGER NOT NULL, payload BLOB NOT NULL);
                CREATE UNIQUE INDEX responses_key_sample ON responses(key, sample);
                """;
            setup.ExecuteNonQuery();
        }

        // Payloads and keys are prepared outside the timed part: the baseline times SQLite alone.
        var rows = new (byte[] Key, byte[] Payload)[prompts.Length];
        for (int i = 0; i < prompts.Length; i++)
        {
            rows[i] = (CacheKey.Compute(model, prompts[i]).ToBytes(), Serialization.PredictionJson.SerializePayload(BenchLm.Answer(prompts[i], i)));
        }

        using var insert = conn.CreateCommand();
        insert.CommandText = "INSERT INTO responses(key, sample, model_id, created, payload) VALUES ($k, 0, 1, $c, $p)";
        var k = insert.Parameters.Add("$k", SqliteType.Blob);
        var c = insert.Parameters.Add("$c", SqliteType.Integer);
        var p = insert.Parameters.Add("$p", SqliteType.Blob);
        insert.Prepare();
        var sw = Stopwatch.StartNew();
        for (int start = 0; start < rows.Length; start += 10_000)
        {
            using var tx = conn.BeginTransaction();
            insert.Transaction = tx;
            for (int i = start; i < Math.Min(rows.Length, start + 10_000); i++)
            {
                k.Value = rows[i].Key;
                c.Value = 1_700_000_000L;
                p.Value = rows[i].Payload;
                insert.ExecuteNonQuery();
            }

            tx.Commit();
        }

        return rows.Length / sw.Elapsed.TotalSeconds;
    }

    private static double RawLookups(string file, byte[][] keys)
    {
        using var conn = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        conn.Open();
        using var select = conn.CreateCommand();
        select.CommandText = "SELECT payload FROM responses WHERE key = $k AND sample < 1";
        var k = select.Parameters.Add("$k", SqliteType.Blob);
        select.Prepare();
        var sw = Stopwatch.StartNew();
        using var tx = conn.BeginTransaction(deferred: true);
        select.Transaction = tx;
        long bytes = 0;
        foreach (var key in keys)
        {
            k.Value = key;
            using var r = select.ExecuteReader();
            if (!r.Read())
            {
                throw new InvalidOperationException("raw lookup missed");
            }

            bytes += r.GetFieldValue<byte[]>(0).Length;
        }

        tx.Commit();
        sw.Stop();
        return bytes > 0 ? keys.Length / sw.Elapsed.TotalSeconds : 0;
    }

    private static int IntOption(IReadOnlyList<string> args, string name, int fallback)
    {
        for (int i = 0; i + 1 < args.Count; i++)
        {
            if (args[i] == name)
            {
                return int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
        }

        return fallback;
    }

    /// <summary>A model whose answers look like a real short completion with tokens and logprobs.</summary>
    private sealed class BenchLm(LanguageModelOptions options) : LanguageModel(options)
    {
        public int Calls;

        public override string ModelIdentity => "bench/cache";

        public override int TokenLimit => 4096;

        public override bool IsChatModel => false;

        public override int EstimateTokensInPrompt(LmPrompt prompt) => prompt.GetTextAsStringDefaultForm().Length / 4;

        public static LmPrediction Answer(LmPrompt prompt, int i)
        {
            string number = (2 * i + 1).ToString(CultureInfo.InvariantCulture);
            return new LmPrediction
            {
                CompletionText = $" The answer is {number}.",
                Prompt = prompt,
                FinishReason = "stop",
                CompletionTokens = [" The", " answer", " is", " " + number, "."],
                CompletionTokenOffsets = [0, 4, 11, 14, 15 + number.Length],
                CompletionLogprobs = [-0.0123, -0.2345, -0.0011, -1.2345 - (i % 7) * 0.01, -0.0456],
                Usage = new LmUsage(18, 5),
            };
        }

        protected override Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(LmPrompt prompt, int numCompletions, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            return Task.FromResult<IReadOnlyList<LmPrediction>>([Answer(prompt, 0)]);
        }
    }
}
