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
/// sample cached on its own. Whatever Claude cannot honour (logprobs beyond the default, echo, penalties, a seed, a tool
/// turn that answers no call, turns that do not alternate) is an <see cref="LmPromptException"/> before anything is sent.
/// <see cref="LmPrompt.Tools"/> and <see cref="LmPrompt.ToolChoice"/> map to <c>tools</c> and <c>tool_choice</c>
/// (auto, none, any, tool); <c>tool_use</c> blocks come back as <see cref="LmPrediction.ToolCalls"/> (finish reason
/// "tool_use"), an assistant turn's tool calls go back as <c>tool_use</c> blocks (after its signed thinking) and tool
/// results as <c>tool_result</c> blocks of one user message. <see cref="LmPrompt.ResponseFormat"/> is a forced tool
/// whose input schema is the format's: its input is the prediction's <see cref="LmPrediction.CompletionText"/>.
/// <see cref="LmPrompt.ThinkingBudgetTokens"/> turns on extended thinking (<c>thinking.budget_tokens</c>) on models that
/// have it (<see cref="ClaudeModelInfo.SupportsExtendedThinking"/>), with the API's rules checked first; the signed
/// thinking comes back on <see cref="LmPrediction.ReasoningBlocks"/> and goes back with a reply's assistant turn.
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
    private readonly ConcurrentDictionary<string, int> _tokenCounts = new(StringComparer.Ordinal);
    private readonly ClaudeBatchBackend _batches;

    private ClaudeLm(ClaudeModelInfo model, LmApiKey apiKey, ClaudeOptions options)
        : base(options.ResolveModelOptions())
    {
        options.ValidateShared();
        if (string.IsNullOrWhiteSpace(options.AnthropicVersion))
        {
            throw new ArgumentException(
                $"AnthropicVersion (the anthropic-version header) must not be empty; leave it unset for the default \"{new ClaudeOptions().AnthropicVersion}\".",
                nameof(ClaudeOptions.AnthropicVersion));
        }

        LmApiKey.CheckHeaderValue(options.AnthropicVersion, nameof(ClaudeOptions.AnthropicVersion));
        Info = model;
        ApiKeySource = apiKey.Source;
        string? fromEnvironment = options.Environment(ClaudeOptions.BaseUrlEnvironmentVariable);
        string setting = options.BaseUrl is null && fromEnvironment is not null ? ClaudeOptions.BaseUrlEnvironmentVariable : nameof(options.BaseUrl);
        Uri? baseUrl = options.BaseUrl;
        if (baseUrl is null && fromEnvironment is not null && !Uri.TryCreate(fromEnvironment, UriKind.Absolute, out baseUrl))
        {
            throw new ArgumentException($"{setting} must be an absolute http(s) URL such as \"{ClaudeOptions.DefaultBaseUrl}\", but was \"{LmApiKey.WithoutCredentials(fromEnvironment)}\".", setting);
        }

        baseUrl ??= ClaudeOptions.DefaultBaseUrl;
        if (!baseUrl.IsAbsoluteUri || (baseUrl.Scheme != Uri.UriSchemeHttp && baseUrl.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"{setting} must be an absolute http(s) URL such as \"{ClaudeOptions.DefaultBaseUrl}\", but was \"{LmApiKey.WithoutCredentials(baseUrl.OriginalString)}\".", setting);
        }

        string trimmed = baseUrl.AbsoluteUri.TrimEnd('/');
        BaseUrl = new Uri(trimmed + "/");
        ModelIdentity = BaseUrl == new Uri(ClaudeOptions.DefaultBaseUrl.AbsoluteUri.TrimEnd('/') + "/")
            ? "anthropic/" + model.Name
            : $"anthropic/{model.Name}@{trimmed}";
        _http = new AnthropicHttp(BaseUrl, apiKey, options, Logger, RateLimiter, this);
        _batches = new ClaudeBatchBackend(_http, model, BaseUrl, Logger);
    }

    /// <summary>
    /// Gets a Claude model. The API key is, in order: <paramref name="apiKey"/>, the <c>ANTHROPIC_API_KEY</c> environment
    /// variable, the file <c>~/anthropic_key.txt</c>.
    /// </summary>
    /// <param name="model">The model (see <see cref="ClaudeModelNames"/>).</param>
    /// <param name="apiKey">The API key, or null to look it up.</param>
    /// <param name="options">Settings (base URL, retries, cache, …); null for the defaults.</param>
    /// <exception cref="LmAuthenticationException">No key was found, or the key holds a control character; the message says where LmWrapper looked.</exception>
    /// <exception cref="ArgumentException">A setting is invalid (the base URL is not http(s), <see cref="ClaudeOptions.AnthropicVersion"/> is empty, …); the message names it.</exception>
    public static ClaudeLm Get(ClaudeModelInfo model, string? apiKey = null, ClaudeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new ClaudeOptions();
        var key = LmApiKey.Resolve(apiKey, "Anthropic", "ANTHROPIC_API_KEY", "anthropic_key.txt", "https://console.anthropic.com/settings/keys", options);
        return new ClaudeLm(model, key, options);
    }

    /// <summary>Gets a Claude model by its API name (built in, or added with <see cref="ClaudeModelNames.Register"/>).</summary>
    /// <param name="modelName">The model's API name, such as "claude-3-5-haiku-20241022".</param>
    /// <param name="apiKey">The API key, or null to look it up.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">The name is unknown.</exception>
    /// <exception cref="LmAuthenticationException">No key was found.</exception>
    public static ClaudeLm Get(string modelName, string? apiKey = null, ClaudeOptions? options = null) =>
        Get(ClaudeModelNames.Get(modelName), apiKey, options);

    /// <summary>What LmWrapper knows of this Claude model: name, limits, prices (<see cref="ModelInfo"/> is the provider-neutral view).</summary>
    public ClaudeModelInfo Info { get; }

    /// <inheritdoc/>
    public override LmModelInfo ModelInfo => new(
        Info.Name,
        Info.ContextWindow,
        Info.MaxOutputTokens,
        new Costs.LmTokenPrices(Info.InputPricePerMillion, Info.OutputPricePerMillion, Info.CacheReadPricePerMillion, Info.BatchDiscount)
        {
            CacheWritePerMillion = Info.CacheWritePricePerMillion,
        },
        LmCapabilities.Chat | LmCapabilities.Prefill | LmCapabilities.Batch | LmCapabilities.Tools | LmCapabilities.StructuredOutput
        | (Info.SupportsExtendedThinking ? LmCapabilities.ThinkingBudget : LmCapabilities.None)
        | (Info.SupportsVision ? LmCapabilities.Vision : LmCapabilities.None));

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
    /// The prompt's input tokens, estimated offline (no request: the rate limiter calls this for every request). For the
    /// exact count ask the count-tokens endpoint with <see cref="CountTokensAsync"/>.
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    /// <exception cref="LmPromptException">The prompt's dialog is one Claude rejects.</exception>
    public override int EstimateTokensInPrompt(LmPrompt prompt) => EstimateTokensOffline(prompt).InputTokens;

    /// <summary>
    /// The input tokens of one image by Claude's published rule: width x height / 750, after Claude scales the image down
    /// (keeping its aspect ratio) to at most 1568 px on its long edge and about 1,600 tokens. A URL image, whose size is
    /// unknown here, counts as 1,600.
    /// </summary>
    /// <param name="image">The image.</param>
    public int EstimateImageTokens(LmImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Images.ImageTokens.Claude(image.Width, image.Height);
    }

    /// <summary>LmWrapper's offline estimate of the prompt's input tokens (no request; <see cref="ClaudeTokenCount.IsEstimate"/> is true).</summary>
    /// <param name="prompt">The prompt.</param>
    /// <exception cref="LmPromptException">The prompt's dialog is one Claude rejects.</exception>
    public static ClaudeTokenCount EstimateTokensOffline(LmPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var request = ClaudeRequest.FromPrompt(prompt);

        // Tool definitions (and a response format's schema) are part of the prompt Claude reads: counted as their JSON text.
        string? tools = prompt.Tools is { } defined ? string.Concat(defined.Select(t => t.Name + t.Description + t.ParametersJson)) : null;
        tools = prompt.ResponseFormat?.SchemaJson is { } schema ? tools + schema : tools;
        var messages = tools is null ? request.Messages : [.. request.Messages, ("user", tools)];
        return new ClaudeTokenCount(TokenEstimator.Estimate(request.System, messages) + request.ImageTokens, IsEstimate: true);
    }

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
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(request.ToCountTokensBody(prompt, Info));
        string key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(body));
        if (_tokenCounts.TryGetValue(key, out int known))
        {
            return new ClaudeTokenCount(known, IsEstimate: false);
        }

        try
        {
            var response = await _http.SendAsync(
                _http.Call(HttpMethod.Post, "v1/messages/count_tokens", () => new ByteArrayContent(body)) with { Retry = LmRetryPolicy.None },
                cancellationToken).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(response.Body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("input_tokens", out var n) && n.TryGetInt32(out int count))
            {
                _tokenCounts[key] = count;
                return new ClaudeTokenCount(count, IsEstimate: false);
            }

            ClaudeLog.CountTokensWithoutCount(Logger, ModelIdentity);
        }
        catch (Exception e) when (e is LmProviderException or JsonException)
        {
            ClaudeLog.CountTokensFailed(Logger, ModelIdentity, e.Message);
        }

        return EstimateTokensOffline(prompt);
    }

    /// <summary>
    /// The offline estimate counts 3.5 characters per token, which over-counts text that Claude's tokenizer packs tighter:
    /// only a prompt estimated at 2.5 times the context window or more is refused as one that cannot fit.
    /// </summary>
    protected override double CannotFitFactor => 2.5;

    /// <summary>Claude samples one completion per request, each paying for the prompt.</summary>
    protected override bool SendsPromptPerSample => true;

    /// <summary>A sample's usage at the model's prices, with the tokens written to Claude's prompt cache at their price.</summary>
    /// <param name="sample">One fresh sample.</param>
    /// <param name="prices">The model's prices.</param>
    protected override decimal SampleCost(LmPrediction sample, Costs.LmTokenPrices prices)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(prices);
        int cacheWrite = sample.ProviderData is { } d && d.TryGetValue("cache_creation_input_tokens", out var s)
            && int.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out int w) ? w : 0;
        bool fromBatch = sample.ProviderData?.ContainsKey("batch_id") ?? false;
        return sample.Usage is { } usage ? prices.CostOf(usage, fromBatch, cacheWrite) : 0m;
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

    /// <summary>
    /// Streams the request's samples over the Messages API's server-sent events (<c>"stream": true</c>), one request per
    /// sample, one after another; each sample's final prediction is read from its reassembled message, as
    /// <c>PredictAsync</c> reads the whole one.
    /// </summary>
    /// <param name="request">The prompt and how many samples.</param>
    /// <param name="cancellationToken">Cancels the stream and closes the connection.</param>
    protected override async IAsyncEnumerable<LmStreamingUpdate> PredictUncachedStreamingAsync(
        LmUncachedRequest request, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var prompt = request.Prompt;
        var json = ClaudeRequest.FromPrompt(prompt).ToMessagesBody(prompt, Info);
        json["stream"] = true;
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(json);
        var call = _http.Call(HttpMethod.Post, "v1/messages", () => new ByteArrayContent(body)) with { UsesRateLimiter = true };
        for (int i = 0; i < request.NumCompletions; i++)
        {
            await using var stream = new ClaudeStream(_http.Pipeline, call, prompt, i, cancellationToken);
            while (await stream.NextAsync().ConfigureAwait(false) is { } update)
            {
                yield return update;
            }
        }
    }

    /// <summary>The Message Batches API, used by <see cref="CompletionWindow.BatchAny"/>.</summary>
    protected override IBatchBackend BatchBackend => _batches;

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
        var call = _http.Call(HttpMethod.Post, "v1/messages", () => new ByteArrayContent(body)) with { UsesRateLimiter = true };
        var response = await _http.SendAsync(call, cancellationToken).ConfigureAwait(false);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(response.Body);
        }
        catch (JsonException e)
        {
            throw ClaudeResponseParser.Malformed($"The Anthropic API answered a body that is not JSON: {e.Message}", response.RequestId, e);
        }

        using (doc)
        {
            return ClaudeResponseParser.Parse(doc.RootElement, prompt, response.RequestId);
        }
    }
}
