namespace LmWrapper.Anthropic;

/// <summary>
/// What LmWrapper knows about one Claude model: its API name, context window, output limit and prices. Immutable; the
/// built-in ones are in <see cref="ClaudeModelNames"/>, and <see cref="ClaudeModelNames.Register"/> adds more at run time.
/// </summary>
/// <param name="Name">The model's API name (for example "claude-3-5-haiku-20241022"), sent as <c>model</c>.</param>
/// <param name="ContextWindow">The context window in tokens (prompt plus completion).</param>
/// <param name="MaxOutputTokens">The most tokens one response may generate (the API's ceiling for <c>max_tokens</c>).</param>
/// <param name="InputPricePerMillion">US dollars per million input tokens.</param>
/// <param name="OutputPricePerMillion">US dollars per million output tokens.</param>
public sealed record ClaudeModelInfo(
    string Name,
    int ContextWindow,
    int MaxOutputTokens,
    decimal InputPricePerMillion,
    decimal OutputPricePerMillion)
{
    /// <summary>US dollars per million tokens written to Claude's prompt cache (5-minute cache). Default 1.25 × the input price.</summary>
    public decimal CacheWritePricePerMillion { get; init; } = InputPricePerMillion * 1.25m;

    /// <summary>US dollars per million tokens read from Claude's prompt cache. Default 0.1 × the input price.</summary>
    public decimal CacheReadPricePerMillion { get; init; } = InputPricePerMillion * 0.1m;

    /// <summary>The fraction taken off every price for requests sent through the Message Batches API. Default 0.5 (half price).</summary>
    public decimal BatchDiscount { get; init; } = 0.5m;

    /// <summary>
    /// The <c>max_tokens</c> sent when a prompt leaves <see cref="LmPrompt.MaxTokens"/> unset (the API requires one).
    /// Default: the smaller of <see cref="MaxOutputTokens"/> and 4096.
    /// </summary>
    public int DefaultMaxTokens { get; init; } = Math.Min(MaxOutputTokens, 4096);

    /// <summary>
    /// Whether the model accepts <c>temperature</c> and <c>top_p</c> in the same request. The 4.5 generation rejects
    /// both together ("`temperature` and `top_p` cannot both be specified for this model"), so a prompt that sets both
    /// away from their defaults is refused before any request.
    /// </summary>
    public bool AcceptsTemperatureWithTopP { get; init; } = true;

    /// <summary>
    /// Whether the model has extended thinking (<see cref="LmPrompt.ThinkingBudgetTokens"/>): Claude 3.7 Sonnet and the
    /// Claude 4 models (Sonnet 4, Opus 4, Opus 4.1, and the 4.5 generation) do; Claude 3 and 3.5 do not. Default false.
    /// </summary>
    public bool SupportsExtendedThinking { get; init; }

    /// <summary>Whether the model takes images (<see cref="LmCapabilities.Vision"/>). Default true: every Claude 3 and later model does.</summary>
    public bool SupportsVision { get; init; } = true;

    /// <summary>A human-readable name ("Claude 3.5 Haiku"), or null.</summary>
    public string? DisplayName { get; init; }

    /// <summary>
    /// What a request with this usage costs, in US dollars. <paramref name="usage"/> follows LmWrapper's convention:
    /// <see cref="LmUsage.InputTokens"/> counts every prompt token, of which <see cref="LmUsage.CachedInputTokens"/>
    /// were read from the prompt cache and <paramref name="cacheCreationInputTokens"/> were written to it.
    /// </summary>
    /// <param name="usage">The tokens used.</param>
    /// <param name="cacheCreationInputTokens">Prompt tokens written to the prompt cache (billed at <see cref="CacheWritePricePerMillion"/>).</param>
    /// <param name="batch">Whether the request went through the Message Batches API (billed with <see cref="BatchDiscount"/> off).</param>
    public decimal CostOf(LmUsage usage, int cacheCreationInputTokens = 0, bool batch = false)
    {
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentOutOfRangeException.ThrowIfNegative(cacheCreationInputTokens);
        long plainInput = Math.Max(0L, (long)usage.InputTokens - usage.CachedInputTokens - cacheCreationInputTokens);
        decimal cost = (plainInput * InputPricePerMillion
            + (decimal)usage.CachedInputTokens * CacheReadPricePerMillion
            + (decimal)cacheCreationInputTokens * CacheWritePricePerMillion
            + (decimal)usage.OutputTokens * OutputPricePerMillion) / 1_000_000m;
        return batch ? cost * (1 - BatchDiscount) : cost;
    }
}
