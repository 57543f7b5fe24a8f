namespace LmWrapper.Anthropic;

/// <summary>
/// The Anthropic API failed in a way that is neither the prompt's fault nor the key's: it stayed overloaded (529) or
/// broken (5xx) through every retry, the connection kept dropping, or it answered something unexpected (an unknown model,
/// a malformed body). The message carries the API's error type and message, never the key.
/// </summary>
public sealed class ClaudeApiException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="statusCode">The last HTTP status, or null when no response came.</param>
    /// <param name="errorType">The API's error type (for example "overloaded_error"), or null.</param>
    /// <param name="requestId">The API's <c>request-id</c>, for Anthropic support, or null.</param>
    /// <param name="innerException">The cause, if any.</param>
    public ClaudeApiException(string message, int? statusCode = null, string? errorType = null, string? requestId = null, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        ErrorType = errorType;
        RequestId = requestId;
    }

    /// <summary>The last HTTP status, or null when no response came (a dropped connection, a timeout).</summary>
    public int? StatusCode { get; }

    /// <summary>The API's error type ("overloaded_error", "api_error", "invalid_request_error", …), or null.</summary>
    public string? ErrorType { get; }

    /// <summary>The API's <c>request-id</c> header, or null.</summary>
    public string? RequestId { get; }

    /// <summary>Whether the request itself was rejected for good (HTTP 400 or 413): the same request would fail again.</summary>
    public bool IsPermanentRejection => StatusCode is 400 or 413;
}
