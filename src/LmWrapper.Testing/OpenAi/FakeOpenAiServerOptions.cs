namespace LmWrapper.Testing;

/// <summary>How a <see cref="FakeOpenAiServer"/> behaves.</summary>
public sealed record FakeOpenAiServerOptions
{
    /// <summary>
    /// The API keys the server accepts (<c>Authorization: Bearer …</c> or <c>api-key: …</c>). Default: just
    /// <see cref="FakeOpenAiServer.DefaultApiKey"/>. Empty accepts any key, but a key must still be sent.
    /// </summary>
    public IReadOnlyCollection<string> ValidApiKeys { get; init; } = [FakeOpenAiServer.DefaultApiKey];

    /// <summary>The models the server knows (default <see cref="FakeOpenAiModel.Defaults"/>).</summary>
    public IReadOnlyList<FakeOpenAiModel> Models { get; init; } = FakeOpenAiModel.Defaults;

    /// <summary>
    /// What the model says for each choice. Null uses <see cref="FakeOpenAiServer.DefaultResponder"/> (deterministic,
    /// derived from the request). Called concurrently; must be thread-safe.
    /// </summary>
    public Func<FakeOpenAiGenerationRequest, FakeOpenAiReply>? Responder { get; init; }

    /// <summary>Whether to record every request on <see cref="FakeOpenAiServer.Requests"/>. Default true.</summary>
    public bool RecordRequests { get; init; } = true;
}
