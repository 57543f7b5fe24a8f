namespace LmWrapper.Testing;

/// <summary>
/// A fault a <see cref="FakeOpenAiServer"/> injects into the next request(s) (see <see cref="FakeOpenAiServer.EnqueueFault"/>).
/// Build one with the factory methods.
/// </summary>
public sealed record FakeOpenAiFault
{
    /// <summary>What the fault does.</summary>
    public required FakeOpenAiFaultKind Kind { get; init; }

    /// <summary>The HTTP status for <see cref="FakeOpenAiFaultKind.HttpError"/>.</summary>
    public int StatusCode { get; init; }

    /// <summary>The error body's <c>type</c>.</summary>
    public string ErrorType { get; init; } = "server_error";

    /// <summary>The error body's <c>code</c>, or null.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>The error body's <c>message</c>.</summary>
    public string Message { get; init; } = "The server had an error while processing your request. Sorry about that!";

    /// <summary>The retry hint to send with an error (in <c>retry-after-ms</c> and/or <c>retry-after</c>), or null for none.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Whether to send <see cref="RetryAfter"/> as a <c>retry-after-ms</c> header.</summary>
    public bool SendRetryAfterMs { get; init; } = true;

    /// <summary>Whether to send <see cref="RetryAfter"/> as a <c>retry-after</c> header (whole seconds, rounded up).</summary>
    public bool SendRetryAfter { get; init; } = true;

    /// <summary>Whether to send <c>x-ratelimit-*</c> headers (with remaining 0 and the reset at <see cref="RetryAfter"/>).</summary>
    public bool SendRateLimitHeaders { get; init; }

    /// <summary>How long to wait before acting (for <see cref="FakeOpenAiFaultKind.Delay"/>, and before any other fault).</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>
    /// Only requests whose path starts with this (for example "/v1/chat/completions" or "/v1/files") meet the fault;
    /// null (the default) means any request. Faults are met in queue order: others wait behind one that has not matched yet.
    /// </summary>
    public string? PathPrefix { get; init; }

    /// <summary>A short name for the fault, kept on <see cref="FakeOpenAiRecordedRequest.Fault"/>.</summary>
    public string Name => Kind == FakeOpenAiFaultKind.HttpError ? $"http_{StatusCode}" : Kind.ToString();

    /// <summary>A 429 "rate_limit_exceeded", as OpenAI sends it: retry hints and <c>x-ratelimit-*</c> headers.</summary>
    /// <param name="retryAfter">The hint to send (default 20 ms); null sends no retry-after headers.</param>
    /// <param name="sendRetryAfterMs">Whether to send <c>retry-after-ms</c>.</param>
    /// <param name="sendRetryAfter">Whether to send <c>retry-after</c> (seconds).</param>
    public static FakeOpenAiFault RateLimit(TimeSpan? retryAfter = null, bool sendRetryAfterMs = true, bool sendRetryAfter = true) => new()
    {
        Kind = FakeOpenAiFaultKind.HttpError,
        StatusCode = 429,
        ErrorType = "requests",
        ErrorCode = "rate_limit_exceeded",
        Message = "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again shortly.",
        RetryAfter = retryAfter ?? TimeSpan.FromMilliseconds(20),
        SendRetryAfterMs = sendRetryAfterMs,
        SendRetryAfter = sendRetryAfter,
        SendRateLimitHeaders = true,
    };

    /// <summary>A 429 "insufficient_quota" (billing, not rate): retrying does not help.</summary>
    public static FakeOpenAiFault InsufficientQuota() => new()
    {
        Kind = FakeOpenAiFaultKind.HttpError,
        StatusCode = 429,
        ErrorType = "insufficient_quota",
        ErrorCode = "insufficient_quota",
        Message = "You exceeded your current quota, please check your plan and billing details.",
    };

    /// <summary>A 5xx server error (500 by default; 502, 503 and 504 are the other usual ones).</summary>
    /// <param name="statusCode">The status.</param>
    public static FakeOpenAiFault ServerError(int statusCode = 500) => new()
    {
        Kind = FakeOpenAiFaultKind.HttpError,
        StatusCode = statusCode,
        Message = statusCode == 503
            ? "The engine is currently overloaded, please try again later."
            : "The server had an error while processing your request. Sorry about that!",
    };

    /// <summary>A 401 "invalid_api_key", whatever key was sent.</summary>
    public static FakeOpenAiFault BadKey() => new()
    {
        Kind = FakeOpenAiFaultKind.HttpError,
        StatusCode = 401,
        ErrorType = "invalid_request_error",
        ErrorCode = "invalid_api_key",
        Message = "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
    };

    /// <summary>Serves the request normally after a wait.</summary>
    /// <param name="delay">How long to wait.</param>
    public static FakeOpenAiFault Slow(TimeSpan delay) => new() { Kind = FakeOpenAiFaultKind.Delay, Delay = delay };

    /// <summary>Closes the connection without answering.</summary>
    public static FakeOpenAiFault DropConnection() => new() { Kind = FakeOpenAiFaultKind.DropConnection };

    /// <summary>Answers 200 with a whole body that is not JSON.</summary>
    public static FakeOpenAiFault MalformedBody() => new() { Kind = FakeOpenAiFaultKind.MalformedBody };

    /// <summary>
    /// The body <see cref="FakeOpenAiFaultKind.MalformedBody"/> sends instead of its HTML page (as <c>application/json</c>),
    /// or null for the page.
    /// </summary>
    public string? Body { get; init; }

    /// <summary>Answers 200 with <paramref name="json"/> as the whole body (a response of the wrong shape, say).</summary>
    /// <param name="json">The body to send, as <c>application/json</c>.</param>
    public static FakeOpenAiFault RawBody(string json) => new() { Kind = FakeOpenAiFaultKind.MalformedBody, Body = json };

    /// <summary>For the stream faults: how many events are sent before the fault strikes.</summary>
    public int AfterEvents { get; init; }

    /// <summary>A streamed answer is cut after <paramref name="afterEvents"/> events: its body ends there and the connection is closed.</summary>
    /// <param name="afterEvents">How many events are sent first (0: none, right after the headers).</param>
    public static FakeOpenAiFault StreamCut(int afterEvents) => new() { Kind = FakeOpenAiFaultKind.StreamCut, AfterEvents = NotNegative(afterEvents) };

    /// <summary>A streamed answer sends <paramref name="afterEvents"/> events, then an error event with this fault's message, type and code.</summary>
    /// <param name="afterEvents">How many events are sent first.</param>
    public static FakeOpenAiFault StreamError(int afterEvents) => new() { Kind = FakeOpenAiFaultKind.StreamError, AfterEvents = NotNegative(afterEvents) };

    private static int NotNegative(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        return value;
    }

    /// <summary>Sends half of the response body, then closes the connection.</summary>
    public static FakeOpenAiFault TruncatedBody() => new() { Kind = FakeOpenAiFaultKind.TruncatedBody };
}
