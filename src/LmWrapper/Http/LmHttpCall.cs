namespace LmWrapper.Http;

/// <summary>
/// One logical HTTP call for <see cref="LmHttpPipeline"/>: how to make its request (afresh for every attempt) and how the
/// pipeline may treat it.
/// </summary>
/// <param name="CreateRequest">Makes the request for one attempt (a new message and body each time; headers the pipeline's <see cref="LmHttpPipelineSettings.PrepareRequest"/> adds).</param>
public sealed record LmHttpCall(Func<HttpRequestMessage> CreateRequest)
{
    /// <summary>
    /// Whether an attempt that may have taken effect without a clear answer (no answer, a timeout, 408, 409, 5xx) may be
    /// sent again blindly. True (the default) for reads and for creates the server de-duplicates; false for a create
    /// that would be paid for twice (a batch): the pipeline then asks the <c>recover</c> function of
    /// <see cref="LmHttpPipeline.SendAsync{T}"/> whether the first attempt took effect before it sends again, and gives up
    /// without one.
    /// </summary>
    public bool SafeToRetry { get; init; } = true;

    /// <summary>Whether the body is read before the pipeline returns (the default) or streamed by the caller (headers only).</summary>
    public HttpCompletionOption Completion { get; init; } = HttpCompletionOption.ResponseContentRead;

    /// <summary>Whether a 429 is waited out and retried (the default) or given up at once.</summary>
    public bool RetryOnRateLimit { get; init; } = true;

    /// <summary>
    /// Whether the call waits for the model's rate limiter's pause before each attempt, pauses it on a 429 and teaches it
    /// the limits in the response headers. True for prediction requests; false (the default) for management calls.
    /// </summary>
    public bool UsesRateLimiter { get; init; }

    /// <summary>
    /// Whether an error status that is not retried (or whose retries ran out) is thrown as an exception (the default), or
    /// the response is handed to the caller to read (for callers with their own error messages, such as the hub).
    /// Retrying is decided here either way.
    /// </summary>
    public bool ThrowOnErrorStatus { get; init; } = true;

    /// <summary>The retry policy for this call; null means the pipeline's.</summary>
    public Retry.LmRetryPolicy? Retry { get; init; }
}
