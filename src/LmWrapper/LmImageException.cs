namespace LmWrapper;

/// <summary>
/// An image cannot be used: its bytes are not a PNG, JPEG, GIF or WebP image, its header is cut short, a declared media
/// type does not match its bytes, or it breaks a provider's size limits. Thrown before anything is sent.
/// </summary>
public class LmImageException : LmPromptException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong with the image and what to do.</param>
    /// <param name="fieldName">The name of the offending <see cref="LmPrompt"/> property, when there is one.</param>
    public LmImageException(string message, string? fieldName = null) : base(message, fieldName)
    {
    }
}
