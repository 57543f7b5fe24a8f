using System.CommandLine;
using System.Globalization;
using LmWrapper.Caching;
using LmWrapper.Cli.Input;
using LmWrapper.Cli.Models;
using LmWrapper.Cli.Running;

namespace LmWrapper.Cli.Commands;

/// <summary><c>lmwrapper batches list|cancel|collect</c>: the provider batches this project started (from the cache's journal).</summary>
internal static class BatchesCommand
{
    /// <summary>Creates the command and its subcommands.</summary>
    public static Command Create()
    {
        var command = new Command("batches", """
            The provider batches this project started whose answers are not all cached yet.
            They come from the cache's batch journal, written by `run --window batch` (or PredictMany(…, BatchAny)).

            Examples:
              lmwrapper batches list
              lmwrapper batches cancel --model openai:gpt-4o-mini
              lmwrapper batches collect --model openai:gpt-4o-mini --input prompts.jsonl
            """);
        command.Add(List());
        command.Add(Cancel());
        command.Add(Collect());
        return command;
    }

    private static Command List()
    {
        var cacheDir = CommonOptions.CacheDir();
        var command = new Command("list", "List the journal's pending batches: model, provider id, attempt, requests, pending requests, age.") { cacheDir };
        command.SetAction((result, ct) => CommandGuard.RunAsync(
            _ =>
            {
                var cache = ModelFactory.OpenCache(result.GetValue(cacheDir));
                var jobs = cache.ListBatchJobs();
                if (jobs.Count == 0)
                {
                    Console.Out.WriteLine("No pending batches.");
                    return Task.FromResult(ExitCodes.Success);
                }

                var c = CultureInfo.InvariantCulture;
                TableOutput.Write(
                    ["local id", "backend", "model", "provider id", "attempt", "requests", "pending", "recorded"],
                    jobs.Select(j => new[]
                    {
                        j.LocalId, j.Backend, j.ModelIdentity, j.ProviderId ?? "(not yet known)", j.Attempt.ToString(c),
                        j.RequestCount.ToString(c), j.PendingRequests.ToString(c), j.RecordedAt.ToString("u", c),
                    }));
                return Task.FromResult(ExitCodes.Success);
            },
            ct));
        return command;
    }

    private static Command Cancel()
    {
        var model = CommonOptions.Model();
        var baseUrl = CommonOptions.BaseUrl();
        var cacheDir = CommonOptions.CacheDir();
        var command = new Command("cancel", """
            Ask the provider to cancel every pending batch of MODEL listed by `batches list`.
            The journal keeps them: a later `run --window batch` (or `batches collect`) of the same input collects what
            the provider answered before the cancel, paying nothing twice, and submits the rest again.
            """)
        {
            model, baseUrl, cacheDir,
        };
        command.SetAction((result, ct) => CommandGuard.RunAsync(
            async token =>
            {
                var settings = CommonOptions.Settings(result, baseUrl, cacheDir);
                using var lm = await ModelFactory.CreateAsync(ModelSpec.Parse(result.GetRequiredValue(model)), settings, token).ConfigureAwait(false);
                var cancelled = await lm.CancelPendingBatchesAsync(token).ConfigureAwait(false);
                var o = Console.Out;
                if (cancelled.Count == 0)
                {
                    await o.WriteLineAsync($"No pending batch of {lm.ModelIdentity} to cancel.").ConfigureAwait(false);
                    return ExitCodes.Success;
                }

                foreach (var id in cancelled)
                {
                    await o.WriteLineAsync("Asked to cancel " + id).ConfigureAwait(false);
                }

                return ExitCodes.Success;
            },
            ct));
        return command;
    }

    private static Command Collect()
    {
        var model = CommonOptions.Model();
        var input = CommonOptions.Input();
        var pollInterval = new Option<double?>("--poll-interval") { Description = "Seconds between polls (default 10)." };
        var baseUrl = CommonOptions.BaseUrl();
        var cacheDir = CommonOptions.CacheDir();
        var command = new Command("collect", """
            Wait for the pending batches that cover the prompts of INPUT and store their answers in the cache.
            Nothing new is sent and no output is written (prompts no pending batch covers are left alone). The journal
            keeps cache keys, not prompts, so the input that started the batches is needed to read their results.
            """)
        {
            model, input, pollInterval, baseUrl, cacheDir,
        };
        command.SetAction((result, ct) => CommandGuard.RunAsync(
            async token =>
            {
                var settings = CommonOptions.Settings(result, baseUrl, cacheDir) with
                {
                    BatchPollInterval = result.GetValue(pollInterval) is { } s && s > 0 ? TimeSpan.FromSeconds(s) : null,
                };
                using var lm = await ModelFactory.CreateAsync(ModelSpec.Parse(result.GetRequiredValue(model)), settings, token).ConfigureAwait(false);
                string path = result.GetRequiredValue(input);
                var records = await PromptFile.ReadAsync(path, DatasetRunner.ValidatorFor(lm, CompletionWindow.BatchAny), token).ConfigureAwait(false);
                var covered = new HashSet<CacheKey>();
                int batches = 0;
                foreach (var job in lm.Cache.ListBatchJobs().Where(j => j.ModelIdentity == lm.ModelIdentity))
                {
                    batches++;
                    covered.UnionWith(lm.Cache.ListBatchJobKeys(job.LocalId));
                }

                var prompts = records.Where(r => r.IsValid && covered.Contains(CacheKey.Compute(lm.ModelIdentity, r.Prompt!))).Select(r => r.Prompt!).ToList();
                var o = Console.Out;
                if (prompts.Count == 0)
                {
                    await o.WriteLineAsync($"No pending batch of {lm.ModelIdentity} covers a prompt of {path} ({batches} pending batches for this model).").ConfigureAwait(false);
                    return batches == 0 ? ExitCodes.Success : ExitCodes.SomeFailed;
                }

                int answered = 0, failed = 0;
                await foreach (var p in lm.PredictManyAsync(prompts, CompletionWindow.BatchAny, token).WithCancellation(token).ConfigureAwait(false))
                {
                    answered++;
                    failed += p.HasErrors ? 1 : 0;
                }

                await o.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Collected {answered} prompts from {batches} batches into the cache ({failed} failed).")).ConfigureAwait(false);
                return failed == 0 ? ExitCodes.Success : ExitCodes.SomeFailed;
            },
            ct));
        return command;
    }
}
