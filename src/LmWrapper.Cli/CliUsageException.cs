namespace LmWrapper.Cli;

/// <summary>A usage or input error that stops a command before anything is sent (exit code 2).</summary>
internal sealed class CliUsageException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong and what to do.</param>
    public CliUsageException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    /// <param name="message">What is wrong and what to do.</param>
    /// <param name="inner">The cause.</param>
    public CliUsageException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
