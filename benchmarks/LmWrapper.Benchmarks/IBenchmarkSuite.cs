namespace LmWrapper.Benchmarks;

/// <summary>One benchmark suite: runs its measurements (and their same-run baseline) and returns named figures.</summary>
public interface IBenchmarkSuite
{
    /// <summary>The name on the command line (e.g. "cache").</summary>
    string Name { get; }

    /// <summary>One line saying what it measures.</summary>
    string Description { get; }

    /// <summary>Runs the suite. Metric names are snake_case with the unit last (…_per_s, …_us, …_mb, …_ratio).</summary>
    Task<IReadOnlyDictionary<string, double>> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken);
}
