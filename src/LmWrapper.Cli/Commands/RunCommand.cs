using System.CommandLine;
using System.Globalization;
using LmWrapper.Cli.Models;
using LmWrapper.Cli.Running;

namespace LmWrapper.Cli.Commands;

/// <summary><c>lmwrapper run</c>: a JSONL file of prompts in, a JSONL file of predictions out, resumable.</summary>
internal static class RunCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var input = CommonOptions.Input();
        var output = new Option<string>("--output", "-o")
        {
            Description = "The JSONL file of results, one per input line in input order. An existing file is completed, not overwritten.",
            Required = true,
        };
        var window = new Option<string>("--window")
        {
            Description = "asap: concurrent requests; batch: the provider's batch API (half price, resumable).",
            DefaultValueFactory = _ => "asap",
        };
        window.AcceptOnlyFromAmong("asap", "batch");
        var rpm = new Option<int?>("--rpm") { Description = "Requests per minute at most." };
        var tpm = new Option<long?>("--tpm") { Description = "Tokens per minute at most." };
        var concurrency = new Option<int?>("--concurrency") { Description = "Requests in flight at once (default 8)." };
        var maxCost = new Option<decimal?>("--max-cost")
        {
            Description = "Dollars: refuse to start when the estimate is above it; stop sending when the spend reaches it.",
        };
        var onError = new Option<string>("--on-error")
        {
            Description = "skip: record bad lines and failed prompts as errors and go on; stop: a bad line stops the run before anything is sent, a failed prompt stops it.",
            DefaultValueFactory = _ => "skip",
        };
        onError.AcceptOnlyFromAmong("skip", "stop");
        var pollInterval = new Option<double?>("--poll-interval") { Description = "Seconds between polls of a provider batch (default 10)." };
        var baseUrl = CommonOptions.BaseUrl();
        var cacheDir = CommonOptions.CacheDir();
        rpm.Validators.Add(r => Positive(r, r.GetValue(rpm)));
        tpm.Validators.Add(r => Positive(r, r.GetValue(tpm)));
        concurrency.Validators.Add(r => Positive(r, r.GetValue(concurrency)));
        maxCost.Validators.Add(r =>
        {
            if (r.GetValue(maxCost) is < 0)
            {
                r.AddError("--max-cost must be 0 or more.");
            }
        });
        pollInterval.Validators.Add(r =>
        {
            if (r.GetValue(pollInterval) is <= 0 or double.NaN)
            {
                r.AddError("--poll-interval must be a positive number of seconds.");
            }
        });

        var command = new Command("run", """
            Run a JSONL file of prompts and write one JSONL result per line, in input order, as results arrive.
            Rerunning the same command resumes: lines already in the output are skipped, cached answers are not paid
            again, and pending provider batches are reattached.

            Examples:
              lmwrapper run --model hf:samples/models/stories260K --input samples/prompts.jsonl --output predictions.jsonl
              lmwrapper run --model openai:gpt-4o-mini -i prompts.jsonl -o out.jsonl --window batch --max-cost 5
              lmwrapper run --model openai:my-model --base-url http://localhost:8000/v1 -i p.jsonl -o out.jsonl --rpm 60

            Exit codes: 0 all answered, 1 some prompts failed or were not run (listed), 2 usage or input error, 130 interrupted.
            """)
        {
            model, input, output, window, rpm, tpm, concurrency, maxCost, onError, pollInterval, baseUrl, cacheDir,
        };
        command.SetAction((result, ct) => CommandGuard.RunAsync(
            async token =>
            {
                var status = new RunStatus();
                var settings = CommonOptions.Settings(result, baseUrl, cacheDir) with
                {
                    RequestsPerMinute = result.GetValue(rpm),
                    TokensPerMinute = result.GetValue(tpm),
                    MaxConcurrency = result.GetValue(concurrency),
                    BatchPollInterval = result.GetValue(pollInterval) is { } s ? TimeSpan.FromSeconds(s) : null,
                    BatchProgress = status,
                };
                var runSettings = new RunSettings(
                    result.GetRequiredValue(input),
                    result.GetRequiredValue(output),
                    result.GetValue(window) == "batch" ? CompletionWindow.BatchAny : CompletionWindow.Asap,
                    result.GetValue(maxCost),
                    result.GetValue(onError) == "stop" ? OnErrorMode.Stop : OnErrorMode.Skip);
                using var lm = await ModelFactory.CreateAsync(ModelSpec.Parse(result.GetRequiredValue(model)), settings, token).ConfigureAwait(false);
                var runner = new DatasetRunner(lm, runSettings, status, Console.Error);
                var summary = await ProgressDisplay.RunAsync(() => runner.RunAsync(token), status, Console.Error).ConfigureAwait(false);
                await Console.Error.WriteLineAsync(Describe(summary, runSettings.OutputPath)).ConfigureAwait(false);
                return summary.ExitCode;
            },
            ct));
        return command;
    }

    /// <summary>The closing summary of a run.</summary>
    /// <param name="summary">How it ended.</param>
    /// <param name="outputPath">The output file.</param>
    internal static string Describe(RunSummary summary, string outputPath)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var text = new System.Text.StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{outputPath}: {summary.Written} written this run ({summary.Cached} from the cache), {summary.AlreadyDone} from before, {summary.Total} prompts in all.");
        if (summary.Spend is { } spend)
        {
            text.Append(CultureInfo.InvariantCulture, $" Spend: ${spend:0.00####}; saved by the cache: ${summary.CacheSaving ?? 0:0.00####}.");
        }

        if (summary.FailedLines.Count > 0)
        {
            var shown = string.Join(", ", summary.FailedLines.Take(50));
            text.Append(CultureInfo.InvariantCulture, $" Failed lines ({summary.FailedLines.Count}): {shown}{(summary.FailedLines.Count > 50 ? ", …" : string.Empty)}.");
        }

        if (summary.Interrupted)
        {
            text.Append(" Interrupted: rerun the same command to complete the output.");
        }

        return text.ToString();
    }

    private static void Positive<T>(System.CommandLine.Parsing.OptionResult r, T? value)
        where T : struct, IComparable<T>
    {
        if (value is { } v && v.CompareTo(default) <= 0)
        {
            r.AddError($"{r.Option.Name} must be positive.");
        }
    }
}
