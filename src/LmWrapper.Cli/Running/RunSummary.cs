namespace LmWrapper.Cli.Running;

/// <summary>How a run ended.</summary>
internal sealed record RunSummary
{
    /// <summary>Prompts in the input (bad lines included).</summary>
    public int Total { get; init; }

    /// <summary>Lines an earlier run had already answered (skipped this time).</summary>
    public int AlreadyDone { get; init; }

    /// <summary>Result lines written by this run (errors included).</summary>
    public int Written { get; init; }

    /// <summary>This run's answers that came from the cache.</summary>
    public int Cached { get; init; }

    /// <summary>The input line numbers whose result is an error (this run's and earlier ones').</summary>
    public IReadOnlyList<int> FailedLines { get; init; } = [];

    /// <summary>Dollars spent by this run, or null when the model's prices are unknown.</summary>
    public decimal? Spend { get; init; }

    /// <summary>What this run's cached answers would have cost had they been made now, or null when the prices are unknown.</summary>
    public decimal? CacheSaving { get; init; }

    /// <summary>Prompts not run because the spend reached <c>--max-cost</c>.</summary>
    public int NotRunForBudget { get; init; }

    /// <summary>Whether a failed prompt stopped the run (<c>--on-error stop</c>).</summary>
    public bool StoppedOnError { get; init; }

    /// <summary>Whether Ctrl+C stopped the run.</summary>
    public bool Interrupted { get; init; }

    /// <summary>The exit code: 130 interrupted, 1 when anything failed or was not run, else 0.</summary>
    public int ExitCode =>
        Interrupted ? ExitCodes.Interrupted
        : FailedLines.Count > 0 || NotRunForBudget > 0 || StoppedOnError ? ExitCodes.SomeFailed
        : ExitCodes.Success;
}
