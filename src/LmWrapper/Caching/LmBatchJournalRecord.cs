namespace LmWrapper.Caching;

/// <summary>One provider batch the cache's journal lists as not yet collected (see <see cref="LmCache.ListBatchJobs"/>).</summary>
/// <param name="LocalId">LmWrapper's id for the batch (also sent to the provider in the batch's metadata or custom ids).</param>
/// <param name="Backend">The batch backend's name, for example "openai" or "anthropic".</param>
/// <param name="ModelIdentity">The model the batch was made for (<see cref="LanguageModel.ModelIdentity"/>).</param>
/// <param name="ProviderId">The provider's batch id, or null when the process stopped before the provider gave one.</param>
/// <param name="Attempt">Which submission of the same work this is (1 for the first).</param>
/// <param name="RequestCount">How many requests the batch was submitted with.</param>
/// <param name="PendingRequests">How many of its requests have no cached answer yet.</param>
/// <param name="RecordedAt">When the batch was recorded, just before its upload.</param>
public sealed record LmBatchJournalRecord(
    string LocalId, string Backend, string ModelIdentity, string? ProviderId, int Attempt, int RequestCount, int PendingRequests, DateTimeOffset RecordedAt);
