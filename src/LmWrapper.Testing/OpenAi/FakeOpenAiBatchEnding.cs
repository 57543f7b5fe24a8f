namespace LmWrapper.Testing;

/// <summary>How a batch on a <see cref="FakeOpenAiServer"/> ends (see <see cref="FakeOpenAiBatchPlan"/>).</summary>
public enum FakeOpenAiBatchEnding
{
    /// <summary>Runs every request and completes.</summary>
    Complete,

    /// <summary>Runs <see cref="FakeOpenAiBatchPlan.Answered"/> requests, then expires; the rest get <c>batch_expired</c> lines in the error file.</summary>
    Expire,

    /// <summary>Runs <see cref="FakeOpenAiBatchPlan.Answered"/> requests, then is cancelled (as if from the dashboard); the rest get <c>batch_cancelled</c> lines.</summary>
    Cancel,

    /// <summary>Fails as a whole when its validation ends, with <see cref="FakeOpenAiBatchPlan.FailureCode"/> and no results.</summary>
    Fail,
}
