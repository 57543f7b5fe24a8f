using System.Diagnostics;
using LmWrapper.Costs;

namespace LmWrapper.Diagnostics;

/// <summary>
/// The telemetry of one call in flight: its activity (current while it runs), its clock, and where its spend goes.
/// <see cref="LanguageModel"/> calls <see cref="Received"/> after the provider answered, <see cref="Complete(LmPrediction)"/> with the
/// result, <see cref="Fail"/> from an exception filter, and disposes it.
/// </summary>
internal sealed class PredictCall : IDisposable
{
    private readonly ModelTelemetry _telemetry;
    private readonly LmSpend? _spend;
    private long _started = Stopwatch.GetTimestamp();
    private bool _sending;

    public PredictCall(ModelTelemetry telemetry, Activity? activity, LmSpend? spend)
    {
        _telemetry = telemetry;
        Activity = activity;
        _spend = spend;
    }

    public Activity? Activity { get; }

    /// <summary>Counts samples the cache lacked for a prompt that uses the cache.</summary>
    public void Missed(int samples) => _telemetry.RecordCacheMisses(samples);

    /// <summary>A request is about to go to the provider (after the cache lookup): its duration starts now.</summary>
    public void Sending()
    {
        _started = Stopwatch.GetTimestamp();
        _sending = true;
    }

    /// <summary>The provider answered (or failed, as data): its duration, and its spend when this call counts it.</summary>
    public void Received(IReadOnlyList<LmPrediction> fresh)
    {
        _sending = false;
        var error = fresh.FirstOrDefault(p => p.HasErrors)?.Error;
        _telemetry.Metrics.OperationDuration.Record(
            Stopwatch.GetElapsedTime(_started).TotalSeconds, _telemetry.Tags(error is null ? null : ModelTelemetry.ErrorType(error)));
        if (_spend is not null)
        {
            _telemetry.RecordFresh(fresh, _spend);
        }
    }

    /// <summary>The call's result: counts its cached samples (when this call counts spend) and sets the activity's result attributes.</summary>
    public LmPrediction Complete(LmPrediction result)
    {
        if (_spend is not null)
        {
            _telemetry.RecordCached(result, _spend);
        }

        _telemetry.SetResult(Activity, result.Completions);
        return result;
    }

    /// <summary>The result of one request of a <c>PredictMany</c> run, whose spend the run counts.</summary>
    public void Complete(IReadOnlyList<LmPrediction> samples) => _telemetry.SetResult(Activity, samples);

    /// <summary>Marks the call failed by an exception; returns false, to be used as an exception filter that catches nothing.</summary>
    public bool Fail(Exception error)
    {
        ModelTelemetry.SetError(Activity, error);
        if (_sending)
        {
            // A request that ended in an exception (a rejected key, cancellation): counted and timed, with its type.
            _sending = false;
            var tags = _telemetry.Tags(ModelTelemetry.ErrorType(error));
            _telemetry.Metrics.OperationDuration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, tags);
            _telemetry.Metrics.Requests.Add(1, tags);
        }

        return false;
    }

    /// <summary>Ends the activity.</summary>
    public void Dispose() => Activity?.Dispose();
}
