using System.Diagnostics.Metrics;
using LmWrapper.Caching;
using Microsoft.Extensions.Logging;

namespace LmWrapper;

/// <summary>Settings every <see cref="LanguageModel"/> shares: caching, concurrency, logging and metrics.</summary>
public sealed record LanguageModelOptions
{
    /// <summary>
    /// The response cache to use. Null (the default) means the project's shared cache
    /// (<see cref="LmCache.ForProject"/>), opened on first use.
    /// </summary>
    public LmCache? Cache { get; init; }

    /// <summary>
    /// Whether prompts whose <see cref="LmPrompt.Cache"/> is null use the cache. Default false: caching is opt-in, as in
    /// the Python original (set <see cref="LmPrompt.Cache"/> = true on a prompt, or this to true for every prompt). A
    /// cached prompt with <see cref="LmPrompt.Temperature"/> above 0 returns the same sample on every call rather than a
    /// new one; ask for <see cref="LmPrompt.NumCompletions"/> to get several, or set <see cref="LmPrompt.Cache"/> = false.
    /// </summary>
    public bool CacheByDefault { get; init; }

    /// <summary>How many uncached requests <see cref="LanguageModel.PredictManyAsync"/> runs at once by default. Default 8.</summary>
    public int MaxConcurrency { get; init; } = 8;

    /// <summary>The most requests per minute this model may send (null: learned from the provider's headers, or no limit).</summary>
    public int? RequestsPerMinute { get; init; }

    /// <summary>The most tokens (prompt plus requested completion) per minute this model may send (null: learned, or no limit).</summary>
    public long? TokensPerMinute { get; init; }

    /// <summary>A limiter to share between models that draw on one allowance; when set, the two limits above are ignored.</summary>
    public RateLimiting.LmRateLimiter? RateLimiter { get; init; }

    /// <summary>How batches run for <see cref="CompletionWindow.BatchAny"/> on models with a batch API. Null means the defaults.</summary>
    public Batching.BatchOptions? Batch { get; init; }

    /// <summary>Where diagnostics go. Null means nowhere.</summary>
    public ILogger? Logger { get; init; }

    /// <summary>
    /// Creates the "LmWrapper" meter this model records its metrics on (see <see cref="Diagnostics.LmTelemetry"/>); with
    /// dependency injection, the host's <see cref="IMeterFactory"/>. Null (the default) means one process-wide meter.
    /// </summary>
    public IMeterFactory? MeterFactory { get; init; }
}
