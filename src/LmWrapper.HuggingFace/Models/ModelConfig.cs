using System.Globalization;
using System.Text.Json;

namespace LmWrapper.HuggingFace.Models;

/// <summary>The two families of causal LMs the engine runs.</summary>
internal enum ModelFamily
{
    /// <summary>GPT-2: learned positions, LayerNorm, gelu_new, Conv1D weights.</summary>
    Gpt2,

    /// <summary>Llama, Mistral, Qwen2, Qwen3: RMSNorm, RoPE, SwiGLU, grouped-query attention.</summary>
    Llama,
}

/// <summary>How RoPE frequencies are scaled (<c>rope_scaling.rope_type</c>).</summary>
internal enum RopeScalingType
{
    /// <summary>No scaling.</summary>
    Default,

    /// <summary>Positions divided by the factor.</summary>
    Linear,

    /// <summary>Dynamic NTK: the base grows with the sequence past the trained length.</summary>
    Dynamic,

    /// <summary>Llama 3's frequency-band scaling.</summary>
    Llama3,
}

/// <summary>
/// The parts of a model's <c>config.json</c> the engine uses, checked: an unknown model type or an option the engine does
/// not implement is a <see cref="HuggingFaceModelException"/>, never a silently different model.
/// </summary>
internal sealed record ModelConfig
{
    public required string Folder { get; init; }

    public required string ModelType { get; init; }

    public required ModelFamily Family { get; init; }

    public required int VocabSize { get; init; }

    public required int HiddenSize { get; init; }

    public required int NumLayers { get; init; }

    public required int NumHeads { get; init; }

    public required int NumKvHeads { get; init; }

    public required int HeadDim { get; init; }

    public required int IntermediateSize { get; init; }

    public required int MaxPositions { get; init; }

    public required double NormEps { get; init; }

    public bool TieWordEmbeddings { get; init; }

    /// <summary>q/k/v projections have biases (Qwen2 always; Llama/Mistral with attention_bias).</summary>
    public bool QkvBias { get; init; }

    /// <summary>The output projection has a bias (Llama/Mistral with attention_bias).</summary>
    public bool OutputBias { get; init; }

    /// <summary>The MLP projections have biases (Llama's mlp_bias).</summary>
    public bool MlpBias { get; init; }

    /// <summary>Qwen3's RMSNorm over each head of q and k.</summary>
    public bool QkNorm { get; init; }

    public double RopeTheta { get; init; } = 10000;

    public RopeScalingType RopeScaling { get; init; }

    public double RopeFactor { get; init; } = 1;

    public double RopeLowFreqFactor { get; init; } = 1;

    public double RopeHighFreqFactor { get; init; } = 4;

    public int RopeOriginalMaxPositions { get; init; }

    /// <summary>
    /// Per layer, the attention window (a query at position i sees keys j with i − j &lt; window), or null for full
    /// attention: Mistral on every layer; Qwen2/Qwen3 with use_sliding_window on layers from max_window_layers on;
    /// or as config.json's layer_types says.
    /// </summary>
    public IReadOnlyList<int?> LayerWindows { get; init; } = [];

    /// <summary>GPT-2's scale_attn_weights (divide scores by sqrt(head_dim)).</summary>
    public bool ScaleAttnWeights { get; init; } = true;

    /// <summary>GPT-2's scale_attn_by_inverse_layer_idx.</summary>
    public bool ScaleAttnByInverseLayerIdx { get; init; }

    public int? BosTokenId { get; init; }

    /// <summary>Every id that ends generation (config's eos_token_id may be a list).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    public string TorchDType { get; init; } = "float32";

    private static readonly HashSet<string> LlamaTypes = new(StringComparer.Ordinal) { "llama", "mistral", "qwen2", "qwen3" };

    /// <summary>Reads and checks <c>config.json</c> in <paramref name="folder"/>.</summary>
    public static ModelConfig Load(string folder)
    {
        string path = Path.Combine(folder, "config.json");
        if (!File.Exists(path))
        {
            throw new HuggingFaceModelException(folder, "there is no config.json, so this is not a Hugging Face model folder.");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new HuggingFaceModelException(folder, $"config.json is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new HuggingFaceModelException(folder, "config.json is not a JSON object.");
            }

            return Parse(folder, root);
        }
    }

    internal static ModelConfig Parse(string folder, JsonElement root)
    {
        var r = new Reader(folder, root);
        string type = r.String("model_type") ?? throw new HuggingFaceModelException(folder, "config.json has no \"model_type\".");
        int? bos = r.OptionalInt("bos_token_id");
        var eos = r.IntOrList("eos_token_id");
        string dtype = r.String("torch_dtype") ?? r.String("dtype") ?? "float32";
        if (type == "gpt2")
        {
            string act = r.String("activation_function") ?? "gelu_new";
            if (act is not ("gelu_new" or "gelu_pytorch_tanh"))
            {
                throw new HuggingFaceModelException(folder, $"config.json's activation_function \"{act}\" is not supported (GPT-2 models use gelu_new).");
            }

            int d = r.Int("n_embd");
            int heads = r.Int("n_head");
            CheckDivisible(folder, d, heads, "n_embd", "n_head");
            return new ModelConfig
            {
                Folder = folder,
                ModelType = type,
                Family = ModelFamily.Gpt2,
                VocabSize = r.Int("vocab_size"),
                HiddenSize = d,
                NumLayers = r.Int("n_layer"),
                NumHeads = heads,
                NumKvHeads = heads,
                HeadDim = d / heads,
                IntermediateSize = r.OptionalInt("n_inner") ?? 4 * d,
                MaxPositions = r.OptionalInt("n_positions") ?? r.Int("n_ctx"),
                NormEps = r.Double("layer_norm_epsilon", 1e-5),
                TieWordEmbeddings = r.Bool("tie_word_embeddings", true),
                ScaleAttnWeights = r.Bool("scale_attn_weights", true),
                ScaleAttnByInverseLayerIdx = r.Bool("scale_attn_by_inverse_layer_idx", false),
                BosTokenId = bos,
                EosTokenIds = eos,
                TorchDType = dtype,
            };
        }

        if (!LlamaTypes.Contains(type))
        {
            throw new HuggingFaceModelException(folder,
                $"model_type \"{type}\" is not supported. LmWrapper runs gpt2, llama, mistral, qwen2 and qwen3 models.");
        }

        string hiddenAct = r.String("hidden_act") ?? "silu";
        if (hiddenAct != "silu")
        {
            throw new HuggingFaceModelException(folder, $"config.json's hidden_act \"{hiddenAct}\" is not supported (this family uses silu).");
        }

        int hidden = r.Int("hidden_size");
        int nHeads = r.Int("num_attention_heads");
        int nKv = r.OptionalInt("num_key_value_heads") ?? nHeads;
        int headDim = r.OptionalInt("head_dim") ?? (type == "qwen3" ? 128 : 0); // Qwen3Config's default head_dim is 128, not hidden / heads
        if (headDim == 0)
        {
            CheckDivisible(folder, hidden, nHeads, "hidden_size", "num_attention_heads");
            headDim = hidden / nHeads;
        }

        CheckDivisible(folder, nHeads, nKv, "num_attention_heads", "num_key_value_heads");
        if (headDim % 2 != 0)
        {
            throw new HuggingFaceModelException(folder, $"head_dim {headDim} is odd; rotary embeddings need an even head size.");
        }

        if (r.Has("partial_rotary_factor") && r.Double("partial_rotary_factor", 1) != 1)
        {
            throw new HuggingFaceModelException(folder, "config.json's partial_rotary_factor other than 1 is not supported.");
        }

        bool attentionBias = type != "mistral" && r.Bool("attention_bias", false);
        int layers = r.Int("num_hidden_layers");
        var windows = ReadLayerWindows(folder, type, root, r, layers);

        var rope = ReadRopeScaling(folder, root, r);
        double theta = r.Double("rope_theta", 10000);
        if (root.TryGetProperty("rope_parameters", out var rp) && rp.ValueKind == JsonValueKind.Object && rp.TryGetProperty("rope_theta", out var rt) && rt.ValueKind == JsonValueKind.Number)
        {
            theta = rt.GetDouble();
        }

        int maxPos = r.OptionalInt("max_position_embeddings") ?? 2048;
        return new ModelConfig
        {
            Folder = folder,
            ModelType = type,
            Family = ModelFamily.Llama,
            VocabSize = r.Int("vocab_size"),
            HiddenSize = hidden,
            NumLayers = layers,
            NumHeads = nHeads,
            NumKvHeads = nKv,
            HeadDim = headDim,
            IntermediateSize = r.Int("intermediate_size"),
            MaxPositions = maxPos,
            NormEps = r.Double("rms_norm_eps", 1e-6),
            TieWordEmbeddings = r.Bool("tie_word_embeddings", false),
            QkvBias = type == "qwen2" || attentionBias,
            OutputBias = type != "qwen2" && attentionBias,
            MlpBias = r.Bool("mlp_bias", false),
            QkNorm = type == "qwen3",
            RopeTheta = theta,
            RopeScaling = rope.Type,
            RopeFactor = rope.Factor,
            RopeLowFreqFactor = rope.Low,
            RopeHighFreqFactor = rope.High,
            RopeOriginalMaxPositions = rope.OriginalMax ?? maxPos,
            LayerWindows = windows,
            BosTokenId = bos,
            EosTokenIds = eos,
            TorchDType = dtype,
        };
    }

    private static int?[] ReadLayerWindows(string folder, string type, JsonElement root, Reader r, int layers)
    {
        var windows = new int?[layers];
        int? window;
        if (root.TryGetProperty("sliding_window", out var sw) && sw.ValueKind != JsonValueKind.Null)
        {
            window = r.OptionalInt("sliding_window");
            if (window is <= 0)
            {
                throw new HuggingFaceModelException(folder, $"config.json's sliding_window {window} must be positive.");
            }
        }
        else
        {
            // MistralConfig's default is 4096; an explicit null means full attention.
            window = type == "mistral" && !root.TryGetProperty("sliding_window", out _) ? 4096 : null;
        }

        // Qwen2/Qwen3 configs drop the window unless use_sliding_window says otherwise (whatever layer_types says).
        if (window is null || (type is "qwen2" or "qwen3" && !r.Bool("use_sliding_window", false)))
        {
            return windows;
        }

        if (root.TryGetProperty("layer_types", out var lt) && lt.ValueKind == JsonValueKind.Array)
        {
            var types = lt.EnumerateArray().Select(e => e.GetString()).ToArray();
            if (types.Length != layers)
            {
                throw new HuggingFaceModelException(folder, $"config.json's layer_types has {types.Length} entries for {layers} layers.");
            }

            for (int i = 0; i < layers; i++)
            {
                windows[i] = types[i] switch
                {
                    "sliding_attention" => window,
                    "full_attention" => null,
                    var other => throw new HuggingFaceModelException(folder, $"config.json's layer_types entry \"{other}\" is not supported."),
                };
            }

            return windows;
        }

        if (type == "mistral")
        {
            Array.Fill(windows, window);
        }
        else if (type is "qwen2" or "qwen3")
        {
            int from = r.OptionalInt("max_window_layers") ?? 28;
            for (int i = from; i < layers; i++)
            {
                windows[i] = window;
            }
        }

        return windows;
    }

    private static (RopeScalingType Type, double Factor, double Low, double High, int? OriginalMax) ReadRopeScaling(string folder, JsonElement root, Reader r)
    {
        JsonElement s = default;
        bool found = (root.TryGetProperty("rope_scaling", out s) && s.ValueKind == JsonValueKind.Object)
            || (root.TryGetProperty("rope_parameters", out s) && s.ValueKind == JsonValueKind.Object);
        if (!found)
        {
            return (RopeScalingType.Default, 1, 1, 4, null);
        }

        var sr = new Reader(folder, s);
        string kind = sr.String("rope_type") ?? sr.String("type") ?? "default";
        double factor = sr.Double("factor", 1);
        if (kind != "default" && !(factor > 0))
        {
            throw new HuggingFaceModelException(folder, $"rope_scaling.factor must be positive, but was {factor.ToString(CultureInfo.InvariantCulture)}.");
        }

        return kind switch
        {
            "default" => (RopeScalingType.Default, 1, 1, 4, null),
            "linear" => (RopeScalingType.Linear, factor, 1, 4, null),
            "dynamic" => (RopeScalingType.Dynamic, factor, 1, 4, sr.OptionalInt("original_max_position_embeddings")),
            "llama3" => (RopeScalingType.Llama3, factor, sr.Double("low_freq_factor", 1), sr.Double("high_freq_factor", 4),
                sr.OptionalInt("original_max_position_embeddings") ?? throw new HuggingFaceModelException(folder, "rope_scaling of type llama3 needs original_max_position_embeddings.")),
            _ => throw new HuggingFaceModelException(folder,
                $"rope_scaling type \"{kind}\" is not supported (supported: default, linear, dynamic, llama3)."),
        };
    }

    private static void CheckDivisible(string folder, int a, int b, string aName, string bName)
    {
        if (b <= 0 || a <= 0 || a % b != 0)
        {
            throw new HuggingFaceModelException(folder, $"config.json's {aName} ({a}) must be a positive multiple of {bName} ({b}).");
        }
    }

    /// <summary>Typed reads from config.json with errors that name the key.</summary>
    private readonly struct Reader(string folder, JsonElement json)
    {
        public bool Has(string name) => json.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

        public string? String(string name) =>
            json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        public int Int(string name) =>
            OptionalInt(name) ?? throw new HuggingFaceModelException(folder, $"config.json has no \"{name}\".");

        public int? OptionalInt(string name)
        {
            if (!json.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i) || i < 0)
            {
                throw new HuggingFaceModelException(folder, $"config.json's \"{name}\" must be a non-negative integer, but is {v.GetRawText()}.");
            }

            return i;
        }

        public double Double(string name, double fallback)
        {
            if (!json.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            {
                return fallback;
            }

            return v.ValueKind == JsonValueKind.Number
                ? v.GetDouble()
                : throw new HuggingFaceModelException(folder, $"config.json's \"{name}\" must be a number, but is {v.GetRawText()}.");
        }

        public bool Bool(string name, bool fallback) =>
            json.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

        public IReadOnlyList<int> IntOrList(string name)
        {
            if (!json.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            {
                return [];
            }

            if (v.ValueKind == JsonValueKind.Array)
            {
                return [.. v.EnumerateArray().Select(e => e.GetInt32())];
            }

            return [OptionalInt(name)!.Value];
        }
    }
}
