namespace LmWrapper.Batching;

/// <summary>The result of one request of a batch.</summary>
/// <param name="CustomId">The request's custom id.</param>
/// <param name="Predictions">Its samples, or one failed prediction (a request the provider rejected: <see cref="LmPrediction.IsErrorPermanent"/>).</param>
public sealed record BatchLineResult(string CustomId, IReadOnlyList<LmPrediction> Predictions);
