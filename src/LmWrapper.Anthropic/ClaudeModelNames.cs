using System.Collections.Concurrent;

namespace LmWrapper.Anthropic;

/// <summary>
/// The Claude models LmWrapper knows, with their context windows, output limits and prices (US dollars per million
/// tokens, standard tier, 5-minute prompt cache). All of it is data in this one place; <see cref="Register"/> adds or
/// replaces a model at run time (a new release, a dated snapshot, an alias such as "claude-3-5-haiku-latest").
/// </summary>
public static class ClaudeModelNames
{
    private static readonly ConcurrentDictionary<string, ClaudeModelInfo> Registry = new(StringComparer.Ordinal);

    /// <summary>Claude 3 Haiku: fast and cheapest; 200k context, 4,096 output tokens.</summary>
    public static ClaudeModelInfo Claude3Haiku { get; } = Add(new("claude-3-haiku-20240307", 200_000, 4_096, 0.25m, 1.25m)
    {
        CacheWritePricePerMillion = 0.30m, CacheReadPricePerMillion = 0.03m, DisplayName = "Claude 3 Haiku",
    });

    /// <summary>Claude 3.5 Haiku: 200k context, 8,192 output tokens.</summary>
    public static ClaudeModelInfo Claude35Haiku { get; } = Add(new("claude-3-5-haiku-20241022", 200_000, 8_192, 0.80m, 4m)
    {
        CacheWritePricePerMillion = 1m, CacheReadPricePerMillion = 0.08m, DisplayName = "Claude 3.5 Haiku",
    });

    /// <summary>Claude 3.5 Sonnet (October 2024 snapshot): 200k context, 8,192 output tokens.</summary>
    public static ClaudeModelInfo Claude35Sonnet { get; } = Add(new("claude-3-5-sonnet-20241022", 200_000, 8_192, 3m, 15m)
    {
        DisplayName = "Claude 3.5 Sonnet",
    });

    /// <summary>Claude 3.7 Sonnet: 200k context, 64,000 output tokens.</summary>
    public static ClaudeModelInfo Claude37Sonnet { get; } = Add(new("claude-3-7-sonnet-20250219", 200_000, 64_000, 3m, 15m)
    {
        DisplayName = "Claude 3.7 Sonnet", SupportsExtendedThinking = true,
    });

    /// <summary>Claude Sonnet 4: 200k context, 64,000 output tokens.</summary>
    public static ClaudeModelInfo ClaudeSonnet4 { get; } = Add(new("claude-sonnet-4-20250514", 200_000, 64_000, 3m, 15m)
    {
        DisplayName = "Claude Sonnet 4", SupportsExtendedThinking = true,
    });

    /// <summary>Claude Opus 4: 200k context, 32,000 output tokens.</summary>
    public static ClaudeModelInfo ClaudeOpus4 { get; } = Add(new("claude-opus-4-20250514", 200_000, 32_000, 15m, 75m)
    {
        DisplayName = "Claude Opus 4", SupportsExtendedThinking = true,
    });

    /// <summary>Claude Opus 4.1: 200k context, 32,000 output tokens.</summary>
    public static ClaudeModelInfo ClaudeOpus41 { get; } = Add(new("claude-opus-4-1-20250805", 200_000, 32_000, 15m, 75m)
    {
        DisplayName = "Claude Opus 4.1", SupportsExtendedThinking = true,
    });

    /// <summary>Claude Sonnet 4.5: 200k context, 64,000 output tokens; takes temperature or top_p, not both.</summary>
    public static ClaudeModelInfo ClaudeSonnet45 { get; } = Add(new("claude-sonnet-4-5-20250929", 200_000, 64_000, 3m, 15m)
    {
        AcceptsTemperatureWithTopP = false, DisplayName = "Claude Sonnet 4.5", SupportsExtendedThinking = true,
    });

    /// <summary>Claude Haiku 4.5: 200k context, 64,000 output tokens; takes temperature or top_p, not both.</summary>
    public static ClaudeModelInfo ClaudeHaiku45 { get; } = Add(new("claude-haiku-4-5-20251001", 200_000, 64_000, 1m, 5m)
    {
        AcceptsTemperatureWithTopP = false, DisplayName = "Claude Haiku 4.5", SupportsExtendedThinking = true,
    });

    /// <summary>Claude Opus 4.5: 200k context, 64,000 output tokens; takes temperature or top_p, not both.</summary>
    public static ClaudeModelInfo ClaudeOpus45 { get; } = Add(new("claude-opus-4-5-20251101", 200_000, 64_000, 5m, 25m)
    {
        AcceptsTemperatureWithTopP = false, DisplayName = "Claude Opus 4.5", SupportsExtendedThinking = true,
    });

    /// <summary>Every known model (built-in and registered), ordered by name.</summary>
    public static IReadOnlyList<ClaudeModelInfo> All => [.. Registry.Values.OrderBy(m => m.Name, StringComparer.Ordinal)];

    /// <summary>Adds a model, or replaces the one with the same <see cref="ClaudeModelInfo.Name"/>, for every later lookup.</summary>
    /// <param name="model">The model's data.</param>
    /// <returns><paramref name="model"/>.</returns>
    public static ClaudeModelInfo Register(ClaudeModelInfo model)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(model.Name, nameof(model));
        ArgumentOutOfRangeException.ThrowIfLessThan(model.ContextWindow, 1, nameof(model));
        ArgumentOutOfRangeException.ThrowIfLessThan(model.MaxOutputTokens, 1, nameof(model));
        ArgumentOutOfRangeException.ThrowIfLessThan(model.DefaultMaxTokens, 1, nameof(model));
        Registry[model.Name] = model;
        return model;
    }

    /// <summary>Looks a model up by its API name.</summary>
    /// <param name="name">The API name.</param>
    /// <param name="model">The model's data, when known.</param>
    public static bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ClaudeModelInfo? model)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Registry.TryGetValue(name, out model);
    }

    /// <summary>Looks a model up by its API name.</summary>
    /// <param name="name">The API name.</param>
    /// <exception cref="ArgumentException">The name is unknown (register it first).</exception>
    public static ClaudeModelInfo Get(string name) =>
        TryGet(name, out var model)
            ? model
            : throw new ArgumentException(
                $"Unknown Claude model \"{name}\". Known: {string.Join(", ", All.Select(m => m.Name))}. "
                + "For another model, call ClaudeModelNames.Register(new ClaudeModelInfo(name, contextWindow, maxOutputTokens, inputPrice, outputPrice)) first.",
                nameof(name));

    private static ClaudeModelInfo Add(ClaudeModelInfo model)
    {
        Registry[model.Name] = model;
        return model;
    }
}
