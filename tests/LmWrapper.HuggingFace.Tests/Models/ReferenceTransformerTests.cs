using System.Text.Json;
using LmWrapper.HuggingFace.Models;

namespace LmWrapper.HuggingFace.Tests.Models;

/// <summary>
/// Proves the <see cref="ReferenceTransformer"/> oracle against references from outside this project (tests/fixtures/models,
/// see /work/shared/fixtures/README.md for where each came from), then checks the semantics it implements on random
/// models of every architecture <see cref="RandomModelWriter"/> makes. Nothing here runs the engine under test.
/// </summary>
public class ReferenceTransformerTests
{
    private static readonly Lazy<ReferenceTransformer> TinyGpt2 = new(() => ReferenceTransformer.Load(HfFormatsFixtures.Path("models", "tiny-gpt2")));
    private static readonly Lazy<ReferenceTransformer> TinyLlama = new(() => ReferenceTransformer.Load(HfFormatsFixtures.Path("models", "tiny-llama")));
    private static readonly Lazy<ReferenceTransformer> Stories = new(() => ReferenceTransformer.Load(HfFormatsFixtures.Path("models", "stories260K")));

    public static TheoryData<int> TinyCaseIndexes()
    {
        var data = new TheoryData<int>();
        int count = File.ReadAllLines(HfFormatsFixtures.Path("models", "tiny-cases.jsonl")).Count(l => l.Trim().Length > 0);
        for (int i = 0; i < count; i++) data.Add(i);
        return data;
    }

    // tiny-cases.jsonl: double-precision outputs of a separate plain implementation of transformers' math.
    [Theory]
    [MemberData(nameof(TinyCaseIndexes))]
    public void MatchesTinyCases(int index)
    {
        string line = File.ReadAllLines(HfFormatsFixtures.Path("models", "tiny-cases.jsonl")).Where(l => l.Trim().Length > 0).ElementAt(index);
        using var doc = JsonDocument.Parse(line);
        var c = doc.RootElement;
        var model = c.GetProperty("model").GetString() switch
        {
            "tiny-gpt2" => TinyGpt2.Value,
            "tiny-llama" => TinyLlama.Value,
            var m => throw new InvalidDataException($"unknown model {m}"),
        };
        int[] ids = Ints(c.GetProperty("input_ids"));
        double[][] logits = model.Logits(ids);
        Assert.Equal(ids.Length, logits.Length);
        Assert.All(logits, row => Assert.Equal(model.VocabSize, row.Length));

        var last = c.GetProperty("last_position");
        int[] topIds = Ints(last.GetProperty("top_ids"));
        double[] topLogits = last.GetProperty("top_logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] row = logits[^1];
        int[] ourTop = Enumerable.Range(0, row.Length).OrderByDescending(i => row[i]).Take(topIds.Length).ToArray();
        Assert.Equal(topIds, ourTop);
        for (int i = 0; i < topIds.Length; i++) Assert.Equal(topLogits[i], row[topIds[i]], 1e-6);
        Assert.Equal(last.GetProperty("logsumexp").GetDouble(), LogSumExp(row), 1e-6);

        Assert.Equal(Ints(c.GetProperty("every_position_top1")), logits.Select(ReferenceTransformer.ArgMax).ToArray());
        int[] greedy = Ints(c.GetProperty("greedy_ids"));
        Assert.Equal(greedy, model.Greedy(ids, greedy.Length));
    }

    // hf-internal-testing/tiny-random-gpt2: the greedy continuations onnxruntime-genai's tests assert, and logits they list.
    [Fact]
    public void MatchesTinyRandomGpt2()
    {
        string folder = HfFormatsFixtures.Path("models", "tiny-random-gpt2");
        var model = ReferenceTransformer.Load(folder);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "expected_greedy.json")));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            int[] input = Ints(c.GetProperty("input_ids"));
            int[] expected = Ints(c.GetProperty("expected_ids"));
            Assert.Equal(expected[input.Length..], model.Greedy(input, expected.Length - input.Length));
        }
        double[] first8 = doc.RootElement.GetProperty("logits_last_pos_for_[0,0,195,731]_first8").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] row = model.Logits([0, 0, 195, 731])[^1];
        // The listed values are float32 results; the margins between them are far larger than this tolerance.
        for (int i = 0; i < first8.Length; i++) Assert.Equal(first8[i], row[i], 1e-5);
    }

    // stories260K: a trained Llama; greedy from BOS must reproduce llama2.c's own test output.
    [Fact]
    public void MatchesStories260KGreedyFromBos()
    {
        string folder = HfFormatsFixtures.Path("models", "stories260K");
        var model = Stories.Value;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "expected_greedy.json")));
        var root = doc.RootElement;
        int[] prompt = Ints(root.GetProperty("prompt_ids"));
        int[] expected = Ints(root.GetProperty("greedy_ids"));
        Assert.Equal(200, expected.Length);

        // The llama2.c logits after BOS (float32 there, hence the tolerance).
        double[] afterBos = model.LastLogits(prompt);
        double[] first8 = root.GetProperty("logits_after_bos_first8").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        for (int i = 0; i < first8.Length; i++) Assert.Equal(first8[i], afterBos[i], 1e-4);
        foreach (var pair in root.GetProperty("top5_after_bos").EnumerateArray())
            Assert.Equal(pair[1].GetDouble(), afterBos[pair[0].GetInt32()], 1e-4);

        // All 200 tokens. The forward is causal and computes each position from the tokens up to it with exactly the
        // same arithmetic whatever follows (RunsOnEveryArchitecture checks prefix rows), so greedy decoding yields
        // `expected` exactly when, in one forward over prompt + expected, every position's argmax is the next token.
        AssertGreedyByTeacherForcing(model, prompt, expected);

        // Literal greedy decoding (a fresh full forward over the whole sequence per token) for the first 40 tokens only:
        // all 200 would take ~20 s in a Debug build, and a RoPE-layout bug already diverges after ~11 tokens.
        Assert.Equal(expected[..40], model.Greedy(prompt, 40));
    }

    private static void AssertGreedyByTeacherForcing(ReferenceTransformer model, int[] prompt, int[] expected)
    {
        int[] sequence = [.. prompt, .. expected[..^1]];
        double[][] logits = model.Logits(sequence);
        for (int i = 0; i < expected.Length; i++)
        {
            int position = prompt.Length - 1 + i;
            Assert.True(ReferenceTransformer.ArgMax(logits[position]) == expected[i], $"generated token {i} (position {position}): argmax {ReferenceTransformer.ArgMax(logits[position])}, expected {expected[i]}");
        }
    }

    // stories260K with text prompts: llama2.c's run.c greedy output (64 steps in all, prompt included).
    [Fact]
    public void MatchesStories260KPromptContinuations()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(HfFormatsFixtures.Path("models", "stories260K", "expected_prompts.json")));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            int[] prompt = Ints(c.GetProperty("prompt_ids_with_bos"));
            int[] output = Ints(c.GetProperty("output_ids"));
            Assert.Equal(prompt, output[..prompt.Length]);
            AssertGreedyByTeacherForcing(Stories.Value, prompt, output[prompt.Length..]);
        }
    }

    public static TheoryData<string> Architectures() => new(ArchitectureSpecs.Keys);

    private static readonly Dictionary<string, RandomModelSpec> ArchitectureSpecs = new()
    {
        ["gpt2"] = new() { ModelType = "gpt2", IntermediateSize = 128, BosTokenId = 0, EosTokenId = 0 },
        ["gpt2-untied-n_inner"] = new() { ModelType = "gpt2", IntermediateSize = 48, TieWordEmbeddings = false, Seed = 2 },
        ["llama"] = new() { ModelType = "llama" },
        ["llama-untied-bias"] = new() { ModelType = "llama", TieWordEmbeddings = false, AttentionBias = true, Seed = 3 },
        ["llama-mha"] = new() { ModelType = "llama", NumKvHeads = 4 },
        ["llama-mqa"] = new() { ModelType = "llama", NumKvHeads = 1 },
        ["llama-head_dim"] = new() { ModelType = "llama", HeadDim = 12, NumHeads = 4, NumKvHeads = 2 },
        ["llama-rope-linear"] = new() { ModelType = "llama", RopeScalingJson = """{"rope_type":"linear","factor":2.0}""" },
        ["llama-rope-linear-legacy-type"] = new() { ModelType = "llama", RopeScalingJson = """{"type":"linear","factor":4.0}""" },
        ["llama-rope-dynamic"] = new() { ModelType = "llama", MaxPositions = 8, RopeScalingJson = """{"rope_type":"dynamic","factor":2.0}""" },
        ["llama-rope-llama3"] = new() { ModelType = "llama", RopeTheta = 500000, RopeScalingJson = """{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":64}""" },
        ["mistral"] = new() { ModelType = "mistral" },
        ["mistral-sliding"] = new() { ModelType = "mistral", SlidingWindow = 4, TieWordEmbeddings = false },
        ["qwen2"] = new() { ModelType = "qwen2", NormEps = 1e-6, RopeTheta = 1000000 },
        ["qwen2-sliding"] = new() { ModelType = "qwen2", SlidingWindow = 3, MaxWindowLayers = 1, NumLayers = 3 },
        ["qwen3"] = new() { ModelType = "qwen3" },
        ["qwen3-head_dim-bias"] = new() { ModelType = "qwen3", HeadDim = 16, AttentionBias = true, TieWordEmbeddings = false },
        ["llama-bf16-sharded"] = new() { ModelType = "llama", DType = LmWrapper.HuggingFace.Safetensors.SafetensorsDType.BF16, Shards = 3 },
        ["gpt2-f16-sharded"] = new() { ModelType = "gpt2", IntermediateSize = 128, DType = LmWrapper.HuggingFace.Safetensors.SafetensorsDType.F16, Shards = 2 },
    };

    private static readonly int[] Ids = [1, 17, 300, 5, 99, 42, 511, 7, 7, 256, 3, 128];

    [Theory]
    [MemberData(nameof(Architectures))]
    public void RunsOnEveryArchitecture(string name)
    {
        var spec = ArchitectureSpecs[name];
        using var dir = new TempDir();
        var model = ReferenceTransformer.Load(RandomModelWriter.Write(dir.Path, spec));
        int n = Ids.Length, layers = spec.NumLayers, heads = spec.NumHeads;

        double[][] logits = model.Logits(Ids);
        Assert.Equal(n, logits.Length);
        Assert.All(logits, row =>
        {
            Assert.Equal(spec.VocabSize, row.Length);
            Assert.All(row, v => Assert.True(double.IsFinite(v)));
        });
        // Not degenerate: the logits vary across the vocabulary and between positions.
        Assert.True(logits[^1].Max() - logits[^1].Min() > 1e-3);
        Assert.NotEqual(logits[0], logits[^1]);

        // LastLogits is the last row of the same forward.
        Assert.Equal(logits[^1], model.LastLogits(Ids));

        double[][][] hidden = model.HiddenStates(Ids);
        Assert.Equal(layers + 1, hidden.Length);
        Assert.All(hidden, h => Assert.All(h, r => Assert.Equal(spec.HiddenSize, r.Length)));

        double[][][][] attn = model.Attentions(Ids);
        Assert.Equal(layers, attn.Length);
        foreach (var layer in attn)
        {
            Assert.Equal(heads, layer.Length);
            foreach (var head in layer)
            {
                Assert.Equal(n, head.Length);
                for (int t = 0; t < n; t++)
                {
                    Assert.Equal(n, head[t].Length);
                    Assert.Equal(1.0, head[t].Sum(), 1e-12);
                    for (int j = t + 1; j < n; j++) Assert.Equal(0.0, head[t][j]);
                }
            }
        }

        // Causal: a prefix gives the same rows as the whole sequence. (Not under dynamic NTK past max_position_embeddings:
        // there the base depends on the length of the whole forward, in transformers too.)
        if (spec.RopeScalingJson?.Contains("dynamic", StringComparison.Ordinal) == true && n > spec.MaxPositions) return;
        double[][] prefix = model.Logits(Ids[..5]);
        for (int t = 0; t < 5; t++)
            for (int v = 0; v < spec.VocabSize; v++) Assert.Equal(logits[t][v], prefix[t][v], 1e-9);

    }

    [Fact]
    public void SlidingWindowKeepsTheLastWKeysIncludingTheQueryItself()
    {
        using var dir = new TempDir();
        var model = ReferenceTransformer.Load(RandomModelWriter.Write(dir.Path, ArchitectureSpecs["mistral-sliding"]));
        const int w = 4;
        double[][][][] attn = model.Attentions(Ids);
        foreach (var head in attn.SelectMany(l => l))
        {
            for (int t = 0; t < Ids.Length; t++)
            {
                for (int j = 0; j <= t; j++)
                {
                    // masking_utils.sliding_window_overlay: kv_idx > q_idx - sliding_window.
                    if (j > t - w) Assert.True(head[t][j] > 0, $"query {t} must see key {j}");
                    else Assert.Equal(0.0, head[t][j]);
                }
            }
        }

        // The first block's output at position t >= W does not depend on token 0 any more.
        int[] changed = [.. Ids];
        changed[0] = 200;
        double[][] a = model.HiddenStates(Ids)[1], b = model.HiddenStates(changed)[1];
        Assert.NotEqual(a[w - 1], b[w - 1]);
        for (int t = w; t < Ids.Length; t++) Assert.Equal(a[t], b[t]);
    }

    [Fact]
    public void Qwen2SlidesOnlyFromMaxWindowLayers()
    {
        using var dir = new TempDir();
        var model = ReferenceTransformer.Load(RandomModelWriter.Write(dir.Path, ArchitectureSpecs["qwen2-sliding"]));
        double[][][][] attn = model.Attentions(Ids);
        int last = Ids.Length - 1;
        // Layer 0 < max_window_layers (1): full causal attention; layers 1 and 2: a window of 3.
        Assert.All(attn[0], head => Assert.True(head[last][0] > 0));
        for (int l = 1; l < 3; l++)
        {
            Assert.All(attn[l], head =>
            {
                for (int j = 0; j <= last - 3; j++) Assert.Equal(0.0, head[last][j]);
                for (int j = last - 2; j <= last; j++) Assert.True(head[last][j] > 0);
            });
        }
    }

    [Fact]
    public void RopeScalingChangesWhatItShould()
    {
        using var dir = new TempDir();
        double[][] Run(RandomModelSpec s, int[] ids)
        {
            string folder = Path.Combine(dir.Path, Guid.NewGuid().ToString("N"));
            return ReferenceTransformer.Load(RandomModelWriter.Write(folder, s)).Logits(ids);
        }

        var plain = new RandomModelSpec { ModelType = "llama", MaxPositions = 8, Seed = 5 };
        int[] shortIds = Ids[..8], longIds = Ids;

        // Dynamic NTK leaves sequences up to max_position_embeddings alone and rescales the base beyond it.
        var dynamic = plain with { RopeScalingJson = """{"rope_type":"dynamic","factor":2.0}""" };
        AssertClose(Run(plain, shortIds), Run(dynamic, shortIds), 0);
        Assert.False(Close(Run(plain, longIds), Run(dynamic, longIds), 1e-6));

        // Linear with factor 2 at position p equals the default at position p / 2 — visible as a change.
        var linear = plain with { RopeScalingJson = """{"rope_type":"linear","factor":2.0}""" };
        Assert.False(Close(Run(plain, shortIds), Run(linear, shortIds), 1e-6));
        // The legacy "type" key means the same as "rope_type".
        AssertClose(Run(linear, shortIds), Run(plain with { RopeScalingJson = """{"type":"linear","factor":2.0}""" }, shortIds), 0);
        // Factor 1 is the identity.
        AssertClose(Run(plain, shortIds), Run(plain with { RopeScalingJson = """{"rope_type":"linear","factor":1.0}""" }, shortIds), 1e-12);

        // llama3 with every wavelength below high_freq_wavelen changes nothing; with a short original context it does.
        var llama3Long = plain with { RopeScalingJson = """{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":1000000000}""" };
        AssertClose(Run(plain, shortIds), Run(llama3Long, shortIds), 1e-12);
        var llama3Short = plain with { RopeScalingJson = """{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":16}""" };
        Assert.False(Close(Run(plain, shortIds), Run(llama3Short, shortIds), 1e-6));
    }

    [Fact]
    public void PositionZeroIgnoresRope()
    {
        // At position 0 every angle is 0, so a one-token forward is the same under any RoPE base or scaling.
        using var dir = new TempDir();
        var a = ReferenceTransformer.Load(RandomModelWriter.Write(Path.Combine(dir.Path, "a"), new RandomModelSpec { Seed = 9 })).Logits([5]);
        var b = ReferenceTransformer.Load(RandomModelWriter.Write(Path.Combine(dir.Path, "b"), new RandomModelSpec { Seed = 9, RopeTheta = 77, RopeScalingJson = """{"rope_type":"linear","factor":3.0}""" })).Logits([5]);
        AssertClose(a, b, 0);
    }

    private static bool Close(double[][] a, double[][] b, double tol) =>
        a.Length == b.Length && a.Zip(b).All(p => p.First.Zip(p.Second).All(q => Math.Abs(q.First - q.Second) <= tol));

    private static void AssertClose(double[][] a, double[][] b, double tol) => Assert.True(Close(a, b, tol), "logits differ");

    private static double LogSumExp(double[] v)
    {
        double max = v.Max();
        return max + Math.Log(v.Sum(x => Math.Exp(x - max)));
    }

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();
}
