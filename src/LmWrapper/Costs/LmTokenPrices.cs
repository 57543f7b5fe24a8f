namespace LmWrapper.Costs;

/// <summary>What a model's tokens cost, in US dollars per million tokens, and the discount its batch API gives.</summary>
/// <param name="InputPerMillion">Dollars per million prompt tokens.</param>
/// <param name="OutputPerMillion">Dollars per million generated tokens (reasoning tokens included).</param>
/// <param name="CachedInputPerMillion">Dollars per million prompt tokens read from the provider's prompt cache; null when the model has no such discount.</param>
/// <param name="BatchDiscount">The fraction taken off every price for batch requests (0.5 for OpenAI's and Anthropic's batch APIs).</param>
public sealed record LmTokenPrices(decimal InputPerMillion, decimal OutputPerMillion, decimal? CachedInputPerMillion = null, decimal BatchDiscount = 0.5m)
{
    /// <summary>The prices of a model that costs nothing to run (a local model).</summary>
    public static LmTokenPrices Free { get; } = new(0m, 0m, 0m, 0m);

    /// <summary>Dollars per million prompt tokens written to the provider's prompt cache (Claude); null when writing costs the input price.</summary>
    public decimal? CacheWritePerMillion { get; init; }

    /// <summary>What the given usage cost.</summary>
    /// <param name="usage">Token counts as the provider reported them (<see cref="LmUsage.InputTokens"/> counts every prompt token).</param>
    /// <param name="batch">Whether the request went through the batch API.</param>
    /// <param name="cacheWriteTokens">Prompt tokens written to the provider's prompt cache (part of the input tokens).</param>
    public decimal CostOf(LmUsage usage, bool batch = false, int cacheWriteTokens = 0)
    {
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentOutOfRangeException.ThrowIfNegative(cacheWriteTokens);
        int cached = Math.Clamp(usage.CachedInputTokens, 0, usage.InputTokens);
        long written = Math.Min(cacheWriteTokens, (long)usage.InputTokens - cached);
        long plain = (long)usage.InputTokens - cached - written;
        decimal cost = (plain * InputPerMillion
            + cached * (CachedInputPerMillion ?? InputPerMillion)
            + written * (CacheWritePerMillion ?? InputPerMillion)
            + (decimal)usage.OutputTokens * OutputPerMillion) / 1_000_000m;
        return batch ? cost * (1 - BatchDiscount) : cost;
    }
}
