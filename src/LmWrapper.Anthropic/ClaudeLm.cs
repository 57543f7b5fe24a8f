using System.Collections.Concurrent;
using System.Text.Json;
using LmWrapper.Anthropic.Internal;
using LmWrapper.Batching;
using Microsoft.Extensions.Logging;
using LmWrapper.Retry;

namespace LmWrapper.Anthropic;

/// <summary>
/// Claude over Anthropic's Messages API, behind LmWrapper's one interface (the Python lmwrapper's
/// <c>get_claude_lm</c>). Get one with <see cref="Get(ClaudeModelInfo, string?, ClaudeOptions?)"/>.
/// </summary>
/// <remarks>
/// <para>
/// A prompt maps to one request: a system turn becomes <c>system</c>; user and assistant turns become <c>messages</c>
/// in order (a last assistant turn is a prefill Claude continues); plain text is one user turn. <see cref="LmPrompt.MaxTokens"/>
/// (or the model's <see cref="ClaudeModelInfo.DefaultMaxTokens"/>), <see cref="LmPrompt.Temperature"/> (0–1 for Claude),
/// <see cref="LmPrompt.TopP"/> and <see cref="LmPrompt.Stop"/> map to <c>max_tokens</c>, <c>temperature</c>,
/// <c>top_p</c> and <c>stop_sequences</c>; <see cref="LmPrompt.NumCompletions"/> &gt; 1 sends that many requests, each
/// sample cached on its own. Whatever Claude cannot honour (logprobs beyond the default, echo, penalties, a seed, tool
/// turns, turns that do not alternate) is an <see cref="LmPromptException"/> before anything is sent.
/// </para>
/// <para>
/// A prediction's <see cref="LmPrediction.FinishReason"/> is Claude's <c>stop_reason</c> ("end_turn", "max_tokens",
/// "stop_sequence", …); <see cref="LmPrediction.ProviderData"/> holds "id", "model", "stop_sequence", "request_id",
/// "input_tokens" (Claude's own, without cache), "cache_creation_input_tokens", "cache_read_input_tokens" and
/// "service_tier". <see cref="LmPrediction.Usage"/> counts every prompt token in <see cref="LmUsage.InputTokens"/>.
/// Claude returns no logprobs, so those properties say they are unavailable.
/// </para>
/// <para>
/// <see cref="CompletionWindow.BatchAny"/> runs through Anthropic's Message Batches API at half price: each batch request's
/// <c>params</c> is the body a single call would send, with one request per sample. Batches are resumable (a rerun
/// reattaches to the batches an earlier run submitted), split at 100,000 requests or 256 MB, resubmitted when requests
/// expire, are canceled or fail in passing, and deleted at Anthropic once their results are cached. Batch predictions
/// carry "batch_id" in <see cref="LmPrediction.ProviderData"/>. Anthropic also caps the batch requests waiting in an
/// organisation's queue (100,000 at the first usage tier): LmWrapper keeps its own under that by default; on a higher
/// tier raise it with <see cref="Batching.BatchOptions.Limits"/> (<see cref="Batching.BatchLimits.MaxEnqueuedTokens"/>
/// counts requests for Claude).
/// </para>
/// </remarks>
public sealed class ClaudeLm : LanguageModel
{
    private readonly AnthropicHttp _http;
    private readonly ClaudeOptions _options;
    private readonly ConcurrentDictionary<string, int> _tokenCounts = new(StringComparer.Ordinal);
    private readonly ClaudeBatchBackend _batches;

    private ClaudeLm(ClaudeModelInfo model, string apiKey, string keySource, ClaudeOptions options)
        : base(options.ModelOptions)
    {
        options.Retry.Validate();
        ArgumentException.ThrowIfNullOrWhiteSpace(options.AnthropicVersion, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.RequestTimeout, TimeSpan.Zero, nameof(options));
        Info = model;
        _options = options;
        ApiKeySource = keySource;
        string? fromEnvironment = (options.GetEnvironmentVariable ?? Environment.GetEnvironmentVariable)(ClaudeOptions.BaseUrlEnvironmentVariable);
        var baseUrl = options.BaseUrl
            ?? (string.IsNullOrWhiteSpace(fromEnvironment) ? ClaudeOptions.DefaultBaseUrl : new Uri(fromEnvironment, UriKind.RelativeOrAbsolute));
        if (!baseUrl.IsAbsoluteUri)
        {
            throw new ArgumentException($"BaseUrl must be an absolute URL, but was \"{baseUrl}\".", nameof(options));
        }

        string trimmed = baseUrl.AbsoluteUri.TrimEnd('/');
        BaseUrl = new Uri(trimmed + "/");
        ModelIdentity = BaseUrl == new Uri(ClaudeOptions.DefaultBaseUrl.AbsoluteUri.TrimEnd('/') + "/")
            ? "anthropic/" + model.Name
            : $"anthropic/{model.Name}@{trimmed}";
        _http = new AnthropicHttp(BaseUrl, apiKey, keySource, options, Logger, RateLimiter);
        _batches = new ClaudeBatchBackend(_http, model, BaseUrl, options.Retry, Logger);
    }

    /// <summary>
    /// Gets a Claude model. The API key is, in order: <paramref name="apiKey"/>, the <c>ANTHROPIC_API_KEY</c> environment
    /// variable, the file <c>~/anthropic_key.txt</c>.
    /// </summary>
    /// <param name="model">The model (see <see cref="ClaudeModelNames"/>).</param>
    /// <param name="apiKey">The API key, or null to look it up.</param>
    /// <param name="options">Settings (base URL, retries, cache, …); null for the defaults.</param>
    /// <exception cref="LmAuthenticationException">No key was found; the message says where LmWrapper looked.</exception>
    public static ClaudeLm Get(ClaudeModelInfo model, string? apiKey = null, ClaudeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new ClaudeOptions();
        var (key, source) = ApiKeyResolver.Resolve(apiKey, options);
        return new ClaudeLm(model, key, source, options);
    }

    /// <summary>Gets a Claude model by its API name (built in, or added with <see cref="ClaudeModelNames.Register"/>).</summary>
    /// <param name="modelName">The model's API name, such as "claude-3-5-haiku-20241022".</param>
    /// <param name="apiKey">The API key, or null to look it up.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">The name is unknown.</exception>
    /// <exception cref="LmAuthenticationException">No key was found.</exception>
    public static ClaudeLm Get(string modelName, string? apiKey = null, ClaudeOptions? options = null) =>
        Get(ClaudeModelNames.Get(modelName), apiKey, options);

    /// <summary>The model's data (name, limits, prices).</summary>
    public ClaudeModelInfo Info { get; }

    /// <summary>The model's API name.</summary>
    public string ModelName => Info.Name;

    /// <summary>The API's address this model talks to (ending in a slash).</summary>
    public Uri BaseUrl { get; }

    /// <summary>Where the API key came from ("the apiKey argument", "the ANTHROPIC_API_KEY environment variable", "the file …"); never the key.</summary>
    public string ApiKeySource { get; }

    /// <summary>"anthropic/&lt;model&gt;", plus "@&lt;base URL&gt;" when the API is not Anthropic's own.</summary>
    public override string ModelIdentity { get; }

    /// <inheritdoc/>
    public override int TokenLimit => Info.ContextWindow;

    /// <inheritdoc/>
    public override bool IsChatModel => true;

    /// <summary>The model's <see cref="ClaudeModelInfo.DefaultMaxTokens"/>, sent as <c>max_tokens</c> when a prompt leaves it unset.</summary>
    public override int DefaultTokensGenerated => Info.DefaultMaxTokens;

    /// <summary>
    /// The prompt's input tokens: exact from the count-tokens endpoint when <see cref="ClaudeOptions.CountTokensOnline"/>
    /// and it answers, otherwise the offline estimate. Never throws for a network failure.
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    /// <exception cref="LmPromptException">The prompt's dialog is one Claude rejects.</exception>
    public override int EstimateTokensInPrompt(LmPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (!_options.CountTokensOnline)
        {
            return EstimateTokensOffline(prompt).InputTokens;
        }

        return CountTokensAsync(prompt, CancellationToken.None).GetAwaiter().GetResult().InputTokens;
    }

    /// <summary>LmWrapper's offline estimate of the prompt's input tokens (no request; <see cref="ClaudeTokenCount.IsEstimate"/> is true).</summary>
    /// <param name="prompt">The prompt.</param>
    /// <exception cref="LmPromptException">The prompt's dialog is one Claude rejects.</exception>
    public static ClaudeTokenCount EstimateTokensOffline(LmPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var request = ClaudeRequest.FromPrompt(prompt);
        return new ClaudeTokenCount(TokenEstimator.Estimate(request.System, request.Messages), IsEstimate: true);
    }

    /// <summary>Counts the prompt's input tokens. The synchronous twin of <see cref="CountTokensAsync"/>.</summary>
    /// <param name="prompt">The prompt.</param>
    public ClaudeTokenCount CountTokens(LmPrompt prompt) => CountTokensAsync(prompt, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// Counts the prompt's input tokens with the count-tokens endpoint (exact; remembered per distinct dialog, by hash, for
    /// the life of this model). When the endpoint cannot be reached, is overloaded or rate limited, the offline estimate comes
    /// back instead, with <see cref="ClaudeTokenCount.IsEstimate"/> set (and is not remembered). No retries: counting is
    /// advice, and waiting on it would defeat its purpose.
    /// </summary>
    /// <param name="prompt">The prompt (only its dialog matters).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="LmPromptException">The prompt's dialog is one Claude rejects.</exception>
    /// <exception cref="LmAuthenticationException">The API rejected the key.</exception>
    public async Task<ClaudeTokenCount> CountTokensAsync(LmPrompt prompt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var request = ClaudeRequest.FromPrompt(prompt);
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(request.ToCountTokensBody(Info));
        string key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(body));
        if (_tokenCounts.TryGetValue(key, out int known))
        {
            return new ClaudeTokenCount(known, IsEstimate: false);
        }

        try
        {
            var response = await _http.SendAsync(HttpMethod.Post, "v1/messages/count_tokens", body, LmRetryPolicy.None, cancellationToken).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(response.Body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("input_tokens", out var n) && n.TryGetInt32(out int count))
            {
                _tokenCounts[key] = count;
                return new ClaudeTokenCount(count, IsEstimate: false);
            }

            Logger.LogWarning("{Model}: the count-tokens endpoint answered without input_tokens; using the offline estimate.", ModelIdentity);
        }
        catch (Exception e) when (e is ClaudeApiException or LmRateLimitException or JsonException)
        {
            Logger.LogInformation("{Model}: counting tokens online failed ({Reason}); using the offline estimate.", ModelIdentity, e.Message);
        }

        return new ClaudeTokenCount(TokenEstimator.Estimate(request.System, request.Messages), IsEstimate: true);
    }

    /// <summary>
    /// What a prediction cost in US dollars, from its usage and <see cref="Info"/>'s prices (prompt-cache reads and writes
    /// included). Zero for a cached prediction (it cost nothing this time) or one without usage.
    /// </summary>
    /// <param name="prediction">A prediction of this model (with <see cref="LmPrediction.Completions"/>, all samples are added).</param>
    /// <param name="batch">
    /// Whether it went through the Message Batches API (billed with <see cref="ClaudeModelInfo.BatchDiscount"/> off); null
    /// (the default) tells from each sample: those with "batch_id" in <see cref="LmPrediction.ProviderData"/> came from a batch.
    /// </param>
    public decimal GetCost(LmPrediction prediction, bool? batch = null)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        decimal total = 0;
        foreach (var p in prediction.Completions)
        {
            if (p.WasCached || p.Usage is null)
            {
                continue;
            }

            int cacheWrite = p.ProviderData is { } d && d.TryGetValue("cache_creation_input_tokens", out var s)
                && int.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out int w) ? w : 0;
            bool fromBatch = batch ?? (p.ProviderData?.ContainsKey("batch_id") ?? false);
            total += Info.CostOf(p.Usage, cacheWrite, fromBatch);
        }

        return total;
    }

    /// <summary>
    /// The most a prompt can cost before it runs, in US dollars: its input tokens (see
    /// <see cref="EstimateTokensInPrompt"/>) plus <see cref="LmPrompt.MaxTokens"/> (or the default) output tokens, for
    /// each of <see cref="LmPrompt.NumCompletions"/>; half of that for <see cref="CompletionWindow.BatchAny"/>. Cached
    /// answers are not subtracted.
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="window">How it will be sent.</param>
    /// <exception cref="LmPromptException">The prompt is invalid for this model.</exception>
    public decimal EstimateMaxCost(LmPrompt prompt, CompletionWindow window = CompletionWindow.Asap)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ValidatePrompt(prompt);
        int input = EstimateTokensInPrompt(prompt);
        int output = prompt.MaxTokens ?? Info.DefaultMaxTokens;
        return prompt.NumCompletions * Info.CostOf(new LmUsage(input, output), 0, window == CompletionWindow.BatchAny);
    }

    /// <inheritdoc/>
    protected override void ValidatePrompt(LmPrompt prompt)
    {
        base.ValidatePrompt(prompt);
        ClaudeRequest.ValidateSettings(prompt, Info);
        _ = ClaudeRequest.FromPrompt(prompt);
    }

    /// <inheritdoc/>
    protected override async Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(
        LmPrompt prompt, int numCompletions, CancellationToken cancellationToken)
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(ClaudeRequest.FromPrompt(prompt).ToMessagesBody(prompt, Info));
        if (numCompletions == 1)
        {
            return [await SendOneAsync(prompt, body, cancellationToken).ConfigureAwait(false)];
        }

        // Claude samples one completion per request: send them side by side, at most MaxConcurrency at once.
        var samples = new LmPrediction[numCompletions];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Options.MaxConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, numCompletions), parallel, async (i, token) =>
            samples[i] = await SendOneAsync(prompt, body, token).ConfigureAwait(false)).ConfigureAwait(false);
        var rejected = Array.Find(samples, s => s.HasErrors);
        return rejected is null ? samples : [rejected];
    }

    /// <summary>The Message Batches API, used by <see cref="CompletionWindow.BatchAny"/>.</summary>
    protected override IBatchBackend BatchBackend => _batches;

    /// <inheritdoc/>
    protected override decimal? PredictionCost(LmPrediction prediction) => GetCost(prediction);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _http.Dispose();
        }

        base.Dispose(disposing);
    }

    private async Task<LmPrediction> SendOneAsync(LmPrompt prompt, byte[] body, CancellationToken cancellationToken)
    {
        AnthropicResponse response;
        try
        {
            response = await _http.SendAsync(HttpMethod.Post, "v1/messages", body, _options.Retry, cancellationToken).ConfigureAwait(false);
        }
        catch (ClaudeApiException e) when (e.IsPermanentRejection)
        {
            // The API refused this request for good (a prompt over the context window, …): a failed prediction, cached
            // so a rerun does not pay again.
            return LmPrediction.FromError(prompt, e.Message, permanent: true);
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(response.Body);
        }
        catch (JsonException e)
        {
            throw new ClaudeApiException($"The Anthropic API answered a body that is not JSON: {e.Message}", response.StatusCode, requestId: response.RequestId, innerException: e);
        }

        using (doc)
        {
            return ClaudeResponseParser.Parse(doc.RootElement, prompt, response.RequestId);
        }
    }
}
