using System.Collections.Concurrent;
using LmWrapper.Caching;
using LmWrapper.OpenAI;
using LmWrapper.Retry;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;
using Microsoft.Extensions.Logging;

namespace LmWrapper.Observability.Tests;

/// <summary>One log entry, as a provider captured it: level, event id, the formatted message and every structured value.</summary>
public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyList<KeyValuePair<string, object?>> State, Exception? Exception)
{
    /// <summary>Everything in the entry as text (message, values, exception), to look for what must never be logged.</summary>
    public string AllText => Message + "\n" + string.Join("\n", State.Select(kv => kv.Key + "=" + kv.Value)) + "\n" + Exception;
}

/// <summary>An <see cref="ILoggerProvider"/> that keeps every entry at or above a level.</summary>
public sealed class CapturingLoggerProvider(LogLevel minimum = LogLevel.Trace) : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner._minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var values = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
            owner._entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), [.. values], exception));
        }
    }

    private readonly LogLevel _minimum = minimum;
}

public sealed class LogTests : IAsyncLifetime
{
    private FakeOpenAiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeOpenAiServer.StartNewAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private OpenAiLm Lm(ILogger logger, LmCache cache) =>
        OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: new OpenAiOptions
        {
            BaseUrl = new Uri(_server.BaseUrl),
            Retry = new LmRetryPolicy { MaxRetries = 1, InitialDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(2) },
            Logger = logger,
            ModelOptions = new LanguageModelOptions { Cache = cache },
        });

    [Fact]
    public async Task Retries_and_failures_log_with_stable_event_ids_and_never_the_key_or_the_prompt_above_trace()
    {
        using var provider = new CapturingLoggerProvider(LogLevel.Trace);
        using var cache = LmCache.OpenInMemory();
        using var lm = Lm(provider.CreateLogger("LmWrapper"), cache);
        const string Secret = "pelican-marmalade-7731";
        _server.EnqueueFault(FakeOpenAiFault.ServerError(500));
        var ok = await lm.PredictAsync(new LmPrompt($"What is 2+2? {Secret}") { MaxTokens = 10 });
        _server.EnqueueFault(FakeOpenAiFault.ServerError(500), times: 2); // past the one retry allowed
        var failed = await lm.PredictAsync(new LmPrompt($"What is 3+3? {Secret}") { MaxTokens = 10 });

        Assert.False(ok.HasErrors, ok.ErrorMessage);
        Assert.True(failed.HasErrors);
        var entries = provider.Entries;
        var retries = entries.Where(e => e.EventId.Id == 1101).ToList();
        Assert.Equal(2, retries.Count);
        Assert.All(retries, e => Assert.Equal("HttpRetry", e.EventId.Name));
        Assert.All(retries, e => Assert.Equal(LogLevel.Information, e.Level));
        Assert.Contains(retries[0].State, kv => kv.Key == "Attempt" && Equals(kv.Value, 1));
        var failure = Assert.Single(entries, e => e.EventId.Id == 1001);
        Assert.Equal(LogLevel.Warning, failure.Level);
        Assert.Contains(failure.State, kv => kv.Key == "ErrorKind" && Equals(kv.Value, LmErrorKind.Server));

        // The prompt is only ever at Trace (event 1003), and the key nowhere.
        Assert.Equal(2, entries.Count(e => e.EventId.Id == 1003 && e.Level == LogLevel.Trace && e.Message.Contains(Secret, StringComparison.Ordinal)));
        Assert.DoesNotContain(entries, e => e.Level > LogLevel.Trace && e.AllText.Contains(Secret, StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.AllText.Contains(FakeOpenAiServer.DefaultApiKey, StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.AllText.Contains("sk-fake", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_batch_run_logs_its_phases_with_the_batch_event_ids()
    {
        using var provider = new CapturingLoggerProvider(LogLevel.Debug);
        using var cache = LmCache.OpenInMemory();
        string work = Path.Combine(Path.GetTempPath(), "lmwrapper-obs-log-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: new OpenAiOptions
            {
                BaseUrl = new Uri(_server.BaseUrl),
                Logger = provider.CreateLogger("LmWrapper"),
                ModelOptions = new LanguageModelOptions
                {
                    Cache = cache,
                    CacheByDefault = true,
                    Batch = new Batching.BatchOptions { PollInterval = TimeSpan.FromMilliseconds(1), MaxPollInterval = TimeSpan.FromMilliseconds(5), WorkingDirectory = work },
                },
            });
            var results = lm.PredictMany([new LmPrompt("What is 1+1?") { MaxTokens = 10 }, new LmPrompt("What is 2+1?") { MaxTokens = 10 }], CompletionWindow.BatchAny).ToList();

            Assert.All(results, p => Assert.False(p.HasErrors, p.ErrorMessage));
            var ids = provider.Entries.Select(e => e.EventId.Id).ToList();
            Assert.Contains(1002, ids); // PredictManyPlanned (Debug)
            Assert.Contains(1204, ids); // BatchSubmitted
            Assert.Contains(1202, ids); // BatchCollecting
            Assert.DoesNotContain(provider.Entries, e => e.AllText.Contains(FakeOpenAiServer.DefaultApiKey, StringComparison.Ordinal));
            Assert.DoesNotContain(provider.Entries, e => e.AllText.Contains("What is 1+1", StringComparison.Ordinal));
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Claude_logs_a_failed_online_token_count_with_its_own_event_id_and_not_the_key()
    {
        await using var server = new FakeAnthropicServer();
        await server.StartAsync();
        using var provider = new CapturingLoggerProvider(LogLevel.Information);
        using var lm = Anthropic.ClaudeLm.Get(Anthropic.ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, new Anthropic.ClaudeOptions
        {
            BaseUrl = server.BaseUrl,
            Logger = provider.CreateLogger("LmWrapper"),
        });
        server.InjectFault(FakeAnthropicFault.ServerError());
        var count = await lm.CountTokensAsync(new LmPrompt("How many tokens?"));

        Assert.True(count.IsEstimate);
        var entry = Assert.Single(provider.Entries, e => e.EventId.Id == 3002);
        Assert.Equal("ClaudeCountTokensFailed", entry.EventId.Name);
        Assert.DoesNotContain(provider.Entries, e => e.AllText.Contains(FakeAnthropicServer.DefaultApiKey, StringComparison.Ordinal));
    }
}
