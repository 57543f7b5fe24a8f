namespace LmWrapper.Costs;

/// <summary>
/// A running total of what language models spent: requests, tokens, dollars paid, and dollars saved by LmWrapper's cache
/// and by batch discounts. Every model keeps one (<see cref="LanguageModel.Spend"/>), every <c>PredictMany</c> run one of
/// its own (on <see cref="Batching.BatchProgress.Spend"/>), and <see cref="Total"/> sums every model of the process.
/// </summary>
/// <remarks>
/// Thread-safe: models add from any thread; <see cref="Snapshot"/> reads a consistent set of counts. A fresh answer is
/// counted once, when it arrives (duplicates of a prompt in one <c>PredictMany</c> run are sent and counted once); its
/// dollars are <see cref="LanguageModel.CostOf"/>'s, and a cached answer's saving is <see cref="LanguageModel.CacheSavingOf"/>'s.
/// A model whose prices are unknown (<see cref="LmModelInfo.Prices"/> null) adds requests and tokens but no dollars.
/// </remarks>
public sealed class LmSpend
{
    private readonly Lock _lock = new();
    private readonly LmSpend? _parent;
    private LmSpendSnapshot _current = LmSpendSnapshot.Empty;

    /// <summary>Creates an accumulator that also adds everything it counts to <paramref name="parent"/>.</summary>
    /// <param name="parent">The accumulator above this one (a model's for a run, <see cref="Total"/> for a model); null for none.</param>
    internal LmSpend(LmSpend? parent)
    {
        _parent = parent;
    }

    /// <summary>What every model of this process has spent and saved since it started.</summary>
    public static LmSpend Total { get; } = new(null);

    /// <summary>What has been counted so far.</summary>
    public LmSpendSnapshot Snapshot()
    {
        lock (_lock)
        {
            return _current;
        }
    }

    /// <summary>The snapshot as one line (see <see cref="LmSpendSnapshot.ToString"/>).</summary>
    public override string ToString() => Snapshot().ToString();

    /// <summary>Adds <paramref name="delta"/> here and to every accumulator above.</summary>
    internal void Add(LmSpendSnapshot delta)
    {
        for (var spend = this; spend is not null; spend = spend._parent)
        {
            lock (spend._lock)
            {
                spend._current += delta;
            }
        }
    }
}
