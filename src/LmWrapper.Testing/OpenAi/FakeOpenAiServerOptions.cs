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

    /// <summary>
    /// Whether successful answers carry OpenAI's <c>x-ratelimit-limit/remaining/reset-requests</c> and <c>…-tokens</c>
    /// headers (with <see cref="RequestsPerMinute"/> and <see cref="TokensPerMinute"/>). Default true, as OpenAI does;
    /// turn it off to declare no limits to a client that paces itself by them.
    /// </summary>
    public bool SendRateLimitHeaders { get; init; } = true;

    /// <summary>The requests-per-minute limit the rate-limit headers declare. Default 10,000.</summary>
    public int RequestsPerMinute { get; init; } = 10_000;

    /// <summary>The tokens-per-minute limit the rate-limit headers declare. Default 30,000,000.</summary>
    public long TokensPerMinute { get; init; } = 30_000_000;

    /// <summary>Whether to record every request on <see cref="FakeOpenAiServer.Requests"/>. Default true.</summary>
    public bool RecordRequests { get; init; } = true;

    /// <summary>
    /// How long each stage of a batch (validating, in_progress, finalizing, cancelling) lasts. Default zero: a batch
    /// has finished by the time anyone looks at it. Ignored when <see cref="BatchStagePolls"/> is set.
    /// </summary>
    public TimeSpan BatchStageDuration { get; init; }

    /// <summary>
    /// When above zero, each stage of a batch lasts this many retrievals of that batch (<c>GET /v1/batches/{id}</c>)
    /// instead of <see cref="BatchStageDuration"/>: a clock the test drives. Default 0.
    /// </summary>
    public int BatchStagePolls { get; init; }

    /// <summary>
    /// The most input tokens a model's unfinished batches may hold (OpenAI's enqueued token limit), or null for no
    /// limit. A batch that does not fit fails when its validation ends with <c>token_limit_exceeded</c>, as OpenAI's do.
    /// </summary>
    public long? BatchEnqueuedTokenLimit { get; init; }

    /// <summary>Whether to keep every batch's custom ids for <see cref="FakeOpenAiServer.Batches"/>. Default true; turn it off for runs of millions of requests.</summary>
    public bool KeepBatchCustomIds { get; init; } = true;

    /// <summary>A folder where uploaded and generated files are kept instead of in memory (for large runs), or null.</summary>
    public string? FileStorageDirectory { get; init; }
}
