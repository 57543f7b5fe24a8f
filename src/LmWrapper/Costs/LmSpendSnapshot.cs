using System.Globalization;

namespace LmWrapper.Costs;

/// <summary>
/// What an <see cref="LmSpend"/> had counted at one moment: requests, tokens, dollars paid and dollars saved. Snapshots
/// add and subtract, so the spend of a stretch of work is the snapshot after it minus the one before.
/// </summary>
/// <param name="Requests">Requests sent to the model (cache misses; each request of a provider batch counts one), failed ones included.</param>
/// <param name="FailedRequests">Requests that came back as errors.</param>
/// <param name="InputTokens">Prompt tokens the provider reported for the fresh answers.</param>
/// <param name="OutputTokens">Generated tokens the provider reported for the fresh answers.</param>
/// <param name="CachedSamples">Samples answered from LmWrapper's response cache (nothing sent, nothing paid).</param>
/// <param name="Cost">US dollars paid for the fresh answers, at the model's prices (0 for a model whose prices are unknown).</param>
/// <param name="CacheSavings">US dollars the cached samples would have cost had they been asked for again.</param>
/// <param name="BatchSavings">US dollars the batch discount took off the answers that came through a provider's batch API.</param>
public sealed record LmSpendSnapshot(
    long Requests,
    long FailedRequests,
    long InputTokens,
    long OutputTokens,
    long CachedSamples,
    decimal Cost,
    decimal CacheSavings,
    decimal BatchSavings)
{
    /// <summary>Nothing counted yet.</summary>
    public static LmSpendSnapshot Empty { get; } = new(0, 0, 0, 0, 0, 0m, 0m, 0m);

    /// <summary>Every dollar saved: by the cache and by batch discounts.</summary>
    public decimal Saved => CacheSavings + BatchSavings;

    /// <summary>The sum of two snapshots (two models' spend, say).</summary>
    /// <param name="a">One snapshot.</param>
    /// <param name="b">The other.</param>
    public static LmSpendSnapshot operator +(LmSpendSnapshot a, LmSpendSnapshot b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return new(
            a.Requests + b.Requests,
            a.FailedRequests + b.FailedRequests,
            a.InputTokens + b.InputTokens,
            a.OutputTokens + b.OutputTokens,
            a.CachedSamples + b.CachedSamples,
            a.Cost + b.Cost,
            a.CacheSavings + b.CacheSavings,
            a.BatchSavings + b.BatchSavings);
    }

    /// <summary>What was counted between two snapshots of one accumulator (<paramref name="later"/> taken after <paramref name="earlier"/>).</summary>
    /// <param name="later">The later snapshot.</param>
    /// <param name="earlier">The earlier snapshot.</param>
    public static LmSpendSnapshot operator -(LmSpendSnapshot later, LmSpendSnapshot earlier)
    {
        ArgumentNullException.ThrowIfNull(later);
        ArgumentNullException.ThrowIfNull(earlier);
        return new(
            later.Requests - earlier.Requests,
            later.FailedRequests - earlier.FailedRequests,
            later.InputTokens - earlier.InputTokens,
            later.OutputTokens - earlier.OutputTokens,
            later.CachedSamples - earlier.CachedSamples,
            later.Cost - earlier.Cost,
            later.CacheSavings - earlier.CacheSavings,
            later.BatchSavings - earlier.BatchSavings);
    }

    /// <summary>The sum of this snapshot and <paramref name="other"/> (the named form of <c>+</c>).</summary>
    /// <param name="other">The other snapshot.</param>
    public LmSpendSnapshot Add(LmSpendSnapshot other) => this + other;

    /// <summary>What was counted since <paramref name="earlier"/> (the named form of <c>-</c>).</summary>
    /// <param name="earlier">An earlier snapshot of the same accumulator.</param>
    public LmSpendSnapshot Subtract(LmSpendSnapshot earlier) => this - earlier;

    /// <summary>One line: requests, tokens, dollars paid and saved.</summary>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Requests} requests ({FailedRequests} failed), {InputTokens} input + {OutputTokens} output tokens, {CachedSamples} cached samples, "
        + $"${Cost:0.######} paid, ${CacheSavings:0.######} saved by the cache, ${BatchSavings:0.######} by batch discounts");
}
