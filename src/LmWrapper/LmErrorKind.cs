namespace LmWrapper;

/// <summary>What kind of failure an <see cref="LmError"/> is. See <see cref="LmError"/> for which kinds are cached.</summary>
public enum LmErrorKind
{
    /// <summary>The provider rejected the request as invalid (HTTP 400, 413, 422 and other 4xx but 401, 403, 404 and 429).</summary>
    InvalidRequest,

    /// <summary>The prompt (or the completion) was refused by the provider's content filter or the model refused to answer.</summary>
    ContentFilter,

    /// <summary>The prompt plus the completion do not fit the model's context window.</summary>
    ContextLength,

    /// <summary>The provider kept answering 429 until the retry budget ran out (or retrying was off, or the account is out of quota).</summary>
    RateLimitExhausted,

    /// <summary>The provider failed (5xx, 529, 408, 409) on every attempt the retry budget allowed.</summary>
    Server,

    /// <summary>No (complete) answer came: the connection failed, dropped or timed out on every attempt allowed.</summary>
    Transport,

    /// <summary>The requested resource does not exist (HTTP 404): usually a wrong model name or base URL. Never cached.</summary>
    NotFound,

    /// <summary>The provider answered success with a body LmWrapper cannot read.</summary>
    MalformedResponse,
}
