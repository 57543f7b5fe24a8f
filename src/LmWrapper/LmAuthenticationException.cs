namespace LmWrapper;

/// <summary>
/// No API key was found, or the provider rejected it. The message says where LmWrapper looked; it never contains the key.
/// </summary>
public sealed class LmAuthenticationException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Where the key was looked for and what to do.</param>
    /// <param name="innerException">The cause, if any.</param>
    public LmAuthenticationException(string message, Exception? innerException = null) : base(message, innerException) { }
}
