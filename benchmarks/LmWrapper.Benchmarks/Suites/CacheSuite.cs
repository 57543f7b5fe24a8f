namespace LmWrapper.Benchmarks.Suites;

/// <summary>The response cache: hit latency, PredictMany over cached prompts, inserts, against raw SQLite.</summary>
public sealed class CacheSuite : IBenchmarkSuite
{
    public string Name => "cache";

    public string Description => "response cache: hit latency, cached PredictMany, inserts, file size (vs raw SQLite)";

    public Task<IReadOnlyDictionary<string, double>> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken) =>
        throw new NotImplementedException("written next");
}
