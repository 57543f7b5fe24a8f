namespace LmWrapper.Batching;

/// <summary>Where a provider's batch stands.</summary>
public enum BatchState
{
    /// <summary>The input is being checked.</summary>
    Validating,

    /// <summary>Requests are being run.</summary>
    InProgress,

    /// <summary>The results are being prepared.</summary>
    Finalizing,

    /// <summary>Done: every request has a result or an error.</summary>
    Completed,

    /// <summary>The batch failed as a whole (for example its input was rejected).</summary>
    Failed,

    /// <summary>The completion window ran out; finished requests have results, the rest do not.</summary>
    Expired,

    /// <summary>Being cancelled.</summary>
    Cancelling,

    /// <summary>Cancelled; finished requests have results, the rest do not.</summary>
    Cancelled,
}
