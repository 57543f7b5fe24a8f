using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using LmWrapper.Diagnostics;

namespace LmWrapper.Observability.Tests;

/// <summary>One measurement an instrument recorded.</summary>
public sealed record Measurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)
{
    public string? Tag(string name) => Tags.TryGetValue(name, out var v) ? v?.ToString() : null;
}

/// <summary>An <see cref="IMeterFactory"/> of a test's own: its meters carry it as their scope, so a listener hears only them.</summary>
public sealed class TestMeterFactory : IMeterFactory
{
    private readonly ConcurrentBag<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
        _meters.Add(meter);
        return meter;
    }

    public IReadOnlyCollection<Meter> Meters => _meters;

    public void Dispose()
    {
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }
}

/// <summary>
/// Collects what one test's models publish: the measurements of the meters its <see cref="MeterFactory"/> made (through a
/// <see cref="MeterListener"/>) and the LmWrapper activities under the test's own root activity (through an
/// <see cref="ActivityListener"/>), so tests running at the same time never see each other's.
/// </summary>
public sealed class TelemetryCollector : IDisposable
{
    private static readonly ActivitySource TestSource = new("LmWrapper.Observability.Tests");
    private readonly MeterListener _meterListener = new();
    private readonly ActivityListener _activityListener;
    private readonly ConcurrentQueue<Measurement> _measurements = new();
    private readonly ConcurrentQueue<Activity> _activities = new();
    private readonly Activity _root;

    public TelemetryCollector()
    {
        _meterListener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, MeterFactory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meterListener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        _meterListener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
        _meterListener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        _meterListener.Start();

        _activityListener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is LmTelemetry.ActivitySourceName or "LmWrapper.Observability.Tests",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.TraceId == _root!.TraceId && a.Source.Name == LmTelemetry.ActivitySourceName)
                {
                    _activities.Enqueue(a);
                }
            },
        };
        ActivitySource.AddActivityListener(_activityListener);

        // Current for the rest of the test's async flow: the models' activities become its descendants.
        _root = TestSource.StartActivity("test")!;
    }

    public TestMeterFactory MeterFactory { get; } = new();

    public ActivityTraceId TraceId => _root.TraceId;

    public IReadOnlyList<Measurement> Measurements => [.. _measurements];

    public IReadOnlyList<Activity> Activities => [.. _activities];

    public IEnumerable<Measurement> Of(string instrument) => Measurements.Where(m => m.Instrument == instrument);

    public double Sum(string instrument, Func<Measurement, bool>? where = null) => Of(instrument).Where(where ?? (_ => true)).Sum(m => m.Value);

    public void Dispose()
    {
        _root.Dispose();
        _meterListener.Dispose();
        _activityListener.Dispose();
        MeterFactory.Dispose();
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var tag in tags)
        {
            dict[tag.Key] = tag.Value;
        }

        _measurements.Enqueue(new Measurement(instrument.Name, value, dict));
    }
}
