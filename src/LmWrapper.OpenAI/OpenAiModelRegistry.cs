using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using LmWrapper.Costs;

namespace LmWrapper.OpenAI;

/// <summary>
/// The one place that knows OpenAI models: context window, max output, tokenizer, API, reasoning flag and price per
/// million tokens (standard tier, as published by OpenAI when this list was written; check
/// https://platform.openai.com/docs/pricing). Thread-safe; register new or custom models at run time.
/// </summary>
public static class OpenAiModelRegistry
{
    private const string O200k = "o200k_base";
    private const string Cl100k = "cl100k_base";

    private static readonly ConcurrentDictionary<string, OpenAiModelInfo> Models = new(StringComparer.Ordinal);

    static OpenAiModelRegistry()
    {
        OpenAiModelInfo[] known =
        [
            Chat(OpenAiModelNames.Gpt4o, 128_000, 16_384, O200k, 2.50m, 10.00m, 1.25m) with { BatchEnqueuedTokenLimit = 90_000 },
            Chat(OpenAiModelNames.Gpt4oMini, 128_000, 16_384, O200k, 0.15m, 0.60m, 0.075m) with { BatchEnqueuedTokenLimit = 2_000_000 },

            // Dated snapshots (the ones the Python original lists): a pinned snapshot keeps its outputs, and cache keys, stable.
            Chat(OpenAiModelNames.Gpt4o20240513, 128_000, 4_096, O200k, 5.00m, 15.00m, null) with { BatchEnqueuedTokenLimit = 90_000 },
            Chat(OpenAiModelNames.Gpt4o20241120, 128_000, 16_384, O200k, 2.50m, 10.00m, 1.25m) with { BatchEnqueuedTokenLimit = 90_000 },
            Chat(OpenAiModelNames.Gpt4oMini20240718, 128_000, 16_384, O200k, 0.15m, 0.60m, 0.075m) with { BatchEnqueuedTokenLimit = 2_000_000 },
            Chat(OpenAiModelNames.Gpt41106Preview, 128_000, 4_096, Cl100k, 10.00m, 30.00m, null) with { BatchEnqueuedTokenLimit = 90_000 },
            Reasoning(OpenAiModelNames.O1Preview, 128_000, 32_768, 15.00m, 60.00m, 7.50m) with { SupportedReasoningEfforts = [] },
            Reasoning(OpenAiModelNames.O1Preview20240912, 128_000, 32_768, 15.00m, 60.00m, 7.50m) with { SupportedReasoningEfforts = [] },
            Reasoning(OpenAiModelNames.O1Mini20240912, 128_000, 65_536, 1.10m, 4.40m, 0.55m) with { SupportedReasoningEfforts = [] },
            Reasoning(OpenAiModelNames.O4Mini20250416, 200_000, 100_000, 1.10m, 4.40m, 0.275m),

            Chat(OpenAiModelNames.Gpt41, 1_047_576, 32_768, O200k, 2.00m, 8.00m, 0.50m) with { BatchEnqueuedTokenLimit = 900_000 },
            Chat(OpenAiModelNames.Gpt41Mini, 1_047_576, 32_768, O200k, 0.40m, 1.60m, 0.10m) with { BatchEnqueuedTokenLimit = 2_000_000 },
            Chat(OpenAiModelNames.Gpt41Nano, 1_047_576, 32_768, O200k, 0.10m, 0.40m, 0.025m) with { BatchEnqueuedTokenLimit = 2_000_000 },
            Chat(OpenAiModelNames.Gpt4Turbo, 128_000, 4_096, Cl100k, 10.00m, 30.00m, null) with { BatchEnqueuedTokenLimit = 90_000 },
            Chat(OpenAiModelNames.Gpt4, 8_192, 8_192, Cl100k, 30.00m, 60.00m, null) with { BatchEnqueuedTokenLimit = 100_000 },
            Chat(OpenAiModelNames.Gpt35Turbo, 16_385, 4_096, Cl100k, 0.50m, 1.50m, null) with { BatchEnqueuedTokenLimit = 2_000_000 },
            Reasoning(OpenAiModelNames.Gpt5, 400_000, 128_000, 1.25m, 10.00m, 0.125m) with { SupportedReasoningEfforts = Gpt5Efforts },
            Reasoning(OpenAiModelNames.Gpt5Mini, 400_000, 128_000, 0.25m, 2.00m, 0.025m) with { SupportedReasoningEfforts = Gpt5Efforts },
            Reasoning(OpenAiModelNames.Gpt5Nano, 400_000, 128_000, 0.05m, 0.40m, 0.005m) with { SupportedReasoningEfforts = Gpt5Efforts },
            Reasoning(OpenAiModelNames.Gpt51, 400_000, 128_000, 1.25m, 10.00m, 0.125m)
                with { SupportedReasoningEfforts = [LmReasoningEffort.None, LmReasoningEffort.Low, LmReasoningEffort.Medium, LmReasoningEffort.High] },
            Reasoning(OpenAiModelNames.O1, 200_000, 100_000, 15.00m, 60.00m, 7.50m),
            Reasoning(OpenAiModelNames.O1Mini, 128_000, 65_536, 1.10m, 4.40m, 0.55m) with { SupportedReasoningEfforts = [] },
            Reasoning(OpenAiModelNames.O3, 200_000, 100_000, 2.00m, 8.00m, 0.50m),
            Reasoning(OpenAiModelNames.O3Mini, 200_000, 100_000, 1.10m, 4.40m, 0.55m),
            Reasoning(OpenAiModelNames.O4Mini, 200_000, 100_000, 1.10m, 4.40m, 0.275m),
            new(OpenAiModelNames.Gpt35TurboInstruct, 4_096, 4_096, Cl100k, IsChatModel: false, new LmTokenPrices(1.50m, 2.00m)) { SupportsEcho = false },
            new(OpenAiModelNames.Davinci002, 16_384, 16_384, Cl100k, IsChatModel: false, new LmTokenPrices(2.00m, 2.00m)),
            new(OpenAiModelNames.Babbage002, 16_384, 16_384, Cl100k, IsChatModel: false, new LmTokenPrices(0.40m, 0.40m)),
        ];
        foreach (var m in known)
        {
            Models[m.Name] = WithImages(m);
        }
    }

    /// <summary>Every registered model.</summary>
    public static IReadOnlyCollection<OpenAiModelInfo> All => [.. Models.Values.OrderBy(m => m.Name, StringComparer.Ordinal)];

    /// <summary>Adds a model, or replaces the one with the same name.</summary>
    /// <param name="model">The model.</param>
    public static void Register(OpenAiModelInfo model)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(model.Name);
        ArgumentOutOfRangeException.ThrowIfLessThan(model.ContextWindow, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(model.MaxOutputTokens, 1);
        OpenAiTokenizers.CheckKnown(model.Encoding); // fail now on an unknown encoding, not at the first prompt
        Models[model.Name] = model;
    }

    /// <summary>Looks a model up by name.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="model">The model, when found; null otherwise.</param>
    public static bool TryGet(string name, [NotNullWhen(true)] out OpenAiModelInfo? model)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Models.TryGetValue(name, out model);
    }

    /// <summary>Looks a model up by name.</summary>
    /// <param name="name">The model name.</param>
    /// <exception cref="ArgumentException">No model has that name (register it first).</exception>
    public static OpenAiModelInfo Get(string name) =>
        TryGet(name, out var model)
            ? model
            : throw new ArgumentException(
                $"Unknown OpenAI model '{name}'. Known: {string.Join(", ", Models.Keys.Order(StringComparer.Ordinal))}. " +
                "Register it with OpenAiModelRegistry.Register(new OpenAiModelInfo(...)) or pass an OpenAiModelInfo to OpenAiLm.Get.",
                nameof(name));

    /// <summary>GPT-5's reasoning efforts (OpenAI's reference: minimal, low, medium, high; none only from gpt-5.1).</summary>
    private static readonly LmReasoningEffort[] Gpt5Efforts = [LmReasoningEffort.Minimal, LmReasoningEffort.Low, LmReasoningEffort.Medium, LmReasoningEffort.High];

    /// <summary>
    /// Vision and the image token rule of a known model, from OpenAI's vision guide: the tile rule's base and tile tokens
    /// (85 and 170 unless set), or the patch rule's multiplier. Models not listed take no images.
    /// </summary>
    private static OpenAiModelInfo WithImages(OpenAiModelInfo m) => m.Name switch
    {
        OpenAiModelNames.Gpt4o or OpenAiModelNames.Gpt4o20240513 or OpenAiModelNames.Gpt4o20241120
            or OpenAiModelNames.Gpt41 or OpenAiModelNames.Gpt4Turbo => m with { SupportsVision = true },
        OpenAiModelNames.Gpt4oMini or OpenAiModelNames.Gpt4oMini20240718 => m with { SupportsVision = true, ImageBaseTokens = 2833, ImageTileTokens = 5667 },
        OpenAiModelNames.O1 or OpenAiModelNames.O3 => m with { SupportsVision = true, ImageBaseTokens = 75, ImageTileTokens = 150 },
        OpenAiModelNames.Gpt5 or OpenAiModelNames.Gpt51 => m with { SupportsVision = true, ImageBaseTokens = 70, ImageTileTokens = 140 },
        OpenAiModelNames.Gpt41Mini or OpenAiModelNames.Gpt5Mini => m with { SupportsVision = true, ImagePatchMultiplier = 1.62 },
        OpenAiModelNames.Gpt41Nano or OpenAiModelNames.Gpt5Nano => m with { SupportsVision = true, ImagePatchMultiplier = 2.46 },
        OpenAiModelNames.O4Mini or OpenAiModelNames.O4Mini20250416 => m with { SupportsVision = true, ImagePatchMultiplier = 1.72 },
        _ => m,
    };

    private static OpenAiModelInfo Chat(string name, int context, int maxOutput, string encoding, decimal input, decimal output, decimal? cached) =>
        new(name, context, maxOutput, encoding, IsChatModel: true, new LmTokenPrices(input, output, cached));

    private static OpenAiModelInfo Reasoning(string name, int context, int maxOutput, decimal input, decimal output, decimal cached) =>
        new(name, context, maxOutput, O200k, IsChatModel: true, new LmTokenPrices(input, output, cached))
        {
            IsReasoningModel = true,
            SupportsLogprobs = false,
        };
}
