namespace LmWrapper.Costs;

/// <summary>What a model's tokens cost, in US dollars per million tokens, and the discount its batch API gives.</summary>
/// <param name="InputPerMillion">Dollars per million prompt tokens.</param>
/// <param name="OutputPerMillion">Dollars per million generated tokens (reasoning tokens included).</param>
/// <param name="CachedInputPerMillion">Dollars per million prompt tokens read from the provider's prompt cache; null when the model has no such discount.</param>
/// <param name="BatchDiscount">The fraction taken off every price for batch requests (0.5 for OpenAI's and Anthropic's batch APIs).</param>
public sealed record LmTokenPrices(decimal InputPerMillion, decimal OutputPerMillion, decimal? CachedInputPerMillion = null, decimal BatchDiscount = 0.5m)
{
    /// <summary>What the given usage cost.</summary>
    /// <param name="usage">Token counts as the provider reported them.</param>
    /// <param name="batch">Whether the request went through the batch API.</param>
    public decimal CostOf(LmUsage usage, bool batch = false)
    {
        ArgumentNullException.ThrowIfNull(usage);
        int cached = Math.Clamp(usage.CachedInputTokens, 0, usage.InputTokens);
        decimal cachedPrice = CachedInputPerMillion ?? InputPerMillion;
        decimal cost = ((usage.InputTokens - cached) * InputPerMillion + cached * cachedPrice + usage.OutputTokens * OutputPerMillion) / 1_000_000m;
        return batch ? cost * (1 - BatchDiscount) : cost;
    }
}
