namespace LmWrapper;

/// <summary>The provider said too many requests (HTTP 429) and retrying was off or gave up.</summary>
public sealed class LmRateLimitException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What limit was hit.</param>
    /// <param name="retryAfter">How long the provider asked to wait, if it said.</param>
    /// <param name="innerException">The cause, if any.</param>
    public LmRateLimitException(string message, TimeSpan? retryAfter = null, Exception? innerException = null)
        : base(message, innerException) => RetryAfter = retryAfter;

    /// <summary>How long the provider asked to wait before retrying, if it said.</summary>
    public TimeSpan? RetryAfter { get; }
}
