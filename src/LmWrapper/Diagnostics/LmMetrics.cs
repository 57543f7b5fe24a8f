using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace LmWrapper.Diagnostics;

/// <summary>
/// The "LmWrapper" meter and its instruments: one process-wide set, and one per <see cref="IMeterFactory"/> a model was
/// given (the factory owns and disposes that meter).
/// </summary>
internal sealed class LmMetrics
{
    // The bucket boundaries the GenAI semantic conventions advise.
    private static readonly double[] DurationBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
    private static readonly int[] TokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
    private static readonly ConditionalWeakTable<IMeterFactory, LmMetrics> ByFactory = new();
    private static readonly Lazy<LmMetrics> SharedMetrics = new(() => new LmMetrics(new Meter(LmTelemetry.MeterName, LmTelemetry.Version)));

    private LmMetrics(Meter meter)
    {
        Meter = meter;
        TokenUsage = meter.CreateHistogram(
            "gen_ai.client.token.usage", "{token}", "Number of input and output tokens used.",
            tags: null, advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = TokenBuckets });
        OperationDuration = meter.CreateHistogram(
            "gen_ai.client.operation.duration", "s", "GenAI operation duration.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        Requests = meter.CreateCounter<long>("lmwrapper.requests", "{request}", "Requests sent to a model (cache misses), failed ones with error.type.");
        CacheHits = meter.CreateCounter<long>("lmwrapper.cache.hits", "{sample}", "Samples answered from LmWrapper's response cache.");
        CacheMisses = meter.CreateCounter<long>("lmwrapper.cache.misses", "{sample}", "Samples of cache-using prompts the cache lacked, so they were asked for.");
        Retries = meter.CreateCounter<long>("lmwrapper.retries", "{retry}", "HTTP attempts that failed and were tried again.");
        Cost = meter.CreateCounter<double>("lmwrapper.cost", "USD", "What the answers cost, in US dollars, at the model's prices.");
        CacheSavings = meter.CreateCounter<double>("lmwrapper.cache.savings", "USD", "What answers served from the cache would have cost, in US dollars.");
        BatchSavings = meter.CreateCounter<double>("lmwrapper.batch.savings", "USD", "What the batch discount saved, in US dollars.");
        BatchJobs = meter.CreateCounter<long>("lmwrapper.batch.jobs", "{batch}", "Provider batches by state: submitted, then completed, failed, expired or cancelled.");
        BatchRequests = meter.CreateCounter<long>("lmwrapper.batch.requests", "{request}", "Requests of provider batches by state: submitted, completed or failed.");
    }

    /// <summary>The process-wide instruments, for models given no <see cref="IMeterFactory"/>.</summary>
    public static LmMetrics Shared => SharedMetrics.Value;

    public Meter Meter { get; }

    public Histogram<int> TokenUsage { get; }

    public Histogram<double> OperationDuration { get; }

    public Counter<long> Requests { get; }

    public Counter<long> CacheHits { get; }

    public Counter<long> CacheMisses { get; }

    public Counter<long> Retries { get; }

    public Counter<double> Cost { get; }

    public Counter<double> CacheSavings { get; }

    public Counter<double> BatchSavings { get; }

    public Counter<long> BatchJobs { get; }

    public Counter<long> BatchRequests { get; }

    /// <summary>The instruments on <paramref name="factory"/>'s "LmWrapper" meter, or the shared ones when it is null.</summary>
    public static LmMetrics For(IMeterFactory? factory) =>
        factory is null
            ? Shared
            : ByFactory.GetValue(factory, f => new LmMetrics(f.Create(new MeterOptions(LmTelemetry.MeterName) { Version = LmTelemetry.Version })));
}
