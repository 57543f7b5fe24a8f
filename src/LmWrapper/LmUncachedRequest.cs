namespace LmWrapper;

/// <summary>One piece of work a provider must do because the cache could not answer it.</summary>
/// <param name="Index">The request's position in the list given to the provider; results name it.</param>
/// <param name="Prompt">The prompt (already validated).</param>
/// <param name="NumCompletions">How many new samples are needed (may be fewer than <see cref="LmPrompt.NumCompletions"/> when some were cached).</param>
public sealed record LmUncachedRequest(int Index, LmPrompt Prompt, int NumCompletions);

/// <summary>A provider's answer to one <see cref="LmUncachedRequest"/>.</summary>
/// <param name="Index">The <see cref="LmUncachedRequest.Index"/> answered.</param>
/// <param name="Predictions">
/// Exactly <see cref="LmUncachedRequest.NumCompletions"/> predictions, one per sample; or a single failed prediction
/// (<see cref="LmPrediction.HasErrors"/>) that stands for all of them.
/// </param>
public sealed record LmUncachedResult(int Index, IReadOnlyList<LmPrediction> Predictions);
