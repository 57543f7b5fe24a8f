namespace LmWrapper;

/// <summary>
/// A provider refused or failed a request (see <see cref="Error"/>). <see cref="LanguageModel"/> turns it into a failed
/// prediction (<see cref="LmPrediction.Error"/>); it reaches callers only from calls that return no prediction
/// (batch management, the count-tokens endpoint, the hub).
/// </summary>
public class LmProviderException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="error">What failed.</param>
    /// <param name="innerException">The cause, if any.</param>
    public LmProviderException(LmError error, Exception? innerException = null)
        : base((error ?? throw new ArgumentNullException(nameof(error))).Message, innerException) => Error = error;

    /// <summary>What failed: kind, status, provider code, request id and message.</summary>
    public LmError Error { get; }
}
