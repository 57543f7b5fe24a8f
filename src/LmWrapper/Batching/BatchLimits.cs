namespace LmWrapper.Batching;

/// <summary>A provider's limits on one batch, as data (they change; override them when they do).</summary>
/// <param name="MaxRequests">The most requests in one batch (OpenAI: 50,000).</param>
/// <param name="MaxFileBytes">The largest request file (OpenAI: 200 MB).</param>
/// <param name="MaxEnqueuedTokens">The most tokens all of a model's unfinished batches may hold, or null for no limit.</param>
public sealed record BatchLimits(int MaxRequests, long MaxFileBytes, long? MaxEnqueuedTokens = null);
