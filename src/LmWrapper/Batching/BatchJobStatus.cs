namespace LmWrapper.Batching;

/// <summary>A provider's report on one batch.</summary>
/// <param name="State">Where it stands.</param>
/// <param name="Completed">How many requests have finished, if the provider says.</param>
/// <param name="Failed">How many requests failed, if the provider says.</param>
/// <param name="Message">The provider's explanation (for failed batches), if any.</param>
public sealed record BatchJobStatus(BatchState State, int? Completed = null, int? Failed = null, string? Message = null)
{
    /// <summary>Whether the batch will not change any more.</summary>
    public bool IsTerminal => State is BatchState.Completed or BatchState.Failed or BatchState.Expired or BatchState.Cancelled;
}
