using System.Globalization;
using System.Text.Json;
using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace.Models;

/// <summary>
/// Writes a seeded random-weight model folder in the exact Hugging Face layout: <c>config.json</c> with transformers'
/// keys, safetensors weights under transformers' tensor names (one file, or shards with an index), and optionally the
/// tokenizer files of another folder. Tests and benchmarks use it to make models of every supported architecture.
/// </summary>
internal static class RandomModelWriter
{
    private static readonly string[] TokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    /// <summary>Writes the model into <paramref name="folder"/> (created if needed; old weight files there are removed).</summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="spec">What to write.</param>
    /// <returns>The folder.</returns>
    /// <exception cref="ArgumentException">The spec is inconsistent or names an unsupported architecture.</exception>
    public static string Write(string folder, RandomModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(spec);
        Validate(spec);
        var tensors = spec.ModelType == "gpt2" ? Gpt2Tensors(spec) : LlamaTensors(spec);
        if (spec.Shards > tensors.Count)
            throw new ArgumentException($"{spec.Shards} shards need at least as many tensors, but the model has {tensors.Count}.", nameof(spec));

        Directory.CreateDirectory(folder);
        foreach (string old in Directory.GetFiles(folder, "model*.safetensors").Append(Path.Combine(folder, SafetensorsCheckpoint.IndexFileName)))
            if (File.Exists(old)) File.Delete(old);

        // Every value comes from one Random in the order the tensors are listed, so a seed fixes the whole model.
        var rng = new Random(spec.Seed);
        var values = new List<float[]>(tensors.Count);
        foreach (var t in tensors)
        {
            var v = new float[t.Shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < v.Length; i++)
            {
                double u = rng.NextDouble() * 2 - 1;
                v[i] = t.Kind switch
                {
                    Init.Norm => (float)(1 + 0.1 * u),
                    Init.Bias => (float)(0.1 * u),
                    _ => (float)(spec.InitScale * u),
                };
            }
            values.Add(v);
        }

        if (spec.Shards == 1)
        {
            var w = new SafetensorsWriter().AddMetadata("format", "pt");
            for (int i = 0; i < tensors.Count; i++) w.Add(tensors[i].Name, values[i], tensors[i].Shape, spec.DType);
            w.Save(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName));
        }
        else
        {
            WriteShards(folder, spec, tensors, values);
        }

        File.WriteAllText(Path.Combine(folder, "config.json"), ConfigJson(spec));
        if (spec.TokenizerFolder is { } tokFolder)
        {
            foreach (string name in TokenizerFiles)
            {
                string src = Path.Combine(tokFolder, name);
                if (File.Exists(src)) File.Copy(src, Path.Combine(folder, name), overwrite: true);
            }
        }
        return folder;
    }

    private static void Validate(RandomModelSpec s)
    {
        if (s.ModelType is not ("gpt2" or "llama" or "mistral" or "qwen2" or "qwen3"))
            throw new ArgumentException($"Unsupported model type '{s.ModelType}'; expected gpt2, llama, mistral, qwen2 or qwen3.", nameof(s));
        if (s.VocabSize <= 0 || s.HiddenSize <= 0 || s.NumLayers <= 0 || s.NumHeads <= 0 || s.IntermediateSize <= 0 || s.MaxPositions <= 0)
            throw new ArgumentException("Sizes must be positive.", nameof(s));
        if (s.DType is not (SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16))
            throw new ArgumentException($"Weights can be F32, F16 or BF16, not {s.DType}.", nameof(s));
        if (s.Shards < 1) throw new ArgumentException("Shards must be at least 1.", nameof(s));
        if (s.ModelType == "gpt2")
        {
            if (s.HiddenSize % s.NumHeads != 0) throw new ArgumentException($"GPT-2 needs hidden size {s.HiddenSize} divisible by {s.NumHeads} heads.", nameof(s));
            if (s.HeadDim is not null) throw new ArgumentException("GPT-2 has no head_dim setting.", nameof(s));
            if (s.SlidingWindow is not null || s.RopeScalingJson is not null) throw new ArgumentException("GPT-2 has no sliding window or RoPE.", nameof(s));
            if (s.AttentionBias) throw new ArgumentException("GPT-2 always has its biases; AttentionBias is for the llama family.", nameof(s));
            return;
        }
        if (s.NumKvHeads <= 0 || s.NumHeads % s.NumKvHeads != 0)
            throw new ArgumentException($"{s.NumHeads} query heads must be a multiple of {s.NumKvHeads} key/value heads.", nameof(s));
        if (s.HeadDim is null && s.HiddenSize % s.NumHeads != 0)
            throw new ArgumentException($"Hidden size {s.HiddenSize} is not divisible by {s.NumHeads} heads; set HeadDim.", nameof(s));
        if ((s.HeadDim ?? s.HiddenSize / s.NumHeads) % 2 != 0) throw new ArgumentException("RoPE needs an even head dimension.", nameof(s));
        if (s.ModelType == "mistral" && s.AttentionBias)
            throw new ArgumentException("transformers' MistralAttention has no biases (q/k/v/o are bias=False whatever the config says); use llama or qwen3 for attention biases.", nameof(s));
        if (s.SlidingWindow is not null && s.ModelType == "llama")
            throw new ArgumentException("transformers' Llama has no sliding window; use mistral, qwen2 or qwen3.", nameof(s));
        if (s.SlidingWindow is <= 0) throw new ArgumentException("The sliding window must be positive.", nameof(s));
        if (s.RopeScalingJson is not null)
        {
            using var doc = JsonDocument.Parse(s.RopeScalingJson);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ArgumentException("RopeScalingJson must be a JSON object.", nameof(s));
        }
    }

    private enum Init
    {
        Weight,
        Norm,
        Bias,
    }

    private sealed record TensorSpec(string Name, long[] Shape, Init Kind);

    private static List<TensorSpec> Gpt2Tensors(RandomModelSpec s)
    {
        long d = s.HiddenSize, inner = s.IntermediateSize;
        var list = new List<TensorSpec>
        {
            new("transformer.wte.weight", [s.VocabSize, d], Init.Weight),
            new("transformer.wpe.weight", [s.MaxPositions, d], Init.Weight),
        };
        for (int i = 0; i < s.NumLayers; i++)
        {
            string p = $"transformer.h.{i}.";
            list.Add(new(p + "ln_1.weight", [d], Init.Norm));
            list.Add(new(p + "ln_1.bias", [d], Init.Bias));
            // GPT-2's Conv1D stores its weight as [in, out].
            list.Add(new(p + "attn.c_attn.weight", [d, 3 * d], Init.Weight));
            list.Add(new(p + "attn.c_attn.bias", [3 * d], Init.Bias));
            list.Add(new(p + "attn.c_proj.weight", [d, d], Init.Weight));
            list.Add(new(p + "attn.c_proj.bias", [d], Init.Bias));
            list.Add(new(p + "ln_2.weight", [d], Init.Norm));
            list.Add(new(p + "ln_2.bias", [d], Init.Bias));
            list.Add(new(p + "mlp.c_fc.weight", [d, inner], Init.Weight));
            list.Add(new(p + "mlp.c_fc.bias", [inner], Init.Bias));
            list.Add(new(p + "mlp.c_proj.weight", [inner, d], Init.Weight));
            list.Add(new(p + "mlp.c_proj.bias", [d], Init.Bias));
        }
        list.Add(new("transformer.ln_f.weight", [d], Init.Norm));
        list.Add(new("transformer.ln_f.bias", [d], Init.Bias));
        if (!s.TieWordEmbeddings) list.Add(new("lm_head.weight", [s.VocabSize, d], Init.Weight));
        return list;
    }

    private static List<TensorSpec> LlamaTensors(RandomModelSpec s)
    {
        long d = s.HiddenSize, hd = s.HeadDim ?? s.HiddenSize / s.NumHeads, q = s.NumHeads * hd, kv = s.NumKvHeads * hd, inner = s.IntermediateSize;
        bool qkvBias = s.ModelType == "qwen2" || s.AttentionBias;
        bool oBias = s.ModelType != "qwen2" && s.AttentionBias;
        var list = new List<TensorSpec> { new("model.embed_tokens.weight", [s.VocabSize, d], Init.Weight) };
        for (int i = 0; i < s.NumLayers; i++)
        {
            string p = $"model.layers.{i}.";
            list.Add(new(p + "input_layernorm.weight", [d], Init.Norm));
            // nn.Linear stores its weight as [out, in].
            list.Add(new(p + "self_attn.q_proj.weight", [q, d], Init.Weight));
            if (qkvBias) list.Add(new(p + "self_attn.q_proj.bias", [q], Init.Bias));
            list.Add(new(p + "self_attn.k_proj.weight", [kv, d], Init.Weight));
            if (qkvBias) list.Add(new(p + "self_attn.k_proj.bias", [kv], Init.Bias));
            list.Add(new(p + "self_attn.v_proj.weight", [kv, d], Init.Weight));
            if (qkvBias) list.Add(new(p + "self_attn.v_proj.bias", [kv], Init.Bias));
            list.Add(new(p + "self_attn.o_proj.weight", [d, q], Init.Weight));
            if (oBias) list.Add(new(p + "self_attn.o_proj.bias", [d], Init.Bias));
            if (s.ModelType == "qwen3")
            {
                list.Add(new(p + "self_attn.q_norm.weight", [hd], Init.Norm));
                list.Add(new(p + "self_attn.k_norm.weight", [hd], Init.Norm));
            }
            list.Add(new(p + "post_attention_layernorm.weight", [d], Init.Norm));
            list.Add(new(p + "mlp.gate_proj.weight", [inner, d], Init.Weight));
            list.Add(new(p + "mlp.up_proj.weight", [inner, d], Init.Weight));
            list.Add(new(p + "mlp.down_proj.weight", [d, inner], Init.Weight));
        }
        list.Add(new("model.norm.weight", [d], Init.Norm));
        if (!s.TieWordEmbeddings) list.Add(new("lm_head.weight", [s.VocabSize, d], Init.Weight));
        return list;
    }

    private static void WriteShards(string folder, RandomModelSpec spec, List<TensorSpec> tensors, List<float[]> values)
    {
        int n = spec.Shards;
        int elementSize = spec.DType == SafetensorsDType.F32 ? 4 : 2;
        long totalSize = 0;
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int k = 0; k < n; k++)
        {
            // Contiguous runs of the tensor list, as transformers' sharding keeps tensors in order.
            int from = (int)((long)k * tensors.Count / n), to = (int)((long)(k + 1) * tensors.Count / n);
            string file = string.Create(CultureInfo.InvariantCulture, $"model-{k + 1:D5}-of-{n:D5}.safetensors");
            var w = new SafetensorsWriter().AddMetadata("format", "pt");
            for (int i = from; i < to; i++)
            {
                w.Add(tensors[i].Name, values[i], tensors[i].Shape, spec.DType);
                weightMap[tensors[i].Name] = file;
                totalSize += (long)values[i].Length * elementSize;
            }
            w.Save(Path.Combine(folder, file));
        }
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteStartObject("metadata");
            j.WriteNumber("total_size", totalSize);
            j.WriteEndObject();
            j.WriteStartObject("weight_map");
            foreach (var (name, file) in weightMap) j.WriteString(name, file);
            j.WriteEndObject();
            j.WriteEndObject();
        }
        File.WriteAllBytes(Path.Combine(folder, SafetensorsCheckpoint.IndexFileName), ms.ToArray());
    }

    private static string ConfigJson(RandomModelSpec s)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            j.WriteStartObject();
            j.WriteString("model_type", s.ModelType);
            j.WriteStartArray("architectures");
            j.WriteStringValue(s.ModelType switch
            {
                "gpt2" => "GPT2LMHeadModel",
                "llama" => "LlamaForCausalLM",
                "mistral" => "MistralForCausalLM",
                "qwen2" => "Qwen2ForCausalLM",
                _ => "Qwen3ForCausalLM",
            });
            j.WriteEndArray();
            j.WriteNumber("vocab_size", s.VocabSize);
            if (s.ModelType == "gpt2")
            {
                j.WriteNumber("n_embd", s.HiddenSize);
                j.WriteNumber("n_layer", s.NumLayers);
                j.WriteNumber("n_head", s.NumHeads);
                if (s.IntermediateSize == 4 * s.HiddenSize) j.WriteNull("n_inner");
                else j.WriteNumber("n_inner", s.IntermediateSize);
                j.WriteNumber("n_positions", s.MaxPositions);
                j.WriteNumber("n_ctx", s.MaxPositions);
                j.WriteNumber("layer_norm_epsilon", s.NormEps);
                j.WriteString("activation_function", "gelu_new");
            }
            else
            {
                j.WriteNumber("hidden_size", s.HiddenSize);
                j.WriteNumber("intermediate_size", s.IntermediateSize);
                j.WriteNumber("num_hidden_layers", s.NumLayers);
                j.WriteNumber("num_attention_heads", s.NumHeads);
                j.WriteNumber("num_key_value_heads", s.NumKvHeads);
                // Qwen3Config defaults head_dim to 128 (not D / heads), so qwen3 always says what it is.
                if (s.HeadDim is { } hd) j.WriteNumber("head_dim", hd);
                else if (s.ModelType == "qwen3") j.WriteNumber("head_dim", s.HiddenSize / s.NumHeads);
                j.WriteNumber("max_position_embeddings", s.MaxPositions);
                j.WriteNumber("rms_norm_eps", s.NormEps);
                j.WriteNumber("rope_theta", s.RopeTheta);
                if (s.RopeScalingJson is { } rs)
                {
                    j.WritePropertyName("rope_scaling");
                    j.WriteRawValue(rs);
                }
                switch (s.ModelType)
                {
                    case "mistral":
                        // MistralConfig defaults sliding_window to 4096, so "none" has to be an explicit null.
                        if (s.SlidingWindow is { } mw) j.WriteNumber("sliding_window", mw);
                        else j.WriteNull("sliding_window");
                        break;
                    case "qwen2" or "qwen3":
                        j.WriteBoolean("use_sliding_window", s.SlidingWindow is not null);
                        if (s.SlidingWindow is { } qw)
                        {
                            j.WriteNumber("sliding_window", qw);
                            j.WriteNumber("max_window_layers", s.MaxWindowLayers ?? 0);
                        }
                        else
                        {
                            j.WriteNull("sliding_window");
                            j.WriteNumber("max_window_layers", s.MaxWindowLayers ?? s.NumLayers);
                        }
                        break;
                }
                j.WriteString("hidden_act", "silu");
                // Qwen2 and Mistral configs have no attention_bias (their biases are fixed by the architecture).
                if (s.ModelType is "llama" or "qwen3") j.WriteBoolean("attention_bias", s.AttentionBias);
                if (s.ModelType == "llama") j.WriteBoolean("mlp_bias", false);
            }
            WriteOptionalInt(j, "bos_token_id", s.BosTokenId);
            WriteOptionalInt(j, "eos_token_id", s.EosTokenId);
            j.WriteBoolean("tie_word_embeddings", s.TieWordEmbeddings);
            j.WriteString("torch_dtype", s.DType switch
            {
                SafetensorsDType.F16 => "float16",
                SafetensorsDType.BF16 => "bfloat16",
                _ => "float32",
            });
            j.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteOptionalInt(Utf8JsonWriter j, string name, int? value)
    {
        if (value is { } v) j.WriteNumber(name, v);
        else j.WriteNull(name);
    }
}
