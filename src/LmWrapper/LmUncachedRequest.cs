using LmWrapper.Caching;

namespace LmWrapper;

/// <summary>One piece of work a provider must do because the cache could not answer it.</summary>
/// <param name="Index">The request's position in the list given to the provider; results name it.</param>
/// <param name="Prompt">The prompt (already validated).</param>
/// <param name="NumCompletions">How many new samples are needed (may be fewer than <see cref="LmPrompt.NumCompletions"/> when some were cached).</param>
public sealed record LmUncachedRequest(int Index, LmPrompt Prompt, int NumCompletions)
{
    /// <summary>The prompt's cache key, or null when the prompt does not use the cache.</summary>
    public CacheKey? CacheKey { get; init; }

    /// <summary>
    /// The sample number of the first new sample (the cache holds those before it): a provider that derives each
    /// sample's randomness from <see cref="LmPrompt.Seed"/> and the sample's number uses <c>FirstSample + i</c>, so that
    /// asking for 5 samples after 3 were cached makes samples 3 and 4, not copies of 0 and 1.
    /// </summary>
    public int FirstSample { get; init; }
}

/// <summary>A provider's answer to one <see cref="LmUncachedRequest"/>.</summary>
/// <param name="Index">The <see cref="LmUncachedRequest.Index"/> answered.</param>
/// <param name="Predictions">
/// Exactly <see cref="LmUncachedRequest.NumCompletions"/> predictions, one per sample; or a single failed prediction
/// (<see cref="LmPrediction.HasErrors"/>) that stands for all of them.
/// </param>
public sealed record LmUncachedResult(int Index, IReadOnlyList<LmPrediction> Predictions)
{
    /// <summary>
    /// Called once the predictions are safely in the cache (or, for a prompt that does not use the cache, handed to the
    /// caller). A batch backend uses it to forget a request only when forgetting can no longer lose an answer.
    /// </summary>
    public Action? OnStored { get; init; }
}
