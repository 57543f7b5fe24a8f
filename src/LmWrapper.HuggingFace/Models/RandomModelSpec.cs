using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace.Models;

/// <summary>
/// What <see cref="RandomModelWriter"/> writes: a tiny causal LM of one of the supported architectures with seeded
/// random weights, in the Hugging Face folder layout.
/// </summary>
internal sealed record RandomModelSpec
{
    /// <summary>transformers' <c>model_type</c>: "gpt2", "llama", "mistral", "qwen2" or "qwen3".</summary>
    public string ModelType { get; init; } = "llama";

    /// <summary>The number of token ids.</summary>
    public int VocabSize { get; init; } = 512;

    /// <summary>The model width D.</summary>
    public int HiddenSize { get; init; } = 32;

    /// <summary>The number of transformer blocks.</summary>
    public int NumLayers { get; init; } = 2;

    /// <summary>The number of query heads.</summary>
    public int NumHeads { get; init; } = 4;

    /// <summary>The number of key/value heads (llama family only; GPT-2 has as many as query heads).</summary>
    public int NumKvHeads { get; init; } = 2;

    /// <summary>The per-head width, written as <c>head_dim</c> when set (llama family); else D / heads.</summary>
    public int? HeadDim { get; init; }

    /// <summary>The MLP width (GPT-2: <c>n_inner</c>, written as null when it is 4 × D).</summary>
    public int IntermediateSize { get; init; } = 64;

    /// <summary><c>max_position_embeddings</c> (GPT-2: <c>n_positions</c>, the size of <c>wpe</c>).</summary>
    public int MaxPositions { get; init; } = 128;

    /// <summary>Whether the output head reuses the embedding matrix (no <c>lm_head.weight</c> is written then).</summary>
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary>
    /// llama / qwen3 <c>attention_bias</c>: q/k/v/o projection biases. qwen2 always has q/k/v biases (never an o bias)
    /// whatever this says; transformers' Mistral has no attention biases at all, so it may not be set for mistral.
    /// </summary>
    public bool AttentionBias { get; init; }

    /// <summary>The RoPE base (<c>rope_theta</c>).</summary>
    public double RopeTheta { get; init; } = 10000;

    /// <summary>A raw JSON object written as <c>rope_scaling</c>, e.g. <c>{"rope_type":"linear","factor":2.0}</c>.</summary>
    public string? RopeScalingJson { get; init; }

    /// <summary>
    /// <c>sliding_window</c> (mistral, qwen2, qwen3). For qwen2/qwen3 it also writes <c>"use_sliding_window": true</c>
    /// and <c>max_window_layers</c> (see <see cref="MaxWindowLayers"/>). Left null for mistral it is written as an
    /// explicit null, because MistralConfig's default is 4096.
    /// </summary>
    public int? SlidingWindow { get; init; }

    /// <summary>
    /// qwen2/qwen3 <c>max_window_layers</c>: transformers uses the sliding window only in layers whose index is at least
    /// this. Written when <see cref="SlidingWindow"/> is set; null means 0 (every layer slides). Qwen2Config's own
    /// default is 28, which would switch the window off in every layer of a tiny model.
    /// </summary>
    public int? MaxWindowLayers { get; init; }

    /// <summary>The norm epsilon (<c>rms_norm_eps</c>, or GPT-2's <c>layer_norm_epsilon</c>).</summary>
    public double NormEps { get; init; } = 1e-5;

    /// <summary><c>bos_token_id</c> (written as null when null).</summary>
    public int? BosTokenId { get; init; } = 1;

    /// <summary><c>eos_token_id</c> (written as null when null).</summary>
    public int? EosTokenId { get; init; } = 2;

    /// <summary>The dtype of every weight (F32, F16 or BF16); <c>torch_dtype</c> is written to match.</summary>
    public SafetensorsDType DType { get; init; } = SafetensorsDType.F32;

    /// <summary>
    /// The number of weight files: 1 writes <c>model.safetensors</c>; more write
    /// <c>model-0000i-of-0000n.safetensors</c> and <c>model.safetensors.index.json</c>.
    /// </summary>
    public int Shards { get; init; } = 1;

    /// <summary>A folder to copy <c>tokenizer.json</c>, <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c> from (those present).</summary>
    public string? TokenizerFolder { get; init; }

    /// <summary>Weights are drawn from U(-InitScale, InitScale); norm weights from 1 + U(-0.1, 0.1); biases from U(-0.1, 0.1).</summary>
    public float InitScale { get; init; } = 0.2f;

    /// <summary>The seed of the <see cref="System.Random"/> that draws every weight.</summary>
    public int Seed { get; init; } = 1;
}
