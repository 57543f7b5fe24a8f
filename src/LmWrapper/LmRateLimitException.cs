namespace LmWrapper;

/// <summary>
/// The provider said too many requests (HTTP 429) and retrying was off or ran out of budget. From <c>Predict</c> it comes
/// back as a prediction whose <see cref="LmPrediction.Error"/> is <see cref="LmErrorKind.RateLimitExhausted"/>.
/// </summary>
public sealed class LmRateLimitException : LmProviderException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What limit was hit.</param>
    /// <param name="retryAfter">How long the provider asked to wait, if it said.</param>
    /// <param name="innerException">The cause, if any.</param>
    public LmRateLimitException(string message, TimeSpan? retryAfter = null, Exception? innerException = null)
        : this(new LmError(LmErrorKind.RateLimitExhausted, message, 429), retryAfter, innerException)
    {
    }

    /// <summary>Creates the exception from an error.</summary>
    /// <param name="error">The error (its kind is <see cref="LmErrorKind.RateLimitExhausted"/>).</param>
    /// <param name="retryAfter">How long the provider asked to wait, if it said.</param>
    /// <param name="innerException">The cause, if any.</param>
    public LmRateLimitException(LmError error, TimeSpan? retryAfter = null, Exception? innerException = null)
        : base(retryAfter is null ? error : error with { RetryAfter = retryAfter }, innerException)
    {
    }

    /// <summary>How long the provider asked to wait before retrying, if it said (<see cref="LmError.RetryAfter"/>).</summary>
    public TimeSpan? RetryAfter => Error.RetryAfter;
}
