using System.CommandLine;
using System.Globalization;
using LmWrapper.Cli.Models;

namespace LmWrapper.Cli.Commands;

/// <summary><c>lmwrapper cache stats|evict|clear</c>.</summary>
internal static class CacheCommand
{
    /// <summary>Creates the command and its subcommands.</summary>
    public static Command Create()
    {
        var command = new Command("cache", """
            Inspect and trim the response cache (default: .lmwrapper_cache/cache.sqlite3 in the project root).

            Examples:
              lmwrapper cache stats
              lmwrapper cache evict --older-than 30d
              lmwrapper cache evict --max-size 1GB
              lmwrapper cache clear --model openai:gpt-4o-mini
            """);
        command.Add(Stats());
        command.Add(Evict());
        command.Add(Clear());
        return command;
    }

    private static Command Stats()
    {
        var cacheDir = CommonOptions.CacheDir();
        var command = new Command("stats", "Entries, size, oldest entry, entries per model and pending provider batches.") { cacheDir };
        command.SetAction((result, ct) => CommandGuard.RunAsync(
            async _ =>
            {
                var cache = ModelFactory.OpenCache(result.GetValue(cacheDir));
                var stats = cache.GetStats();
                var c = CultureInfo.InvariantCulture;
                var o = Console.Out;
                await o.WriteLineAsync(string.Create(c, $"file:            {cache.FilePath}")).ConfigureAwait(false);
                await o.WriteLineAsync(string.Create(c, $"entries:         {stats.Entries}")).ConfigureAwait(false);
                await o.WriteLineAsync(string.Create(c, $"payload bytes:   {stats.PayloadBytes}")).ConfigureAwait(false);
                await o.WriteLineAsync(string.Create(c, $"file bytes:      {stats.FileBytes}")).ConfigureAwait(false);
                await o.WriteLineAsync(string.Create(c, $"oldest entry:    {(stats.OldestEntry is { } t ? t.ToString("u", c) : "-")}")).ConfigureAwait(false);
                await o.WriteLineAsync(string.Create(c, $"pending batches: {cache.PendingBatchCount()}")).ConfigureAwait(false);
                foreach (var (model, count) in cache.CountEntriesByModel())
                {
                    await o.WriteLineAsync(string.Create(c, $"  {model}: {count}")).ConfigureAwait(false);
                }

                return ExitCodes.Success;
            },
            ct));
        return command;
    }

    private static Command Evict()
    {
        var olderThan = new Option<string?>("--older-than") { Description = "Remove entries older than this (30d, 12h, 2w)." };
        var maxSize = new Option<string?>("--max-size") { Description = "Remove the oldest entries until the file fits (1GB, 500MB), then compact it." };
        var maxEntries = new Option<long?>("--max-entries") { Description = "Remove the oldest entries until at most this many remain." };
        var cacheDir = CommonOptions.CacheDir();
        var command = new Command("evict", "Remove old entries: by age, file size or entry count (at least one).") { olderThan, maxSize, maxEntries, cacheDir };
        command.SetAction((result, ct) => CommandGuard.RunAsync(
            async _ =>
            {
                string? age = result.GetValue(olderThan);
                string? size = result.GetValue(maxSize);
                long? entries = result.GetValue(maxEntries);
                if (age is null && size is null && entries is null)
                {
                    throw new CliUsageException("Say what to evict: --older-than 30d, --max-size 1GB or --max-entries N.");
                }

                if (entries is < 0)
                {
                    throw new CliUsageException("--max-entries must be 0 or more.");
                }

                // Parse every option before removing anything.
                TimeSpan? maxAge = age is null ? null : SizeParser.ParseAge(age);
                long? maxBytes = size is null ? null : SizeParser.ParseBytes(size);
                var cache = ModelFactory.OpenCache(result.GetValue(cacheDir));
                int removed = 0;
                if (maxAge is { } a)
                {
                    removed += cache.EvictOlderThan(a);
                }

                if (entries is { } n)
                {
                    removed += cache.EvictToMaxEntries(n);
                }

                if (maxBytes is { } b)
                {
                    removed += cache.EvictToMaxBytes(b);
                }

                await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Removed {removed} entries; {cache.GetStats().Entries} remain.")).ConfigureAwait(false);
                return ExitCodes.Success;
            },
            ct));
        return command;
    }

    private static Command Clear()
    {
        var model = new Option<string?>("--model", "-m")
        {
            Description = $"Only this model's entries: {ModelSpec.Syntax}, or an identity as `cache stats` lists it.",
        };
        var baseUrl = CommonOptions.BaseUrl();
        var cacheDir = CommonOptions.CacheDir();
        var command = new Command("clear", "Remove every entry, or one model's.") { model, baseUrl, cacheDir };
        command.SetAction((result, ct) => CommandGuard.RunAsync(
            async token =>
            {
                var cache = ModelFactory.OpenCache(result.GetValue(cacheDir));
                int removed;
                if (result.GetValue(model) is { } m)
                {
                    string identity;
                    if (cache.CountEntriesByModel().ContainsKey(m))
                    {
                        identity = m;
                    }
                    else
                    {
                        using var lm = await ModelFactory.CreateAsync(ModelSpec.Parse(m), CommonOptions.Settings(result, baseUrl, cacheDir), token).ConfigureAwait(false);
                        identity = lm.ModelIdentity;
                    }

                    removed = cache.Clear(identity);
                }
                else
                {
                    removed = cache.Clear();
                }

                await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Removed {removed} entries.")).ConfigureAwait(false);
                return ExitCodes.Success;
            },
            ct));
        return command;
    }
}
