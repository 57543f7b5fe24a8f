namespace LmWrapper.Cli;

/// <summary>The exit codes of every <c>lmwrapper</c> command.</summary>
internal static class ExitCodes
{
    /// <summary>Everything asked for was done (every prompt answered).</summary>
    public const int Success = 0;

    /// <summary>Some prompts failed or were not run (they are listed); the rest was written.</summary>
    public const int SomeFailed = 1;

    /// <summary>A usage or input error: nothing was sent.</summary>
    public const int UsageError = 2;

    /// <summary>Interrupted (Ctrl+C) after writing what was done.</summary>
    public const int Interrupted = 130;
}
