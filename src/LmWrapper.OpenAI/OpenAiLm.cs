using System.Buffers;
using System.Globalization;
using System.Text.Json;
using LmWrapper.Batching;
using LmWrapper.Costs;
using LmWrapper.Retry;
using Microsoft.Extensions.Logging;

namespace LmWrapper.OpenAI;

/// <summary>
/// An OpenAI model (or one on an OpenAI-compatible server): chat models through the Chat Completions API, completion
/// models (gpt-3.5-turbo-instruct, davinci-002, …) through the legacy Completions API, chosen from the model's
/// <see cref="OpenAiModelInfo"/>. Create one with <see cref="Get(string, string?, bool, OpenAiOptions?)"/>.
/// </summary>
/// <remarks>
/// <para>Every <see cref="LmPrompt"/> field is sent or refused: a field the model cannot honour (echo on a chat model,
/// temperature on a reasoning model, more top logprobs than the API gives, …) is an <see cref="LmPromptException"/>
/// before any request. <see cref="LmPrompt.Logprobs"/> = 1 (the default) asks for the chosen tokens' logprobs where the
/// model has them and is quietly skipped on reasoning models, which have none.</para>
/// <para>With <see cref="LmPrompt.NumCompletions"/> &gt; 1 the samples share one request; the first sample's
/// <see cref="LmPrediction.Usage"/> carries the prompt tokens and each carries its own output tokens, so the samples'
/// usages add up to what the request cost.</para>
/// <para>Rate limits (429), overloaded or failing servers (5xx, 408, 409) and dropped connections are retried per
/// <see cref="OpenAiOptions.RetryPolicy"/>, honouring retry-after-ms, retry-after and x-ratelimit-reset headers; while
/// one request of a model waits out a 429, the model's other requests wait too instead of earning more 429s.
/// A rejected request (400, 404, 422: context too long, unknown model, …) comes back as a failed prediction with
/// <see cref="LmPrediction.IsErrorPermanent"/>; a missing or rejected key throws <see cref="LmAuthenticationException"/>.
/// A refusal is a failed prediction too (<see cref="LmPrediction.ErrorMessage"/> says so and
/// <c>ProviderData["refusal"]</c> has the model's words); a content-filter stop has finish reason "content_filter".
/// <c>ProviderData</c> also keeps the response's id, model, system fingerprint, reasoning tokens and the
/// <c>x-request-id</c> header as "request_id" (what OpenAI support asks for).</para>
/// <para><c>PredictMany(…, CompletionWindow.BatchAny)</c> goes through OpenAI's Batch API at half the price (the request
/// bodies are exactly the single calls'; see <see cref="OpenAiModelInfo.BatchEnqueuedTokenLimit"/> for the token queue);
/// batch predictions carry "batch_id" in <c>ProviderData</c> and <see cref="CostOf"/> bills them at the batch discount.</para>
/// <para>It speaks HTTP and JSON itself rather than through the official OpenAI SDK: the SDK's <c>ChatClient</c> cannot
/// ask for several completions in one request (its <c>n</c> is internal), its legacy completions client is internal,
/// its own retry policy would stack on ours, and on loopback the direct path costs less per call.</para>
/// </remarks>
public sealed class OpenAiLm : LanguageModel
{
    private static readonly Lazy<SocketsHttpHandler> SharedHandler = new(() => new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        ConnectTimeout = TimeSpan.FromSeconds(30),
    });

    private readonly OpenAiOptions _options;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp; // our own HttpClient (over the shared or the given handler), which enforces RequestTimeout
    private readonly string? _explicitKey;
    private readonly Uri _chatUri;
    private readonly Uri _completionsUri;
    private readonly string _query;
    private readonly object _keyLock = new();
    private (string? Key, string Source)? _key;
    private OpenAiBatchBackend? _batches;

    private OpenAiLm(OpenAiModelInfo model, string? apiKey, bool retryOnRateLimit, OpenAiOptions options)
        : base(options.ModelOptions)
    {
        Model = model;
        _options = options;
        _explicitKey = apiKey;
        RetryOnRateLimit = retryOnRateLimit;
        string? fromEnvironment = (options.GetEnvironmentVariable ?? Environment.GetEnvironmentVariable)(OpenAiOptions.BaseUrlEnvironmentVariable);
        string given = options.BaseUrl ?? (string.IsNullOrWhiteSpace(fromEnvironment) ? OpenAiOptions.DefaultBaseUrl : fromEnvironment);
        if (!Uri.TryCreate(given, UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"BaseUrl must be an absolute http(s) URL such as \"{OpenAiOptions.DefaultBaseUrl}\", but was \"{given}\" (from {(options.BaseUrl is null ? OpenAiOptions.BaseUrlEnvironmentVariable : "OpenAiOptions.BaseUrl")}).", nameof(options));
        }

        // The identity (and BaseUrl) never carry user info or the query, which may hold credentials; the query (such as
        // Azure's api-version) is still sent with every request.
        string baseUrl = parsed.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped).TrimEnd('/');
        string query = parsed.Query;
        _query = query;
        BaseUrl = baseUrl;
        _chatUri = new Uri(baseUrl + "/chat/completions" + query);
        _completionsUri = new Uri(baseUrl + "/completions" + query);
        ModelIdentity = string.Equals(baseUrl, OpenAiOptions.DefaultBaseUrl, StringComparison.OrdinalIgnoreCase)
            ? "openai/" + model.Name
            : "openai/" + model.Name + "@" + baseUrl;
        if (options.HttpClient is { } client)
        {
            _http = client;
        }
        else
        {
            // A light HttpClient per model over a shared (or the given) handler: connections are pooled across models,
            // and the client's own timeout is the per-attempt limit, so a call needs no extra CancellationTokenSource.
            _http = new HttpClient(options.HttpMessageHandler ?? SharedHandler.Value, disposeHandler: false) { Timeout = options.RequestTimeout };
            _ownsHttp = true;
        }
    }

    /// <summary>The model's name, limits, tokenizer and prices.</summary>
    public OpenAiModelInfo Model { get; }

    /// <summary>The API base URL requests go to (ending in the version path, such as "/v1").</summary>
    public string BaseUrl { get; }

    /// <summary>Whether 429 rate-limit answers are retried (true) or thrown at once as <see cref="LmRateLimitException"/>.</summary>
    public bool RetryOnRateLimit { get; }

    /// <summary>"openai/&lt;model&gt;", plus "@&lt;base URL&gt;" for any endpoint but OpenAI's own.</summary>
    public override string ModelIdentity { get; }

    /// <inheritdoc/>
    public override int TokenLimit => Model.ContextWindow;

    /// <inheritdoc/>
    public override bool IsChatModel => Model.IsChatModel;

    /// <summary>Tokens generated when <see cref="LmPrompt.MaxTokens"/> is null: the context window / 16, at most the model's max output.</summary>
    public override int DefaultTokensGenerated => Math.Max(1, Math.Min(Model.ContextWindow / 16, Model.MaxOutputTokens));

    /// <summary>
    /// Gets a model by name (see <see cref="OpenAiModelNames"/>; other names once registered in <see cref="OpenAiModelRegistry"/>).
    /// </summary>
    /// <param name="modelName">The model name.</param>
    /// <param name="apiKey">The API key; null looks in OPENAI_API_KEY, then ~/oai_key.txt (at the first request).</param>
    /// <param name="retryOnRateLimit">Whether to wait and retry on 429 (true) or throw <see cref="LmRateLimitException"/> at once.</param>
    /// <param name="options">Endpoint, retries, HTTP and caching settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">The model is unknown.</exception>
    public static OpenAiLm Get(string modelName, string? apiKey = null, bool retryOnRateLimit = true, OpenAiOptions? options = null) =>
        Get(OpenAiModelRegistry.Get(modelName), apiKey, retryOnRateLimit, options);

    /// <summary>Gets a model described by <paramref name="model"/> (for models not in the registry).</summary>
    /// <param name="model">The model's description.</param>
    /// <param name="apiKey">The API key; null looks in OPENAI_API_KEY, then ~/oai_key.txt (at the first request).</param>
    /// <param name="retryOnRateLimit">Whether to wait and retry on 429 (true) or throw <see cref="LmRateLimitException"/> at once.</param>
    /// <param name="options">Endpoint, retries, HTTP and caching settings; null for the defaults.</param>
    public static OpenAiLm Get(OpenAiModelInfo model, string? apiKey = null, bool retryOnRateLimit = true, OpenAiOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        OpenAiTokenizers.CheckKnown(model.Encoding);
        return new OpenAiLm(model, apiKey, retryOnRateLimit, options ?? new OpenAiOptions());
    }

    /// <summary>How many tokens <paramref name="text"/> is in the model's encoding (no chat formatting).</summary>
    /// <param name="text">The text.</param>
    public int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return OpenAiTokenizers.Get(Model.Encoding).CountTokens(text);
    }

    /// <summary>
    /// The prompt's tokens as the model sees them: the text for a completion model (a chat prompt in its default
    /// string form); for a chat model each message's role, name and content plus OpenAI's formatting overhead (3 tokens
    /// per message, 1 per name, 3 to prime the reply).
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    public override int EstimateTokensInPrompt(LmPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var tokenizer = OpenAiTokenizers.Get(Model.Encoding);
        if (!Model.IsChatModel)
        {
            return tokenizer.CountTokens(prompt.GetTextAsStringDefaultForm());
        }

        int total = 3;
        foreach (var turn in prompt.GetTextAsChat())
        {
            total += 3 + tokenizer.CountTokens(turn.RoleName) + tokenizer.CountTokens(turn.Content);
            if (turn.Name is { } name)
            {
                total += 1 + tokenizer.CountTokens(name);
            }
        }

        return total;
    }

    /// <summary>What the prompt will cost before it runs: its input exactly (as estimated), its output at most.</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="batch">Whether it would go through the Batch API (at its discount).</param>
    /// <exception cref="InvalidOperationException">The model has no prices.</exception>
    public LmCostEstimate EstimateCost(LmPrompt prompt, bool batch = false)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var prices = Prices();
        int input = EstimateTokensInPrompt(prompt);
        int output = (prompt.MaxTokens ?? DefaultTokensGenerated) * prompt.NumCompletions;
        return new LmCostEstimate(input, output, prices.CostOf(new LmUsage(input, 0), batch), prices.CostOf(new LmUsage(0, output), batch));
    }

    /// <summary>
    /// What a prediction cost when it was made, in dollars, from its reported usage (all its completions; cached
    /// prompt tokens at their discount). A prediction served from LmWrapper's cache cost nothing this time
    /// (<see cref="LmPrediction.WasCached"/>) but reports what it cost originally.
    /// </summary>
    /// <param name="prediction">A prediction of this model.</param>
    /// <param name="batch">
    /// Whether it went through the Batch API (billed at the batch discount); null (the default) tells from each sample:
    /// those with "batch_id" in <see cref="LmPrediction.ProviderData"/> came from a batch.
    /// </param>
    /// <exception cref="InvalidOperationException">The model has no prices.</exception>
    public decimal CostOf(LmPrediction prediction, bool? batch = null)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        var prices = Prices();
        decimal total = 0;
        foreach (var p in prediction.Completions)
        {
            if (p.Usage is { } usage)
            {
                total += prices.CostOf(usage, batch ?? (p.ProviderData?.ContainsKey("batch_id") ?? false));
            }
        }

        return total;
    }

    /// <inheritdoc/>
    protected override void ValidatePrompt(LmPrompt prompt)
    {
        base.ValidatePrompt(prompt);
        var m = Model;
        if (prompt.Echo && !m.SupportsEcho)
        {
            throw new LmPromptException(
                m.IsChatModel
                    ? $"{m.Name} is a chat model and cannot echo the prompt; Echo needs a completion model such as {OpenAiModelNames.Davinci002}."
                    : $"{m.Name} cannot echo the prompt with its logprobs (OpenAI turned that off for it); use {OpenAiModelNames.Davinci002} or {OpenAiModelNames.Babbage002}.",
                nameof(LmPrompt.Echo));
        }

        if (prompt.MaxTokens > m.MaxOutputTokens)
        {
            throw new LmPromptException($"MaxTokens is {prompt.MaxTokens}, but {m.Name} generates at most {m.MaxOutputTokens} tokens.", nameof(LmPrompt.MaxTokens));
        }

        if (prompt.Logprobs > 1 && !m.SupportsLogprobs)
        {
            throw new LmPromptException($"{m.Name} returns no logprobs; set Logprobs to 0 or 1.", nameof(LmPrompt.Logprobs));
        }

        if (prompt.Logprobs > m.MaxTopLogprobs)
        {
            throw new LmPromptException($"Logprobs is {prompt.Logprobs}, but the {(m.IsChatModel ? "Chat Completions" : "Completions")} API returns at most {m.MaxTopLogprobs} alternatives per token.", nameof(LmPrompt.Logprobs));
        }

        if (prompt.Stop is { Count: > 4 })
        {
            throw new LmPromptException($"The OpenAI API takes at most 4 stop sequences, but the prompt has {prompt.Stop.Count}.", nameof(LmPrompt.Stop));
        }

        if (prompt.NumCompletions > 128)
        {
            throw new LmPromptException($"The OpenAI API gives at most 128 completions per request, but NumCompletions is {prompt.NumCompletions}.", nameof(LmPrompt.NumCompletions));
        }

        if (prompt.AddBosToken is not null || prompt.AddSpecialTokens is not null)
        {
            throw new LmPromptException("AddBosToken and AddSpecialTokens are for local models; the OpenAI API tokenizes prompts itself. Leave them null.",
                prompt.AddBosToken is not null ? nameof(LmPrompt.AddBosToken) : nameof(LmPrompt.AddSpecialTokens));
        }

        if (m.IsChatModel && prompt.Chat is { } chat && chat.Any(t => t.Role == LmChatRole.Tool))
        {
            throw new LmPromptException("Tool turns need the tool call they answer (tool_call_id), which LmPrompt does not carry; OpenAiLm does not support them yet.", nameof(LmPrompt.Chat));
        }

        if (m.IsReasoningModel)
        {
            string? field = prompt.Temperature != 1 ? nameof(LmPrompt.Temperature)
                : prompt.TopP != 1 ? nameof(LmPrompt.TopP)
                : prompt.PresencePenalty != 0 ? nameof(LmPrompt.PresencePenalty)
                : prompt.FrequencyPenalty != 0 ? nameof(LmPrompt.FrequencyPenalty)
                : prompt.Stop is { Count: > 0 } ? nameof(LmPrompt.Stop)
                : null;
            if (field is not null)
            {
                throw new LmPromptException($"{m.Name} is a reasoning model: it takes only the default temperature and top_p, and no penalties or stop sequences, so {field} cannot be honoured.", field);
            }
        }
    }

    /// <inheritdoc/>
    protected override async Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(LmPrompt prompt, int numCompletions, CancellationToken cancellationToken)
    {
        string authorization = AuthorizationValue();
        int maxTokens = prompt.MaxTokens ?? DefaultTokensGenerated;
        string? promptText = Model.IsChatModel ? null : prompt.GetTextAsStringDefaultForm();
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteBody(writer, Model, prompt, numCompletions, maxTokens);
        }

        var body = buffer.WrittenMemory;
        var uri = promptText is null ? _chatUri : _completionsUri;
        var policy = _options.RetryPolicy;
        TimeSpan waited = TimeSpan.Zero;
        for (int attempt = 0; ; attempt++)
        {
            string failure;
            TimeSpan? hint = null;
            bool rateLimited = false;
            var wait = RateLimiter.RemainingPause;
            if (wait > TimeSpan.Zero)
            {
                // Another request of this model was told to wait: sending now would only earn another 429.
                if (waited + wait > policy.MaxTotalWait)
                {
                    throw new LmRateLimitException($"OpenAI rate limit for {Model.Name}: the model is paused for {wait.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s more, past the retry budget.", wait);
                }

                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                waited += wait;
            }

            using (var request = new HttpRequestMessage(HttpMethod.Post, uri))
            {
                request.Content = new ReadOnlyMemoryContent(body);
                request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
                AddHeaders(request, authorization);
                using var timeout = _ownsHttp ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout?.CancelAfter(_options.RequestTimeout);
                var token = timeout?.Token ?? cancellationToken;
                try
                {
                    using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, token).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        // The body is fully read by now (a cut-off one has thrown), so a body that does not parse is
                        // the server's answer, not a network fault: retrying would only pay again.
                        byte[] json = await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
                        string? requestId = response.Headers.TryGetValues("x-request-id", out var ids) ? ids.FirstOrDefault() : null;
                        ObserveLimits(response.Headers);
                        return Read(json, prompt, promptText, numCompletions, requestId);
                    }

                    var error = await ReadErrorAsync(response, token).ConfigureAwait(false);
                    int status = (int)response.StatusCode;
                    string described = Describe(status, error);
                    switch (status)
                    {
                        case 401 or 403:
                            throw new LmAuthenticationException(
                                $"OpenAI ({BaseUrl}) rejected the API key from {KeySource()} (HTTP {status}{(error.Code is null ? string.Empty : ", " + error.Code)}). Check the key, its organization/project and its permissions.");
                        case 429 when error.Code == "insufficient_quota" || error.Type == "insufficient_quota":
                            throw new LmRateLimitException($"OpenAI says the account is out of quota ({described}); retrying will not help. Check your plan and billing.");
                        case 429:
                            hint = LmRetryHints.FromHeaders(response.Headers);
                            if (!RetryOnRateLimit)
                            {
                                throw new LmRateLimitException($"OpenAI rate limit for {Model.Name}: {described}. Retrying is off (retryOnRateLimit: false).", hint);
                            }

                            rateLimited = true;
                            failure = described;
                            break;
                        case 408 or 409 or >= 500:
                            hint = LmRetryHints.FromHeaders(response.Headers);
                            failure = described;
                            break;
                        default:
                            return [LmPrediction.FromError(prompt, $"OpenAI rejected the request: {described}", permanent: status is 400 or 404 or 413 or 422)];
                    }
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is HttpRequestException or IOException or OperationCanceledException)
                {
                    failure = e is OperationCanceledException
                        ? $"no answer within {_options.RequestTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s"
                        : $"{e.GetType().Name}: {e.Message}";
                }
            }

            var delay = policy.GetDelay(attempt + 1, hint, waited);
            if (delay is null)
            {
                string why = attempt >= policy.MaxRetries
                    ? $"after {attempt + 1} attempt(s)"
                    : $"the server asked to wait {hint?.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s, more than the retry budget ({policy.MaxTotalWait.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s in all) allows";
                if (rateLimited)
                {
                    throw new LmRateLimitException($"OpenAI rate limit for {Model.Name}, gave up {why}: {failure}", hint);
                }

                return [LmPrediction.FromError(prompt, $"OpenAI request failed {why}: {failure}")];
            }

            if (rateLimited)
            {
                RateLimiter.Pause(delay.Value); // the whole model holds back, not just this request
            }

            Logger.LogInformation("{Model}: attempt {Attempt} failed ({Failure}); retrying in {Delay} ms.", ModelIdentity, attempt + 1, failure, (int)delay.Value.TotalMilliseconds);
            await Task.Delay(delay.Value, cancellationToken).ConfigureAwait(false);
            waited += delay.Value;
        }
    }

    /// <inheritdoc/>
    protected override decimal? PredictionCost(LmPrediction prediction) => CostOf(prediction);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsHttp)
        {
            _http.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>OpenAI's Batch API (chat models through /v1/chat/completions, completion models through /v1/completions).</summary>
    protected override IBatchBackend BatchBackend => Batches;

    /// <summary>The batch backend of this model (made on first use).</summary>
    internal OpenAiBatchBackend Batches =>
        LazyInitializer.EnsureInitialized(ref _batches, () => new OpenAiBatchBackend(
            this, _http, request => AddHeaders(request, AuthorizationValue()), BaseUrl, _query, _options.RetryPolicy, Logger));

    /// <summary>How long this model's requests still hold back after a 429 (zero when they do not).</summary>
    internal TimeSpan RateLimitPause => RateLimiter.RemainingPause;

    /// <summary>Teaches the rate limiter the account's limits from OpenAI's x-ratelimit-limit-* headers.</summary>
    private void ObserveLimits(System.Net.Http.Headers.HttpResponseHeaders headers)
    {
        static long? Read(System.Net.Http.Headers.HttpResponseHeaders h, string name) =>
            h.TryGetValues(name, out var v) && long.TryParse(v.FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : null;

        long? requests = Read(headers, "x-ratelimit-limit-requests");
        long? tokens = Read(headers, "x-ratelimit-limit-tokens");
        if (requests is not null || tokens is not null)
        {
            RateLimiter.Observe(requests is > int.MaxValue ? int.MaxValue : (int?)requests, tokens);
        }
    }

    /// <summary>Writes the body of the request for a prompt: chat or completions, as the model takes it (also a batch line's body).</summary>
    internal static void WriteBody(Utf8JsonWriter writer, OpenAiModelInfo model, LmPrompt prompt, int numCompletions, int maxTokens)
    {
        if (model.IsChatModel)
        {
            OpenAiRequestWriter.WriteChat(writer, model, prompt, numCompletions, maxTokens);
        }
        else
        {
            OpenAiRequestWriter.WriteCompletion(writer, model, prompt, prompt.GetTextAsStringDefaultForm(), numCompletions, maxTokens);
        }
    }

    /// <summary>Parses a successful response body as a single call does (also a batch result's body).</summary>
    internal static LmPrediction[] ReadResponse(byte[] json, LmPrompt prompt, OpenAiModelInfo model, int numCompletions, string? requestId, string? batchId) =>
        Read(json, prompt, model.IsChatModel ? null : prompt.GetTextAsStringDefaultForm(), numCompletions, requestId, batchId);

    private static LmPrediction[] Read(byte[] json, LmPrompt prompt, string? promptText, int numCompletions, string? requestId, string? batchId = null)
    {
        try
        {
            if (promptText is null)
            {
                return OpenAiChatResponseParser.Parse(json, prompt, numCompletions, requestId, batchId);
            }

            using var doc = JsonDocument.Parse(json);
            return OpenAiResponseReader.ReadCompletion(doc.RootElement, prompt, promptText, numCompletions, requestId, batchId);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            string start = System.Text.Encoding.UTF8.GetString(json, 0, Math.Min(json.Length, 200));
            return [LmPrediction.FromError(prompt, $"The server's answer is not a response LmWrapper can read ({e.Message}); it begins: {start}")];
        }
    }

    private static string Describe(int status, (string? Message, string? Type, string? Code, string? Param) error)
    {
        string detail = error.Code is null ? string.Empty : $", code {error.Code}";
        detail += error.Param is null ? string.Empty : $", param {error.Param}";
        return $"HTTP {status}{detail}: {error.Message ?? "(no message)"}";
    }

    private static async Task<(string? Message, string? Type, string? Code, string? Param)> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return (response.ReasonPhrase, null, null, null);
        }

        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object)
            {
                return (Str(e, "message"), Str(e, "type"), Str(e, "code"), Str(e, "param"));
            }
        }
        catch (JsonException)
        {
        }

        return (text.Length > 300 ? text[..300] : text.Length == 0 ? response.ReasonPhrase : text, null, null, null);

        static string? Str(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) ? v.ValueKind switch
            {
                JsonValueKind.String => v.GetString(),
                JsonValueKind.Number => v.GetRawText(),
                _ => null,
            } : null;
    }

    private void AddHeaders(HttpRequestMessage request, string authorization)
    {
        var headers = request.Headers;
        headers.TryAddWithoutValidation(_options.UseApiKeyHeader ? "api-key" : "Authorization", authorization);
        if (_options.Organization is { } org)
        {
            headers.TryAddWithoutValidation("OpenAI-Organization", org);
        }

        if (_options.Project is { } project)
        {
            headers.TryAddWithoutValidation("OpenAI-Project", project);
        }
    }

    private (string? Key, string Source) ResolveKey()
    {
        lock (_keyLock)
        {
            _key ??= OpenAiKeyResolver.Resolve(_explicitKey, _options);
            return _key.Value;
        }
    }

    private string KeySource() => ResolveKey().Source;

    private string AuthorizationValue()
    {
        var (key, source) = ResolveKey();
        if (key is null)
        {
            if (_options.RequireApiKey)
            {
                throw new LmAuthenticationException(
                    $"No OpenAI API key found. Looked in {source}. Pass apiKey, set {OpenAiKeyResolver.EnvironmentVariable}, or put the key in ~/{OpenAiKeyResolver.KeyFileName} (get one at https://platform.openai.com/account/api-keys).");
            }

            key = "no-key";
        }

        return _options.UseApiKeyHeader ? key : "Bearer " + key;
    }

    private LmTokenPrices Prices() =>
        Model.Prices ?? throw new InvalidOperationException($"No prices are known for {Model.Name}; register an OpenAiModelInfo with Prices.");
}
