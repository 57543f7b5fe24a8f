namespace LmWrapper.Batching;

/// <summary>What the journal knows of a submission whose provider id was never recorded.</summary>
/// <param name="LocalId">LmWrapper's id for the batch (given to <see cref="IBatchBackend.SubmitAsync"/>).</param>
/// <param name="RecordedAt">When the journal recorded it, just before the upload started.</param>
/// <param name="RequestCount">How many requests the batch holds.</param>
public sealed record BatchSubmissionRecord(string LocalId, DateTimeOffset RecordedAt, int RequestCount);
