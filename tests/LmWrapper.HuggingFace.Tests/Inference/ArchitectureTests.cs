using LmWrapper.HuggingFace.Models;
using LmWrapper.HuggingFace.Safetensors;
using LmWrapper.HuggingFace.Tests.Models;

namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>Every architecture against the double-precision reference forward, and the engine's own invariants.</summary>
public sealed class ArchitectureTests
{
    public static TheoryData<string> Architectures => [.. RandomModels.Names];

    private static readonly int[] Ids = [1, 450, 4996, 17354, 1701, 29916, 432, 278, 17366, 11203, 975, 263, 29871, 13];

    private static int[] IdsFor(string name) => RandomModels.Specs[name].ModelType == "gpt2"
        ? [464, 3290, 11, 257, 1263, 2933, 13, 383, 11, 2068, 198, 4380, 286, 50256]
        : Ids;

    [Theory]
    [MemberData(nameof(Architectures))]
    public void LogitsMatchTheReferenceForward(string name)
    {
        string folder = RandomModels.Folder(name);
        using var engine = Engine.Load(folder);
        var reference = ReferenceTransformer.Load(folder);
        int[] ids = IdsFor(name);
        var ours = engine.Logits(ids);
        var theirs = reference.Logits(ids);
        for (int t = 0; t < ids.Length; t++)
        {
            for (int v = 0; v < ours[t].Length; v += 7)
            {
                Assert.True(Math.Abs(ours[t][v] - theirs[t][v]) < 1e-4, $"{name}: position {t}, token {v}: {ours[t][v]} vs {theirs[t][v]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void KvCacheEqualsFullRecomputation(string name)
    {
        using var engine = Engine.Load(RandomModels.Folder(name));
        int[] ids = IdsFor(name);
        var full = engine.Logits(ids);
        var cache = engine.Model.NewCache(2);
        var first = new ForwardItem { Cache = cache, Tokens = ids[..5], AllLogits = true };
        engine.Model.Forward([first]);
        int v = engine.Model.Config.VocabSize;
        AssertClose(full[4], first.Logits.AsSpan(4 * v, v).ToArray(), 1e-5f, $"{name} prefill");
        for (int t = 5; t < ids.Length; t++)
        {
            var step = new ForwardItem { Cache = cache, Tokens = [ids[t]] };
            engine.Model.Forward([step]);
            AssertClose(full[t], step.Logits, 1e-5f, $"{name} step {t}");
        }
    }

    [Fact]
    public void ParallelAttentionOverGroupedKvHeadsMatchesTheReference()
    {
        // Wide enough that attention runs in parallel over (row, KV head) pairs (CausalTransformer.ParallelAttentionWork):
        // 8 query heads share 2 KV heads, 4 to a group, each group's heads run together on one thread.
        var spec = RandomModels.Specs["llama"] with { HiddenSize = 64, NumHeads = 8, NumKvHeads = 2, IntermediateSize = 96, Seed = 21 };
        string folder = RandomModels.Folder("llama-wide-gqa", spec);
        using var engine = Engine.Load(folder, threads: 2);
        var reference = ReferenceTransformer.Load(folder);
        int[] ids = [.. Enumerable.Range(0, 40).Select(i => 100 + (i * 37 % 900))];
        var ours = engine.Logits(ids);
        var theirs = reference.Logits(ids);
        for (int t = 0; t < ids.Length; t++)
        {
            for (int v = 0; v < ours[t].Length; v += 11)
            {
                Assert.True(Math.Abs(ours[t][v] - theirs[t][v]) < 1e-4, $"position {t}, token {v}: {ours[t][v]} vs {theirs[t][v]}");
            }
        }

        // A decoding step of several sequences (parallel again) gives each the numbers of its own full pass.
        int[][] sequences = [ids[..30], ids[5..38], ids[1..40]];
        var caches = sequences.Select(s =>
        {
            var cache = engine.Model.NewCache(s.Length);
            engine.Model.Forward([new ForwardItem { Cache = cache, Tokens = s[..^1] }]);
            return cache;
        }).ToArray();
        var step = sequences.Select((s, i) => new ForwardItem { Cache = caches[i], Tokens = [s[^1]] }).ToArray();
        engine.Model.Forward(step);
        for (int i = 0; i < sequences.Length; i++)
        {
            AssertClose(engine.Logits(sequences[i])[^1], step[i].Logits, 1e-5f, $"sequence {i}");
        }
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void ABatchGivesEachSequenceTheNumbersItGetsAlone(string name)
    {
        using var engine = Engine.Load(RandomModels.Folder(name));
        int[] ids = IdsFor(name);
        int[][] sequences = [ids[..3], ids[2..11], ids[5..]];
        var alone = sequences.Select(s => engine.Logits(s)).ToArray();
        var items = sequences.Select(s => new ForwardItem { Cache = engine.Model.NewCache(4), Tokens = s, AllLogits = true }).ToArray();
        engine.Model.Forward(items);
        int v = engine.Model.Config.VocabSize;
        for (int i = 0; i < sequences.Length; i++)
        {
            for (int t = 0; t < sequences[i].Length; t++)
            {
                Assert.Equal(alone[i][t], items[i].Logits.AsSpan(t * v, v).ToArray());
            }
        }
    }

    [Theory]
    [InlineData("llama", 1)]
    [InlineData("gpt2", 2)]
    public void HiddenStatesAndAttentionsMatchTheReference(string name, int threads)
    {
        string folder = RandomModels.Folder(name);
        using var engine = Engine.Load(folder, threads);
        var reference = ReferenceTransformer.Load(folder);
        int[] ids = IdsFor(name)[..9];
        var collector = new Generation.InternalsCollector(new LmWrapper.Internals.ModelInternalsRequest { HiddenStates = true, Attentions = true }, engine.Model.Config);
        engine.Model.Forward([new ForwardItem { Cache = engine.Model.NewCache(9), Tokens = ids, Observer = collector }]);
        var internals = collector.Build([.. Enumerable.Range(0, ids.Length)], null, hasBos: false);
        var hidden = reference.HiddenStates(ids);
        var attentions = reference.Attentions(ids);
        Assert.Equal(hidden.Length, internals.HiddenStates.Count);
        for (int l = 0; l < hidden.Length; l++)
        {
            for (int p = 0; p < ids.Length; p++)
            {
                for (int d = 0; d < hidden[l][p].Length; d++)
                {
                    Assert.True(Math.Abs(hidden[l][p][d] - internals.HiddenStates[l][p, d]) < 1e-4, $"hidden {l},{p},{d}");
                }
            }
        }

        Assert.Equal(attentions.Length, internals.Attentions.Count);
        for (int l = 0; l < attentions.Length; l++)
        {
            for (int h = 0; h < attentions[l].Length; h++)
            {
                for (int q = 0; q < ids.Length; q++)
                {
                    for (int k = 0; k < ids.Length; k++)
                    {
                        Assert.True(Math.Abs(attentions[l][h][q][k] - internals.Attentions[l][h, q, k]) < 1e-5, $"attention {l},{h},{q},{k}");
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(SafetensorsDType.F16)]
    [InlineData(SafetensorsDType.BF16)]
    public void HalfPrecisionWeightsGiveTheLogitsOfTheirFloat32Values(SafetensorsDType dtype)
    {
        foreach (var arch in new[] { "llama", "gpt2" })
        {
            var spec = RandomModels.Specs[arch] with { DType = dtype };
            string half = RandomModels.Folder($"{arch}-{dtype}", spec);
            string f32 = RandomModels.ToFloat32(half, half + "-as-f32");
            int[] ids = IdsFor(arch);
            using var a = Engine.Load(half);
            using var b = Engine.Load(f32);
            using var c = Engine.Load(half, toFloat32: true);
            var la = a.Logits(ids);
            var lb = b.Logits(ids);
            var lc = c.Logits(ids);
            for (int t = 0; t < ids.Length; t++)
            {
                AssertClose(lb[t], la[t], 1e-5f, $"{arch} {dtype} position {t}");
                AssertClose(lb[t], lc[t], 1e-5f, $"{arch} {dtype} converted, position {t}");
            }
        }
    }

    [Theory]
    [InlineData(SafetensorsDType.F32)]
    [InlineData(SafetensorsDType.F16)]
    public void Gpt2ConvWeightsReadInSeveralBlocksAreTransposedExactly(SafetensorsDType dtype)
    {
        // c_fc is [128, 8320]: 4.26 MB in F32, more than one 4 MB read block (126 rows, then 2), so the transpose that
        // reads the file in blocks crosses a block boundary; F16 fits one block but takes the ushort path.
        var spec = RandomModels.Specs["gpt2"] with { HiddenSize = 128, IntermediateSize = 8320, NumLayers = 1, DType = dtype };
        string folder = RandomModels.Folder($"gpt2-wide-{dtype}", spec);
        using var engine = Engine.Load(folder);
        var reference = ReferenceTransformer.Load(folder);
        int[] ids = IdsFor("gpt2");
        var ours = engine.Logits(ids);
        var theirs = reference.Logits(ids);
        for (int t = 0; t < ids.Length; t++)
        {
            for (int v = 0; v < ours[t].Length; v += 7)
            {
                Assert.True(Math.Abs(ours[t][v] - theirs[t][v]) < 1e-4, $"{dtype}: position {t}, token {v}: {ours[t][v]} vs {theirs[t][v]}");
            }
        }
    }

    [Fact]
    public void AShardedCheckpointGivesTheSameLogits()
    {
        var spec = RandomModels.Specs["qwen3"];
        string single = RandomModels.Folder("qwen3");
        string sharded = RandomModels.Folder("qwen3-sharded", spec with { Shards = 3 });
        Assert.True(File.Exists(Path.Combine(sharded, SafetensorsCheckpoint.IndexFileName)));
        using var a = Engine.Load(single);
        using var b = Engine.Load(sharded);
        var la = a.Logits(Ids);
        var lb = b.Logits(Ids);
        for (int t = 0; t < Ids.Length; t++)
        {
            Assert.Equal(la[t], lb[t]);
        }
    }

    [Fact]
    public void TheSlidingWindowLimitsWhatAQuerySees()
    {
        // Mistral's window is 4: the last position's attention covers exactly its 4 most recent keys.
        string folder = RandomModels.Folder("mistral");
        using var engine = Engine.Load(folder);
        var collector = new Generation.InternalsCollector(new LmWrapper.Internals.ModelInternalsRequest { Attentions = true }, engine.Model.Config);
        engine.Model.Forward([new ForwardItem { Cache = engine.Model.NewCache(10), Tokens = Ids[..10], Observer = collector }]);
        var att = collector.Build([9], null, false).Attentions[0];
        for (int k = 0; k < 10; k++)
        {
            Assert.Equal(k >= 6, att[0, 0, k] > 0);
        }
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}: index {i}: {expected[i]} vs {actual[i]}");
        }
    }
}
