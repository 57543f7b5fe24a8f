using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text;
using System.Text.Json;
using LmWrapper.HuggingFace;
using LmWrapper.HuggingFace.Generation;
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
/// <item><c>peak_working_set_mb</c>: the peak resident set (VmHWM: the process's memory plus the mapped weight pages it touched) of a process of
/// its own (this program started with <see cref="MemoryProbeCommand"/>) that loads the model and runs the same work once: the 512-token prompt and
/// batch 8 where the suite ran them, and batch 1's decode. <c>peak_vs_weights_plus_kv_ratio</c> divides it by the weights plus the largest KV
/// cache of that work (the target is 1.2); <c>peak_above_process_start_vs_weights_plus_kv_ratio</c> first subtracts the process's resident set
/// before the load (<c>process_before_load_mb</c>: the .NET runtime). <c>peak_working_set_in_suite_mb</c> is this process's VmHWM since the final
/// load (reset through /proc/self/clear_refs), which also counts the suite's own allocations (the paired bandwidth probe's 512 MB block among them); <c>loaded_working_set_mb</c> is the resident set
/// right after that load.</item>
/// <item><c>memory_bandwidth_gb_per_s</c>: reading (summing) a 512 MB float array, split over the threads and on one thread, best of either way
/// (<see cref="MemoryBandwidth"/> says why a read stream and not a copy); <c>decode_bandwidth_ratio</c> = matrix bytes read per token × decode
/// tokens/s ÷ that. <c>memory_copy_bandwidth_gb_per_s</c> is the copy figure the suite used before (read + write bytes), for reference.
/// <c>decode_paired_bandwidth_ratio</c> pairs each batch-1 decode run with read bandwidth measured right before and right after it
/// (<see cref="MemoryBandwidth.ReadNow"/>, the better of the two): the median over the runs of that run's weight reads per second ÷ its
/// bandwidth (<c>decode_paired_bandwidth_gb_per_s</c> is the median bandwidth). On this project's shared VM the read bandwidth drifts within
/// minutes (paired figures from 36 to 58 GB/s in one day's runs), so the unpaired ratio mixes two moments; both are reported.</item>
/// </list>
/// <para>
/// With <c>--peer</c> (off by default: it installs an npm package and takes a minute or two more), the Llama model is also run by
/// llama.cpp, back to back with ours on the same weights: each folder (F32, then its F16 copy) is converted to GGUF by
/// <c>benchmarks/peers/hf_to_gguf.py</c> and measured by <c>benchmarks/peers/llamacpp_bench.mjs</c> (node-llama-cpp's prebuilt CPU binary,
/// installed into <c>benchmarks/peers/node_modules</c> by <c>npm ci</c> on first use) right before ours. Its figures are the medians of
/// <c>--peer-reps</c> (default <c>--runs</c>) runs of its "exact" profile (no flash attention, F32 KV cache):
/// <c>llamacpp_prefill_512_tokens_per_s</c> (512 ids in one evaluation), <c>llamacpp_decode[_f16]_tokens_per_s</c> (<c>--peer-tg</c> single-token steps
/// after BOS); its "default" profile (flash attention, F16 KV cache) is reported as <c>llamacpp_default_*</c>. The ratios are ours ÷ llama.cpp's.
/// The F32 folder is also converted to llama.cpp's Q8_0 (<c>--outtype q8_0</c>: every 2-D weight whose rows are whole blocks of 32, as ours) and
/// measured before our <c>WeightQuantization.Int8</c> run: <c>llamacpp_decode_q8_tokens_per_s</c> and <c>decode_q8_vs_llamacpp_q8_ratio</c>.
/// <c>greedy_agrees_with_llamacpp</c> is 1 when our greedy ids, from the prompt ids of llama.cpp's greedy oracle (BOS + 20 ids), equal its
/// <c>--peer-oracle-n</c> ids; <c>greedy_agreeing_steps</c> counts the leading steps that agree and <c>greedy_min_margin</c> is llama.cpp's smallest
/// top-1 − top-2 logit gap over the steps (random weights can have near-ties, where either token is a correct answer).
/// Without node ≥ 20, npm, python3 or a working install the suite says why on stdout and reports our figures only.
/// Other options: <c>--model gpt2|llama|both</c>, <c>--variants f32,q8,f16,bf16</c> (the Llama weights to measure), <c>--threads N</c>,
/// <c>--decode-tokens N</c>, <c>--quick</c> (2-layer models), <c>--keep-models DIR</c> (write the models there once and reuse them).
/// </para>
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

    public string Description => "HuggingFaceLm on random GPT-2-small / SmolLM-135M-shaped models: load, prefill, decode (batch 1/8, F32/F16/BF16), memory, bandwidth; --peer: llama.cpp on the same Llama weights, ratios and greedy agreement";

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

        var variants = StringOption(args, "--variants", "f32,q8,f16,bf16").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (variants.Length == 0 || variants.Any(v => v is not ("f32" or "q8" or "f16" or "bf16")))
        {
            throw new ArgumentException("--variants is a comma-separated list of f32, q8, f16 and bf16 (the Llama weights to measure).");
        }

        bool usePeer = args.Contains("--peer");
        int peerReps = IntOption(args, "--peer-reps", runs);
        int peerTg = IntOption(args, "--peer-tg", quick ? 16 : Math.Clamp(decodeTokens, 64, 128));
        int peerOracleSteps = IntOption(args, "--peer-oracle-n", quick ? 16 : 64);
        if (peerReps < 1 || peerTg < 2 || peerOracleSteps < 1)
        {
            throw new ArgumentException("--peer-reps and --peer-oracle-n must be at least 1 and --peer-tg at least 2.");
        }

        var results = new Dictionary<string, double>();
        string repo = FindRepoRoot();

        // The peer's tools and install come first, so that an npm install is not part of any measured stretch.
        LlamaCppPeer? peer = null;
        if (usePeer && which == "gpt2")
        {
            Console.WriteLine("peer: llama.cpp runs the Llama model only (--model gpt2 was given); skipped");
        }
        else if (usePeer)
        {
            peer = LlamaCppPeer.Prepare(Path.Combine(repo, "benchmarks", "peers"), threads, peerReps, peerTg, peerOracleSteps, cancellationToken);
        }

        string tokenizers = Path.Combine(repo, "tests", "fixtures", "tokenizers");
        // --keep-models DIR: the models are written into DIR once and kept (a later run with the same DIR reuses them).
        string? keep = StringOption(args, "--keep-models", "") is { Length: > 0 } k ? Path.GetFullPath(k) : null;
        s_keepModels = keep is not null;
        string dir = keep ?? Path.Combine(Path.GetTempPath(), "lmwrapper-inference-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        Console.WriteLine($"{(quick ? "QUICK (2-layer models); " : "")}{runs} run(s), median reported; {threads} thread(s); {decodeTokens} decoded tokens per sample; greedy, cache off");
        Console.WriteLine($"loadavg at start: {LoadAverage()}");
        var cpuAtStart = MachineCpu();
        var ownAtStart = OwnCpu();
        var wall = Stopwatch.StartNew();
        try
        {
            // Decoding only reads its weights, so its ceiling is the read bandwidth (see MemoryBandwidth); the copy figure is kept for reference.
            var bw = MemoryBandwidth.Read(threads);
            var copy = MemoryBandwidth.Copy(threads);
            double bandwidth = Math.Max(bw.Parallel, bw.Single);
            results["memory_bandwidth_gb_per_s"] = bandwidth / 1e9;
            results["memory_bandwidth_1thread_gb_per_s"] = bw.Single / 1e9;
            results["memory_bandwidth_all_threads_gb_per_s"] = bw.Parallel / 1e9;
            results["memory_copy_bandwidth_gb_per_s"] = Math.Max(copy.Parallel, copy.Single) / 1e9;
            Console.WriteLine($"memory read bandwidth (512 MB float sum, best of 8): {bw.Parallel / 1e9:F2} GB/s split over {threads} threads, {bw.Single / 1e9:F2} GB/s on 1 (the better is the ratios' denominator); "
                + $"copy (read+write bytes): {copy.Parallel / 1e9:F2} GB/s over {threads} threads, {copy.Single / 1e9:F2} GB/s on 1");
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
                Delete(folder);
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
                PeerFigures? peerF32 = null, peerQ8 = null;
                if (variants.Contains("f32") || variants.Contains("q8"))
                {
                    string f32 = Write(Path.Combine(dir, "llama-f32"), spec);
                    if (variants.Contains("f32"))
                    {
                        peerF32 = peer?.Run(f32, "f32", cancellationToken);
                        bench.Model("llama", f32, full: true, afterRuns: peerF32?.Oracle is { } o32 ? lm => CompareGreedy(lm, o32, results, "", cancellationToken) : null);
                    }

                    if (variants.Contains("q8"))
                    {
                        // llama.cpp's Q8_0 of the same weights (hf_to_gguf.py --outtype q8_0: blocks of 32, f16 scale + 32 int8), right before ours.
                        peerQ8 = peer?.Run(f32, "q8_0", cancellationToken);
                        bench.Model("llama", f32, full: false, variant: "q8", quantization: WeightQuantization.Int8);
                    }

                    if (results.TryGetValue("llama_decode_q8_tokens_per_s", out double q8) && results.TryGetValue("llama_decode_tokens_per_s", out double f32Decode))
                    {
                        results["llama_q8_vs_f32_decode_ratio"] = q8 / f32Decode;
                    }

                    Delete(f32);
                }

                PeerFigures? peerF16 = null;
                foreach (var (tag, dtype) in new[] { ("f16", SafetensorsDType.F16), ("bf16", SafetensorsDType.BF16) }.Where(v => variants.Contains(v.Item1)))
                {
                    string half = Write(Path.Combine(dir, "llama-" + tag), spec with { DType = dtype });
                    var peerHalf = tag == "f16" ? peer?.Run(half, tag, cancellationToken) : null;
                    peerF16 ??= peerHalf;
                    bench.Model("llama", half, full: false, variant: tag, afterRuns: peerHalf?.Oracle is { } o16 ? lm => CompareGreedy(lm, o16, results, tag + "_", cancellationToken) : null);
                    Delete(half);
                }

                if (peer is not null)
                {
                    ReportPeer(results, peerF32, peerF16, peerQ8);
                }
            }
        }
        finally
        {
            Delete(dir);
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

    private static bool s_keepModels;

    /// <summary>Deletes a model folder, unless <c>--keep-models</c> was given.</summary>
    private static void Delete(string folder)
    {
        if (!s_keepModels)
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string Write(string folder, RandomModelSpec spec)
    {
        if (s_keepModels && File.Exists(Path.Combine(folder, "config.json")))
        {
            Console.WriteLine($"  kept {Path.GetFileName(folder)} from an earlier run (--keep-models)");
            return folder;
        }

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
        /// <summary>Loads, measures and records one model; <paramref name="afterRuns"/> (the greedy check against the peer) then runs on it, untimed.</summary>
        public void Model(string prefix, string folder, bool full, string? variant = null, Action<HuggingFaceLm>? afterRuns = null, WeightQuantization quantization = WeightQuantization.None)
        {
            string p = variant is null ? prefix + "_" : $"{prefix}_{variant}_";
            var options = new HuggingFaceLmOptions
            {
                Threads = threads,
                Quantization = quantization,
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
            var pairedRatios = new List<double>();
            var pairedBandwidths = new List<double>();
            string? soloText = null;
            for (int r = 0; r < runs; r++)
            {
                ct.ThrowIfCancellationRequested();
                double bwBefore = MemoryBandwidth.ReadNow(threads);
                var sw = Stopwatch.StartNew();
                Check(model.Predict(one));
                double t1 = sw.Elapsed.TotalSeconds;
                sw.Restart();
                var pred = model.Predict(many);
                double tn = sw.Elapsed.TotalSeconds;
                Check(pred);
                int generated = pred.Usage!.OutputTokens;
                soloText = pred.CompletionText;
                double rate = (generated - 1) / (tn - t1);
                rates.Add(rate);
                // The paired ratio: this run's weight reads per second over the better of the read bandwidths measured right
                // before and right after it (the larger denominator, so the drift cannot flatter the ratio).
                double bwPaired = Math.Max(bwBefore, MemoryBandwidth.ReadNow(threads));
                pairedBandwidths.Add(bwPaired);
                pairedRatios.Add(model.WeightBytesPerToken * rate / bwPaired);
                Console.WriteLine($"  batch 1: {generated} tokens in {tn * 1000:F0} ms, prompt pass + 1 token {t1 * 1000:F0} ms -> {rate:F2} decode tokens/s{(generated < decodeTokens ? $" (stopped early: {pred.FinishReason})" : "")}; "
                    + $"{model.WeightBytesPerToken * rate / 1e9:F1} GB/s of weights against {bwPaired / 1e9:F1} GB/s read bandwidth measured around it ({model.WeightBytesPerToken * rate / bwPaired:F2})");
            }

            double decode = Median(rates);
            string decodeName = variant is null ? $"{prefix}_decode_tokens_per_s" : $"{prefix}_decode_{variant}_tokens_per_s";
            results[decodeName] = decode;
            double readPerS = model.WeightBytesPerToken * decode;
            results[variant is null ? $"{prefix}_decode_weight_read_gb_per_s" : $"{prefix}_decode_{variant}_weight_read_gb_per_s"] = readPerS / 1e9;
            results[variant is null ? $"{prefix}_decode_bandwidth_ratio" : $"{prefix}_decode_{variant}_bandwidth_ratio"] = readPerS / bandwidth;
            results[variant is null ? $"{prefix}_decode_paired_bandwidth_ratio" : $"{prefix}_decode_{variant}_paired_bandwidth_ratio"] = Median(pairedRatios);
            results[variant is null ? $"{prefix}_decode_paired_bandwidth_gb_per_s" : $"{prefix}_decode_{variant}_paired_bandwidth_gb_per_s"] = Median(pairedBandwidths) / 1e9;

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

            // Peak memory in a process of its own that loads the model and runs the same work once (see MemoryProbe): this
            // process's own figure would also count the suite's allocations (the bandwidth arrays, earlier models' freed heap).
            var inSuite = PeakWorkingSetMb();
            results[p + "peak_working_set_in_suite_mb"] = inSuite.Mb;
            var probe = RunMemoryProbe(folder, full, quantization, threads, decodeTokens, ct);
            results[variant is null ? $"{prefix}_peak_working_set_mb" : $"{prefix}_{variant}_peak_working_set_mb"] = probe.PeakMb;
            results[p + "process_before_load_mb"] = probe.BeforeLoadMb;
            results[p + "gc_committed_mb"] = probe.GcCommittedMb;
            // The target: the weights (the files' bytes, as the kernels read them, or the quantized bytes) plus the largest KV cache of
            // the runs (the 512-token prompt's where it ran, else batch 8's), plus 20%; the ratio is the peak over weights + KV cache
            // (≤ 1.2 meets it), the whole process counted (runtime, tokenizer and JIT included).
            long kvTokens = full ? Math.Max(513, 8L * (16 + decodeTokens)) : 16 + decodeTokens;
            var cfg = model.Transformer.Config;
            double kvMb = kvTokens * cfg.NumLayers * 2.0 * cfg.NumKvHeads * cfg.HeadDim * sizeof(float) / 1e6;
            double weightsMb = quantization == WeightQuantization.None ? weightBytes / 1e6 : model.WeightBytesPerToken / 1e6;
            results[p + "kv_cache_mb"] = kvMb;
            results[p + "peak_vs_weights_plus_kv_ratio"] = probe.PeakMb / (weightsMb + kvMb);
            // The same without the process's start (the .NET runtime before anything of ours loads, about 30 MB): what the model adds.
            results[p + "peak_above_process_start_vs_weights_plus_kv_ratio"] = (probe.PeakMb - probe.BeforeLoadMb) / (weightsMb + kvMb);
            Console.WriteLine($"  peak resident set of a process that loads the model and runs this work once: {probe.PeakMb:F0} MB ({probe.BeforeLoadMb:F0} MB before the load); "
                + $"weights {weightsMb:F0} MB + KV cache {kvMb:F0} MB -> {probe.PeakMb / (weightsMb + kvMb):F2}x; its GC heap committed at the end {probe.GcCommittedMb:F0} MB; "
                + $"in this process: {inSuite.Mb:F0} MB ({inSuite.Source})");
            if (cpu0 is { } c0 && MachineCpu() is { } c1)
            {
                double others = ((c1.Busy - c0.Busy) / c1.TicksPerSecond) - (OwnCpu() - own0);
                Console.WriteLine($"  other processes used {Math.Max(0, others / (phase.Elapsed.TotalSeconds * Environment.ProcessorCount)):P0} of the CPU time during these {phase.Elapsed.TotalSeconds:F0} s");
            }

            afterRuns?.Invoke(model);
            ReleaseMemory();
        }

        public static void Check(LmPrediction prediction)
        {
            if (prediction.ErrorMessage is { } error)
            {
                throw new InvalidOperationException($"The model returned an error: {error}");
            }
        }
    }

    /// <summary>Records llama.cpp's figures and the ratios of ours to them.</summary>
    private static void ReportPeer(Dictionary<string, double> results, PeerFigures? f32, PeerFigures? f16, PeerFigures? q8)
    {
        if (q8 is not null)
        {
            results["llamacpp_prefill_512_q8_tokens_per_s"] = q8.Prefill;
            results["llamacpp_decode_q8_tokens_per_s"] = q8.Decode;
            if (q8.DefaultDecode is { } dd)
            {
                results["llamacpp_default_decode_q8_tokens_per_s"] = dd;
            }
        }

        if (f32 is not null)
        {
            results["llamacpp_prefill_512_tokens_per_s"] = f32.Prefill;
            results["llamacpp_decode_tokens_per_s"] = f32.Decode;
            results["llamacpp_decode_after_pp512_tokens_per_s"] = f32.DecodeAfterPrefill;
            results["llamacpp_load_ms"] = f32.LoadMs;
            if (f32.DefaultPrefill is { } dp)
            {
                results["llamacpp_default_prefill_512_tokens_per_s"] = dp;
            }

            if (f32.DefaultDecode is { } dd)
            {
                results["llamacpp_default_decode_tokens_per_s"] = dd;
            }
        }

        if (f16 is not null)
        {
            results["llamacpp_prefill_512_f16_tokens_per_s"] = f16.Prefill;
            results["llamacpp_decode_f16_tokens_per_s"] = f16.Decode;
            if (f16.DefaultDecode is { } dd)
            {
                results["llamacpp_default_decode_f16_tokens_per_s"] = dd;
            }
        }

        var lines = new List<string>();
        void Ratio(string name, string ours, string theirs)
        {
            if (results.TryGetValue(ours, out double a) && results.TryGetValue(theirs, out double b) && b > 0)
            {
                results[name] = a / b;
                lines.Add($"{name} = {a:F1} / {b:F1} = {a / b:F3}");
            }
        }

        Ratio("decode_vs_llamacpp_ratio", "llama_decode_tokens_per_s", "llamacpp_decode_tokens_per_s");
        Ratio("decode_f16_vs_llamacpp_ratio", "llama_decode_f16_tokens_per_s", "llamacpp_decode_f16_tokens_per_s");
        Ratio("prefill_vs_llamacpp_ratio", "llama_prefill_512_tokens_per_s", "llamacpp_prefill_512_tokens_per_s");
        Ratio("decode_q8_vs_llamacpp_q8_ratio", "llama_decode_q8_tokens_per_s", "llamacpp_decode_q8_tokens_per_s");
        Console.WriteLine(lines.Count > 0 ? "ours ÷ llama.cpp (exact profile): " + string.Join("; ", lines) : "peer: no llama.cpp figures to compare with");
    }

    /// <summary>
    /// Our greedy ids from the peer oracle's prompt ids (no EOS, so exactly as many ids as it generated) against its ids: whether all agree,
    /// how many leading steps agree, the smallest margin, and the largest difference of the chosen token's log-probability while they agree.
    /// </summary>
    private static void CompareGreedy(HuggingFaceLm lm, PeerOracle oracle, Dictionary<string, double> results, string variant, CancellationToken ct)
    {
        var generator = new Generator(lm.Transformer, null, []);
        var request = new GenerationRequest { PromptIds = oracle.PromptIds, MaxNewTokens = oracle.Ids.Length, NumSamples = 1, TopLogprobs = 2 };
        var sample = generator.Run([request], ct)[0].Samples[0];
        var ours = sample.Tokens;
        int n = oracle.Ids.Length;
        int agree = 0;
        while (agree < Math.Min(n, ours.Count) && ours[agree] == oracle.Ids[agree])
        {
            agree++;
        }

        double maxDiff = 0;
        for (int i = 0; i < agree; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(sample.Logprobs[i] - oracle.ChosenLogprobs[i]));
        }

        int minAt = Array.IndexOf(oracle.Margins, oracle.Margins.Min());
        string p = "greedy_" + variant;
        results[p + "agrees_with_llamacpp"] = agree == n && ours.Count == n ? 1 : 0;
        results[p + "agreeing_steps"] = agree;
        results[p + "steps"] = n;
        results[p + "min_margin"] = oracle.Margins[minAt];
        results[p + "max_logprob_diff_vs_llamacpp"] = maxDiff;
        string head = $"  greedy vs llama.cpp ({oracle.PromptIds.Length} prompt ids, {n} steps; llama.cpp's smallest top-1 − top-2 logit margin {oracle.Margins[minAt]:G4} at step {minAt})";
        if (agree == n && ours.Count == n)
        {
            Console.WriteLine($"{head}: all {n} ids agree; chosen tokens' log-probabilities differ by at most {maxDiff:G3}");
            return;
        }

        if (agree < n)
        {
            results[p + "first_disagreement_step"] = agree;
            results[p + "first_disagreement_margin"] = oracle.Margins[agree];
        }

        string ourMargin = agree < sample.Top!.Count && sample.Top[agree].Length > 1 ? (sample.Top[agree][0].Logprob - sample.Top[agree][1].Logprob).ToString("G4", CultureInfo.InvariantCulture) : "n/a";
        Console.WriteLine($"{head}: DISAGREE at step {agree} (first {agree} agree; chosen log-probabilities differ by at most {maxDiff:G3} before it): "
            + $"ours {(agree < ours.Count ? ours[agree].ToString(CultureInfo.InvariantCulture) : "none")} (our margin {ourMargin}), "
            + $"llama.cpp {oracle.Ids[agree]} (its margin {oracle.Margins[agree]:G4})");
    }

    /// <summary>One GGUF's llama.cpp figures: medians of the exact profile, the default profile's where it ran, and the greedy oracle.</summary>
    private sealed record PeerFigures(double Prefill, double Decode, double DecodeAfterPrefill, double? DefaultPrefill, double? DefaultDecode, double LoadMs, PeerOracle? Oracle);

    /// <summary>llama.cpp's greedy ids from <see cref="PromptIds"/>, each step's top-1 − top-2 logit margin and the chosen token's log-softmax.</summary>
    private sealed record PeerOracle(int[] PromptIds, int[] Ids, double[] Margins, double[] ChosenLogprobs);

    /// <summary>
    /// llama.cpp through <c>benchmarks/peers</c>: converts a model folder to GGUF (python3, stdlib only) and runs <c>llamacpp_bench.mjs</c> on it
    /// (node ≥ 20, with node-llama-cpp installed by <c>npm ci</c> into <c>benchmarks/peers/node_modules</c> on first use).
    /// </summary>
    private sealed class LlamaCppPeer
    {
        private readonly string _dir;
        private readonly int _threads;
        private readonly int _reps;
        private readonly int _tg;
        private readonly int _oracleSteps;

        private LlamaCppPeer(string dir, int threads, int reps, int tg, int oracleSteps)
        {
            _dir = dir;
            _threads = threads;
            _reps = reps;
            _tg = tg;
            _oracleSteps = oracleSteps;
        }

        /// <summary>Checks the tools and installs node-llama-cpp if needed; null (with the reason on stdout) when the peer cannot run.</summary>
        public static LlamaCppPeer? Prepare(string dir, int threads, int reps, int tg, int oracleSteps, CancellationToken ct)
        {
            static void Skip(string why) => Console.WriteLine($"peer: SKIPPED llama.cpp ({why}); our figures only");

            if (!File.Exists(Path.Combine(dir, "llamacpp_bench.mjs")) || !File.Exists(Path.Combine(dir, "hf_to_gguf.py")))
            {
                Skip($"{dir} lacks llamacpp_bench.mjs or hf_to_gguf.py");
                return null;
            }

            if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64)
            {
                Skip("benchmarks/peers/package-lock.json pins node-llama-cpp's linux-x64 binaries; this is not linux-x64");
                return null;
            }

            string? nodeVersion = Version("node", "--version");
            if (nodeVersion is null)
            {
                Skip("node not found on PATH");
                return null;
            }

            if (!int.TryParse(nodeVersion.TrimStart('v').Split('.')[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int major) || major < 20)
            {
                Skip($"node {nodeVersion} is older than node-llama-cpp 3's minimum, 20");
                return null;
            }

            string? python = Version("python3", "--version");
            if (python is null)
            {
                Skip("python3 not found on PATH (the GGUF converter needs it)");
                return null;
            }

            string modules = Path.Combine(dir, "node_modules");
            if (!File.Exists(Path.Combine(modules, "node-llama-cpp", "package.json")) || !Directory.Exists(Path.Combine(modules, "@node-llama-cpp", "linux-x64")))
            {
                string? npm = Version("npm", "--version");
                if (npm is null)
                {
                    Skip("npm not found on PATH, and node-llama-cpp is not installed in " + modules);
                    return null;
                }

                Console.WriteLine($"peer: installing node-llama-cpp (npm {npm} ci --omit=optional, prebuilt CPU binaries only, ~85 MB) into {modules} ...");
                var sw = Stopwatch.StartNew();
                var r = RunProcess("npm", ["ci", "--omit=optional", "--no-audit", "--no-fund"], dir, 420, ct, new() { ["NODE_LLAMA_CPP_SKIP_DOWNLOAD"] = "true" });
                if (r.ExitCode != 0 || !Directory.Exists(Path.Combine(modules, "@node-llama-cpp", "linux-x64")))
                {
                    Skip($"npm ci {(r.TimedOut ? "timed out" : "failed with exit code " + r.ExitCode)}: {Tail(r.Stderr + r.Stdout)}");
                    return null;
                }

                Console.WriteLine($"peer: installed in {sw.Elapsed.TotalSeconds:F0} s");
            }

            string version = "?";
            try
            {
                using var pkg = JsonDocument.Parse(File.ReadAllText(Path.Combine(modules, "node-llama-cpp", "package.json")));
                version = pkg.RootElement.GetProperty("version").GetString() ?? "?";
            }
            catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException or InvalidOperationException)
            {
            }

            Console.WriteLine($"peer: llama.cpp via node-llama-cpp {version} (node {nodeVersion}, {python}); {threads} threads, {reps} rep(s), pp 512, tg {tg}, greedy oracle of {oracleSteps} steps");
            return new LlamaCppPeer(dir, threads, reps, tg, oracleSteps);
        }

        /// <summary>
        /// Converts <paramref name="folder"/> to GGUF (next to it, deleted afterwards) and benchmarks it; null (with the reason on stdout) when
        /// either step fails. The oracle file is left next to the folder.
        /// </summary>
        public PeerFigures? Run(string folder, string outType, CancellationToken ct)
        {
            string parent = Path.GetDirectoryName(Path.GetFullPath(folder))!;
            string stem = Path.GetFileName(folder) + (outType == "q8_0" ? "-q8_0" : "");
            string gguf = Path.Combine(parent, stem + ".gguf");
            string oracleFile = Path.Combine(parent, stem + ".greedy.json");
            try
            {
                var sw = Stopwatch.StartNew();
                var conv = RunProcess("python3", [Path.Combine(_dir, "hf_to_gguf.py"), "-q", folder, gguf, "--outtype", outType], _dir, 600, ct);
                if (conv.ExitCode != 0 || !File.Exists(gguf))
                {
                    Console.WriteLine($"peer: SKIPPED {Path.GetFileName(folder)}: hf_to_gguf.py {(conv.TimedOut ? "timed out" : "failed with exit code " + conv.ExitCode)}: {Tail(conv.Stderr + conv.Stdout)}");
                    return null;
                }

                Console.WriteLine($"peer: converted {Path.GetFileName(folder)} to GGUF {outType.ToUpperInvariant()} ({new FileInfo(gguf).Length / 1e6:F0} MB) in {sw.Elapsed.TotalSeconds:F1} s");
                ReleaseMemory();
                sw.Restart();
                string[] args =
                [
                    Path.Combine(_dir, "llamacpp_bench.mjs"), "--gguf", gguf, "--threads", Str(_threads), "--pp", "512", "--tg", Str(_tg),
                    "--reps", Str(_reps), "--profiles", "default,exact", "--oracle-n", Str(_oracleSteps), "--oracle-out", oracleFile,
                ];
                var bench = RunProcess("node", args, _dir, 600, ct);
                string? line = bench.Stdout.Split('\n').LastOrDefault(l => l.StartsWith("{\"suite\":\"llamacpp\"", StringComparison.Ordinal));
                if (bench.ExitCode != 0 || line is null)
                {
                    Console.WriteLine($"peer: SKIPPED {Path.GetFileName(folder)}: llamacpp_bench.mjs {(bench.TimedOut ? "timed out" : "failed with exit code " + bench.ExitCode)}: {Tail(bench.Stderr + bench.Stdout)}");
                    return null;
                }

                return Parse(line, oracleFile, stem, sw.Elapsed.TotalSeconds);
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or IOException or System.ComponentModel.Win32Exception)
            {
                Console.WriteLine($"peer: SKIPPED {Path.GetFileName(folder)}: {e.GetType().Name}: {e.Message}");
                return null;
            }
            finally
            {
                File.Delete(gguf);
            }
        }

        private PeerFigures Parse(string line, string oracleFile, string name, double seconds)
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement.GetProperty("results");
            var profiles = r.GetProperty("profiles");
            double Median(JsonElement profile, string key) => profile.GetProperty(key).GetProperty("median").GetDouble();
            string pp = "pp512_tok_s", tg = $"tg{_tg}_tok_s", after = $"tg{_tg}_after_pp512_tok_s";
            var exact = profiles.GetProperty("exact");
            double? defPp = null, defTg = null;
            if (profiles.TryGetProperty("default", out var def))
            {
                defPp = Median(def, pp);
                defTg = Median(def, tg);
            }

            var engine = r.GetProperty("engine");
            double load = r.GetProperty("load_ms").GetProperty("model").GetDouble();
            var figures = new PeerFigures(Median(exact, pp), Median(exact, tg), Median(exact, after), defPp, defTg, load, File.Exists(oracleFile) ? ReadOracle(oracleFile) : null);
            Console.WriteLine($"peer: llama.cpp {engine.GetProperty("llama_cpp_release").GetString()} ({engine.GetProperty("cpu_backend").GetString()}) on {name}, {seconds:F0} s, medians of {_reps}: "
                + $"exact (no flash attention, F32 KV) pp512 {figures.Prefill:F1}, tg{_tg} {figures.Decode:F1}, tg{_tg} after pp512 {figures.DecodeAfterPrefill:F1} tokens/s; "
                + $"default (flash attention, F16 KV) pp512 {defPp?.ToString("F1", CultureInfo.InvariantCulture) ?? "-"}, tg{_tg} {defTg?.ToString("F1", CultureInfo.InvariantCulture) ?? "-"} tokens/s; model load {load:F0} ms");
            return figures;
        }

        private static PeerOracle ReadOracle(string file)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            var o = doc.RootElement;
            int[] Ints(string key) => [.. o.GetProperty(key).EnumerateArray().Select(e => e.GetInt32())];
            double[] margins = [.. o.GetProperty("top1_minus_top2_logit").EnumerateArray().Select(e => e.GetDouble())];
            // top5_logprobs: per step [[id, log-softmax], ...], highest first; the first is the greedy (chosen) token.
            double[] chosen = [.. o.GetProperty("top5_logprobs").EnumerateArray().Select(step => step[0][1].GetDouble())];
            return new PeerOracle(Ints("prompt_ids"), Ints("greedy_ids"), margins, chosen);
        }

        private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);

        private static string? Version(string tool, string arg)
        {
            try
            {
                var r = RunProcess(tool, [arg], Directory.GetCurrentDirectory(), 60, CancellationToken.None);
                return r.ExitCode == 0 ? (r.Stdout + r.Stderr).Trim().Split('\n')[0].Trim() : null;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return null;
            }
        }

        /// <summary>A tool's failure in a line: its first few lines that mention an error, else the end of its output.</summary>
        private static string Tail(string text)
        {
            var errors = text.Split('\n').Select(l => l.Trim()).Where(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)).Take(3).ToList();
            string t = errors.Count > 0 ? string.Join(" | ", errors) : text.Trim().Replace('\n', ' ');
            return t.Length > 600 ? "..." + t[^600..] : t;
        }

        /// <summary>Runs a tool to the end (or kills it and its children after <paramref name="timeoutS"/> seconds), capturing its output.</summary>
        private static (int ExitCode, string Stdout, string Stderr, bool TimedOut) RunProcess(
            string file, IEnumerable<string> args, string workDir, int timeoutS, CancellationToken ct, Dictionary<string, string>? env = null)
        {
            var psi = new ProcessStartInfo(file)
            {
                WorkingDirectory = workDir,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string a in args)
            {
                psi.ArgumentList.Add(a);
            }

            foreach (var (k, v) in env ?? [])
            {
                psi.Environment[k] = v;
            }

            using var process = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            bool exited = false;
            try
            {
                exited = process.WaitForExitAsync(ct).Wait(TimeSpan.FromSeconds(timeoutS), CancellationToken.None);
            }
            catch (AggregateException e) when (e.InnerException is OperationCanceledException)
            {
            }

            if (!exited)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // it exited meanwhile
                }

                process.WaitForExit();
                ct.ThrowIfCancellationRequested();
                return (-1, stdout.Result, stderr.Result, true);
            }

            process.WaitForExit(); // lets the output readers finish
            return (process.ExitCode, stdout.Result, stderr.Result, false);
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

    /// <summary>The first argument that makes this program a memory probe (see <see cref="MemoryProbe"/>).</summary>
    public const string MemoryProbeCommand = "--inference-memory-probe";

    /// <summary>What a memory probe measured, in MB.</summary>
    private sealed record ProbeFigures(double PeakMb, double BeforeLoadMb, double GcCommittedMb);

    /// <summary>Runs <see cref="MemoryProbe"/> in a child process and reads its figures.</summary>
    private static ProbeFigures RunMemoryProbe(string folder, bool full, WeightQuantization quantization, int threads, int decodeTokens, CancellationToken ct)
    {
        var start = SelfProcess.StartInfo(
            MemoryProbeCommand, folder, full ? "full" : "short", quantization.ToString(),
            threads.ToString(CultureInfo.InvariantCulture), decodeTokens.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the memory probe.");
        using var kill = ct.Register(() => process.Kill(entireProcessTree: true));
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith("probe ", StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"The memory probe failed (exit {process.ExitCode}): {output}");
        }

        var f = line["probe ".Length..].Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        return new ProbeFigures(f[0], f[1], f[2]);
    }

    /// <summary>
    /// The child process's side: loads the model, runs the suite's work for it once (the 512-token prompt where the suite ran
    /// it, <c>decodeTokens</c> tokens at batch 1, and batch 8 where the suite ran it), and prints its peak resident set (VmHWM:
    /// the process's memory plus the mapped weight pages it touched), its resident set before the load and its GC heap.
    /// </summary>
    public static int MemoryProbe(IReadOnlyList<string> args)
    {
        string folder = args[0];
        bool full = args[1] == "full";
        var quantization = Enum.Parse<WeightQuantization>(args[2]);
        int threads = int.Parse(args[3], CultureInfo.InvariantCulture), decodeTokens = int.Parse(args[4], CultureInfo.InvariantCulture);
        double before = StatusMb("VmRSS:");
        using var model = HuggingFaceLm.Get(folder, new HuggingFaceLmOptions
        {
            Threads = threads,
            Quantization = quantization,
            UseChatMode = false,
            ModelOptions = new LanguageModelOptions { CacheByDefault = false },
        });
        if (full)
        {
            Bench.Check(model.Predict(PromptOfTokens(model, 512)));
        }

        Bench.Check(model.Predict(Prompt(0, 12, decodeTokens)));
        if (full)
        {
            model.PredictMany(Enumerable.Range(0, 8).Select(i => Prompt(i, 12, decodeTokens)).ToList()).ToList().ForEach(Bench.Check);
        }

        double gc = GC.GetGCMemoryInfo().TotalCommittedBytes / 1e6;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"probe {StatusMb("VmHWM:")} {before} {gc}"));
        return 0;
    }

    /// <summary>A /proc/self/status figure in MB (0 where there is none).</summary>
    private static double StatusMb(string key)
    {
        if (!File.Exists("/proc/self/status"))
        {
            return 0;
        }

        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024 / 1e6;
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
        if (s_peakResettable && StatusMb("VmHWM:") is > 0 and var hwm)
        {
            return (hwm, "VmHWM since the last load");
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

    /// <summary>
    /// This process's CPU seconds plus those of its finished children (cutime + cstime from /proc/self/stat: npm, python3 and node of the
    /// peer), so that the peer is not counted as another process.
    /// </summary>
    private static double OwnCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds + ChildrenCpu();
    }

    private static double ChildrenCpu()
    {
        try
        {
            string stat = File.ReadAllText("/proc/self/stat");
            string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // f[0] is field 3 (state); cutime and cstime are fields 16 and 17, in clock ticks.
            return (double.Parse(f[13], CultureInfo.InvariantCulture) + double.Parse(f[14], CultureInfo.InvariantCulture)) / 100;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return 0;
        }
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
