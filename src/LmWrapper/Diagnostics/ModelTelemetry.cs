using System.Diagnostics;
using System.Globalization;
using LmWrapper.Batching;
using LmWrapper.Costs;

namespace LmWrapper.Diagnostics;

/// <summary>
/// One model's traces, metrics and spend: what <see cref="LanguageModel"/>, the batch orchestrator and the HTTP layer call
/// at a few points of a call. Its tags are fixed per model (provider, model name, operation), so recording allocates little.
/// </summary>
internal sealed class ModelTelemetry
{
    private readonly LanguageModel _lm;
    private readonly LmTokenPrices? _prices;

    public ModelTelemetry(LanguageModel lm)
    {
        _lm = lm;
        Provider = ProviderOf(lm.ModelIdentity);
        var info = lm.ModelInfo;
        _prices = info.Prices;
        RequestModel = info.Name == lm.ModelIdentity && info.Name.IndexOf('/', StringComparison.Ordinal) is int slash and > 0 ? info.Name[(slash + 1)..] : info.Name;
        Operation = lm.IsChatModel ? "chat" : "text_completion";
        Metrics = LmMetrics.For(lm.Options.MeterFactory);
    }

    /// <summary>gen_ai.provider.name: openai, anthropic, huggingface, mock, or the first part of the model's identity.</summary>
    public string Provider { get; }

    /// <summary>gen_ai.request.model: the model's API name.</summary>
    public string RequestModel { get; }

    /// <summary>gen_ai.operation.name: chat or text_completion.</summary>
    public string Operation { get; }

    public LmMetrics Metrics { get; }

    /// <summary>The provider name the conventions use for a model identity ("openai/gpt-4o-mini" → "openai", "hf/…" → "huggingface").</summary>
    internal static string ProviderOf(string modelIdentity)
    {
        int slash = modelIdentity.IndexOf('/', StringComparison.Ordinal);
        string prefix = slash > 0 ? modelIdentity[..slash] : modelIdentity;
        return prefix switch
        {
            "hf" => "huggingface",
            "claude" => "anthropic",
            _ => prefix.ToLowerInvariant(),
        };
    }

    /// <summary>The measurement tags every instrument carries, plus <c>error.type</c> when given.</summary>
    public TagList Tags(string? errorType = null)
    {
        var tags = new TagList
        {
            { "gen_ai.provider.name", Provider },
            { "gen_ai.request.model", RequestModel },
            { "gen_ai.operation.name", Operation },
        };
        if (errorType is not null)
        {
            tags.Add("error.type", errorType);
        }

        return tags;
    }

    /// <summary>Starts the activity and clock of one call (a <c>Predict</c>, or one request of a <c>PredictMany</c> run).</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="spend">Where the call's spend goes; null when the caller counts it elsewhere (a <c>PredictMany</c> run's pump).</param>
    public PredictCall StartCall(LmPrompt prompt, LmSpend? spend)
    {
        Activity? activity = null;
        if (LmTelemetry.Source.HasListeners())
        {
            activity = LmTelemetry.Source.StartActivity($"{Operation} {RequestModel}", ActivityKind.Client);
            if (activity is { IsAllDataRequested: true })
            {
                AddCommonTags(activity);
                if (prompt.MaxTokens is { } maxTokens)
                {
                    activity.SetTag("gen_ai.request.max_tokens", maxTokens);
                }

                activity.SetTag("gen_ai.request.temperature", prompt.Temperature);
                activity.SetTag("gen_ai.request.top_p", prompt.TopP);
                if (prompt.NumCompletions != 1)
                {
                    activity.SetTag("gen_ai.request.choice.count", prompt.NumCompletions);
                }

                if (prompt.Stop is { Count: > 0 } stop)
                {
                    activity.SetTag("gen_ai.request.stop_sequences", stop.ToArray());
                }
            }
        }

        return new PredictCall(this, activity, spend);
    }

    /// <summary>Starts the activity of a <c>PredictMany</c> run and gives it its own spend (under the model's).</summary>
    public Activity? StartMany(int prompts, int requests, CompletionWindow window)
    {
        if (!LmTelemetry.Source.HasListeners())
        {
            return null;
        }

        var activity = LmTelemetry.Source.StartActivity($"predict_many {RequestModel}", ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            AddCommonTags(activity);
            activity.SetTag("lmwrapper.prompts", prompts);
            activity.SetTag("lmwrapper.requests", requests);
            activity.SetTag("lmwrapper.window", window == CompletionWindow.BatchAny ? "batch_any" : "asap");
        }

        return activity;
    }

    /// <summary>Ends a <c>PredictMany</c> run's activity with what the run spent.</summary>
    public static void EndMany(Activity? activity, LmSpendSnapshot spent, Exception? error)
    {
        if (activity is null)
        {
            return;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag("gen_ai.usage.input_tokens", spent.InputTokens);
            activity.SetTag("gen_ai.usage.output_tokens", spent.OutputTokens);
            activity.SetTag("lmwrapper.cost_usd", (double)spent.Cost);
            activity.SetTag("lmwrapper.cache.hits", spent.CachedSamples);
            activity.SetTag("lmwrapper.failed_requests", spent.FailedRequests);
        }

        if (error is not null)
        {
            SetError(activity, error);
        }

        activity.Dispose();
    }

    /// <summary>Counts samples that cache-using prompts had to ask for.</summary>
    public void RecordCacheMisses(long samples)
    {
        if (samples > 0)
        {
            Metrics.CacheMisses.Add(samples, Tags());
        }
    }

    /// <summary>
    /// Counts one request's fresh answer (or its failure): the request, its tokens, what it cost and what a batch discount
    /// saved, into the metrics and <paramref name="spend"/>.
    /// </summary>
    public void RecordFresh(IReadOnlyList<LmPrediction> samples, LmSpend spend)
    {
        string? errorType = null;
        long input = 0, output = 0;
        decimal cost = 0m, batchSaved = 0m;
        foreach (var sample in samples)
        {
            if (sample.HasErrors)
            {
                errorType ??= ErrorType(sample.Error!);
                continue;
            }

            if (sample.Usage is not { } usage)
            {
                continue;
            }

            input += usage.InputTokens;
            output += usage.OutputTokens;
            if (_prices is not null)
            {
                decimal c = _lm.CostOf(sample);
                cost += c;
                if (sample.ProviderData?.ContainsKey("batch_id") == true && _prices.BatchDiscount is > 0m and < 1m)
                {
                    batchSaved += c * _prices.BatchDiscount / (1m - _prices.BatchDiscount);
                }
            }
        }

        var tags = Tags(errorType);
        Metrics.Requests.Add(1, tags);
        if (input > 0 || output > 0)
        {
            var inputTags = Tags();
            inputTags.Add("gen_ai.token.type", "input");
            Metrics.TokenUsage.Record((int)Math.Min(int.MaxValue, input), inputTags);
            var outputTags = Tags();
            outputTags.Add("gen_ai.token.type", "output");
            Metrics.TokenUsage.Record((int)Math.Min(int.MaxValue, output), outputTags);
        }

        if (cost > 0m)
        {
            Metrics.Cost.Add((double)cost, Tags());
        }

        if (batchSaved > 0m)
        {
            Metrics.BatchSavings.Add((double)batchSaved, Tags());
        }

        spend.Add(new LmSpendSnapshot(1, errorType is null ? 0 : 1, input, output, 0, cost, 0m, batchSaved));
    }

    /// <summary>Counts the samples of <paramref name="prediction"/> that came from the cache, and what they saved.</summary>
    public void RecordCached(LmPrediction prediction, LmSpend spend)
    {
        int hits = 0;
        foreach (var sample in prediction.Completions)
        {
            hits += sample.WasCached ? 1 : 0;
        }

        if (hits == 0)
        {
            return;
        }

        decimal saved = _prices is null ? 0m : _lm.CacheSavingOf(prediction);
        Metrics.CacheHits.Add(hits, Tags());
        if (saved > 0m)
        {
            Metrics.CacheSavings.Add((double)saved, Tags());
        }

        spend.Add(new LmSpendSnapshot(0, 0, 0, 0, hits, 0m, saved, 0m));
    }

    /// <summary>Sets an activity's result attributes from the samples of a call.</summary>
    public void SetResult(Activity? activity, IReadOnlyList<LmPrediction> samples)
    {
        if (activity is null || !activity.IsAllDataRequested)
        {
            return;
        }

        var reasons = new List<string>(samples.Count);
        long input = 0, output = 0;
        bool cached = samples.Count > 0;
        decimal cost = 0m;
        LmError? error = null;
        foreach (var sample in samples)
        {
            cached &= sample.WasCached;
            if (sample.HasErrors)
            {
                error ??= sample.Error;
                continue;
            }

            if (sample.FinishReason is { } reason)
            {
                reasons.Add(reason);
            }

            if (sample.Usage is { } usage)
            {
                input += usage.InputTokens;
                output += usage.OutputTokens;
                if (_prices is not null && !sample.WasCached)
                {
                    cost += _lm.CostOf(sample);
                }
            }
        }

        if (reasons.Count > 0)
        {
            activity.SetTag("gen_ai.response.finish_reasons", reasons.ToArray());
        }

        activity.SetTag("gen_ai.usage.input_tokens", input);
        activity.SetTag("gen_ai.usage.output_tokens", output);
        activity.SetTag("lmwrapper.cached", cached);
        if (_prices is not null)
        {
            activity.SetTag("lmwrapper.cost_usd", (double)cost);
        }

        if (error is not null)
        {
            activity.SetTag("error.type", ErrorType(error));
            activity.SetStatus(ActivityStatusCode.Error, error.Kind.ToString());
        }
    }

    /// <summary>Marks an activity failed by an exception (a bad key, cancellation, a cache fault).</summary>
    public static void SetError(Activity? activity, Exception error)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag("error.type", ErrorType(error));
        activity.SetStatus(ActivityStatusCode.Error, error.GetType().Name);
    }

    /// <summary>Counts a retried HTTP attempt and adds an <c>lmwrapper.retry</c> event to the current LmWrapper activity.</summary>
    /// <param name="model">The model whose call it was; null for calls of no model (the Hugging Face hub).</param>
    /// <param name="attempt">The attempt that failed (1 for the first).</param>
    /// <param name="delay">The wait before the next attempt.</param>
    /// <param name="errorType">The status code, or "transport" and the like.</param>
    public static void RecordRetry(LanguageModel? model, int attempt, TimeSpan delay, string errorType)
    {
        model?.Telemetry.Metrics.Retries.Add(1, model.Telemetry.Tags(errorType));
        if (Activity.Current is { } current && ReferenceEquals(current.Source, LmTelemetry.Source) && current.IsAllDataRequested)
        {
            current.AddEvent(new ActivityEvent("lmwrapper.retry", tags: new ActivityTagsCollection
            {
                { "lmwrapper.retry.attempt", attempt },
                { "lmwrapper.retry.delay_ms", (long)delay.TotalMilliseconds },
                { "error.type", errorType },
            }));
        }
    }

    /// <summary>Counts a submitted provider batch and its requests.</summary>
    public void RecordBatchSubmitted(int requests)
    {
        Metrics.BatchJobs.Add(1, BatchTags("submitted"));
        Metrics.BatchRequests.Add(requests, BatchTags("submitted"));
    }

    /// <summary>Counts requests of provider batches that were answered ("completed") or failed for good ("failed").</summary>
    public void RecordBatchRequests(string state, int requests) => Metrics.BatchRequests.Add(requests, BatchTags(state));

    /// <summary>
    /// Counts a provider batch that reached a terminal state and records its activity, from its submission to now (a
    /// child of the <c>PredictMany</c> run's activity).
    /// </summary>
    public void RecordBatchEnded(ActivityContext parent, DateTimeOffset submittedAt, string? batchId, int requests, BatchJobStatus status)
    {
        string state = StateName(status.State);
        Metrics.BatchJobs.Add(1, BatchTags(state));
        if (!LmTelemetry.Source.HasListeners())
        {
            return;
        }

        using var activity = LmTelemetry.Source.StartActivity(
            $"batch {RequestModel}", ActivityKind.Client, parent, tags: null, links: null, startTime: submittedAt);
        if (activity is null)
        {
            return;
        }

        AddCommonTags(activity);
        activity.SetTag("lmwrapper.batch.id", batchId);
        activity.SetTag("lmwrapper.batch.state", state);
        activity.SetTag("lmwrapper.batch.requests", requests);
        if (status.State != BatchState.Completed)
        {
            activity.SetTag("error.type", state);
            activity.SetStatus(ActivityStatusCode.Error, state);
        }
    }

    private TagList BatchTags(string state)
    {
        var tags = Tags();
        tags.Add("lmwrapper.batch.state", state);
        return tags;
    }

    private static string StateName(BatchState state) => state switch
    {
        BatchState.InProgress => "in_progress",
        _ => state.ToString().ToLowerInvariant(),
    };

    private void AddCommonTags(Activity activity)
    {
        activity.SetTag("gen_ai.operation.name", Operation);
        activity.SetTag("gen_ai.provider.name", Provider);
        activity.SetTag("gen_ai.system", Provider);
        activity.SetTag("gen_ai.request.model", RequestModel);
    }

    /// <summary>error.type for an exception: its type's full name, as the conventions ask.</summary>
    internal static string ErrorType(Exception error) => error.GetType().FullName ?? error.GetType().Name;

    /// <summary>error.type for a failed prediction: its kind in snake case ("rate_limit_exhausted").</summary>
    internal static string ErrorType(LmError error) => error.Kind switch
    {
        LmErrorKind.InvalidRequest => "invalid_request",
        LmErrorKind.ContentFilter => "content_filter",
        LmErrorKind.ContextLength => "context_length",
        LmErrorKind.RateLimitExhausted => "rate_limit_exhausted",
        LmErrorKind.MalformedResponse => "malformed_response",
        LmErrorKind.NotFound => "not_found",
        var kind => kind.ToString().ToLowerInvariant(),
    };

    internal static string StatusText(int status) => status.ToString(CultureInfo.InvariantCulture);
}
