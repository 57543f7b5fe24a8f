namespace LmWrapper.Batching;

/// <summary>The result of one request of a batch.</summary>
/// <param name="CustomId">The request's custom id.</param>
/// <param name="Predictions">
/// Its samples, or one failed prediction (a request the provider rejected: <see cref="LmPrediction.IsErrorPermanent"/>).
/// It may hold fewer samples than were asked for (a provider that runs each sample as its own request, some of which
/// expired or were cancelled): the orchestration keeps them and asks again for the rest.
/// </param>
public sealed record BatchLineResult(string CustomId, IReadOnlyList<LmPrediction> Predictions);
