namespace LmWrapper;

/// <summary>
/// A prompt is invalid, or asks for something the model cannot do. Thrown before any request is sent,
/// so nothing is spent.
/// </summary>
public class LmPromptException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which field is wrong and why.</param>
    /// <param name="fieldName">The name of the offending <see cref="LmPrompt"/> property, when there is one.</param>
    public LmPromptException(string message, string? fieldName = null) : base(message) => FieldName = fieldName;

    /// <summary>The name of the offending <see cref="LmPrompt"/> property (for example "Temperature"), or null.</summary>
    public string? FieldName { get; }
}
