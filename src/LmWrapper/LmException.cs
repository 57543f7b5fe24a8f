namespace LmWrapper;

/// <summary>The base of every exception LmWrapper throws on purpose.</summary>
public class LmException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong and what to do about it.</param>
    public LmException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    /// <param name="message">What went wrong and what to do about it.</param>
    /// <param name="innerException">The cause.</param>
    public LmException(string message, Exception? innerException) : base(message, innerException) { }
}
