namespace LmWrapper;

/// <summary>
/// A model's structured answer (<see cref="LmPrompt.ResponseFormat"/>, tool arguments) is not the JSON it should be:
/// it does not parse, does not fit the schema, or does not deserialize to the requested type. <see cref="RawText"/>
/// holds what the model wrote.
/// </summary>
public class LmStructuredOutputException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong with the answer.</param>
    /// <param name="rawText">The model's text.</param>
    /// <param name="innerException">The parser's exception, if any.</param>
    public LmStructuredOutputException(string message, string rawText, Exception? innerException = null)
        : base(message, innerException) => RawText = rawText;

    /// <summary>The model's answer as it came back.</summary>
    public string RawText { get; }
}
