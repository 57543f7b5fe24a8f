using System.Text.Json;
using LmWrapper.HuggingFace.Models;
using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace.Tests.Models;

public class RandomModelWriterTests
{
    // The tensors transformers' state_dict has for each architecture, written out by hand from the modeling code.
    private static Dictionary<string, long[]> ExpectedTensors(RandomModelSpec s)
    {
        long d = s.HiddenSize, v = s.VocabSize, inner = s.IntermediateSize;
        var e = new Dictionary<string, long[]>(StringComparer.Ordinal);
        if (s.ModelType == "gpt2")
        {
            e["transformer.wte.weight"] = [v, d];
            e["transformer.wpe.weight"] = [s.MaxPositions, d];
            for (int i = 0; i < s.NumLayers; i++)
            {
                string p = $"transformer.h.{i}.";
                e[p + "ln_1.weight"] = [d];
                e[p + "ln_1.bias"] = [d];
                e[p + "attn.c_attn.weight"] = [d, 3 * d];
                e[p + "attn.c_attn.bias"] = [3 * d];
                e[p + "attn.c_proj.weight"] = [d, d];
                e[p + "attn.c_proj.bias"] = [d];
                e[p + "ln_2.weight"] = [d];
                e[p + "ln_2.bias"] = [d];
                e[p + "mlp.c_fc.weight"] = [d, inner];
                e[p + "mlp.c_fc.bias"] = [inner];
                e[p + "mlp.c_proj.weight"] = [inner, d];
                e[p + "mlp.c_proj.bias"] = [d];
            }
            e["transformer.ln_f.weight"] = [d];
            e["transformer.ln_f.bias"] = [d];
        }
        else
        {
            long hd = s.HeadDim ?? d / s.NumHeads, q = s.NumHeads * hd, kv = s.NumKvHeads * hd;
            e["model.embed_tokens.weight"] = [v, d];
            for (int i = 0; i < s.NumLayers; i++)
            {
                string p = $"model.layers.{i}.";
                e[p + "input_layernorm.weight"] = [d];
                e[p + "post_attention_layernorm.weight"] = [d];
                e[p + "self_attn.q_proj.weight"] = [q, d];
                e[p + "self_attn.k_proj.weight"] = [kv, d];
                e[p + "self_attn.v_proj.weight"] = [kv, d];
                e[p + "self_attn.o_proj.weight"] = [d, q];
                if (s.ModelType == "qwen2" || s.AttentionBias)
                {
                    e[p + "self_attn.q_proj.bias"] = [q];
                    e[p + "self_attn.k_proj.bias"] = [kv];
                    e[p + "self_attn.v_proj.bias"] = [kv];
                }
                if (s.ModelType != "qwen2" && s.AttentionBias) e[p + "self_attn.o_proj.bias"] = [d];
                if (s.ModelType == "qwen3")
                {
                    e[p + "self_attn.q_norm.weight"] = [hd];
                    e[p + "self_attn.k_norm.weight"] = [hd];
                }
                e[p + "mlp.gate_proj.weight"] = [inner, d];
                e[p + "mlp.up_proj.weight"] = [inner, d];
                e[p + "mlp.down_proj.weight"] = [d, inner];
            }
            e["model.norm.weight"] = [d];
        }
        if (!s.TieWordEmbeddings) e["lm_head.weight"] = [v, d];
        return e;
    }

    public static TheoryData<string> Specs() => new(SpecsByName.Keys);

    private static readonly Dictionary<string, RandomModelSpec> SpecsByName = new()
    {
        ["gpt2"] = new() { ModelType = "gpt2", IntermediateSize = 128 },
        ["gpt2-untied"] = new() { ModelType = "gpt2", TieWordEmbeddings = false },
        ["llama"] = new() { ModelType = "llama" },
        ["llama-bias-untied"] = new() { ModelType = "llama", AttentionBias = true, TieWordEmbeddings = false },
        ["llama-head_dim"] = new() { ModelType = "llama", HeadDim = 16 },
        ["mistral"] = new() { ModelType = "mistral", SlidingWindow = 8 },
        ["qwen2"] = new() { ModelType = "qwen2" },
        ["qwen3"] = new() { ModelType = "qwen3" },
        ["qwen3-bias"] = new() { ModelType = "qwen3", AttentionBias = true, HeadDim = 4 },
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void WritesTransformersTensorNamesAndShapes(string name)
    {
        var spec = SpecsByName[name];
        using var dir = new TempDir();
        Assert.Equal(dir.Path, RandomModelWriter.Write(dir.Path, spec));
        Assert.True(File.Exists(dir.File("config.json")));
        Assert.False(File.Exists(dir.File(SafetensorsCheckpoint.IndexFileName)));
        using var ckpt = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Single(ckpt.Files);
        Assert.Equal("pt", ckpt.Metadata["format"]);
        var expected = ExpectedTensors(spec);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), ckpt.TensorNames.Order(StringComparer.Ordinal));
        foreach (var (tensor, shape) in expected)
        {
            var info = ckpt.GetTensor(tensor);
            Assert.Equal(SafetensorsDType.F32, info.DType);
            Assert.Equal(shape, info.Shape);
            float[] values = ckpt.ReadAsFloat32(tensor);
            bool isNorm = tensor.EndsWith("norm.weight", StringComparison.Ordinal) || (tensor.Contains(".ln_", StringComparison.Ordinal) && tensor.EndsWith(".weight", StringComparison.Ordinal));
            bool isBias = tensor.EndsWith(".bias", StringComparison.Ordinal);
            (double lo, double hi) = isNorm ? (0.9, 1.1) : isBias ? (-0.1, 0.1) : (-spec.InitScale, spec.InitScale);
            Assert.All(values, x => Assert.InRange(x, lo, hi));
            Assert.True(values.Distinct().Count() > values.Length / 2, $"{tensor} should be random");
        }
    }

    [Fact]
    public void WritesTheConfigKeysTransformersReads()
    {
        using var dir = new TempDir();
        RandomModelWriter.Write(dir.Path, new RandomModelSpec
        {
            ModelType = "qwen2",
            HeadDim = 16,
            SlidingWindow = 5,
            RopeTheta = 1e6,
            RopeScalingJson = """{"rope_type":"linear","factor":2.0}""",
            NormEps = 1e-6,
            BosTokenId = null,
            EosTokenId = 7,
            DType = SafetensorsDType.BF16,
        });
        using var doc = JsonDocument.Parse(File.ReadAllText(dir.File("config.json")));
        var c = doc.RootElement;
        Assert.Equal("qwen2", c.GetProperty("model_type").GetString());
        Assert.Equal("Qwen2ForCausalLM", c.GetProperty("architectures")[0].GetString());
        Assert.Equal(512, c.GetProperty("vocab_size").GetInt32());
        Assert.Equal(32, c.GetProperty("hidden_size").GetInt32());
        Assert.Equal(64, c.GetProperty("intermediate_size").GetInt32());
        Assert.Equal(2, c.GetProperty("num_hidden_layers").GetInt32());
        Assert.Equal(4, c.GetProperty("num_attention_heads").GetInt32());
        Assert.Equal(2, c.GetProperty("num_key_value_heads").GetInt32());
        Assert.Equal(16, c.GetProperty("head_dim").GetInt32());
        Assert.Equal(128, c.GetProperty("max_position_embeddings").GetInt32());
        Assert.Equal(1e-6, c.GetProperty("rms_norm_eps").GetDouble());
        Assert.Equal(1e6, c.GetProperty("rope_theta").GetDouble());
        Assert.Equal("linear", c.GetProperty("rope_scaling").GetProperty("rope_type").GetString());
        Assert.Equal(2.0, c.GetProperty("rope_scaling").GetProperty("factor").GetDouble());
        Assert.True(c.GetProperty("use_sliding_window").GetBoolean());
        Assert.Equal(5, c.GetProperty("sliding_window").GetInt32());
        Assert.Equal(0, c.GetProperty("max_window_layers").GetInt32());
        Assert.Equal("silu", c.GetProperty("hidden_act").GetString());
        Assert.Equal(JsonValueKind.Null, c.GetProperty("bos_token_id").ValueKind);
        Assert.Equal(7, c.GetProperty("eos_token_id").GetInt32());
        Assert.True(c.GetProperty("tie_word_embeddings").GetBoolean());
        Assert.Equal("bfloat16", c.GetProperty("torch_dtype").GetString());

        using var dir2 = new TempDir();
        RandomModelWriter.Write(dir2.Path, new RandomModelSpec { ModelType = "gpt2", IntermediateSize = 128, NormEps = 1e-5 });
        using var doc2 = JsonDocument.Parse(File.ReadAllText(dir2.File("config.json")));
        var g = doc2.RootElement;
        Assert.Equal("GPT2LMHeadModel", g.GetProperty("architectures")[0].GetString());
        Assert.Equal(32, g.GetProperty("n_embd").GetInt32());
        Assert.Equal(2, g.GetProperty("n_layer").GetInt32());
        Assert.Equal(4, g.GetProperty("n_head").GetInt32());
        Assert.Equal(JsonValueKind.Null, g.GetProperty("n_inner").ValueKind); // 4 * n_embd
        Assert.Equal(128, g.GetProperty("n_positions").GetInt32());
        Assert.Equal(128, g.GetProperty("n_ctx").GetInt32());
        Assert.Equal(1e-5, g.GetProperty("layer_norm_epsilon").GetDouble());
        Assert.Equal("gelu_new", g.GetProperty("activation_function").GetString());
        Assert.Equal("float32", g.GetProperty("torch_dtype").GetString());

        using var dir3 = new TempDir();
        RandomModelWriter.Write(dir3.Path, new RandomModelSpec { ModelType = "mistral" });
        using var doc3 = JsonDocument.Parse(File.ReadAllText(dir3.File("config.json")));
        // MistralConfig defaults sliding_window to 4096, so "no window" must be written as null.
        Assert.Equal(JsonValueKind.Null, doc3.RootElement.GetProperty("sliding_window").ValueKind);
        Assert.Equal("MistralForCausalLM", doc3.RootElement.GetProperty("architectures")[0].GetString());

        using var dir4 = new TempDir();
        RandomModelWriter.Write(dir4.Path, new RandomModelSpec { ModelType = "qwen3", HiddenSize = 48, NumHeads = 4 });
        using var doc4 = JsonDocument.Parse(File.ReadAllText(dir4.File("config.json")));
        // Qwen3Config defaults head_dim to 128, so it is always written.
        Assert.Equal(12, doc4.RootElement.GetProperty("head_dim").GetInt32());
        Assert.False(doc4.RootElement.GetProperty("attention_bias").GetBoolean());
    }

    [Fact]
    public void ShardedCheckpointHoldsTheSameWeightsAsOneFile()
    {
        var spec = new RandomModelSpec { ModelType = "qwen3", TieWordEmbeddings = false, Seed = 11 };
        using var single = new TempDir();
        using var sharded = new TempDir();
        RandomModelWriter.Write(single.Path, spec);
        RandomModelWriter.Write(sharded.Path, spec with { Shards = 3 });
        Assert.False(File.Exists(sharded.File(SafetensorsCheckpoint.SingleFileName)));
        for (int i = 1; i <= 3; i++) Assert.True(File.Exists(sharded.File($"model-0000{i}-of-00003.safetensors")));

        using var a = SafetensorsCheckpoint.Open(single.Path);
        using var b = SafetensorsCheckpoint.Open(sharded.Path);
        Assert.Equal(3, b.Files.Count);
        Assert.All(b.Files, f => Assert.NotEmpty(f.TensorNames));
        Assert.Equal(a.TensorNames.Order(StringComparer.Ordinal), b.TensorNames.Order(StringComparer.Ordinal));
        long total = 0;
        foreach (string name in a.TensorNames)
        {
            Assert.Equal(a.GetTensor(name).Shape, b.GetTensor(name).Shape);
            Assert.Equal(a.ReadAsFloat32(name), b.ReadAsFloat32(name));
            total += b.GetTensor(name).ByteLength;
        }
        Assert.Equal(total.ToString(System.Globalization.CultureInfo.InvariantCulture), b.Metadata["total_size"]);

        // Rewriting as one file into the same folder removes the shards and the index.
        RandomModelWriter.Write(sharded.Path, spec);
        Assert.False(File.Exists(sharded.File(SafetensorsCheckpoint.IndexFileName)));
        Assert.Single(Directory.GetFiles(sharded.Path, "*.safetensors"));
    }

    [Theory]
    [InlineData(SafetensorsDType.F16)]
    [InlineData(SafetensorsDType.BF16)]
    public void HalfPrecisionWeightsAreTheRoundedFloat32Ones(SafetensorsDType dtype)
    {
        var spec = new RandomModelSpec { ModelType = "llama", Seed = 4 };
        using var f32 = new TempDir();
        using var half = new TempDir();
        RandomModelWriter.Write(f32.Path, spec);
        RandomModelWriter.Write(half.Path, spec with { DType = dtype, Shards = 2 });
        using var a = SafetensorsCheckpoint.Open(f32.Path);
        using var b = SafetensorsCheckpoint.Open(half.Path);
        using (var doc = JsonDocument.Parse(File.ReadAllText(half.File("config.json"))))
            Assert.Equal(dtype == SafetensorsDType.F16 ? "float16" : "bfloat16", doc.RootElement.GetProperty("torch_dtype").GetString());
        foreach (string name in a.TensorNames)
        {
            Assert.Equal(dtype, b.GetTensor(name).DType);
            float[] full = a.ReadAsFloat32(name), rounded = b.ReadAsFloat32(name);
            for (int i = 0; i < full.Length; i++)
            {
                float expected = dtype == SafetensorsDType.F16
                    ? (float)(Half)full[i]
                    : BitConverter.UInt32BitsToSingle((uint)HalfConversion.FloatToBf16(full[i]) << 16);
                Assert.Equal(expected, rounded[i]);
            }
        }
    }

    [Fact]
    public void IsDeterministicForASeed()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        using var c = new TempDir();
        var spec = new RandomModelSpec { ModelType = "mistral", Seed = 42 };
        RandomModelWriter.Write(a.Path, spec);
        RandomModelWriter.Write(b.Path, spec);
        RandomModelWriter.Write(c.Path, spec with { Seed = 43 });
        Assert.Equal(File.ReadAllBytes(a.File("model.safetensors")), File.ReadAllBytes(b.File("model.safetensors")));
        Assert.Equal(File.ReadAllText(a.File("config.json")), File.ReadAllText(b.File("config.json")));
        Assert.NotEqual(File.ReadAllBytes(a.File("model.safetensors")), File.ReadAllBytes(c.File("model.safetensors")));
    }

    [Fact]
    public void CopiesTokenizerFiles()
    {
        using var dir = new TempDir();
        string tok = HfFormatsFixtures.Path("tokenizers", "llama2");
        RandomModelWriter.Write(dir.Path, new RandomModelSpec { TokenizerFolder = tok });
        Assert.Equal(File.ReadAllBytes(Path.Combine(tok, "tokenizer.json")), File.ReadAllBytes(dir.File("tokenizer.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(tok, "tokenizer_config.json")), File.ReadAllBytes(dir.File("tokenizer_config.json")));
        Assert.Equal(File.Exists(Path.Combine(tok, "special_tokens_map.json")), File.Exists(dir.File("special_tokens_map.json")));
    }

    [Fact]
    public void RejectsWhatTransformersCannotHave()
    {
        using var dir = new TempDir();
        Assert.Throws<ArgumentException>(() => RandomModelWriter.Write(dir.Path, new RandomModelSpec { ModelType = "falcon" }));
        Assert.Throws<ArgumentException>(() => RandomModelWriter.Write(dir.Path, new RandomModelSpec { ModelType = "mistral", AttentionBias = true }));
        Assert.Throws<ArgumentException>(() => RandomModelWriter.Write(dir.Path, new RandomModelSpec { ModelType = "llama", SlidingWindow = 4 }));
        Assert.Throws<ArgumentException>(() => RandomModelWriter.Write(dir.Path, new RandomModelSpec { NumHeads = 4, NumKvHeads = 3 }));
        Assert.Throws<ArgumentException>(() => RandomModelWriter.Write(dir.Path, new RandomModelSpec { DType = SafetensorsDType.I8 }));
        Assert.Throws<ArgumentException>(() => RandomModelWriter.Write(dir.Path, new RandomModelSpec { Shards = 1000 }));
    }
}
