using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LmWrapper.Batching;
using LmWrapper.Caching;
using LmWrapper.OpenAI;
using LmWrapper.RateLimiting;
using LmWrapper.Testing;

namespace LmWrapper.Benchmarks.Suites;

/// <summary>
/// Batching at scale against the fake OpenAI server on loopback. (1) PredictMany(BatchAny) of 1,000,000 short prompts:
/// validation, cache lookup, journal, request files, upload and create of every batch, timed until the provider has
/// accepted them all; peak working set of this process, the client (the fake runs in a child process, its files kept on
/// disk); bytes of
/// request files written; baseline: a plain loop writing the same JSONL lines to files. (2) ASAP mode with a
/// requests-per-window limit: utilization of the limit and requests over it, both from the fake's arrival timestamps.
/// Options: --prompts N (default 1,000,000), --rpm N (requests per window, default 200), --window-s S (default 2),
/// --asap-windows N (default 5), --collect N (default 0: off; a whole batch run of N prompts, collected and stored).
/// </summary>
public sealed class BatchingSuite : IBenchmarkSuite
{
    public string Name => "batching";

    public string Description => "PredictMany(BatchAny) of 1M prompts to the fake's Batch API in another process (time, client peak memory, bytes) and ASAP pacing at an RPM limit";

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        int prompts = Option(args, "--prompts", 1_000_000);
        int rpm = Option(args, "--rpm", 200);
        double windowSeconds = Option(args, "--window-s", 2);
        int windows = Option(args, "--asap-windows", 5);
        var results = new Dictionary<string, double>();

        int collect = Option(args, "--collect", 0);

        // The big run first: the process's peak working set is the peak of its life so far.
        await PrepareAndSubmitAsync(prompts, results, cancellationToken);
        await AsapAsync(rpm, TimeSpan.FromSeconds(windowSeconds), windows, results, cancellationToken);
        if (collect > 0)
        {
            await CollectAsync(collect, results, cancellationToken);
        }

        return results;
    }

    /// <summary>
    /// A whole batch run of <paramref name="count"/> prompts: submitted, polled, collected, stored in the cache and
    /// yielded, then the same prompts again (all from the cache). Memory is the largest resident set sampled during the
    /// run (the process's lifetime peak belongs to the run before).
    /// </summary>
    private static async Task CollectAsync(int count, Dictionary<string, double> results, CancellationToken cancellationToken)
    {
        string root = Path.Combine(Path.GetTempPath(), "lmwrapper-bench-collect-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            await using var server = await FakeServerProcess.StartAsync(Path.Combine(root, "server"), cancellationToken);
            using var cache = LmCache.Open(Path.Combine(root, "cache.sqlite"));
            var options = new OpenAiOptions
            {
                BaseUrl = new Uri(server.BaseUrl),
                ModelOptions = new LanguageModelOptions
                {
                    Cache = cache,
                    CacheByDefault = true,
                    Batch = new BatchOptions
                    {
                        PollInterval = TimeSpan.FromMilliseconds(50),
                        MaxPollInterval = TimeSpan.FromMilliseconds(200),
                        WorkingDirectory = Path.Combine(root, "work"),
                        Limits = new BatchLimits(50_000, 200_000_000, null),
                    },
                },
            };
            using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: options);
            GC.Collect();
            using var sampler = new MemorySampler();
            var clock = Stopwatch.StartNew();
            int answered = 0;
            await foreach (var p in lm.PredictManyAsync(Enumerable.Range(0, count).Select(Prompt), CompletionWindow.BatchAny, cancellationToken))
            {
                if (p.HasErrors || p.WasCached || p.CompletionText.Length == 0)
                {
                    throw new InvalidOperationException($"Prompt {answered}: unexpected answer ({p.ErrorMessage ?? "cached or empty"}).");
                }

                answered++;
            }

            var first = clock.Elapsed;
            clock.Restart();
            int cached = 0;
            await foreach (var p in lm.PredictManyAsync(Enumerable.Range(0, count).Select(Prompt), CompletionWindow.BatchAny, cancellationToken))
            {
                cached += p.WasCached ? 1 : 0;
            }

            var again = clock.Elapsed;
            sampler.Dispose();
            if (answered != count || cached != count || cache.PendingBatchCount() != 0)
            {
                throw new InvalidOperationException($"Answered {answered}, then {cached} from the cache, of {count}; {cache.PendingBatchCount()} batches left in the journal.");
            }

            Console.WriteLine($"collect: {count:N0} prompts through the Batch API in {first.TotalSeconds:F2} s, again from the cache in {again.TotalSeconds:F2} s; largest resident set {sampler.MaxTotal / 1e6:F0} MB (anon {sampler.MaxAnon / 1e6:F0} MB)");
            string suffix = count == 1_000_000 ? "1m" : count.ToString(CultureInfo.InvariantCulture);
            results[$"collect_{suffix}_s"] = first.TotalSeconds;
            results[$"collect_{suffix}_rerun_cached_s"] = again.TotalSeconds;
            results[$"collect_{suffix}_max_rss_mb"] = sampler.MaxTotal / (1024.0 * 1024.0);
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static LmPrompt Prompt(int i) => new($"Is item {i} a fruit? Answer yes or no.") { MaxTokens = 5, Temperature = 0 };

    private static async Task PrepareAndSubmitAsync(int count, Dictionary<string, double> results, CancellationToken cancellationToken)
    {
        string root = Path.Combine(Path.GetTempPath(), "lmwrapper-bench-batching-" + Guid.NewGuid().ToString("N"));
        string serverFiles = Path.Combine(root, "server");
        string work = Path.Combine(root, "work");
        Directory.CreateDirectory(work);
        try
        {
            // The fake runs in a process of its own, as OpenAI's servers would, so that the peak working set measured
            // here is the client's alone. It keeps uploads on disk; each stage of a batch lasts one look: the validation
            // watch sees it start, and the orchestration's first poll (an hour away) never comes before every batch is
            // submitted.
            await using var server = await FakeServerProcess.StartAsync(serverFiles, cancellationToken);
            using var cache = LmCache.Open(Path.Combine(root, "cache.sqlite"));
            var submittedAt = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
            var clock = new Stopwatch();
            var progress = new Progress(count, clock, submittedAt);
            var options = new OpenAiOptions
            {
                BaseUrl = new Uri(server.BaseUrl),
                ModelOptions = new LanguageModelOptions
                {
                    Cache = cache,
                    CacheByDefault = true,
                    Logger = Environment.GetEnvironmentVariable("LMW_BENCH_LOG") is null ? null : new StampLogger(clock),
                    Batch = new BatchOptions
                    {
                        PollInterval = TimeSpan.FromHours(1),
                        WorkingDirectory = work,
                        Progress = progress,
                        Limits = new BatchLimits(50_000, 200_000_000, null), // a usage tier whose token queue holds them all
                    },
                },
            };
            using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: options);

            // Baseline: a plain loop writing the same request lines (the single-call bodies) into 50,000-line files.
            var baseline = Stopwatch.StartNew();
            long baselineBytes = PlainLoop(lm, count, work);
            baseline.Stop();
            foreach (var f in Directory.GetFiles(work))
            {
                File.Delete(f);
            }

            GC.Collect();
            long before = Environment.WorkingSet;
            Console.WriteLine($"memory before the run: {MemorySampler.Describe()}; GC heap {GC.GetGCMemoryInfo().HeapSizeBytes / 1e6:F0} MB");
            using var sampler = new MemorySampler();
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            clock.Start();
            var run = Task.Run(
                async () =>
                {
                    await foreach (var _ in lm.PredictManyAsync(Enumerable.Range(0, count).Select(Prompt), CompletionWindow.BatchAny, cts.Token))
                    {
                    }
                },
                CancellationToken.None);
            var done = await Task.WhenAny(submittedAt.Task, run);
            if (done == run)
            {
                await run; // throws what the run threw
                throw new InvalidOperationException("The run ended before every batch was submitted.");
            }

            TimeSpan elapsed = await submittedAt.Task;
            long peak = Process.GetCurrentProcess().PeakWorkingSet64;
            var gcInfo = GC.GetGCMemoryInfo();
            sampler.Dispose();
            Console.WriteLine($"memory at the end of submission: {MemorySampler.Describe()}; GC heap {gcInfo.HeapSizeBytes / 1e6:F0} MB, committed {gcInfo.TotalCommittedBytes / 1e6:F0} MB, fragmented {gcInfo.FragmentedBytes / 1e6:F0} MB; sampled max anon {sampler.MaxAnon / 1e6:F0} MB, max file {sampler.MaxFile / 1e6:F0} MB");
            long live = GC.GetTotalMemory(forceFullCollection: true); // what the run (and the caller's prompts) still hold
            await cts.CancelAsync();
            try
            {
                await run;
            }
            catch (OperationCanceledException)
            {
            }

            var batches = await server.ListBatchesAsync(cancellationToken);
            long bytes = Directory.GetFiles(serverFiles).Sum(f => new FileInfo(f).Length);
            Console.WriteLine($"prepare+submit: {count:N0} prompts in {elapsed.TotalSeconds:F2} s, {batches.Count} batches, {bytes / 1e6:F1} MB of request files; baseline loop {baseline.Elapsed.TotalSeconds:F2} s ({baselineBytes / 1e6:F1} MB); working set before {before / 1e6:F0} MB, peak {peak / 1e6:F0} MB; live managed heap at that point {live / 1e6:F0} MB");
            if (batches.Count != (count + 49_999) / 50_000 || batches.Any(b => b is "failed"))
            {
                throw new InvalidOperationException($"Expected {(count + 49_999) / 50_000} accepted batches, got {batches.Count} ({string.Join(", ", batches)}).");
            }

            string suffix = count == 1_000_000 ? "1m" : count.ToString(CultureInfo.InvariantCulture);
            results[$"prepare_submit_{suffix}_s"] = elapsed.TotalSeconds;
            results[$"prepare_submit_{suffix}_peak_mb"] = peak / (1024.0 * 1024.0);
            results[$"prepare_submit_{suffix}_live_heap_mb"] = live / (1024.0 * 1024.0);
            results[$"prepare_submit_{suffix}_bytes_written_mb"] = bytes / (1024.0 * 1024.0);
            results[$"prepare_submit_{suffix}_prompts_per_s"] = count / elapsed.TotalSeconds;
            results[$"baseline_plain_write_{suffix}_s"] = baseline.Elapsed.TotalSeconds;
            results["prepare_submit_vs_plain_write_ratio"] = elapsed.TotalSeconds / baseline.Elapsed.TotalSeconds;
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>The same request lines written by a plain loop, no cache, journal or HTTP: the floor.</summary>
    private static long PlainLoop(OpenAiLm lm, int count, string dir)
    {
        var line = new ArrayBufferWriter<byte>(512);
        long total = 0;
        FileStream? file = null;
        try
        {
            for (int i = 0; i < count; i++)
            {
                if (i % 50_000 == 0)
                {
                    file?.Dispose();
                    file = new FileStream(Path.Combine(dir, $"plain_{i}.jsonl"), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
                }

                line.ResetWrittenCount();
                var prompt = Prompt(i);
                lm.Batches.WriteRequestLine(line, CacheKey.Compute(lm.ModelIdentity, prompt).ToString(), prompt, 1);
                line.Write("\n"u8);
                file!.Write(line.WrittenSpan);
                total += line.WrittenCount;
            }
        }
        finally
        {
            file?.Dispose();
        }

        return total;
    }

    private static async Task AsapAsync(int limit, TimeSpan window, int windows, Dictionary<string, double> results, CancellationToken cancellationToken)
    {
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { SendRateLimitHeaders = false }, cancellationToken);
        var options = new OpenAiOptions
        {
            BaseUrl = new Uri(server.BaseUrl),
            ModelOptions = new LanguageModelOptions
            {
                Cache = LmCache.OpenInMemory(),
                CacheByDefault = false,
                RateLimiter = new LmRateLimiter(limit, null, null, window),
            },
        };
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: options);
        int n = limit * windows;
        var clock = Stopwatch.StartNew();
        int answered = 0;
        await foreach (var p in lm.PredictManyAsync(Enumerable.Range(0, n).Select(i => Prompt(i)), CompletionWindow.Asap, cancellationToken))
        {
            if (p.HasErrors)
            {
                throw new InvalidOperationException(p.ErrorMessage);
            }

            answered++;
        }

        clock.Stop();
        var arrivals = server.Requests.Where(r => r.Path == "/v1/chat/completions").Select(r => r.ReceivedAt).Order().ToList();

        // Over the limit: requests that arrived when the window ending at them already held `limit` others.
        int over = 0;
        for (int j = 0, start = 0; j < arrivals.Count; j++)
        {
            while (arrivals[j] - arrivals[start] >= window)
            {
                start++;
            }

            if (j - start + 1 > limit)
            {
                over++;
            }
        }

        double span = (arrivals[^1] - arrivals[0]).TotalSeconds;
        double achieved = (arrivals.Count - 1) / span;
        double allowed = limit / window.TotalSeconds;
        Console.WriteLine($"asap: {answered} requests at a limit of {limit} per {window.TotalSeconds:0.##} s in {clock.Elapsed.TotalSeconds:F2} s; {achieved:F1}/s of {allowed:F1}/s allowed; {over} over the limit");
        results["asap_requests"] = answered;
        results["asap_rpm_limit_per_window"] = limit;
        results["asap_window_s"] = window.TotalSeconds;
        results["asap_rpm_utilization_ratio"] = achieved / allowed;
        results["asap_requests_over_limit"] = over;
        results["asap_wall_s"] = clock.Elapsed.TotalSeconds;
    }

    private static int Option(IReadOnlyList<string> args, string name, int fallback)
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

    /// <summary>Notes when every request is in a batch the provider accepted.</summary>
    private sealed class Progress(int count, Stopwatch clock, TaskCompletionSource<TimeSpan> submitted) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value)
        {
            if (value.Requests == count && value.Submitted >= count)
            {
                submitted.TrySetResult(clock.Elapsed);
            }
        }
    }

    /// <summary>Samples the process's anonymous and file-backed resident memory (Linux) every 50 ms.</summary>
    private sealed class MemorySampler : IDisposable
    {
        private readonly Timer _timer;

        public MemorySampler() => _timer = new Timer(_ => Sample(), null, 0, 50);

        public long MaxAnon { get; private set; }

        public long MaxFile { get; private set; }

        /// <summary>The largest anonymous plus file-backed resident set sampled.</summary>
        public long MaxTotal { get; private set; }

        public void Dispose() => _timer.Dispose();

        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly bool _trace = Environment.GetEnvironmentVariable("LMW_BENCH_MEM_TRACE") is not null;
        private long _lastTrace = -1;

        private void Sample()
        {
            var (anon, file) = Read();
            if (_trace && _clock.ElapsedMilliseconds / 500 != _lastTrace)
            {
                _lastTrace = _clock.ElapsedMilliseconds / 500;
                Console.WriteLine($"  [{_clock.Elapsed.TotalSeconds,6:F1} s] anon {anon / 1e6:F0} MB, file {file / 1e6:F0} MB, GC heap {GC.GetGCMemoryInfo().HeapSizeBytes / 1e6:F0} MB, gen2 GCs {GC.CollectionCount(2)}");
            }

            MaxAnon = Math.Max(MaxAnon, anon);
            MaxFile = Math.Max(MaxFile, file);
            MaxTotal = Math.Max(MaxTotal, anon + file);
        }

        private static (long Anon, long File) Read()
        {
            long anon = 0, file = 0;
            if (!File.Exists("/proc/self/status"))
            {
                return (0, 0);
            }

            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                {
                    anon = Kb(line);
                }
                else if (line.StartsWith("RssFile:", StringComparison.Ordinal))
                {
                    file = Kb(line);
                }
            }

            return (anon, file);
        }

        private static long Kb(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

        public static string Describe()
        {
            var (anon, file) = Read();
            return $"anon {anon / 1e6:F0} MB, file {file / 1e6:F0} MB";
        }
    }
}
