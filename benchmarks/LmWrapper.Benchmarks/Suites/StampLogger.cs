namespace LmWrapper.Benchmarks.Suites;

/// <summary>Prints each log line with the time since the run started (set LMW_BENCH_LOG to see the batching suite's trail).</summary>
internal sealed class StampLogger(System.Diagnostics.Stopwatch clock) : Microsoft.Extensions.Logging.ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Console.WriteLine($"{clock.Elapsed.TotalMilliseconds,8:F0} ms {formatter(state, exception)}");
}
