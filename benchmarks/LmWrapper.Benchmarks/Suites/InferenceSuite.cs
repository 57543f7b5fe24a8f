using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text;
using LmWrapper.HuggingFace;
using LmWrapper.HuggingFace.Models;
using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.Benchmarks.Suites;

/// <summary>
/// <see cref="HuggingFaceLm"/> on random-weight models of real shapes, written into a temporary folder by
/// <see cref="RandomModelWriter"/>: a GPT-2-small (124M) with the GPT-2 tokenizer and a Llama shaped like SmolLM-135M
/// (F32, plus F16 and BF16 copies of the same weights). Measures load time, a 512-token prompt pass, greedy decoding at
/// batch 1 and batch 8 (through <c>PredictMany</c>), peak memory, and the machine's memory bandwidth in the same run,
/// against which the decode speed is expressed as a fraction (weights read per second ÷ bandwidth).
/// </summary>
/// <remarks>
/// How each figure is taken (every timed figure is the median of <c>--runs</c> repetitions, after one warm-up):
/// <list type="bullet">
/// <item><c>load_ms</c>: <see cref="HuggingFaceLm.Get"/> on the folder until it returns, with the weight files in the page cache (they were just written).</item>
/// <item><c>prefill_512_tokens_per_s</c>: <c>Predict</c> with <c>MaxTokens = 1</c> on a prompt of 512 tokens (BOS included): one forward pass over the
/// 512 prompt tokens plus choosing one token from the last logits; nothing is subtracted (the prompt's encoding is cached on the prompt object beforehand).</item>
/// <item><c>decode_tokens_per_s</c>: a short prompt, <c>Predict</c> with <c>MaxTokens = N</c> and with <c>MaxTokens = 1</c>, timed alternately; N tokens take
/// N − 1 single-token forward steps after the prompt pass, so the rate is (generated − 1) ÷ (t(N) − t(1)).</item>
/// <item><c>decode_batch8_tokens_per_s</c>: the same with <c>PredictMany</c> over 8 different short prompts (one of them batch 1's):
/// (all generated − 8) ÷ (t(N) − t(1)); <c>batch8_end_to_end_tokens_per_s</c> is all generated ÷ t(N).</item>
/// <item><c>peak_working_set_mb</c>: VmHWM after the final load and all the runs of that model, reset (via /proc/self/clear_refs) just before that load,
/// so it holds one loaded model (memory-mapped weight pages included) and its inference buffers, not the writer's garbage;
/// <c>loaded_working_set_mb</c> is the resident set right after that load.</item>
/// <item><c>memory_bandwidth_gb_per_s</c>: copying a 512 MB float array into another (split over the threads, and on one thread), read + write bytes
/// counted, best of 5 of either way; <c>decode_bandwidth_ratio</c> = matrix bytes read per token × decode tokens/s ÷ that.</item>
/// </list>
/// </remarks>
public sealed class InferenceSuite : IBenchmarkSuite
{
    private static readonly string[] Words =
    [
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "he", "this",
        "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were", "their", "one", "all",
        "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "model", "language",
        "river", "mountain", "city", "music", "history", "science", "small", "large", "old", "new", "quickly", "slowly", "green",
        "house", "garden", "window", "letter", "morning", "evening", "story", "teacher", "student", "friend", "family", "world",
    ];

    public string Name => "inference";

    public string Description => "HuggingFaceLm on random GPT-2-small / SmolLM-135M-shaped models: load, prefill, decode (batch 1/8, F32/F16/BF16), memory, bandwidth";

    public Task<IReadOnlyDictionary<string, double>> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        bool quick = args.Contains("--quick");
        int runs = IntOption(args, "--runs", quick ? 1 : 3);
        int decodeTokens = IntOption(args, "--decode-tokens", quick ? 16 : 64);
        int threads = IntOption(args, "--threads", Environment.ProcessorCount);
        string which = StringOption(args, "--model", "both");
        if (which is not ("gpt2" or "llama" or "both"))
        {
            throw new ArgumentException($"--model must be gpt2, llama or both, not '{which}'.");
        }

        if (runs < 1 || decodeTokens < 2)
        {
            throw new ArgumentException("--runs must be at least 1 and --decode-tokens at least 2.");
        }

        var results = new Dictionary<string, double>();
        string repo = FindRepoRoot();
        string tokenizers = Path.Combine(repo, "tests", "fixtures", "tokenizers");
        string dir = Path.Combine(Path.GetTempPath(), "lmwrapper-inference-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        Console.WriteLine($"{(quick ? "QUICK (2-layer models); " : "")}{runs} run(s), median reported; {threads} thread(s); {decodeTokens} decoded tokens per sample; greedy, cache off");
        Console.WriteLine($"loadavg at start: {LoadAverage()}");
        var cpuAtStart = MachineCpu();
        var ownAtStart = OwnCpu();
        var wall = Stopwatch.StartNew();
        try
        {
            var bw = MeasureBandwidth(threads);
            double bandwidth = Math.Max(bw.Parallel, bw.Single);
            results["memory_bandwidth_gb_per_s"] = bandwidth / 1e9;
            results["memory_bandwidth_1thread_gb_per_s"] = bw.Single / 1e9;
            results["memory_bandwidth_all_threads_gb_per_s"] = bw.Parallel / 1e9;
            Console.WriteLine($"memory bandwidth (512 MB float copy, read+write bytes, best of 5): {bw.Parallel / 1e9:F2} GB/s split over {threads} threads, {bw.Single / 1e9:F2} GB/s on 1; the better is the ratios' denominator");
            var bench = new Bench(results, runs, decodeTokens, threads, bandwidth, cancellationToken);

            if (which is "gpt2" or "both")
            {
                var spec = new RandomModelSpec
                {
                    ModelType = "gpt2",
                    VocabSize = 50257,
                    HiddenSize = 768,
                    NumLayers = quick ? 2 : 12,
                    NumHeads = 12,
                    IntermediateSize = 3072,
                    MaxPositions = 1024,
                    TieWordEmbeddings = true,
                    BosTokenId = 50256,
                    EosTokenId = 50256,
                    TokenizerFolder = Path.Combine(tokenizers, "gpt2"),
                    Seed = 124,
                };
                string folder = Write(Path.Combine(dir, "gpt2"), spec);
                Console.WriteLine($"gpt2: vocab {spec.VocabSize}, hidden {spec.HiddenSize}, {spec.NumLayers} layers, {spec.NumHeads} heads, n_inner {spec.IntermediateSize}, F32, gpt2 tokenizer");
                results["gpt2_vocab_size"] = spec.VocabSize;
                bench.Model("gpt2", folder, full: true);
                Directory.Delete(folder, recursive: true);
            }

            if (which is "llama" or "both")
            {
                // SmolLM-135M's vocabulary is 49152, but the only Llama-family tokenizer fixture (llama2) has 32000 ids, and
                // HuggingFaceTokenizer.Decode throws on ids it does not have, which greedy decoding of random weights would pick.
                var spec = new RandomModelSpec
                {
                    ModelType = "llama",
                    VocabSize = 32000,
                    HiddenSize = 576,
                    NumLayers = quick ? 2 : 30,
                    NumHeads = 9,
                    NumKvHeads = 3,
                    IntermediateSize = 1536,
                    MaxPositions = 2048,
                    TieWordEmbeddings = true,
                    BosTokenId = 1,
                    EosTokenId = 2,
                    TokenizerFolder = Path.Combine(tokenizers, "llama2"),
                    Seed = 135,
                };
                Console.WriteLine($"llama: SmolLM-135M shape but vocab {spec.VocabSize} (llama2 tokenizer; SmolLM has 49152), hidden {spec.HiddenSize}, {spec.NumLayers} layers, {spec.NumHeads} heads / {spec.NumKvHeads} KV heads, intermediate {spec.IntermediateSize}, tied");
                results["llama_vocab_size"] = spec.VocabSize;
                string f32 = Write(Path.Combine(dir, "llama-f32"), spec);
                bench.Model("llama", f32, full: true);
                Directory.Delete(f32, recursive: true);
                foreach (var (tag, dtype) in new[] { ("f16", SafetensorsDType.F16), ("bf16", SafetensorsDType.BF16) })
                {
                    string half = Write(Path.Combine(dir, "llama-" + tag), spec with { DType = dtype });
                    bench.Model("llama", half, full: false, variant: tag);
                    Directory.Delete(half, recursive: true);
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            Console.WriteLine($"loadavg at end: {LoadAverage()}");
        }

        // How much of the machine other processes used while the suite ran (busy CPU time not this process's, over all cores):
        // figures taken on a machine that was not quiet are not comparable.
        if (cpuAtStart is { } c0 && MachineCpu() is { } c1)
        {
            double others = ((c1.Busy - c0.Busy) / c1.TicksPerSecond) - (OwnCpu() - ownAtStart);
            double ratio = Math.Max(0, others / (wall.Elapsed.TotalSeconds * Environment.ProcessorCount));
            results["other_processes_cpu_ratio"] = ratio;
            Console.WriteLine($"other processes used {ratio:P0} of the machine's CPU time during the run");
        }

        return Task.FromResult<IReadOnlyDictionary<string, double>>(results);
    }

    private static string Write(string folder, RandomModelSpec spec)
    {
        var sw = Stopwatch.StartNew();
        RandomModelWriter.Write(folder, spec);
        long bytes = Directory.GetFiles(folder, "*.safetensors").Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"  wrote {Path.GetFileName(folder)} ({spec.DType}, {bytes / 1e6:F0} MB) in {sw.Elapsed.TotalSeconds:F1} s");
        ReleaseMemory();
        return folder;
    }

    /// <summary>Runs and records the figures of one model folder.</summary>
    private sealed class Bench(Dictionary<string, double> results, int runs, int decodeTokens, int threads, double bandwidth, CancellationToken ct)
    {
        public void Model(string prefix, string folder, bool full, string? variant = null)
        {
            string p = variant is null ? prefix + "_" : $"{prefix}_{variant}_";
            var options = new HuggingFaceLmOptions
            {
                Threads = threads,
                UseChatMode = false,
                ModelOptions = new LanguageModelOptions { CacheByDefault = false },
            };

            var cpu0 = MachineCpu();
            double own0 = OwnCpu();
            var phase = Stopwatch.StartNew();

            // Loads: all but the last are thrown away (and collected) so that the peak below holds one model.
            var loads = new List<double>();
            HuggingFaceLm? lm = null;
            for (int r = 0; r < runs; r++)
            {
                if (r == runs - 1)
                {
                    ResetPeak();
                }

                var sw = Stopwatch.StartNew();
                lm = HuggingFaceLm.Get(folder, options);
                loads.Add(sw.Elapsed.TotalMilliseconds);
                if (r < runs - 1)
                {
                    lm.Dispose();
                    ReleaseMemory();
                }
            }

            using var model = lm!;
            string loadName = variant is null ? $"{prefix}_load_ms" : $"{prefix}_load_{variant}_ms";
            results[loadName] = Median(loads);
            long weightBytes = Directory.GetFiles(folder, "*.safetensors").Sum(f => new FileInfo(f).Length);
            results[p + "weights_mb"] = weightBytes / 1e6;
            results[p + "weight_bytes_per_token_mb"] = model.WeightBytesPerToken / 1e6;
            results[p + "loaded_working_set_mb"] = CurrentWorkingSetMb();
            Console.WriteLine($"{p.TrimEnd('_')}: loaded in {Median(loads):F0} ms; {weightBytes / 1e6:F0} MB of weights, {model.WeightBytesPerToken / 1e6:F0} MB of matrices read per token");

            // Warm-up: JIT of every path (prompt pass, single and batched steps).
            var warm = Prompt(0, 8, 4);
            model.Predict(warm);
            _ = model.PredictMany([warm, Prompt(1, 8, 4)]).ToList();

            if (full)
            {
                var longPrompt = PromptOfTokens(model, 512);
                int promptTokens = model.EstimateTokensInPrompt(longPrompt);
                var times = new List<double>();
                for (int r = 0; r < runs; r++)
                {
                    ct.ThrowIfCancellationRequested();
                    var sw = Stopwatch.StartNew();
                    var pred = model.Predict(longPrompt);
                    times.Add(sw.Elapsed.TotalSeconds);
                    Check(pred);
                }

                results[p + "prefill_512_tokens_per_s"] = promptTokens / Median(times);
                Console.WriteLine($"  prefill: {promptTokens} prompt tokens in {Median(times) * 1000:F0} ms (median) -> {promptTokens / Median(times):F1} tokens/s");
            }

            // Batch 1.
            var one = Prompt(0, 12, 1);
            var many = Prompt(0, 12, decodeTokens);
            var rates = new List<double>();
            string? soloText = null;
            for (int r = 0; r < runs; r++)
            {
                ct.ThrowIfCancellationRequested();
                var sw = Stopwatch.StartNew();
                Check(model.Predict(one));
                double t1 = sw.Elapsed.TotalSeconds;
                sw.Restart();
                var pred = model.Predict(many);
                double tn = sw.Elapsed.TotalSeconds;
                Check(pred);
                int generated = pred.Usage!.OutputTokens;
                soloText = pred.CompletionText;
                rates.Add((generated - 1) / (tn - t1));
                Console.WriteLine($"  batch 1: {generated} tokens in {tn * 1000:F0} ms, prompt pass + 1 token {t1 * 1000:F0} ms -> {(generated - 1) / (tn - t1):F2} decode tokens/s{(generated < decodeTokens ? $" (stopped early: {pred.FinishReason})" : "")}");
            }

            double decode = Median(rates);
            string decodeName = variant is null ? $"{prefix}_decode_tokens_per_s" : $"{prefix}_decode_{variant}_tokens_per_s";
            results[decodeName] = decode;
            double readPerS = model.WeightBytesPerToken * decode;
            results[variant is null ? $"{prefix}_decode_weight_read_gb_per_s" : $"{prefix}_decode_{variant}_weight_read_gb_per_s"] = readPerS / 1e9;
            results[variant is null ? $"{prefix}_decode_bandwidth_ratio" : $"{prefix}_decode_{variant}_bandwidth_ratio"] = readPerS / bandwidth;

            if (full)
            {
                // Batch 8: eight different prompts, the first being batch 1's.
                var ones = Enumerable.Range(0, 8).Select(i => Prompt(i, 12, 1)).ToList();
                var manys = Enumerable.Range(0, 8).Select(i => Prompt(i, 12, decodeTokens)).ToList();
                var rates8 = new List<double>();
                var ends = new List<double>();
                for (int r = 0; r < runs; r++)
                {
                    ct.ThrowIfCancellationRequested();
                    var sw = Stopwatch.StartNew();
                    var first = model.PredictMany(ones).ToList();
                    double t1 = sw.Elapsed.TotalSeconds;
                    sw.Restart();
                    var preds = model.PredictMany(manys).ToList();
                    double tn = sw.Elapsed.TotalSeconds;
                    first.ForEach(Check);
                    preds.ForEach(Check);
                    int generated = preds.Sum(x => x.Usage!.OutputTokens);
                    rates8.Add((generated - preds.Count) / (tn - t1));
                    ends.Add(generated / tn);
                    bool same = preds[0].CompletionText == soloText;
                    Console.WriteLine($"  batch 8: {generated} tokens in {tn * 1000:F0} ms, prompt pass + 1 token {t1 * 1000:F0} ms -> {(generated - preds.Count) / (tn - t1):F2} decode tokens/s; prompt 0 {(same ? "matches" : "DIFFERS FROM")} batch 1");
                }

                double decode8 = Median(rates8);
                results[p + "decode_batch8_tokens_per_s"] = decode8;
                results[p + "batch8_end_to_end_tokens_per_s"] = Median(ends);
                results[p + "batch8_speedup_ratio"] = decode8 / decode;
            }

            var peak = PeakWorkingSetMb();
            results[variant is null ? $"{prefix}_peak_working_set_mb" : $"{prefix}_{variant}_peak_working_set_mb"] = peak.Mb;
            Console.WriteLine($"  peak working set: {peak.Mb:F0} MB ({peak.Source})");
            if (cpu0 is { } c0 && MachineCpu() is { } c1)
            {
                double others = ((c1.Busy - c0.Busy) / c1.TicksPerSecond) - (OwnCpu() - own0);
                Console.WriteLine($"  other processes used {Math.Max(0, others / (phase.Elapsed.TotalSeconds * Environment.ProcessorCount)):P0} of the CPU time during these {phase.Elapsed.TotalSeconds:F0} s");
            }

            ReleaseMemory();
        }

        private static void Check(LmPrediction prediction)
        {
            if (prediction.ErrorMessage is { } error)
            {
                throw new InvalidOperationException($"The model returned an error: {error}");
            }
        }
    }

    /// <summary>A greedy, uncached prompt of about <paramref name="words"/> words, different for each <paramref name="seed"/>.</summary>
    private static LmPrompt Prompt(int seed, int words, int maxTokens) =>
        new(Text(seed, words)) { MaxTokens = maxTokens, Temperature = 0, Cache = false };

    private static string Text(int seed, int words)
    {
        var rng = new Random(1000 + seed);
        var sb = new StringBuilder();
        for (int i = 0; i < words; i++)
        {
            if (i > 0)
            {
                sb.Append(i % 13 == 12 ? ". " : " ");
            }

            sb.Append(Words[rng.Next(Words.Length)]);
        }

        return sb.ToString();
    }

    /// <summary>The longest prefix of a fixed word stream whose prompt has at most <paramref name="tokens"/> tokens.</summary>
    private static LmPrompt PromptOfTokens(HuggingFaceLm lm, int tokens)
    {
        int lo = 1, hi = tokens * 2;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (lm.EstimateTokensInPrompt(new LmPrompt(Text(7, mid))) <= tokens)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        var prompt = new LmPrompt(Text(7, lo)) { MaxTokens = 1, Temperature = 0, Cache = false };
        lm.EstimateTokensInPrompt(prompt); // caches the encoding on the prompt object
        return prompt;
    }

    private static (double Parallel, double Single) MeasureBandwidth(int threads)
    {
        const int Count = 128 * 1024 * 1024; // 512 MB of floats
        var src = GC.AllocateUninitializedArray<float>(Count);
        var dst = GC.AllocateUninitializedArray<float>(Count);
        src.AsSpan().Fill(1.5f);
        dst.AsSpan().Clear();
        double bytes = 2.0 * Count * sizeof(float);
        int parts = Math.Max(1, threads);
        var options = new ParallelOptions { MaxDegreeOfParallelism = parts };

        double best = 0;
        for (int r = 0; r < 6; r++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, parts, options, i =>
            {
                int from = (int)((long)Count * i / parts), to = (int)((long)Count * (i + 1) / parts);
                src.AsSpan(from, to - from).CopyTo(dst.AsSpan(from, to - from));
            });
            double s = sw.Elapsed.TotalSeconds;
            if (r > 0)
            {
                best = Math.Max(best, bytes / s);
            }
        }

        double single = 0;
        for (int r = 0; r < 5; r++)
        {
            var sw = Stopwatch.StartNew();
            src.AsSpan().CopyTo(dst);
            single = Math.Max(single, bytes / sw.Elapsed.TotalSeconds);
        }

        GC.KeepAlive(src);
        GC.KeepAlive(dst);
        return (best, single);
    }

    /// <summary>Collects and returns freed memory to the OS, so that the next peak is the model's own.</summary>
    private static void ReleaseMemory()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    private static bool s_peakResettable = true;

    /// <summary>Resets the kernel's peak resident set (VmHWM) to the current one, where Linux allows it.</summary>
    private static void ResetPeak()
    {
        ReleaseMemory();
        if (!s_peakResettable)
        {
            return;
        }

        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            s_peakResettable = false;
        }
    }

    private static (double Mb, string Source) PeakWorkingSetMb()
    {
        if (s_peakResettable && File.Exists("/proc/self/status"))
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    long kb = long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                    return (kb * 1024 / 1e6, "VmHWM since the last load");
                }
            }
        }

        using var process = Process.GetCurrentProcess();
        return (process.PeakWorkingSet64 / 1e6, "Process.PeakWorkingSet64 over the whole run, model writing included");
    }

    /// <summary>The resident set now (VmRSS: the process's memory plus the mapped weight pages it has touched).</summary>
    private static double CurrentWorkingSetMb()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64 / 1e6;
    }

    private static double OwnCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>All cores' busy time from /proc/stat (user, nice, system, irq, softirq, steal), in clock ticks; null off Linux.</summary>
    private static (double Busy, double TicksPerSecond)? MachineCpu()
    {
        try
        {
            string[] f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            double busy = new[] { 1, 2, 3, 6, 7, 8 }.Where(i => i < f.Length).Sum(i => double.Parse(f[i], CultureInfo.InvariantCulture));
            return (busy, 100); // USER_HZ is 100 on every Linux architecture .NET runs on
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        int n = sorted.Count;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }

    private static string FindRepoRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "LmWrapper.slnx")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new DirectoryNotFoundException("LmWrapper.slnx not found above the benchmark executable or the working directory; run from the repository.");
    }

    private static int IntOption(IReadOnlyList<string> args, string name, int fallback)
    {
        for (int i = 0; i < args.Count - 1; i++)
        {
            if (args[i] == name)
            {
                return int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
        }

        return fallback;
    }

    private static string StringOption(IReadOnlyList<string> args, string name, string fallback)
    {
        for (int i = 0; i < args.Count - 1; i++)
        {
            if (args[i] == name)
            {
                return args[i + 1];
            }
        }

        return fallback;
    }
}
