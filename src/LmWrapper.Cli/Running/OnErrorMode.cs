namespace LmWrapper.Cli.Running;

/// <summary>What a run does with a bad input line or a failed prompt (<c>--on-error</c>).</summary>
internal enum OnErrorMode
{
    /// <summary>Record it in the output as an error and go on (exit code 1 at the end).</summary>
    Skip,

    /// <summary>A bad input line stops the run before anything is sent (exit code 2); a failed prompt is written and stops the run (exit code 1).</summary>
    Stop,
}
