namespace LmWrapper.Testing;

/// <summary>A model the <see cref="FakeOpenAiServer"/> knows, and what it accepts.</summary>
/// <param name="Id">The model name clients send (for example "gpt-4o-mini").</param>
/// <param name="IsChat">True for a model served by <c>/v1/chat/completions</c>; false for one served by the legacy <c>/v1/completions</c>.</param>
/// <param name="ContextWindow">The most prompt plus completion tokens a request may use.</param>
/// <param name="MaxOutputTokens">The most completion tokens a request may ask for.</param>
/// <param name="IsReasoning">
/// True for an o-series style reasoning model: it rejects <c>max_tokens</c> (use <c>max_completion_tokens</c>), any
/// temperature or top_p but 1, penalties, logprobs and stop sequences, as the real API does.
/// </param>
public sealed record FakeOpenAiModel(string Id, bool IsChat, int ContextWindow, int MaxOutputTokens, bool IsReasoning = false)
{
    /// <summary>
    /// Whether a completions request may set <c>echo</c> and <c>logprobs</c> together. OpenAI turned this off for
    /// gpt-3.5-turbo-instruct (400 "Setting 'echo' and 'logprobs' at the same time is not supported for this model.");
    /// davinci-002 and babbage-002 still allow it.
    /// </summary>
    public bool SupportsEchoWithLogprobs { get; init; } = true;

    /// <summary>
    /// The <c>reasoning_effort</c> values the model takes, as the real API names them. Unless set: "low", "medium" and
    /// "high" for a reasoning model (the o-series), none for any other model (which rejects the parameter). The defaults
    /// give GPT-5 "minimal" too, gpt-5.1 "none", "low", "medium" and "high", and o1-mini none at all.
    /// </summary>
    public IReadOnlyList<string> ReasoningEfforts
    {
        get => _reasoningEfforts ?? (IsReasoning ? ["low", "medium", "high"] : []);
        init => _reasoningEfforts = value is null ? null : [.. value];
    }

    private readonly string[]? _reasoningEfforts;

    /// <summary>The effort used when a request leaves <c>reasoning_effort</c> out: "medium", except gpt-5.1's "none".</summary>
    public string DefaultReasoningEffort { get; init; } = "medium";

    /// <summary>
    /// Whether the model takes <c>image_url</c> content parts. A model without vision answers 400 "Invalid content type.
    /// image_url is only supported by certain models.", as the real API does.
    /// </summary>
    public bool SupportsVision { get; init; }

    /// <summary>OpenAI's tile rule: the tokens of every image (all of a detail "low" one). Default 85.</summary>
    public int ImageBaseTokens { get; init; } = 85;

    /// <summary>OpenAI's tile rule: the tokens of each 512 px tile of a detail "high" (or "auto") image. Default 170.</summary>
    public int ImageTileTokens { get; init; } = 170;

    /// <summary>For a model on OpenAI's patch rule (32 px patches, at most 1536): the multiplier; null for the tile rule.</summary>
    public double? ImagePatchMultiplier { get; init; }

    /// <summary>The models a server knows unless told otherwise: the current OpenAI chat, reasoning and completion models.</summary>
    public static IReadOnlyList<FakeOpenAiModel> Defaults { get; } = WithImages(
    [
        new("gpt-4o", true, 128_000, 16_384),
        new("gpt-4o-mini", true, 128_000, 16_384),
        new("gpt-4.1", true, 1_047_576, 32_768),
        new("gpt-4.1-mini", true, 1_047_576, 32_768),
        new("gpt-4.1-nano", true, 1_047_576, 32_768),
        new("gpt-4-turbo", true, 128_000, 4_096),
        new("gpt-4", true, 8_192, 8_192),
        new("gpt-3.5-turbo", true, 16_385, 4_096),
        new("o1", true, 200_000, 100_000, IsReasoning: true),
        new("o1-mini", true, 128_000, 65_536, IsReasoning: true) { ReasoningEfforts = [] },
        new("o3", true, 200_000, 100_000, IsReasoning: true),
        new("o3-mini", true, 200_000, 100_000, IsReasoning: true),
        new("o4-mini", true, 200_000, 100_000, IsReasoning: true),
        new("gpt-5", true, 400_000, 128_000, IsReasoning: true) { ReasoningEfforts = ["minimal", "low", "medium", "high"] },
        new("gpt-5-mini", true, 400_000, 128_000, IsReasoning: true) { ReasoningEfforts = ["minimal", "low", "medium", "high"] },
        new("gpt-5-nano", true, 400_000, 128_000, IsReasoning: true) { ReasoningEfforts = ["minimal", "low", "medium", "high"] },
        new("gpt-5.1", true, 400_000, 128_000, IsReasoning: true) { ReasoningEfforts = ["none", "low", "medium", "high"], DefaultReasoningEffort = "none" },
        new("gpt-3.5-turbo-instruct", false, 4_096, 4_096) { SupportsEchoWithLogprobs = false },
        new("davinci-002", false, 16_384, 16_384),
        new("babbage-002", false, 16_384, 16_384),
    ]);

    /// <summary>Vision and the image token rules of OpenAI's vision guide, for the default models that take images.</summary>
    private static FakeOpenAiModel[] WithImages(FakeOpenAiModel[] models) =>
    [
        .. models.Select(m => m.Id switch
        {
            "gpt-4o" or "gpt-4.1" or "gpt-4-turbo" => m with { SupportsVision = true },
            "gpt-4o-mini" => m with { SupportsVision = true, ImageBaseTokens = 2833, ImageTileTokens = 5667 },
            "o1" or "o3" => m with { SupportsVision = true, ImageBaseTokens = 75, ImageTileTokens = 150 },
            "gpt-5" or "gpt-5.1" => m with { SupportsVision = true, ImageBaseTokens = 70, ImageTileTokens = 140 },
            "gpt-4.1-mini" or "gpt-5-mini" => m with { SupportsVision = true, ImagePatchMultiplier = 1.62 },
            "gpt-4.1-nano" or "gpt-5-nano" => m with { SupportsVision = true, ImagePatchMultiplier = 2.46 },
            "o4-mini" => m with { SupportsVision = true, ImagePatchMultiplier = 1.72 },
            _ => m,
        }),
    ];
}
