using System.Runtime.CompilerServices;
using System.Threading.Channels;
using LmWrapper.Batching;
using LmWrapper.Caching;
using LmWrapper.Diagnostics;
using LmWrapper.RateLimiting;
using LmWrapper.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LmWrapper;

/// <summary>
/// The base of every language model: one interface (<see cref="LmPrompt"/> in, <see cref="LmPrediction"/> out) over
/// OpenAI, Claude, local models and test doubles.
/// </summary>
/// <remarks>
/// The base class owns validation, caching, de-duplication and ordering. A provider implements only
/// <see cref="PredictUncachedAsync(LmPrompt, int, CancellationToken)"/> (one prompt the cache could not answer) and, where it has something better than
/// concurrent single calls (a batch API, batched forward passes), <see cref="PredictManyUncachedAsync"/>.
/// </remarks>
public abstract partial class LanguageModel : IDisposable
{
    private readonly Lock _cacheLock = new();
    private LmCache? _cache;
    private ModelTelemetry? _telemetry;

    /// <summary>Creates the model with shared settings.</summary>
    /// <param name="options">Caching, concurrency and logging settings; null for the defaults.</param>
    protected LanguageModel(LanguageModelOptions? options = null)
    {
        Options = options ?? new LanguageModelOptions();
        if (Options.MaxConcurrency < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.MaxConcurrency, "MaxConcurrency must be at least 1.");
        }

        Logger = Options.Logger ?? NullLogger.Instance;
        RateLimiter = Options.RateLimiter ?? new LmRateLimiter(Options.RequestsPerMinute, Options.TokensPerMinute);
        Spend = new Costs.LmSpend(Costs.LmSpend.Total);
    }

    /// <summary>The settings this model was created with.</summary>
    public LanguageModelOptions Options { get; }

    /// <summary>Where this model's diagnostics go.</summary>
    protected ILogger Logger { get; }

    /// <summary>
    /// What this model has spent and saved since it was created: requests, tokens, dollars paid, and dollars saved by the
    /// cache and by batch discounts (also added to <see cref="Costs.LmSpend.Total"/>). Read it with
    /// <see cref="Costs.LmSpend.Snapshot"/>.
    /// </summary>
    public Costs.LmSpend Spend { get; }

    /// <summary>This model's traces and metrics (see <see cref="LmTelemetry"/>), made on first use.</summary>
    internal ModelTelemetry Telemetry => LazyInitializer.EnsureInitialized(ref _telemetry, () => new ModelTelemetry(this));

    /// <summary>
    /// What identifies this model's outputs in cache keys (for example "openai/gpt-4o-mini"). Two models with the same
    /// identity share cached answers, so it must change whenever the outputs would.
    /// </summary>
    public abstract string ModelIdentity { get; }

    /// <summary>The model's context window in tokens (prompt plus completion).</summary>
    public abstract int TokenLimit { get; }

    /// <summary>Whether the model takes chat dialogs natively (rather than one string).</summary>
    public abstract bool IsChatModel { get; }

    /// <summary>How many tokens are generated when a prompt leaves <see cref="LmPrompt.MaxTokens"/> unset: <see cref="TokenLimit"/> / 16 unless the model says otherwise.</summary>
    public virtual int DefaultTokensGenerated => Math.Max(1, TokenLimit / 16);

    /// <summary>
    /// Paces this model's requests within its requests- and tokens-per-minute limits; every uncached call waits for it.
    /// Providers report 429s to it (<see cref="LmRateLimiter.Pause"/>) so that the whole model slows down, and the
    /// limits they read from response headers (<see cref="LmRateLimiter.Observe"/>).
    /// </summary>
    public LmRateLimiter RateLimiter { get; }

    /// <summary>
    /// The response cache this model uses: <see cref="LanguageModelOptions.Cache"/>, else the project's shared cache
    /// (<see cref="LmCache.ForProject"/>), opened on first use. A failed open throws and is tried again on the next use.
    /// </summary>
    /// <exception cref="LmCacheException">The cache file cannot be opened.</exception>
    public LmCache Cache
    {
        get
        {
            if (Volatile.Read(ref _cache) is { } cache)
            {
                return cache;
            }

            lock (_cacheLock)
            {
                // Only a successful open is remembered; an exception leaves the field empty for the next use.
                _cache ??= Options.Cache ?? OpenProjectCache();
                return _cache;
            }
        }
    }

    /// <summary>Opens the project's shared cache; tests replace it to simulate a failing open.</summary>
    internal Func<LmCache> OpenProjectCache { get; set; } = () => LmCache.ForProject();

    /// <summary>
    /// What the model says about itself, with one meaning for every provider: name, context window, max output, prices
    /// (<see cref="Costs.LmTokenPrices.Free"/> for a local model; null when unknown) and capabilities. The default is built
    /// from <see cref="TokenLimit"/> and <see cref="IsChatModel"/>, without prices; providers give theirs.
    /// </summary>
    public virtual LmModelInfo ModelInfo =>
        new(ModelIdentity, TokenLimit, DefaultTokensGenerated, null, IsChatModel ? LmCapabilities.Chat : LmCapabilities.None);

    /// <summary>
    /// How many tokens the prompt takes up in the model's context window (including any chat formatting), estimated
    /// offline (no request; the rate limiter calls it for every request when <see cref="LanguageModelOptions.TokensPerMinute"/> is set).
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    public abstract int EstimateTokensInPrompt(LmPrompt prompt);

    /// <summary>
    /// What a prompt will cost at most before it runs, in US dollars: its input tokens (offline estimate, see
    /// <see cref="EstimateTokensInPrompt"/>) and <see cref="LmPrompt.MaxTokens"/> (or <see cref="DefaultTokensGenerated"/>)
    /// output tokens per completion, at <see cref="ModelInfo"/>'s prices, with the batch discount for
    /// <see cref="CompletionWindow.BatchAny"/> on a model that has a batch API. Answers already cached are not subtracted.
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="window">How it will be sent.</param>
    /// <exception cref="LmPromptException">The prompt is invalid for this model.</exception>
    /// <exception cref="InvalidOperationException">The model's prices are unknown (<see cref="LmModelInfo.Prices"/> is null).</exception>
    public Costs.LmCostEstimate EstimateCost(LmPrompt prompt, CompletionWindow window = CompletionWindow.Asap)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ValidatePrompt(prompt);
        var prices = PricesOrThrow();
        bool batch = window == CompletionWindow.BatchAny && ModelInfo.Has(LmCapabilities.Batch);
        long input = (long)EstimateTokensInPrompt(prompt) * (SendsPromptPerSample ? prompt.NumCompletions : 1);
        long output = (long)(prompt.MaxTokens ?? DefaultTokensGenerated) * prompt.NumCompletions;
        int inputTokens = (int)Math.Min(int.MaxValue, input);
        int outputTokens = (int)Math.Min(int.MaxValue, output);
        return new Costs.LmCostEstimate(
            inputTokens, outputTokens, prices.CostOf(new LmUsage(inputTokens, 0), batch), prices.CostOf(new LmUsage(0, outputTokens), batch));
    }

    /// <summary>
    /// What a prediction cost this time, in US dollars, from its reported usage and <see cref="ModelInfo"/>'s prices (all
    /// its completions; batch samples at the batch discount; provider prompt-cache reads and writes at their prices). A
    /// sample served from LmWrapper's cache cost nothing (<see cref="CacheSavingOf"/> says what it saved); a failed one
    /// or one without usage counts 0.
    /// </summary>
    /// <param name="prediction">A prediction of this model.</param>
    /// <exception cref="InvalidOperationException">The model's prices are unknown.</exception>
    public decimal CostOf(LmPrediction prediction) => SumCosts(prediction, cached: false);

    /// <summary>What the cached samples of a prediction would have cost had they been made now (0 for a fresh prediction).</summary>
    /// <param name="prediction">A prediction of this model.</param>
    /// <exception cref="InvalidOperationException">The model's prices are unknown.</exception>
    public decimal CacheSavingOf(LmPrediction prediction) => SumCosts(prediction, cached: true);

    /// <summary>
    /// What one fresh sample cost (its usage at the model's prices; the batch discount when it carries "batch_id" in
    /// <see cref="LmPrediction.ProviderData"/>). Providers with more to bill (prompt-cache writes) override it.
    /// </summary>
    /// <param name="sample">One sample with <see cref="LmPrediction.Usage"/>.</param>
    /// <param name="prices">The model's prices.</param>
    protected virtual decimal SampleCost(LmPrediction sample, Costs.LmTokenPrices prices)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(prices);
        return sample.Usage is { } usage ? prices.CostOf(usage, sample.ProviderData?.ContainsKey("batch_id") ?? false) : 0m;
    }

    /// <summary>Whether every completion of a prompt is its own request that pays for the prompt again (Claude), rather than sharing one (OpenAI's <c>n</c>).</summary>
    protected virtual bool SendsPromptPerSample => false;

    private decimal SumCosts(LmPrediction prediction, bool cached)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        var prices = PricesOrThrow();
        decimal total = 0;
        foreach (var sample in prediction.Completions)
        {
            if (sample.WasCached == cached && !sample.HasErrors && sample.Usage is not null)
            {
                total += SampleCost(sample, prices);
            }
        }

        return total;
    }

    private Costs.LmTokenPrices PricesOrThrow() =>
        ModelInfo.Prices ?? throw new InvalidOperationException(
            $"No prices are known for {ModelIdentity}; give its model info prices (for example OpenAiModelInfo.Prices) to compute costs.");

    /// <summary>
    /// Whether the prompt plus the most tokens it may generate (<see cref="LmPrompt.MaxTokens"/>, or
    /// <see cref="DefaultTokensGenerated"/>) could exceed <see cref="TokenLimit"/>.
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    public virtual bool CouldCompletionGoOverTokenLimit(LmPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return EstimateTokensInPrompt(prompt) + (prompt.MaxTokens ?? DefaultTokensGenerated) > TokenLimit;
    }

    /// <summary>
    /// Completes <paramref name="text"/> with at most 100 tokens (as the Python lmwrapper's <c>predict("…")</c> does).
    /// Blocks the calling thread until the answer is there and cannot be cancelled; async code uses
    /// <see cref="PredictAsync(string, CancellationToken)"/>.
    /// </summary>
    /// <param name="text">The prompt text.</param>
    public LmPrediction Predict(string text) => Predict(DefaultPrompt(text));

    /// <summary>
    /// Runs one prompt (from the cache when it can). The synchronous twin of
    /// <see cref="PredictAsync(LmPrompt, CancellationToken)"/>, kept because the Python original has it: Blocks the
    /// calling thread until the answer is there and cannot be cancelled; async code uses the twin.
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    /// <exception cref="LmPromptException">The prompt is invalid for this model; nothing was sent.</exception>
    public LmPrediction Predict(LmPrompt prompt) => PredictAsync(prompt, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Completes <paramref name="text"/> with at most 100 tokens.</summary>
    /// <param name="text">The prompt text.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<LmPrediction> PredictAsync(string text, CancellationToken cancellationToken = default) =>
        PredictAsync(DefaultPrompt(text), cancellationToken);

    /// <summary>
    /// Runs one prompt: validates it, answers from the cache when it can, otherwise calls the model (only for the
    /// samples the cache lacks) and stores the new samples.
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>
    /// The prediction. A request the provider rejected comes back with <see cref="LmPrediction.HasErrors"/>; faults such
    /// as a bad key or cancellation are thrown.
    /// </returns>
    /// <exception cref="LmPromptException">The prompt is invalid for this model; nothing was sent.</exception>
    public async Task<LmPrediction> PredictAsync(LmPrompt prompt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ValidatePrompt(prompt);
        CheckFits(prompt);
        using var call = Telemetry.StartCall(prompt, Spend);
        try
        {
            return call.Complete(await PredictCoreAsync(prompt, call, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception e) when (call.Fail(e))
        {
            throw; // never reached: the filter only records the failure
        }
    }

    /// <summary>
    /// The cache's samples of <paramref name="prompt"/> (null where none is cached, and all null when the prompt does not
    /// use the cache), how many are missing, and the key they are stored under.
    /// </summary>
    private (CacheKey? Key, LmPrediction?[] Samples, int Missing) ReadCachedSamples(LmPrompt prompt, PredictCall call)
    {
        CacheKey? key = CacheFor(prompt) is not null ? CacheKey.Compute(ModelIdentity, prompt) : null;
        var samples = new LmPrediction?[prompt.NumCompletions];
        int missing = samples.Length;
        if (key is { } k)
        {
            var found = new List<(int Sample, byte[] Payload)>(prompt.NumCompletions);
            Cache.GetSamples(k, prompt.NumCompletions, found);
            foreach (var (sample, payload) in found)
            {
                samples[sample] = PredictionJson.DeserializePayload(payload, prompt, wasCached: true);
                missing--;
            }

            call.Missed(missing);
        }

        return (key, samples, missing);
    }

    private async Task<LmPrediction> PredictCoreAsync(LmPrompt prompt, PredictCall call, CancellationToken cancellationToken)
    {
        var (key, samples, missing) = ReadCachedSamples(prompt, call);

        if (missing > 0)
        {
            call.Sending();
            await WaitForRateLimitAsync(prompt, missing, cancellationToken).ConfigureAwait(false);
            var request = new LmUncachedRequest(0, prompt, missing) { CacheKey = key, FirstSample = Array.FindIndex(samples, x => x is null) };
            var predictions = await PredictUncachedOrErrorAsync(request, cancellationToken).ConfigureAwait(false);
            CheckCount(predictions, missing);
            call.Received(predictions);
            var toStore = new List<(CacheKey, int, byte[])>(missing);
            PredictManyRun.FillEmpty(samples, predictions, key, toStore);
            Store(toStore);
        }

        return PredictManyRun.AssembleSamples(samples, prompt);
    }

    /// <summary>
    /// Runs many prompts and returns their predictions lazily, in input order. The synchronous twin of
    /// <see cref="PredictManyAsync"/>; see there. Blocks the calling thread while it waits for each prediction
    /// and cannot be cancelled (stop enumerating to stop the run); async code uses the twin.
    /// </summary>
    /// <param name="prompts">The prompts.</param>
    /// <param name="window">How soon the answers are needed: <see cref="CompletionWindow.Asap"/> or the cheaper <see cref="CompletionWindow.BatchAny"/>.</param>
    /// <exception cref="LmPromptException">A prompt is invalid for this model; nothing was sent.</exception>
    public IEnumerable<LmPrediction> PredictMany(IEnumerable<LmPrompt> prompts, CompletionWindow window = CompletionWindow.Asap) =>
        PredictManyAsync(prompts, window, CancellationToken.None).ToBlockingEnumerable();

    /// <summary>
    /// Runs many prompts: validates them all first (nothing is sent if any is invalid), answers what it can from the
    /// cache in one pass, sends each distinct uncached prompt once, and yields every prediction in input order as soon
    /// as it and all before it are ready.
    /// </summary>
    /// <param name="prompts">The prompts.</param>
    /// <param name="window">How soon the answers are needed: <see cref="CompletionWindow.Asap"/> or the cheaper <see cref="CompletionWindow.BatchAny"/>.</param>
    /// <param name="cancellationToken">Cancels the run; what was already stored stays cached.</param>
    /// <returns>One prediction per prompt. A prompt that failed comes back with <see cref="LmPrediction.HasErrors"/>, never as a lost item.</returns>
    /// <exception cref="LmPromptException">A prompt is invalid for this model; nothing was sent.</exception>
    public IAsyncEnumerable<LmPrediction> PredictManyAsync(
        IEnumerable<LmPrompt> prompts,
        CompletionWindow window = CompletionWindow.Asap,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (!Enum.IsDefined(window))
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, "Unknown completion window.");
        }

        LmPrompt[] list = [.. prompts];
        for (int i = 0; i < list.Length; i++)
        {
            if (list[i] is null)
            {
                throw new ArgumentException($"Prompt {i} is null.", nameof(prompts));
            }

            try
            {
                ValidatePrompt(list[i]);
                CheckFits(list[i]);
            }
            catch (LmPromptException e)
            {
                throw new LmPromptException($"Prompt {i}: {e.Message}", e.FieldName);
            }
        }

        return PredictManyCoreAsync(list, window, cancellationToken);
    }

    /// <summary>
    /// Removes every cached sample of <paramref name="prompt"/> for this model. Returns whether anything was removed.
    /// </summary>
    /// <param name="prompt">The prompt whose answers to forget.</param>
    public bool RemovePromptFromCache(LmPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Cache.Remove(CacheKey.Compute(ModelIdentity, prompt)) > 0;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the model's resources (HTTP clients, weights). The cache is not the model's to dispose.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>
    /// Checks a prompt before anything is spent. The base checks the prompt's own fields
    /// (<see cref="LmPrompt.Validate"/>); a provider adds what its model cannot honour, calling the base first.
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    /// <exception cref="LmPromptException">The prompt is invalid for this model.</exception>
    protected virtual void ValidatePrompt(LmPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        prompt.ValidateFields(AcceptsEmptyText);
        if (prompt.NumCompletions > MaxNumCompletions)
        {
            throw new LmPromptException(
                $"NumCompletions is {prompt.NumCompletions}, but LmWrapper asks for at most {MaxNumCompletions} completions of one prompt "
                + "(each is its own paid request or generated row for some providers). Split the work into several prompts.",
                nameof(LmPrompt.NumCompletions));
        }

        if (prompt.HasImages && !ModelInfo.Has(LmCapabilities.Vision))
        {
            throw new LmPromptException(
                $"{ModelIdentity} does not take images (its ModelInfo has no Vision capability); nothing was sent. Use a vision model "
                + "(such as gpt-4o-mini or a Claude 3+ model), or remove the images from the prompt.",
                nameof(LmPrompt.Chat));
        }

        if (prompt.Internals is not null && !SupportsInternals)
        {
            throw new LmPromptException(
                $"{ModelIdentity} cannot return model internals (hidden states, attentions); only local models can. Remove LmPrompt.Internals.",
                nameof(LmPrompt.Internals));
        }

        ValidateToolUse(prompt);
    }

    /// <summary>
    /// The most completions one prompt may ask for (<see cref="LmPrompt.NumCompletions"/>), the same for every provider:
    /// 128. OpenAI's API refuses more in one request; Claude sends one request per completion and a local model generates
    /// one row per completion, so a larger number would fan out into that many paid requests or rows from one prompt.
    /// Ask for more with several prompts (a different <see cref="LmPrompt.Seed"/> or text) when it is really meant.
    /// </summary>
    public const int MaxNumCompletions = 128;

    /// <summary>
    /// How far over <see cref="TokenLimit"/> <see cref="EstimateTokensInPrompt"/> may go before a prompt is refused as one
    /// that cannot fit (1 means at the limit). Models whose estimate is exact keep 1; a provider whose offline estimate is
    /// rough (Claude's 3.5 characters per token) gives a larger factor so no prompt that would fit is refused; one that
    /// makes the same check exactly in its own <see cref="ValidatePrompt"/> gives <see cref="double.PositiveInfinity"/>.
    /// </summary>
    protected virtual double CannotFitFactor => 1.0;

    /// <summary>
    /// Refuses a prompt that cannot fit in the context window (its estimated tokens alone reach <see cref="TokenLimit"/>
    /// times <see cref="CannotFitFactor"/>) before anything is uploaded: the provider would only reject it, after the upload.
    /// </summary>
    private void CheckFits(LmPrompt prompt)
    {
        if (double.IsPositiveInfinity(CannotFitFactor))
        {
            return;
        }

        int tokens = EstimateTokensInPrompt(prompt);
        if (tokens >= TokenLimit * CannotFitFactor)
        {
            throw new LmPromptException(
                $"The prompt is about {tokens} tokens, but {ModelIdentity}'s context window is {TokenLimit} tokens for the prompt and its "
                + "completion together: it cannot fit, so it was not sent. Shorten it (LmWrapper.PromptTrimming can cut it to a token budget).",
                prompt.IsChat ? nameof(LmPrompt.Chat) : nameof(LmPrompt.Text));
        }
    }

    /// <summary>
    /// Whether the model can return hidden states and attention weights for <see cref="LmPrompt.Internals"/> (local
    /// models). False by default: such prompts are rejected before anything is sent.
    /// </summary>
    protected virtual bool SupportsInternals => false;

    /// <summary>
    /// Whether an empty text prompt is valid (a local model whose tokenizer starts every sequence with a
    /// beginning-of-sequence token generates from it alone). False by default.
    /// </summary>
    protected virtual bool AcceptsEmptyText => false;

    /// <summary>
    /// Asks the model for <paramref name="numCompletions"/> new samples of <paramref name="prompt"/>. The prompt is
    /// valid and none of these samples are cached. Return exactly that many predictions, or one failed prediction that
    /// stands for all; throw for faults that should stop the caller (bad key, cancellation).
    /// </summary>
    /// <param name="prompt">The prompt (use <paramref name="numCompletions"/>, not its <see cref="LmPrompt.NumCompletions"/>).</param>
    /// <param name="numCompletions">How many samples to produce.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    protected abstract Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(
        LmPrompt prompt, int numCompletions, CancellationToken cancellationToken);

    /// <summary>
    /// Asks the model for the new samples of one request. The default calls
    /// <see cref="PredictUncachedAsync(LmPrompt, int, CancellationToken)"/>; a provider that needs to know which sample
    /// numbers are wanted (<see cref="LmUncachedRequest.FirstSample"/>, for seeded sampling) overrides this instead.
    /// </summary>
    /// <param name="request">The prompt, how many samples, and the first sample's number.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    protected virtual Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(LmUncachedRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return PredictUncachedAsync(request.Prompt, request.NumCompletions, cancellationToken);
    }

    /// <summary>
    /// Runs the requests the cache could not answer and yields each result, in any order, as it arrives. The default
    /// runs <see cref="PredictUncachedAsync(LmPrompt, int, CancellationToken)"/> with up to <see cref="LanguageModelOptions.MaxConcurrency"/> requests at
    /// once, turning a failure of one request into a failed prediction for that request. Providers with a batch API
    /// supply a <see cref="BatchBackend"/> instead of overriding this.
    /// </summary>
    /// <param name="requests">The work, each distinct prompt once.</param>
    /// <param name="window">The caller's completion window.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    protected virtual async IAsyncEnumerable<LmUncachedResult> PredictManyUncachedAsync(
        IReadOnlyList<LmUncachedRequest> requests,
        CompletionWindow window,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        if (window == CompletionWindow.BatchAny && BatchBackend is { } backend)
        {
            var table = requests as IUncachedRequestTable ?? new UncachedRequestList(requests, cachedPrompts: 0);
            bool keyed = requests is PredictManyRun run ? run.HasKeyedRequests : requests.Any(r => r.CacheKey is not null);
            var spend = (requests as PredictManyRun)?.Spend;
            var orchestrator = new BatchOrchestrator(
                backend, keyed ? Cache : null, ModelIdentity, Options.Batch ?? new BatchOptions(), Logger, ModelInfo.Prices is null ? null : p => CostOf(p))
            {
                Telemetry = Telemetry,
                Spend = spend is null ? null : spend.Snapshot,
            };
            await foreach (var result in orchestrator.RunAsync(table, cancellationToken).ConfigureAwait(false))
            {
                yield return result;
            }

            yield break;
        }

        var channel = Channel.CreateUnbounded<LmUncachedResult>(new UnboundedChannelOptions { SingleReader = true });
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Options.MaxConcurrency, CancellationToken = cancellationToken };
        var producer = Task.Run(
            async () =>
            {
                try
                {
                    await Parallel.ForEachAsync(requests, parallel, async (request, token) =>
                    {
                        var predictions = await PredictOneForManyAsync(request, token).ConfigureAwait(false);
                        channel.Writer.TryWrite(new LmUncachedResult(request.Index, predictions));
                    }).ConfigureAwait(false);
                    channel.Writer.TryComplete();
                }
                catch (Exception e)
                {
                    channel.Writer.TryComplete(e);
                }
            },
            CancellationToken.None);

        await foreach (var result in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return result;
        }

        await producer.ConfigureAwait(false);
    }

    /// <summary>
    /// The provider's batch API, used by <see cref="PredictManyAsync"/> for <see cref="CompletionWindow.BatchAny"/>; null
    /// (the default) when the model has none, in which case batch runs use concurrent single requests.
    /// </summary>
    protected virtual IBatchBackend? BatchBackend => null;

    /// <summary>
    /// Asks the provider to cancel every batch of this model that the cache's journal lists as not yet collected
    /// (batches a crashed or stopped <c>PredictMany(…, BatchAny)</c> left running). The journal keeps them: a later
    /// <c>PredictMany</c> of the same prompts collects what the provider answered before the cancel (nothing is paid
    /// twice) and submits the rest again; <see cref="LmCache.ListBatchJobs"/> shows them until then.
    /// </summary>
    /// <param name="cancellationToken">Stops asking; batches already asked stay cancelled.</param>
    /// <returns>The provider ids of the batches asked to cancel; empty when the model has no batch API or none is pending.</returns>
    /// <exception cref="LmProviderException">The provider refused a cancel (other than for a batch it no longer has).</exception>
    public async Task<IReadOnlyList<string>> CancelPendingBatchesAsync(CancellationToken cancellationToken = default)
    {
        if (BatchBackend is not { } backend)
        {
            return [];
        }

        var cancelled = new List<string>();
        foreach (var job in Cache.ListBatchJobs())
        {
            if (job.ModelIdentity == ModelIdentity && job.Backend == backend.Name && job.ProviderId is { } id && job.PendingRequests > 0)
            {
                await backend.CancelAsync(id, cancellationToken).ConfigureAwait(false);
                cancelled.Add(id);
            }
        }

        return cancelled;
    }

    private async Task<IReadOnlyList<LmPrediction>> PredictOneForManyAsync(LmUncachedRequest request, CancellationToken token)
    {
        // The run counts the spend when it stores the answer; this call is the request's activity and duration.
        using var call = Telemetry.StartCall(request.Prompt, spend: null);
        try
        {
            call.Sending();
            await WaitForRateLimitAsync(request.Prompt, request.NumCompletions, token).ConfigureAwait(false);
            var predictions = await PredictUncachedOrErrorAsync(request, token).ConfigureAwait(false);
            call.Received(predictions);
            call.Complete(predictions);
            return predictions;
        }
        catch (Exception e) when (call.Fail(e))
        {
            throw; // never reached: the filter only records the failure
        }
    }

    /// <summary>
    /// The one place an exception becomes data: what the provider refused or failed at (<see cref="LmProviderException"/>,
    /// rate limits included) is a failed prediction; anything else (a bad key, cancellation, a cache fault, a bug)
    /// propagates.
    /// </summary>
    private async Task<IReadOnlyList<LmPrediction>> PredictUncachedOrErrorAsync(LmUncachedRequest request, CancellationToken token)
    {
        var prompt = request.Prompt;
        if (Logger.IsEnabled(LogLevel.Trace))
        {
            LmLog.PromptSent(Logger, ModelIdentity, request.NumCompletions, prompt.GetTextAsStringDefaultForm());
        }

        try
        {
            return await PredictUncachedAsync(request, token).ConfigureAwait(false);
        }
        catch (LmProviderException e)
        {
            LmLog.RequestFailed(Logger, ModelIdentity, e.Error.Kind, e.Error.Message);
            return [LmPrediction.FromError(prompt, e.Error)];
        }
    }

    private async IAsyncEnumerable<LmPrediction> PredictManyCoreAsync(
        LmPrompt[] prompts, CompletionWindow window, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var run = new PredictManyRun(prompts, ModelIdentity, p => CacheFor(p) is not null, () => Cache) { Spend = new Costs.LmSpend(Spend) };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        LmLog.PredictManyPlanned(Logger, ModelIdentity, prompts.Length, run.Count, window);
        var signal = new DoneSignal();

        // The run's activity is current for the workers started below (an iterator's own context does not outlive a yield).
        var activity = Telemetry.StartMany(prompts.Length, run.Count, window);
        Telemetry.RecordCacheMisses(run.KeyedMissingSamples());

        // Two workers feed the loop below: the pump runs what the cache lacks, the decoder reads what it holds, a window
        // ahead of the caller.
        var pump = run.Count > 0
            ? Task.Run(() => PumpAsync(run, signal, window, cts.Token), CancellationToken.None)
            : window == CompletionWindow.BatchAny && BatchBackend is not null && prompts.Length > 0 && CacheFor(prompts[0]) is not null
                ? Task.Run(() => TidyBatchJournalAsync(cts.Token), CancellationToken.None)
                : Task.CompletedTask;
        var decoder = !run.HasCachedSamples ? Task.CompletedTask : Task.Run(
            async () =>
            {
                try
                {
                    await run.DecodeCachedAsync(Cache, signal, cts.Token, RefetchRemovedSampleAsync).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    signal.Fail(e);
                }
            },
            CancellationToken.None);
        bool allYielded = false;
        try
        {
            for (int i = 0; i < prompts.Length; i++)
            {
                if (!run.IsReady(i))
                {
                    int waitingFor = i;
                    await signal.WaitUntilAsync(() => run.IsReady(waitingFor), cancellationToken).ConfigureAwait(false);
                }

                var prediction = run.Assemble(i, out bool firstOfGroup);
                if (firstOfGroup)
                {
                    Telemetry.RecordCached(prediction, run.Spend);
                }

                yield return prediction;
            }

            allYielded = true;
        }
        finally
        {
            // A caller that stopped early stops the provider. One that took every answer lets the provider finish what
            // follows its last answer (a batch backend deletes the batch and its journal entry) instead of cancelling it.
            if (!allYielded)
            {
                await cts.CancelAsync().ConfigureAwait(false);
            }

            try
            {
                await pump.ConfigureAwait(false);
                await decoder.ConfigureAwait(false);
            }
            finally
            {
                ModelTelemetry.EndMany(activity, run.Spend.Snapshot(), signal.Failure);
            }
        }
    }

    /// <summary>
    /// Deletes, at the provider, the batches and files of this model that earlier runs left behind once all their answers
    /// are in the cache (a run killed between caching the answers and cleaning up), and their journal rows.
    /// <c>PredictMany(…, BatchAny)</c> does this itself; call it when a run has nothing left to ask (the <c>lmwrapper</c>
    /// command does on a finished output). Batches whose answers are not all cached are left alone. A failure is logged,
    /// never thrown.
    /// </summary>
    /// <param name="cancellationToken">Stops the clean-up; the next batch run tries again.</param>
    public Task CleanUpFinishedBatchesAsync(CancellationToken cancellationToken = default) =>
        BatchBackend is null ? Task.CompletedTask : TidyBatchJournalAsync(cancellationToken);

    /// <summary>
    /// A batch run whose every answer is cached sends nothing, but a batch an earlier, killed run submitted may still be in
    /// the journal (its answers were cached before the kill, its provider batch and files not yet deleted): the batch
    /// orchestration over no requests deletes such batches at the provider and their journal rows. A failure here is
    /// logged, never thrown: the answers are all in hand, and the next batch run tries again.
    /// </summary>
    private async Task TidyBatchJournalAsync(CancellationToken token)
    {
        try
        {
            if (Cache.PendingBatchCount() == 0)
            {
                return;
            }

            var orchestrator = new BatchOrchestrator(BatchBackend!, Cache, ModelIdentity, Options.Batch ?? new BatchOptions(), Logger);
            await foreach (var _ in orchestrator.RunAsync(new UncachedRequestList(Array.Empty<LmUncachedRequest>(), cachedPrompts: 0), token).ConfigureAwait(false))
            {
            }
        }
        catch (Exception e)
        {
            LmLog.LeftBatchesCleanupFailed(Logger, e, ModelIdentity);
        }
    }

    /// <summary>
    /// One sample that another process removed from the cache while a PredictMany run was reading it: predicted again
    /// (from the cache when someone stored it anew, else from the model, and stored).
    /// </summary>
    private async Task<LmPrediction> RefetchRemovedSampleAsync(LmPrompt prompt, int sample, CancellationToken cancellationToken)
    {
        LmLog.CachedSampleRemovedDuringRun(Logger, ModelIdentity);
        var all = await PredictAsync(prompt, cancellationToken).ConfigureAwait(false);
        return all.HasErrors || prompt.NumCompletions == 1 ? all : all.Completions[sample];
    }

    private async Task PumpAsync(PredictManyRun run, DoneSignal signal, CompletionWindow window, CancellationToken token)
    {
        // Results that are already waiting (a finished batch file, a burst of fast answers) are stored in one
        // transaction; each request is marked done only after its samples are in the cache, so a crash never loses
        // an answer the caller has seen.
        // A transaction also closes after MaxGatherTime: answers that keep arriving (fast immediate requests) would otherwise
        // be gathered until the burst ends, and a crash meanwhile would lose every one of them although each was paid for.
        const int MaxPerTransaction = 4096;
        var maxGatherTime = TimeSpan.FromMilliseconds(50);
        var ready = new List<LmUncachedResult>();
        var toStore = new List<(CacheKey, int, byte[])>();
        try
        {
            var results = PredictManyUncachedAsync(run, window, token).GetAsyncEnumerator(token);
            await using (results.ConfigureAwait(false))
            {
                bool more = await results.MoveNextAsync().ConfigureAwait(false);
                while (more)
                {
                    ready.Clear();
                    toStore.Clear();
                    ValueTask<bool> next;
                    long gatherStart = System.Diagnostics.Stopwatch.GetTimestamp();
                    do
                    {
                        var result = results.Current;
                        if ((uint)result.Index >= (uint)run.Count)
                        {
                            throw new InvalidOperationException($"{GetType().Name} returned a result for request {result.Index}, which does not exist.");
                        }

                        if (run.TryClaim(result.Index))
                        {
                            CheckCount(result.Predictions, run.NumCompletionsAt(result.Index));
                            run.Fill(result.Index, result.Predictions, toStore);
                            Telemetry.RecordFresh(result.Predictions, run.Spend);
                            ready.Add(result);
                        }

                        next = results.MoveNextAsync();
                    }
                    while (next.IsCompleted && ready.Count < MaxPerTransaction
                        && System.Diagnostics.Stopwatch.GetElapsedTime(gatherStart) < maxGatherTime && (more = next.Result));

                    Store(toStore);
                    foreach (var result in ready)
                    {
                        result.OnStored?.Invoke();
                        run.MarkDone(result.Index);
                    }

                    signal.Pulse();

                    if (more)
                    {
                        more = await next.ConfigureAwait(false);
                    }
                }
            }

            if (run.FirstUndone() is int unanswered and >= 0)
            {
                signal.Fail(new InvalidOperationException(
                    $"{GetType().Name} finished without answering every prompt (one was: \"{Shorten(run.PromptAt(unanswered))}\")."));
            }
        }
        catch (Exception e)
        {
            signal.Fail(e); // every prompt not yet answered fails with it
        }
    }

    /// <summary>Checks that a provider returned the samples asked for, or one failed prediction standing for all.</summary>
    private void CheckCount(IReadOnlyList<LmPrediction>? predictions, int expected)
    {
        if (predictions is null)
        {
            throw new InvalidOperationException($"{GetType().Name} returned null predictions.");
        }

        if (predictions.Count != expected && !(predictions.Count == 1 && predictions[0].HasErrors))
        {
            throw new InvalidOperationException(
                $"{GetType().Name} returned {predictions.Count} predictions where {expected} were asked for.");
        }
    }

    private void Store(List<(CacheKey, int, byte[])> toStore)
    {
        if (toStore.Count > 0)
        {
            Cache.Store(ModelIdentity, toStore);
        }
    }

    private ValueTask WaitForRateLimitAsync(LmPrompt prompt, int numCompletions, CancellationToken cancellationToken)
    {
        long tokens = RateLimiter.TokensPerMinute is null
            ? 0
            : EstimateTokensInPrompt(prompt) + ((long)(prompt.MaxTokens ?? DefaultTokensGenerated) * numCompletions);
        return RateLimiter.WaitAsync(tokens, cancellationToken);
    }

    // A prompt that asks for internals is never cached: tensors are not stored, so a cached answer would lack them.
    private LmCache? CacheFor(LmPrompt prompt) => prompt.Internals is null && (prompt.Cache ?? Options.CacheByDefault) ? Cache : null;

    private static LmPrompt DefaultPrompt(string text) => new(text) { MaxTokens = 100 };

    private static string Shorten(LmPrompt p)
    {
        var s = p.GetTextAsStringDefaultForm();
        return s.Length <= 60 ? s : s[..60] + "…";
    }
}
