using System.Diagnostics;
using System.Globalization;
using LmWrapper.Batching;

namespace LmWrapper.Cli.Running;

/// <summary>The live counters of a run, updated by the runner and read by the progress display (thread-safe).</summary>
internal sealed class RunStatus : IProgress<BatchProgress>
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _lock = new();
    private int _total;
    private int _done;
    private int _cached;
    private int _failed;
    private int _inBatch;
    private int _doneAtStart;
    private decimal _spend;
    private bool _spendKnown = true;
    private bool _started;

    /// <summary>Whether the run has read its input and started answering (its messages about the input are written by then).</summary>
    public bool IsStarted => Volatile.Read(ref _started);

    /// <summary>How many prompts the run has, in all (those answered by an earlier run included).</summary>
    public int Total => Volatile.Read(ref _total);

    /// <summary>How many have a result line (earlier runs included).</summary>
    public int Done => Volatile.Read(ref _done);

    /// <summary>How many of this run's answers came from the cache.</summary>
    public int Cached => Volatile.Read(ref _cached);

    /// <summary>How many failed (bad input lines included).</summary>
    public int Failed => Volatile.Read(ref _failed);

    /// <summary>How many requests sit in provider batches now.</summary>
    public int InBatch => Volatile.Read(ref _inBatch);

    /// <summary>Dollars spent by this run, or null when the model's prices are unknown.</summary>
    public decimal? Spend
    {
        get
        {
            lock (_lock)
            {
                return _spendKnown ? _spend : null;
            }
        }
    }

    /// <summary>Sets the totals at the start.</summary>
    /// <param name="total">Every prompt of the input.</param>
    /// <param name="alreadyDone">Those an earlier run answered.</param>
    /// <param name="pricesKnown">Whether the model's prices are known (else the spend is unknown).</param>
    public void Start(int total, int alreadyDone, bool pricesKnown)
    {
        lock (_lock)
        {
            _spendKnown = pricesKnown;
        }

        Volatile.Write(ref _total, total);
        Volatile.Write(ref _done, alreadyDone);
        Volatile.Write(ref _doneAtStart, alreadyDone);
        _clock.Restart();
        Volatile.Write(ref _started, true);
    }

    /// <summary>Counts one written result.</summary>
    /// <param name="cached">Whether it came from the cache.</param>
    /// <param name="failed">Whether it is an error.</param>
    /// <param name="cost">What it cost, or null when unknown.</param>
    public void Count(bool cached, bool failed, decimal? cost)
    {
        Interlocked.Increment(ref _done);
        if (cached)
        {
            Interlocked.Increment(ref _cached);
        }

        if (failed)
        {
            Interlocked.Increment(ref _failed);
        }

        lock (_lock)
        {
            if (cost is { } c)
            {
                _spend += c;
            }
            else
            {
                _spendKnown = false;
            }
        }
    }

    /// <inheritdoc/>
    public void Report(BatchProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Volatile.Write(ref _inBatch, Math.Max(0, value.Submitted - value.Completed - value.Failed));
    }

    /// <summary>The time left at the current pace, or null before the first answer of this run.</summary>
    public TimeSpan? Eta()
    {
        int doneNow = Done - Volatile.Read(ref _doneAtStart);
        int left = Total - Done;
        if (doneNow <= 0 || left <= 0)
        {
            return left <= 0 ? TimeSpan.Zero : null;
        }

        return TimeSpan.FromSeconds(_clock.Elapsed.TotalSeconds / doneNow * left);
    }

    /// <summary>One line: done / cached / failed / in batch / spend / ETA.</summary>
    public string Describe()
    {
        var eta = Eta();
        string spend = Spend is { } s ? s.ToString("$0.0000", CultureInfo.InvariantCulture) : "unknown";
        string etaText = eta is { } e ? FormatDuration(e) : "?";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{Done}/{Total} done, {Cached} cached, {Failed} failed, {InBatch} in batch, spend {spend}, ETA {etaText}");
    }

    private static string FormatDuration(TimeSpan t) =>
        t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}
