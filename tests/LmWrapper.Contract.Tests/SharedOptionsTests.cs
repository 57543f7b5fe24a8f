using LmWrapper.Caching;
using LmWrapper.HuggingFace;
using Microsoft.Extensions.Logging;

namespace LmWrapper.Contract.Tests;

/// <summary>Every model kind takes its model settings and its logger the same way (<see cref="LmOptions"/>).</summary>
public sealed class SharedOptionsTests
{
    public static TheoryData<string> Providers => new() { "openai", "anthropic" };

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task TheOptionsLoggerHearsAFailedRequest(string name)
    {
        await using var provider = await Provider.StartAsync(name);
        using var cache = LmCache.OpenInMemory();
        var log = new ListLogger();
        using var lm = provider.Model(cache, logger: log);
        Assert.Same(log, lm.Options.Logger);
        Assert.Same(cache, lm.Options.Cache); // the ModelOptions beside it are kept

        provider.NotFoundOnce();
        var p = await lm.PredictAsync(new LmPrompt("What is 2+2?") { MaxTokens = 5 });
        Assert.True(p.HasErrors);
        Assert.Contains(log.Entries, e => e.EventId == 1001 && e.Level == LogLevel.Warning && e.Message.Contains("returned as a failed prediction", StringComparison.Ordinal));
    }

    [Fact]
    public void ALocalModelTakesTheSameShape()
    {
        var log = new ListLogger();
        using var cache = LmCache.OpenInMemory();
        LmOptions options = new HuggingFaceLmOptions { Logger = log, ModelOptions = new LanguageModelOptions { Cache = cache, MaxConcurrency = 3 } };
        using var lm = HuggingFaceLm.Get(Stories(), (HuggingFaceLmOptions)options);
        Assert.Same(log, lm.Options.Logger);
        Assert.Same(cache, lm.Options.Cache);
        Assert.Equal(3, lm.Options.MaxConcurrency);
        Assert.Contains(log.Entries, e => e.EventId == 4001 && e.Level == LogLevel.Information && e.Message.StartsWith("Loaded ", StringComparison.Ordinal));
    }

    [Fact]
    public void TheOptionsLoggerWinsOverTheModelOptionsOneAndNeitherMeansTheDefaults()
    {
        var outer = new ListLogger();
        var inner = new ListLogger();
        var both = new HuggingFaceLmOptions { Logger = outer, ModelOptions = new LanguageModelOptions { Logger = inner, CacheByDefault = true } };
        var resolved = both.ResolveModelOptions()!;
        Assert.Same(outer, resolved.Logger);
        Assert.True(resolved.CacheByDefault);
        Assert.Same(inner, new HuggingFaceLmOptions { ModelOptions = new LanguageModelOptions { Logger = inner } }.ResolveModelOptions()!.Logger);
        Assert.Null(new HuggingFaceLmOptions().ResolveModelOptions());
        Assert.Same(outer, new HuggingFaceLmOptions { Logger = outer }.ResolveModelOptions()!.Logger);
    }

    private static string Stories()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "samples", "models", "stories260K");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("samples/models/stories260K not found above " + AppContext.BaseDirectory);
    }

    private sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Message, int EventId)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
            {
                Entries.Add((logLevel, formatter(state, exception), eventId.Id));
            }
        }
    }
}
