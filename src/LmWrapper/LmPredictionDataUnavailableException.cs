namespace LmWrapper;

/// <summary>
/// A property of an <see cref="LmPrediction"/> was read that the model did not provide
/// (for example token logprobs from a model that has none, or prompt logprobs without <see cref="LmPrompt.Echo"/>).
/// </summary>
public sealed class LmPredictionDataUnavailableException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which property and why it is not available.</param>
    public LmPredictionDataUnavailableException(string message) : base(message) { }
}
