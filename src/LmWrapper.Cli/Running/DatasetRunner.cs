using System.Globalization;
using LmWrapper.Cli.Input;
using LmWrapper.Cli.Output;

namespace LmWrapper.Cli.Running;

/// <summary>
/// Runs a JSONL file of prompts through a model and writes one result line per input line, in input order, each as soon
/// as it and all before it are answered, flushed so that a killed run leaves a valid prefix. Rerunning completes the
/// output: lines already there are skipped, and their answers (in the response cache) are not paid again; pending
/// provider batches are reattached by the cache's batch journal.
/// </summary>
internal sealed class DatasetRunner
{
    private readonly LanguageModel _lm;
    private readonly RunSettings _settings;
    private readonly RunStatus _status;
    private readonly TextWriter _log;

    /// <summary>Creates the runner.</summary>
    /// <param name="lm">The model (its cache on: see <c>ModelFactory</c>).</param>
    /// <param name="settings">What to run.</param>
    /// <param name="status">The counters the progress display reads.</param>
    /// <param name="log">Where messages for the user go (standard error).</param>
    public DatasetRunner(LanguageModel lm, RunSettings settings, RunStatus status, TextWriter log)
    {
        _lm = lm ?? throw new ArgumentNullException(nameof(lm));
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _status = status ?? throw new ArgumentNullException(nameof(status));
        _log = log ?? throw new ArgumentNullException(nameof(log));
    }

    /// <summary>Checks a prompt for <paramref name="lm"/> as the model itself will before sending it (nothing is sent).</summary>
    /// <param name="lm">The model.</param>
    /// <param name="window">The completion window.</param>
    public static Action<LmPrompt> ValidatorFor(LanguageModel lm, CompletionWindow window)
    {
        ArgumentNullException.ThrowIfNull(lm);
        return prompt =>
        {
            try
            {
                // EstimateCost validates the prompt for the model first, offline; only then does it need prices.
                _ = lm.EstimateCost(prompt, window);
            }
            catch (InvalidOperationException)
            {
                // The prices are unknown: the prompt itself was valid.
            }
        };
    }

    /// <summary>Runs the file.</summary>
    /// <param name="cancellationToken">Ctrl+C: stops the run after writing what was done.</param>
    /// <exception cref="CliUsageException">The input cannot be read, has bad lines under <see cref="OnErrorMode.Stop"/>, does not fit the output file, or is estimated above <see cref="RunSettings.MaxCost"/>: nothing was sent.</exception>
    public async Task<RunSummary> RunAsync(CancellationToken cancellationToken)
    {
        var window = _settings.Window;
        var records = await PromptFile.ReadAsync(_settings.InputPath, ValidatorFor(_lm, window), cancellationToken).ConfigureAwait(false);
        var bad = records.Where(r => !r.IsValid).ToList();
        foreach (var r in bad.Take(20))
        {
            _log.WriteLine($"{_settings.InputPath}: {r.Error}");
        }

        if (bad.Count > 20)
        {
            _log.WriteLine($"{_settings.InputPath}: … and {bad.Count - 20} more bad lines.");
        }

        if (bad.Count > 0 && _settings.OnError == OnErrorMode.Stop)
        {
            throw new CliUsageException(
                $"{PromptLineParser.Count(bad.Count, "bad input line")} (listed above); nothing was sent. Fix them, or use --on-error skip to record them as errors and run the rest.");
        }

        using var output = ResultsFile.Open(_settings.OutputPath);
        if (output.CutBytes > 0)
        {
            _log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_settings.OutputPath}: cut a torn last line ({output.CutBytes} bytes) left by an interrupted run."));
        }

        var inputLines = records.Select(r => r.LineNumber).ToHashSet();
        if (output.AnsweredLines.FirstOrDefault(l => !inputLines.Contains(l)) is > 0 and int foreign)
        {
            throw new CliUsageException(string.Create(
                CultureInfo.InvariantCulture,
                $"The output file {_settings.OutputPath} has a result for line {foreign}, which {_settings.InputPath} does not have as a prompt: it is the output of another input. Choose another --output."));
        }

        var pending = records.Where(r => !output.AnsweredLines.Contains(r.LineNumber)).ToList();
        var toRun = pending.Where(r => r.IsValid).ToList();
        var pendingBad = pending.Where(r => !r.IsValid).ToList();
        bool pricesKnown = _lm.ModelInfo.Prices is not null;
        if (_settings.MaxCost is { } max)
        {
            CheckBudget(toRun, max, pricesKnown);
        }

        if (records.Count > pending.Count)
        {
            _log.WriteLine($"{_settings.OutputPath}: resuming; {PromptLineParser.Count(records.Count - pending.Count, "line")} already done.");
        }

        _status.Start(records.Count, records.Count - pending.Count, pricesKnown);
        var failedLines = new List<int>(output.FailedLines.Order());
        int written = 0, cached = 0, nextBad = 0, notRunForBudget = 0;
        bool stoppedOnError = false, interrupted = false;
        decimal spend = 0, cacheSaving = 0;

        void WriteBadBefore(int lineNumber)
        {
            while (nextBad < pendingBad.Count && pendingBad[nextBad].LineNumber < lineNumber)
            {
                var r = pendingBad[nextBad++];
                output.Append(ResultLine.ForInputError(r.Error!));
                written++;
                failedLines.Add(r.LineNumber);
                _status.Count(cached: false, failed: true, cost: 0);
            }
        }

        try
        {
            // Under --max-cost an ASAP run goes in slices of a few times the model's concurrency, so that sending stops
            // within one slice of the limit (one PredictMany call would send everything while the answers are counted).
            int slice = _settings.MaxCost is not null && window == CompletionWindow.Asap ? Math.Max(1, _lm.Options.MaxConcurrency * 4) : Math.Max(1, toRun.Count);
            int i = 0;
            for (int start = 0; start < toRun.Count && !stoppedOnError && notRunForBudget == 0; start += slice)
            {
                var part = toRun.GetRange(start, Math.Min(slice, toRun.Count - start));
                var predictions = _lm.PredictManyAsync(part.Select(r => r.Prompt!), window, cancellationToken);
                await foreach (var p in predictions.WithCancellation(cancellationToken).ConfigureAwait(false))
                {
                    var record = toRun[i++];
                    WriteBadBefore(record.LineNumber);
                    decimal? cost = pricesKnown ? _lm.CostOf(p) : null;
                    decimal? saving = pricesKnown ? _lm.CacheSavingOf(p) : null;
                    output.Append(ResultLine.ForPrediction(record, p, cost, saving));
                    written++;
                    cached += p.WasCached ? 1 : 0;
                    spend += cost ?? 0;
                    cacheSaving += saving ?? 0;
                    _status.Count(p.WasCached, p.HasErrors, cost);
                    if (p.HasErrors)
                    {
                        failedLines.Add(record.LineNumber);
                        if (_settings.OnError == OnErrorMode.Stop)
                        {
                            _log.WriteLine($"line {record.LineNumber} failed ({p.ErrorMessage}); stopping (--on-error stop).");
                            stoppedOnError = true;
                            break;
                        }
                    }

                    if (_settings.MaxCost is { } limit && spend >= limit && i < toRun.Count)
                    {
                        notRunForBudget = toRun.Count - i;
                        _log.WriteLine(string.Create(
                            CultureInfo.InvariantCulture,
                            $"The spend reached --max-cost (${spend:0.######} of ${limit}); {PromptLineParser.Count(notRunForBudget, "prompt")} not sent. Rerun with a higher --max-cost to complete the output."));
                        break;
                    }
                }
            }

            if (!stoppedOnError && notRunForBudget == 0)
            {
                WriteBadBefore(int.MaxValue);
            }

            if (toRun.Count == 0 && window == CompletionWindow.BatchAny)
            {
                // Nothing was asked, so PredictMany did not tidy: a run killed after its last answer may have left its
                // provider batch and files behind.
                await _lm.CleanUpFinishedBatchesAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            interrupted = true;
        }

        failedLines.Sort();
        return new RunSummary
        {
            Total = records.Count,
            AlreadyDone = records.Count - pending.Count,
            Written = written,
            Cached = cached,
            FailedLines = failedLines,
            Spend = pricesKnown ? spend : null,
            CacheSaving = pricesKnown ? cacheSaving : null,
            NotRunForBudget = notRunForBudget,
            StoppedOnError = stoppedOnError,
            Interrupted = interrupted,
        };
    }

    private void CheckBudget(List<InputRecord> toRun, decimal max, bool pricesKnown)
    {
        if (!pricesKnown)
        {
            throw new CliUsageException($"--max-cost needs the model's prices, and {_lm.ModelIdentity} has none. Leave --max-cost out for this model.");
        }

        decimal estimate = 0;
        foreach (var r in toRun)
        {
            estimate += _lm.EstimateCost(r.Prompt!, _settings.Window).MaxTotalCost;
        }

        if (estimate > max)
        {
            throw new CliUsageException(string.Create(
                CultureInfo.InvariantCulture,
                $"The run is estimated at up to ${estimate:0.######} ({PromptLineParser.Count(toRun.Count, "prompt")} at their max_tokens, answers already cached not subtracted), above --max-cost ${max}; nothing was sent. Raise --max-cost, lower max_tokens, or use --window batch."));
        }
    }
}
