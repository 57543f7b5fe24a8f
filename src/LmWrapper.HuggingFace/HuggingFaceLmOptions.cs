using LmWrapper.HuggingFace.Hub;

namespace LmWrapper.HuggingFace;

/// <summary>
/// Settings of a local <see cref="HuggingFaceLm"/>. <see cref="LmOptions.ModelOptions"/> and <see cref="LmOptions.Logger"/>
/// are set as for every other model.
/// </summary>
public sealed record HuggingFaceLmOptions : LmOptions
{
    /// <summary>Threads for the matrix products. Default: every core (<see cref="Environment.ProcessorCount"/>).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>The hub revision (branch, tag or commit) when the model is a hub id; null for <c>main</c>.</summary>
    public string? Revision { get; init; }

    /// <summary>Where the hub cache is and whether downloads are allowed; null to read the environment (HF_HOME, HF_HUB_OFFLINE, …).</summary>
    public HuggingFaceHubOptions? Hub { get; init; }

    /// <summary>
    /// Convert F16/BF16 weights to float32 when loading (twice the memory, no conversion per token). Off by default:
    /// half-precision weights are read as they are in the memory-mapped file and widened as the kernels stream them.
    /// </summary>
    public bool ConvertWeightsToFloat32 { get; init; }

    /// <summary>Quantize the matrices when loading (<see cref="WeightQuantization.Int8"/>); none by default.</summary>
    public WeightQuantization Quantization { get; init; }

    /// <summary>Sample only among the k most likely tokens when sampling (transformers' <c>top_k</c>); 0, the default, for no limit.</summary>
    public int TopK { get; init; }

    /// <summary>
    /// Whether text prompts go through the chat template as a single user turn. Null (the default) means yes when the
    /// tokenizer has a chat template, as the Python lmwrapper does; false completes plain text on a chat model.
    /// </summary>
    public bool? UseChatMode { get; init; }

    /// <summary>The most samples decoded together in one batched step of <see cref="LanguageModel.PredictMany"/>. Default 8.</summary>
    public int MaxBatchSize { get; init; } = 8;
}
