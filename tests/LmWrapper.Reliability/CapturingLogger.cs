using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LmWrapper.Reliability;

/// <summary>A logger at Trace that keeps every message, its structured values and its exception's full text.</summary>
public sealed class CapturingLogger : ILogger
{
    /// <summary>Everything logged.</summary>
    public ConcurrentQueue<string> Lines { get; } = new();

    /// <inheritdoc/>
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
    {
        Lines.Enqueue("scope: " + state);
        return null;
    }

    /// <inheritdoc/>
    public bool IsEnabled(LogLevel logLevel) => true;

    /// <inheritdoc/>
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(", ", pairs.Select(p => $"{p.Key}={p.Value}")) : state?.ToString();
        Lines.Enqueue($"{logLevel}: {formatter(state, exception)} [{values}] {exception}");
    }
}
