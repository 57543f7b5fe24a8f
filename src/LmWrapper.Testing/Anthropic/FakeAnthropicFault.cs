namespace LmWrapper.Testing.Anthropic;

/// <summary>
/// A failure <see cref="FakeAnthropicServer"/> injects into the next matching request(s): see
/// <see cref="FakeAnthropicServer.InjectFault"/>. Made with the factory methods.
/// </summary>
public sealed record FakeAnthropicFault
{
    private FakeAnthropicFault(FakeAnthropicFaultKind kind) => Kind = kind;

    /// <summary>What the fault does.</summary>
    public FakeAnthropicFaultKind Kind { get; }

    /// <summary>For <see cref="FakeAnthropicFaultKind.Error"/>: the HTTP status.</summary>
    public int StatusCode { get; init; }

    /// <summary>For <see cref="FakeAnthropicFaultKind.Error"/>: the Anthropic error type ("rate_limit_error", …).</summary>
    public string ErrorType { get; init; } = "api_error";

    /// <summary>For <see cref="FakeAnthropicFaultKind.Error"/>: the error message.</summary>
    public string Message { get; init; } = "Internal server error";

    /// <summary>
    /// For <see cref="FakeAnthropicFaultKind.Error"/>: the retry hint. Sent as <c>retry-after</c> (whole seconds, rounded
    /// up, as the real API does) and, when not a whole number of seconds, also as <c>retry-after-ms</c> (which
    /// Anthropic's clients read first), so tests can use short hints.
    /// </summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>For <see cref="FakeAnthropicFaultKind.Error"/>: the <c>x-should-retry</c> header to send, or null for none.</summary>
    public bool? ShouldRetry { get; init; }

    /// <summary>For <see cref="FakeAnthropicFaultKind.Delay"/>: how long to wait.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>Only requests whose path starts with this (for example "/v1/messages/count_tokens") are hit; null for any.</summary>
    public string? PathPrefix { get; init; }

    /// <summary>HTTP 429 <c>rate_limit_error</c>, with an optional retry hint.</summary>
    /// <param name="retryAfter">The hint, or null for none.</param>
    public static FakeAnthropicFault RateLimited(TimeSpan? retryAfter = null) => Error(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", retryAfter);

    /// <summary>HTTP 529 <c>overloaded_error</c>, with an optional retry hint.</summary>
    /// <param name="retryAfter">The hint, or null for none.</param>
    public static FakeAnthropicFault Overloaded(TimeSpan? retryAfter = null) => Error(529, "overloaded_error", "Overloaded", retryAfter);

    /// <summary>HTTP 500 <c>api_error</c>.</summary>
    public static FakeAnthropicFault ServerError() => Error(500, "api_error", "Internal server error");

    /// <summary>HTTP 403 <c>permission_error</c>.</summary>
    public static FakeAnthropicFault PermissionDenied() => Error(403, "permission_error", "Your API key does not have permission to use the specified resource.");

    /// <summary>Any Anthropic error.</summary>
    /// <param name="statusCode">The HTTP status.</param>
    /// <param name="errorType">The error type.</param>
    /// <param name="message">The message.</param>
    /// <param name="retryAfter">A retry hint, or null.</param>
    public static FakeAnthropicFault Error(int statusCode, string errorType, string message, TimeSpan? retryAfter = null) =>
        new(FakeAnthropicFaultKind.Error) { StatusCode = statusCode, ErrorType = errorType, Message = message, RetryAfter = retryAfter };

    /// <summary>A slow answer: waits <paramref name="delay"/>, then answers normally.</summary>
    /// <param name="delay">How long to wait.</param>
    public static FakeAnthropicFault Slow(TimeSpan delay) => new(FakeAnthropicFaultKind.Delay) { Delay = delay };

    /// <summary>Closes the connection without answering.</summary>
    public static FakeAnthropicFault DropConnection() => new(FakeAnthropicFaultKind.DropConnection);

    /// <summary>Does what the request asks (creates the batch, …), then closes the connection without answering.</summary>
    public static FakeAnthropicFault DropAfterHandling() => new(FakeAnthropicFaultKind.DropAfterHandling);

    /// <summary>Answers 200 with a whole body that is not JSON.</summary>
    public static FakeAnthropicFault MalformedBody() => new(FakeAnthropicFaultKind.MalformedBody);

    /// <summary>For the stream faults: how many events are sent before the fault strikes.</summary>
    public int AfterEvents { get; init; }

    /// <summary>A streamed message ends after <paramref name="afterEvents"/> events (no <c>message_stop</c>) and the connection is closed.</summary>
    /// <param name="afterEvents">How many events are sent first (0: none).</param>
    public static FakeAnthropicFault StreamCut(int afterEvents) => new(FakeAnthropicFaultKind.StreamCut) { AfterEvents = NotNegative(afterEvents) };

    /// <summary>A streamed message sends <paramref name="afterEvents"/> events, then an <c>error</c> event (<c>overloaded_error</c> unless given).</summary>
    /// <param name="afterEvents">How many events are sent first.</param>
    /// <param name="errorType">The error's type.</param>
    /// <param name="message">The error's message.</param>
    public static FakeAnthropicFault StreamError(int afterEvents, string errorType = "overloaded_error", string message = "Overloaded") =>
        new(FakeAnthropicFaultKind.StreamError) { AfterEvents = NotNegative(afterEvents), ErrorType = errorType, Message = message };

    private static int NotNegative(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        return value;
    }

    /// <summary>Sends half a JSON body, then closes the connection.</summary>
    public static FakeAnthropicFault TruncatedBody() => new(FakeAnthropicFaultKind.TruncatedBody);
}
