using System.Text.Json;
using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace.Tests.Models;

/// <summary>
/// An independent test oracle: a plain, scalar, double-precision transcription of the forward pass of transformers'
/// <c>GPT2LMHeadModel</c>, <c>LlamaForCausalLM</c>, <c>MistralForCausalLM</c>, <c>Qwen2ForCausalLM</c> and
/// <c>Qwen3ForCausalLM</c> (modeling_gpt2.py, modeling_llama.py, modular_mistral.py, modeling_qwen2.py,
/// modeling_qwen3.py, modeling_rope_utils.py, masking_utils.py), computing every position from scratch (no KV cache).
/// It reads weights with <see cref="SafetensorsCheckpoint"/> and <c>config.json</c> with System.Text.Json and shares
/// nothing with the engine under src/LmWrapper.HuggingFace/Models or Kernels, which it exists to check. Slow on
/// purpose: every step is a loop that reads like the PyTorch code.
/// </summary>
internal sealed class ReferenceTransformer
{
    private readonly bool _gpt2;
    private readonly string _modelType;
    private readonly int _vocab;
    private readonly int _hidden;
    private readonly int _layers;
    private readonly int _heads;
    private readonly int _kvHeads;
    private readonly int _headDim;
    private readonly int _inner;
    private readonly int _maxPositions;
    private readonly double _eps;
    private readonly string _activation;

    // GPT-2 attention scaling switches (GPT2Attention: scale_attn_weights, scale_attn_by_inverse_layer_idx).
    private readonly bool _scaleAttnWeights;
    private readonly bool _scaleByInverseLayerIdx;

    // RoPE (llama family).
    private readonly double _ropeTheta;
    private readonly string _ropeType;
    private readonly JsonElement? _ropeParams;

    // The sliding window of each layer (null: full causal attention).
    private readonly int?[] _window;

    private readonly Dictionary<string, double[]> _w = new(StringComparer.Ordinal);
    private readonly string _prefix;
    private readonly double[] _lmHead;

    private ReferenceTransformer(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
        var c = doc.RootElement;
        _modelType = Str(c, "model_type") ?? throw new InvalidDataException("config.json has no model_type.");
        _gpt2 = _modelType == "gpt2";
        if (!_gpt2 && _modelType is not ("llama" or "mistral" or "qwen2" or "qwen3"))
            throw new NotSupportedException($"The reference implements gpt2, llama, mistral, qwen2 and qwen3, not '{_modelType}'.");

        using var ckpt = SafetensorsCheckpoint.Open(folder);
        if (_gpt2)
        {
            // GPT2Config defaults.
            _vocab = Int(c, "vocab_size") ?? 50257;
            _hidden = Int(c, "n_embd") ?? 768;
            _layers = Int(c, "n_layer") ?? 12;
            _heads = Int(c, "n_head") ?? 12;
            _kvHeads = _heads;
            _headDim = _hidden / _heads;
            _inner = Int(c, "n_inner") ?? 4 * _hidden; // n_inner null → 4 * n_embd (GPT2Block)
            _maxPositions = Int(c, "n_positions") ?? 1024;
            _eps = Dbl(c, "layer_norm_epsilon") ?? 1e-5;
            _activation = Str(c, "activation_function") ?? "gelu_new";
            _scaleAttnWeights = Bool(c, "scale_attn_weights") ?? true;
            _scaleByInverseLayerIdx = Bool(c, "scale_attn_by_inverse_layer_idx") ?? false;
            _ropeTheta = 0;
            _ropeType = "none";
            _window = new int?[_layers];
            // Hub GPT-2 checkpoints are saved either from GPT2LMHeadModel ("transformer.h.0...") or from GPT2Model ("h.0...").
            _prefix = ckpt.Contains("transformer.wte.weight") ? "transformer." : "";
            bool tied = Bool(c, "tie_word_embeddings") ?? true;
            foreach (string name in ckpt.TensorNames)
            {
                // Old checkpoints carry the causal-mask buffers "attn.bias" / "attn.masked_bias"; they are not weights.
                if (name.EndsWith(".attn.bias", StringComparison.Ordinal) || name.EndsWith(".attn.masked_bias", StringComparison.Ordinal)) continue;
                _w[name] = ToDouble(ckpt.ReadAsFloat32(name));
            }
            _lmHead = tied ? W(_prefix + "wte.weight") : W("lm_head.weight");
        }
        else
        {
            _vocab = Int(c, "vocab_size") ?? throw new InvalidDataException("config.json has no vocab_size.");
            _hidden = Int(c, "hidden_size") ?? throw new InvalidDataException("config.json has no hidden_size.");
            _layers = Int(c, "num_hidden_layers") ?? throw new InvalidDataException("config.json has no num_hidden_layers.");
            _heads = Int(c, "num_attention_heads") ?? throw new InvalidDataException("config.json has no num_attention_heads.");
            _kvHeads = Int(c, "num_key_value_heads") ?? _heads; // all configs: None → num_attention_heads
            // LlamaConfig / MistralConfig / Qwen2 attention: head_dim or hidden_size // num_attention_heads.
            // Qwen3Config is the exception: its head_dim defaults to 128 when the key is absent.
            _headDim = Int(c, "head_dim") ?? (_modelType == "qwen3" && !Has(c, "head_dim") ? 128 : _hidden / _heads);
            _inner = Int(c, "intermediate_size") ?? throw new InvalidDataException("config.json has no intermediate_size.");
            _maxPositions = Int(c, "max_position_embeddings") ?? 2048;
            _eps = Dbl(c, "rms_norm_eps") ?? 1e-6;
            _activation = Str(c, "hidden_act") ?? "silu";
            if (Dbl(c, "partial_rotary_factor") is { } prf && prf != 1.0) throw new NotSupportedException("partial_rotary_factor is not implemented.");

            // RoPE settings: transformers 5 writes "rope_parameters" (holding rope_theta too); older configs have
            // "rope_theta" plus an optional "rope_scaling" whose type key was once "type" instead of "rope_type".
            JsonElement? rp = null;
            if (c.TryGetProperty("rope_parameters", out var rpe) && rpe.ValueKind == JsonValueKind.Object) rp = rpe.Clone();
            else if (c.TryGetProperty("rope_scaling", out var rse) && rse.ValueKind == JsonValueKind.Object) rp = rse.Clone();
            _ropeParams = rp;
            _ropeTheta = (rp is { } r1 ? Dbl(r1, "rope_theta") : null) ?? Dbl(c, "rope_theta") ?? 10000.0;
            _ropeType = (rp is { } r2 ? Str(r2, "rope_type") ?? Str(r2, "type") : null) ?? "default";
            if (_ropeType is not ("default" or "linear" or "dynamic" or "llama3"))
                throw new NotSupportedException($"rope type '{_ropeType}' is not implemented by the reference.");

            _window = new int?[_layers];
            if (_modelType == "mistral")
            {
                // MistralConfig(sliding_window=4096): absent key → 4096, explicit null → no window; every layer.
                int? w = Has(c, "sliding_window") ? Int(c, "sliding_window") : 4096;
                for (int i = 0; i < _layers; i++) _window[i] = w;
            }
            else if (_modelType is "qwen2" or "qwen3")
            {
                // Qwen2Config / Qwen3Config: sliding_window = sliding_window if use_sliding_window else None (default 4096),
                // and layer_types[i] = "sliding_attention" if sliding_window is not None and i >= max_window_layers
                // (default 28) else "full_attention", unless the config lists layer_types itself.
                bool use = Bool(c, "use_sliding_window") ?? false;
                int? w = use ? (Has(c, "sliding_window") ? Int(c, "sliding_window") : 4096) : null;
                int maxWindowLayers = Int(c, "max_window_layers") ?? 28;
                bool hasTypes = c.TryGetProperty("layer_types", out var lt) && lt.ValueKind == JsonValueKind.Array;
                for (int i = 0; i < _layers; i++)
                {
                    bool sliding = hasTypes ? lt[i].GetString() == "sliding_attention" : i >= maxWindowLayers;
                    _window[i] = sliding ? w : null;
                }
            }
            // Llama has no sliding window whatever the config says.

            _prefix = "model.";
            bool tied = Bool(c, "tie_word_embeddings") ?? false; // LlamaConfig/MistralConfig/Qwen2Config/Qwen3Config default False
            foreach (string name in ckpt.TensorNames) _w[name] = ToDouble(ckpt.ReadAsFloat32(name));
            _lmHead = tied ? W("model.embed_tokens.weight") : W("lm_head.weight");

            // Which biases exist is decided by the architecture and config, exactly as the nn.Linear(bias=...) calls say.
            bool attnBias = Bool(c, "attention_bias") ?? false;
            (QkvBias, OBias) = _modelType switch
            {
                "llama" or "qwen3" => (attnBias, attnBias),
                "qwen2" => (true, false),
                _ => (false, false), // MistralAttention: bias=False everywhere
            };
            MlpBias = _modelType == "llama" && (Bool(c, "mlp_bias") ?? false);
        }
        CheckShapes();
    }

    private bool QkvBias { get; }

    private bool OBias { get; }

    private bool MlpBias { get; }

    /// <summary>The vocabulary size (the width of each logits row).</summary>
    public int VocabSize => _vocab;

    /// <summary>The model width.</summary>
    public int HiddenSize => _hidden;

    /// <summary>The number of transformer blocks.</summary>
    public int NumLayers => _layers;

    /// <summary>The number of query heads.</summary>
    public int NumHeads => _heads;

    /// <summary>Loads a Hugging Face model folder (config.json + safetensors, single or sharded).</summary>
    public static ReferenceTransformer Load(string folder) => new(folder);

    /// <summary>The logits of every position, [position][vocab], from one full causal forward over <paramref name="ids"/>.</summary>
    public double[][] Logits(IReadOnlyList<int> ids) => Forward(ids, wantLogits: true).Logits!;

    /// <summary>
    /// transformers' <c>output_hidden_states</c>: [layer 0..L][position][hidden]; index 0 is the embedding output
    /// (GPT-2: wte + wpe), index l the output of block l, and the last entry has the final norm applied.
    /// </summary>
    public double[][][] HiddenStates(IReadOnlyList<int> ids) => Forward(ids, wantLogits: false).Hidden;

    /// <summary>transformers' <c>output_attentions</c>: [layer][head][query][key] softmax weights, 0 for masked keys.</summary>
    public double[][][][] Attentions(IReadOnlyList<int> ids) => Forward(ids, wantLogits: false).Attentions;

    /// <summary>Greedy decoding by a full forward over the whole sequence for every new token (ties → lowest id).</summary>
    public List<int> Greedy(IReadOnlyList<int> prompt, int newTokens)
    {
        var seq = new List<int>(prompt);
        var generated = new List<int>();
        for (int s = 0; s < newTokens; s++)
        {
            double[] last = LastLogits(seq);
            int best = ArgMax(last);
            generated.Add(best);
            seq.Add(best);
        }
        return generated;
    }

    /// <summary>The logits of the last position only (the same full forward; the head is applied to one row).</summary>
    public double[] LastLogits(IReadOnlyList<int> ids)
    {
        var r = Forward(ids, wantLogits: false);
        double[] h = r.Hidden[^1][^1];
        return Head(h);
    }

    /// <summary>The index of the largest value (the first one on ties, as torch.argmax does on CPU).</summary>
    public static int ArgMax(double[] v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    private sealed record Result(double[][][] Hidden, double[][][][] Attentions, double[][]? Logits);

    private Result Forward(IReadOnlyList<int> ids, bool wantLogits)
    {
        ArgumentNullException.ThrowIfNull(ids);
        int n = ids.Count;
        if (n == 0) throw new ArgumentException("At least one token is needed.", nameof(ids));
        foreach (int id in ids)
            if (id < 0 || id >= _vocab) throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {id} is outside the vocabulary of {_vocab}.");
        if (_gpt2 && n > _maxPositions) throw new ArgumentException($"GPT-2 has {_maxPositions} positions; {n} tokens do not fit.", nameof(ids));

        var hidden = new double[_layers + 1][][];
        var attentions = new double[_layers][][][];
        double[][] x = _gpt2 ? Gpt2Embed(ids) : LlamaEmbed(ids);
        hidden[0] = Copy(x);
        double[] invFreq = _gpt2 ? [] : InvFreq(n);
        for (int l = 0; l < _layers; l++)
        {
            attentions[l] = _gpt2 ? Gpt2Block(l, x) : LlamaBlock(l, x, invFreq);
            if (l < _layers - 1) hidden[l + 1] = Copy(x);
        }
        for (int t = 0; t < n; t++)
        {
            x[t] = _gpt2
                ? LayerNorm(x[t], W(_prefix + "ln_f.weight"), W(_prefix + "ln_f.bias"))
                : RmsNorm(x[t], W("model.norm.weight"));
        }
        hidden[_layers] = x;
        double[][]? logits = null;
        if (wantLogits)
        {
            logits = new double[n][];
            for (int t = 0; t < n; t++) logits[t] = Head(x[t]);
        }
        return new Result(hidden, attentions, logits);
    }

    // logits = hidden · lm_head^T (lm_head.weight [V, D]; tied: the embedding matrix).
    private double[] Head(double[] h)
    {
        var logits = new double[_vocab];
        for (int v = 0; v < _vocab; v++)
        {
            double s = 0;
            for (int i = 0; i < _hidden; i++) s += _lmHead[(long)v * _hidden + i] * h[i];
            logits[v] = s;
        }
        return logits;
    }

    // ---------------------------------------------------------------- GPT-2

    // GPT2Model.forward: inputs_embeds = wte(input_ids); position_embeds = wpe(position_ids); hidden = sum.
    private double[][] Gpt2Embed(IReadOnlyList<int> ids)
    {
        double[] wte = W(_prefix + "wte.weight"), wpe = W(_prefix + "wpe.weight");
        var x = new double[ids.Count][];
        for (int t = 0; t < ids.Count; t++)
        {
            x[t] = new double[_hidden];
            for (int i = 0; i < _hidden; i++) x[t][i] = wte[(long)ids[t] * _hidden + i] + wpe[(long)t * _hidden + i];
        }
        return x;
    }

    // GPT2Block: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)).
    private double[][][] Gpt2Block(int l, double[][] x)
    {
        string p = $"{_prefix}h.{l}.";
        int n = x.Length, d = _hidden, hd = _headDim;
        var q = new double[n][];
        var k = new double[n][];
        var v = new double[n][];
        for (int t = 0; t < n; t++)
        {
            double[] a = LayerNorm(x[t], W(p + "ln_1.weight"), W(p + "ln_1.bias"));
            // c_attn is a Conv1D: y = a @ W + b with W [D, 3D]; query, key, value = y.split(D).
            double[] qkv = Conv1D(a, W(p + "attn.c_attn.weight"), W(p + "attn.c_attn.bias"), d, 3 * d);
            q[t] = qkv[..d];
            k[t] = qkv[d..(2 * d)];
            v[t] = qkv[(2 * d)..];
        }
        double scale = _scaleAttnWeights ? 1.0 / Math.Sqrt(hd) : 1.0;
        if (_scaleByInverseLayerIdx) scale /= l + 1;
        var probs = new double[_heads][][];
        var merged = new double[n][];
        for (int t = 0; t < n; t++) merged[t] = new double[d];
        for (int h = 0; h < _heads; h++)
        {
            // GPT-2 splits heads as [.., head, head_dim]: head h owns columns h*hd .. h*hd+hd-1 of q, k and v.
            probs[h] = Attend(q, k, v, h * hd, h * hd, hd, scale, window: null, merged, h * hd);
        }
        for (int t = 0; t < n; t++)
        {
            double[] o = Conv1D(merged[t], W(p + "attn.c_proj.weight"), W(p + "attn.c_proj.bias"), d, d);
            for (int i = 0; i < d; i++) x[t][i] += o[i];
        }
        for (int t = 0; t < n; t++)
        {
            double[] m = LayerNorm(x[t], W(p + "ln_2.weight"), W(p + "ln_2.bias"));
            double[] f = Conv1D(m, W(p + "mlp.c_fc.weight"), W(p + "mlp.c_fc.bias"), d, _inner);
            for (int i = 0; i < f.Length; i++) f[i] = Activation(f[i]);
            double[] o = Conv1D(f, W(p + "mlp.c_proj.weight"), W(p + "mlp.c_proj.bias"), _inner, d);
            for (int i = 0; i < d; i++) x[t][i] += o[i];
        }
        return probs;
    }

    // transformers.pytorch_utils.Conv1D: x @ weight + bias with weight [nx, nf] (the transpose of nn.Linear's layout).
    private static double[] Conv1D(double[] x, double[] w, double[] b, int nx, int nf)
    {
        var y = new double[nf];
        for (int o = 0; o < nf; o++)
        {
            double s = b[o];
            for (int i = 0; i < nx; i++) s += x[i] * w[(long)i * nf + o];
            y[o] = s;
        }
        return y;
    }

    // nn.LayerNorm: (x - mean) / sqrt(var + eps) * w + b, var biased (divided by D).
    private double[] LayerNorm(double[] x, double[] w, double[] b)
    {
        int d = x.Length;
        double mean = 0;
        for (int i = 0; i < d; i++) mean += x[i];
        mean /= d;
        double var = 0;
        for (int i = 0; i < d; i++) var += (x[i] - mean) * (x[i] - mean);
        var /= d;
        double inv = 1.0 / Math.Sqrt(var + _eps);
        var y = new double[d];
        for (int i = 0; i < d; i++) y[i] = (x[i] - mean) * inv * w[i] + b[i];
        return y;
    }

    // ---------------------------------------------------------------- Llama family

    private double[][] LlamaEmbed(IReadOnlyList<int> ids)
    {
        double[] e = W("model.embed_tokens.weight");
        var x = new double[ids.Count][];
        for (int t = 0; t < ids.Count; t++)
        {
            x[t] = new double[_hidden];
            for (int i = 0; i < _hidden; i++) x[t][i] = e[(long)ids[t] * _hidden + i];
        }
        return x;
    }

    // LlamaDecoderLayer: x = x + self_attn(input_layernorm(x)); x = x + mlp(post_attention_layernorm(x)).
    private double[][][] LlamaBlock(int l, double[][] x, double[] invFreq)
    {
        string p = $"model.layers.{l}.";
        int n = x.Length, d = _hidden, hd = _headDim, qDim = _heads * hd, kvDim = _kvHeads * hd;
        var q = new double[n][];
        var k = new double[n][];
        var v = new double[n][];
        for (int t = 0; t < n; t++)
        {
            double[] a = RmsNorm(x[t], W(p + "input_layernorm.weight"));
            q[t] = Linear(a, W(p + "self_attn.q_proj.weight"), QkvBias ? W(p + "self_attn.q_proj.bias") : null, d, qDim);
            k[t] = Linear(a, W(p + "self_attn.k_proj.weight"), QkvBias ? W(p + "self_attn.k_proj.bias") : null, d, kvDim);
            v[t] = Linear(a, W(p + "self_attn.v_proj.weight"), QkvBias ? W(p + "self_attn.v_proj.bias") : null, d, kvDim);
            if (_modelType == "qwen3")
            {
                // Qwen3Attention: q_norm / k_norm (RMSNorm over head_dim) on each head, before RoPE.
                for (int h = 0; h < _heads; h++) RmsNormInPlace(q[t], h * hd, hd, W(p + "self_attn.q_norm.weight"));
                for (int h = 0; h < _kvHeads; h++) RmsNormInPlace(k[t], h * hd, hd, W(p + "self_attn.k_norm.weight"));
            }
            // apply_rotary_pos_emb with position_ids = arange(n).
            for (int h = 0; h < _heads; h++) Rope(q[t], h * hd, hd, t, invFreq);
            for (int h = 0; h < _kvHeads; h++) Rope(k[t], h * hd, hd, t, invFreq);
        }

        // eager_attention_forward: repeat_kv then softmax(q k^T * head_dim^-0.5 + mask) v.
        // repeat_kv repeats each kv head n_rep = H / KV times consecutively, so query head h reads kv head h / n_rep.
        int nRep = _heads / _kvHeads;
        double scale = 1.0 / Math.Sqrt(hd);
        var probs = new double[_heads][][];
        var merged = new double[n][];
        for (int t = 0; t < n; t++) merged[t] = new double[qDim];
        for (int h = 0; h < _heads; h++)
            probs[h] = Attend(q, k, v, h * hd, h / nRep * hd, hd, scale, _window[l], merged, h * hd);

        for (int t = 0; t < n; t++)
        {
            double[] o = Linear(merged[t], W(p + "self_attn.o_proj.weight"), OBias ? W(p + "self_attn.o_proj.bias") : null, qDim, d);
            for (int i = 0; i < d; i++) x[t][i] += o[i];
        }
        for (int t = 0; t < n; t++)
        {
            double[] m = RmsNorm(x[t], W(p + "post_attention_layernorm.weight"));
            // LlamaMLP: down_proj(act_fn(gate_proj(x)) * up_proj(x)).
            double[] g = Linear(m, W(p + "mlp.gate_proj.weight"), MlpBias ? W(p + "mlp.gate_proj.bias") : null, d, _inner);
            double[] u = Linear(m, W(p + "mlp.up_proj.weight"), MlpBias ? W(p + "mlp.up_proj.bias") : null, d, _inner);
            for (int i = 0; i < _inner; i++) g[i] = Activation(g[i]) * u[i];
            double[] o = Linear(g, W(p + "mlp.down_proj.weight"), MlpBias ? W(p + "mlp.down_proj.bias") : null, _inner, d);
            for (int i = 0; i < d; i++) x[t][i] += o[i];
        }
        return probs;
    }

    // nn.Linear: y = W x + b with W [out, in].
    private static double[] Linear(double[] x, double[] w, double[]? b, int inF, int outF)
    {
        var y = new double[outF];
        for (int o = 0; o < outF; o++)
        {
            double s = b is null ? 0 : b[o];
            for (int i = 0; i < inF; i++) s += w[(long)o * inF + i] * x[i];
            y[o] = s;
        }
        return y;
    }

    // LlamaRMSNorm: weight * x / sqrt(mean(x^2) + eps).
    private double[] RmsNorm(double[] x, double[] w)
    {
        var y = (double[])x.Clone();
        RmsNormInPlace(y, 0, y.Length, w);
        return y;
    }

    private void RmsNormInPlace(double[] x, int offset, int length, double[] w)
    {
        double ms = 0;
        for (int i = 0; i < length; i++) ms += x[offset + i] * x[offset + i];
        ms /= length;
        double inv = 1.0 / Math.Sqrt(ms + _eps);
        for (int i = 0; i < length; i++) x[offset + i] = x[offset + i] * inv * w[i];
    }

    // q_embed = q * cos + rotate_half(q) * sin, with emb = cat(freqs, freqs) and rotate_half(x) = cat(-x2, x1):
    // element i < hd/2 becomes x_i cos(a_i) - x_{i+hd/2} sin(a_i); element i + hd/2 becomes x_{i+hd/2} cos(a_i) + x_i sin(a_i).
    private static void Rope(double[] x, int offset, int hd, int position, double[] invFreq)
    {
        int half = hd / 2;
        for (int i = 0; i < half; i++)
        {
            double a = position * invFreq[i];
            double cos = Math.Cos(a), sin = Math.Sin(a);
            double x1 = x[offset + i], x2 = x[offset + half + i];
            x[offset + i] = x1 * cos - x2 * sin;
            x[offset + half + i] = x2 * cos + x1 * sin;
        }
    }

    // modeling_rope_utils: inv_freq[j] = 1 / base^(2j / dim), j < dim/2, then the rope type's adjustment.
    // seqLen is the length of this full forward (dynamic NTK: max(position_ids) + 1).
    private double[] InvFreq(int seqLen)
    {
        int dim = _headDim;
        double b = _ropeTheta;
        double Param(string key) =>
            (_ropeParams is { } rp ? Dbl(rp, key) : null) ?? throw new InvalidDataException($"rope type '{_ropeType}' needs '{key}'.");

        if (_ropeType == "dynamic")
        {
            // _compute_dynamic_ntk_parameters: seq_len = max(seq_len, max_position_embeddings);
            // base = base * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2)).
            // At seq_len <= max_pos this is the plain base. (transformers' dynamic_rope_update caches the frequencies of
            // the longest sequence seen so far and resets them only below max_pos; a stateless full forward uses seq_len.)
            double factor = Param("factor");
            double len = Math.Max(seqLen, _maxPositions);
            b = b * Math.Pow(factor * len / _maxPositions - (factor - 1), dim / (double)(dim - 2));
        }
        var inv = new double[dim / 2];
        for (int j = 0; j < dim / 2; j++) inv[j] = 1.0 / Math.Pow(b, 2.0 * j / dim);

        switch (_ropeType)
        {
            case "linear":
                {
                    // _compute_linear_scaling_rope_parameters: inv_freq /= factor (positions divided by factor).
                    double factor = Param("factor");
                    for (int j = 0; j < inv.Length; j++) inv[j] /= factor;
                    break;
                }
            case "llama3":
                {
                    // _compute_llama3_parameters.
                    double factor = Param("factor");
                    double low = Param("low_freq_factor");
                    double high = Param("high_freq_factor");
                    double oldContext = (_ropeParams is { } rp ? Dbl(rp, "original_max_position_embeddings") : null) ?? _maxPositions;
                    double lowFreqWavelen = oldContext / low;
                    double highFreqWavelen = oldContext / high;
                    for (int j = 0; j < inv.Length; j++)
                    {
                        double wavelen = 2 * Math.PI / inv[j];
                        if (wavelen > lowFreqWavelen) inv[j] /= factor;
                        else if (wavelen >= highFreqWavelen)
                        {
                            // "medium" frequencies: neither wavelen < high_freq_wavelen nor wavelen > low_freq_wavelen.
                            double smooth = (oldContext / wavelen - low) / (high - low);
                            inv[j] = (1 - smooth) * inv[j] / factor + smooth * inv[j];
                        }
                    }
                    break;
                }
        }
        return inv;
    }

    // ---------------------------------------------------------------- shared

    // One head of causal attention. Query t may see key j when j <= t (causal_mask_function: kv_idx <= q_idx) and,
    // in a sliding-window layer of size W, when j > t - W (masking_utils.sliding_window_overlay:
    // kv_idx > q_idx - sliding_window), i.e. the W most recent positions including itself. Masked scores get
    // finfo.min in transformers, so their softmax weight is exactly 0. The weighted sum of values is written into
    // out[t][outOffset..outOffset+hd) (the merge of heads); the probabilities are returned [query][key].
    private static double[][] Attend(double[][] q, double[][] k, double[][] v, int qOffset, int kvOffset, int hd, double scale, int? window, double[][] out_, int outOffset)
    {
        int n = q.Length;
        var probs = new double[n][];
        for (int t = 0; t < n; t++)
        {
            probs[t] = new double[n];
            var scores = new double[n];
            double max = double.NegativeInfinity;
            for (int j = 0; j <= t; j++)
            {
                if (window is { } w && j <= t - w) continue;
                double s = 0;
                for (int i = 0; i < hd; i++) s += q[t][qOffset + i] * k[j][kvOffset + i];
                scores[j] = s * scale;
                if (scores[j] > max) max = scores[j];
            }
            double sum = 0;
            for (int j = 0; j <= t; j++)
            {
                if (window is { } w && j <= t - w) continue;
                probs[t][j] = Math.Exp(scores[j] - max);
                sum += probs[t][j];
            }
            for (int j = 0; j <= t; j++) probs[t][j] /= sum;
            for (int i = 0; i < hd; i++)
            {
                double s = 0;
                for (int j = 0; j <= t; j++) s += probs[t][j] * v[j][kvOffset + i];
                out_[t][outOffset + i] = s;
            }
        }
        return probs;
    }

    // transformers.activations.ACT2FN.
    private double Activation(double x) => _activation switch
    {
        // NewGELUActivation / PytorchGELUTanh / FastGELUActivation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        "silu" or "swish" => x / (1 + Math.Exp(-x)),
        "relu" => Math.Max(0, x),
        _ => throw new NotSupportedException($"activation '{_activation}' is not implemented by the reference."),
    };

    private double[] W(string name) =>
        _w.TryGetValue(name, out var w) ? w : throw new InvalidDataException($"The checkpoint has no tensor '{name}'.");

    private void CheckShapes()
    {
        void Len(string name, long expected)
        {
            long actual = W(name).LongLength;
            if (actual != expected) throw new InvalidDataException($"Tensor '{name}' has {actual} elements; the config implies {expected}.");
        }
        if (_gpt2)
        {
            Len(_prefix + "wte.weight", (long)_vocab * _hidden);
            Len(_prefix + "wpe.weight", (long)_maxPositions * _hidden);
            for (int l = 0; l < _layers; l++)
            {
                Len($"{_prefix}h.{l}.attn.c_attn.weight", 3L * _hidden * _hidden);
                Len($"{_prefix}h.{l}.mlp.c_fc.weight", (long)_hidden * _inner);
            }
        }
        else
        {
            Len("model.embed_tokens.weight", (long)_vocab * _hidden);
            for (int l = 0; l < _layers; l++)
            {
                Len($"model.layers.{l}.self_attn.q_proj.weight", (long)_heads * _headDim * _hidden);
                Len($"model.layers.{l}.self_attn.k_proj.weight", (long)_kvHeads * _headDim * _hidden);
                Len($"model.layers.{l}.mlp.gate_proj.weight", (long)_inner * _hidden);
            }
        }
        if (_lmHead.LongLength != (long)_vocab * _hidden) throw new InvalidDataException("The output head does not have vocab × hidden elements.");
    }

    private static double[] ToDouble(float[] f)
    {
        var d = new double[f.Length];
        for (int i = 0; i < f.Length; i++) d[i] = f[i];
        return d;
    }

    private static double[][] Copy(double[][] x) => x.Select(r => (double[])r.Clone()).ToArray();

    private static bool Has(JsonElement e, string name) => e.TryGetProperty(name, out _);

    private static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? (int)v.GetDouble() : null;

    private static double? Dbl(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static bool? Bool(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
