namespace LmWrapper.Testing;

/// <summary>What a <see cref="FakeOpenAiServer"/> knows of one batch it was asked to create, for assertions and planning.</summary>
/// <param name="Id">The batch id.</param>
/// <param name="Endpoint">The endpoint ("/v1/chat/completions", …).</param>
/// <param name="InputFileId">The input file's id.</param>
/// <param name="Model">The model its requests name (the first line's), or null when the file has none.</param>
/// <param name="LocalId">The <c>lmwrapper_local_id</c> in its metadata, or null.</param>
/// <param name="CustomIds">The custom ids of its requests, in file order.</param>
/// <param name="EnqueuedTokens">The input tokens it counts against the model's queue of enqueued tokens.</param>
/// <param name="Status">Its status when this snapshot was taken.</param>
/// <param name="CreatedAt">When it was created.</param>
public sealed record FakeOpenAiBatchInfo(
    string Id,
    string Endpoint,
    string InputFileId,
    string? Model,
    string? LocalId,
    IReadOnlyList<string> CustomIds,
    long EnqueuedTokens,
    string Status,
    DateTimeOffset CreatedAt);
