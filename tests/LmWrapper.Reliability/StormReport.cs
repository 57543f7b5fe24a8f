namespace LmWrapper.Reliability;

/// <summary>What one fault storm found.</summary>
/// <param name="Provider">"openai" or "claude".</param>
/// <param name="Seed">The seed of the fault mix.</param>
/// <param name="Prompts">Prompts sent (one call each).</param>
/// <param name="FaultsInjected">Faults queued at the fake.</param>
/// <param name="FaultsByKind">How many of each kind were queued.</param>
/// <param name="Correct">Prompts that ended as the right prediction.</param>
/// <param name="TypedErrors">Prompts that ended as a failed prediction with an <see cref="LmError"/>.</param>
/// <param name="Wrong">Prompts that ended as a success with the wrong text (must be 0).</param>
/// <param name="Thrown">Prompts whose call threw (must be 0: every passing fault is a per-prompt result).</param>
/// <param name="PaidRequests">Generations the fake ran (billable requests).</param>
/// <param name="BillableFaults">Queued faults after which the fake had generated (a body cut off, an answer dropped): each justifies one more paid request.</param>
/// <param name="MaxCallSeconds">The longest call.</param>
/// <param name="BudgetSeconds">The calls' total-time limit (TotalTimeout).</param>
/// <param name="WorkingSetMb">The process's working set after each thousand prompts.</param>
/// <param name="FirstThrown">The first exception a call threw, or null.</param>
public sealed record StormReport(
    string Provider,
    int Seed,
    int Prompts,
    int FaultsInjected,
    IReadOnlyDictionary<string, int> FaultsByKind,
    int Correct,
    int TypedErrors,
    int Wrong,
    int Thrown,
    int PaidRequests,
    int BillableFaults,
    double MaxCallSeconds,
    double BudgetSeconds,
    IReadOnlyList<double> WorkingSetMb,
    string? FirstThrown)
{
    /// <summary>Paid requests beyond one per correct prompt and one per billable fault (must be 0).</summary>
    public int PaidBeyondJustified => Math.Max(0, PaidRequests - Correct - BillableFaults);
}
