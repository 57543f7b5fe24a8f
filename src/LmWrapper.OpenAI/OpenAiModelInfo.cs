using LmWrapper.Costs;

namespace LmWrapper.OpenAI;

/// <summary>
/// What LmWrapper needs to know about an OpenAI (or OpenAI-compatible) model: which API serves it, its limits, its
/// tokenizer, what it supports and what it costs. Known models are in <see cref="OpenAiModelRegistry"/>; register
/// your own (a fine-tune, a new model, a vLLM-served one) there or pass one to <see cref="OpenAiLm.Get(OpenAiModelInfo, string?, bool, OpenAiOptions?)"/>.
/// </summary>
/// <param name="Name">The model name sent to the API (for example "gpt-4o-mini").</param>
/// <param name="ContextWindow">The most prompt plus completion tokens.</param>
/// <param name="MaxOutputTokens">The most completion tokens one request may ask for.</param>
/// <param name="Encoding">The tiktoken encoding used for token counting: "o200k_base" or "cl100k_base".</param>
/// <param name="IsChatModel">True for a model served by the Chat Completions API; false for the legacy Completions API.</param>
/// <param name="Prices">Dollars per million tokens and the batch discount; null when unknown (cost methods then throw).</param>
public sealed record OpenAiModelInfo(
    string Name,
    int ContextWindow,
    int MaxOutputTokens,
    string Encoding,
    bool IsChatModel,
    LmTokenPrices? Prices)
{
    /// <summary>
    /// True for an o-series or GPT-5 style reasoning model: it takes <c>max_completion_tokens</c> (which also covers its
    /// hidden reasoning tokens), and only the default temperature and top_p, no penalties, no stop sequences and no
    /// logprobs.
    /// </summary>
    public bool IsReasoningModel { get; init; }

    /// <summary>
    /// The <see cref="LmPrompt.ReasoningEffort"/> values the model takes (OpenAI's <c>reasoning_effort</c>): empty for a
    /// model that is not a reasoning model, or one that takes no effort setting (o1-mini, o1-preview). Unless set: low,
    /// medium and high for a reasoning model (the o-series); the registry gives GPT-5 minimal too, and gpt-5.1 none, low,
    /// medium and high. A prompt with another value is refused before anything is sent.
    /// </summary>
    public IReadOnlyList<LmReasoningEffort> SupportedReasoningEfforts
    {
        get => _reasoningEfforts ?? (IsReasoningModel ? OSeriesEfforts : []);
        init => _reasoningEfforts = value is null ? null : [.. value];
    }

    private readonly LmReasoningEffort[]? _reasoningEfforts;

    private static readonly LmReasoningEffort[] OSeriesEfforts = [LmReasoningEffort.Low, LmReasoningEffort.Medium, LmReasoningEffort.High];

    /// <summary>Whether the model returns token logprobs. Default: every model but reasoning models.</summary>
    public bool SupportsLogprobs { get; init; } = true;

    /// <summary>The most alternatives per token the API returns: 20 for chat models, 5 for completion models.</summary>
    public int MaxTopLogprobs => IsChatModel ? 20 : 5;

    /// <summary>
    /// Whether the model can echo the prompt with its logprobs (<see cref="LmPrompt.Echo"/>): legacy completion models
    /// only, and not gpt-3.5-turbo-instruct, for which OpenAI turned echo with logprobs off. Default: every completion model.
    /// </summary>
    public bool SupportsEcho { get; init; } = !IsChatModel;

    /// <summary>
    /// The most input tokens this model's unfinished Batch API batches may hold at once (OpenAI's "enqueued token
    /// limit", which depends on the account's usage tier), or null when unknown or unlimited. The registry's values are
    /// the first usage tier's; raise them for a higher tier (<c>model with { BatchEnqueuedTokenLimit = … }</c>, or
    /// <see cref="LmWrapper.Batching.BatchOptions.Limits"/>). A limit too low only makes batches smaller; one too high
    /// makes OpenAI refuse batches, which LmWrapper then holds back and splits.
    /// </summary>
    public long? BatchEnqueuedTokenLimit { get; init; }

    /// <summary>Whether the model takes images (<see cref="LmCapabilities.Vision"/>). The registry sets it for GPT-4o, GPT-4.1, GPT-4 Turbo, GPT-5, o1, o3 and o4-mini.</summary>
    public bool SupportsVision { get; init; }

    /// <summary>
    /// OpenAI's tile rule for this model's image tokens: the tokens of every image (all of a detail "low" image), 85 unless
    /// set (gpt-4o-mini 2833, o1/o3 75, GPT-5 70). Ignored when <see cref="ImagePatchMultiplier"/> is set.
    /// </summary>
    public int ImageBaseTokens { get; init; } = 85;

    /// <summary>OpenAI's tile rule: the tokens of each 512 px tile of a detail "high" image, 170 unless set (gpt-4o-mini 5667, o1/o3 150, GPT-5 140).</summary>
    public int ImageTileTokens { get; init; } = 170;

    /// <summary>
    /// For a model whose image tokens follow OpenAI's patch rule (32 px patches, at most 1536, times a multiplier:
    /// gpt-4.1-mini and gpt-5-mini 1.62, gpt-4.1-nano and gpt-5-nano 2.46, o4-mini 1.72): the multiplier; null for the tile rule.
    /// </summary>
    public double? ImagePatchMultiplier { get; init; }
}
