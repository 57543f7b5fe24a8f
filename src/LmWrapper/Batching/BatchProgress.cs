namespace LmWrapper.Batching;

/// <summary>How a batch run is going.</summary>
/// <param name="Requests">Distinct requests the run must answer (cache misses).</param>
/// <param name="Submitted">Requests in batches the provider has accepted (including reattached ones).</param>
/// <param name="Completed">Requests answered.</param>
/// <param name="Failed">Requests that ended as errors.</param>
/// <param name="ActiveBatches">Batches still running at the provider.</param>
/// <param name="Cached">Prompts of the run answered from the cache without any request.</param>
/// <param name="CostSoFar">What the answers collected so far cost, in dollars, where the model knows its prices (else null).</param>
public sealed record BatchProgress(int Requests, int Submitted, int Completed, int Failed, int ActiveBatches, int Cached = 0, decimal? CostSoFar = null)
{
    /// <summary>
    /// What this <c>PredictMany</c> run has spent and saved so far (tokens, dollars paid, saved by the cache and by the batch
    /// discount), as its answers are stored; null when the orchestrator runs outside a <c>PredictMany</c> run.
    /// </summary>
    public Costs.LmSpendSnapshot? Spend { get; init; }
}
