using System.Buffers;
using System.Globalization;
using System.Text.Json;
using LmWrapper.Batching;
using LmWrapper.Costs;
using LmWrapper.Http;
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
/// <see cref="LmProviderOptions.Retry"/>, honouring retry-after-ms, retry-after and x-ratelimit-reset headers; while
/// one request of a model waits out a 429, the model's other requests wait too instead of earning more 429s.
/// A rejected request (400, 404, 422: context too long, unknown model, …) comes back as a failed prediction with
/// <see cref="LmPrediction.IsErrorPermanent"/>; a missing or rejected key throws <see cref="LmAuthenticationException"/>.
/// A refusal is a failed prediction too (<see cref="LmPrediction.ErrorMessage"/> says so and
/// <c>ProviderData["refusal"]</c> has the model's words); a content-filter stop has finish reason "content_filter".
/// <c>ProviderData</c> also keeps the response's id, model, system fingerprint, reasoning tokens and the
/// <c>x-request-id</c> header as "request_id" (what OpenAI support asks for). <see cref="LmPrompt.ReasoningEffort"/> is
/// sent as <c>reasoning_effort</c> to the reasoning models that take it (<see cref="OpenAiModelInfo.SupportedReasoningEfforts"/>);
/// the reasoning tokens are also in <see cref="LmUsage.ReasoningTokens"/>, and an OpenAI-compatible server's
/// <c>message.reasoning_content</c> in <see cref="LmPrediction.ReasoningBlocks"/>.</para>
/// <para>Chat models take <see cref="LmPrompt.Tools"/> (<c>tools</c> of type function), <see cref="LmPrompt.ToolChoice"/>
/// (<c>tool_choice</c>) and <see cref="LmPrompt.ResponseFormat"/> (<c>response_format</c>: <c>json_object</c>, or
/// <c>json_schema</c> with its name, schema and strict flag); <c>message.tool_calls</c> come back as
/// <see cref="LmPrediction.ToolCalls"/> (finish reason "tool_calls"), whole or streamed, and go back on an assistant
/// message, each answered by a <c>tool</c> message with its <c>tool_call_id</c>.</para>
/// <para><c>PredictMany(…, CompletionWindow.BatchAny)</c> goes through OpenAI's Batch API at half the price (the request
/// bodies are exactly the single calls'; see <see cref="OpenAiModelInfo.BatchEnqueuedTokenLimit"/> for the token queue);
/// batch predictions carry "batch_id" in <c>ProviderData</c> and <see cref="LanguageModel.CostOf"/> bills them at the batch discount.</para>
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
    private readonly bool _ownsHttp;
    private readonly LmHttpPipeline _pipeline;
    private readonly string _authorization;
    private readonly string? _organization;
    private readonly string? _project;
    private readonly Uri _chatUri;
    private readonly Uri _completionsUri;
    private readonly string _query;
    private OpenAiBatchBackend? _batches;

    private OpenAiLm(OpenAiModelInfo model, string? apiKey, bool retryOnRateLimit, OpenAiOptions options)
        : base(options.ResolveModelOptions())
    {
        options.ValidateShared();
        Info = model;
        _options = options;
        RetryOnRateLimit = retryOnRateLimit;
        string? fromEnvironment = options.Environment(OpenAiOptions.BaseUrlEnvironmentVariable);
        string setting = options.BaseUrl is null && fromEnvironment is not null ? OpenAiOptions.BaseUrlEnvironmentVariable : nameof(options.BaseUrl);
        Uri? parsed = options.BaseUrl;
        if (parsed is null && fromEnvironment is not null && !Uri.TryCreate(fromEnvironment, UriKind.Absolute, out parsed))
        {
            throw new ArgumentException($"{setting} must be an absolute http(s) URL such as \"{OpenAiOptions.DefaultBaseUrl}\", but was \"{LmApiKey.WithoutCredentials(fromEnvironment)}\".", setting);
        }

        parsed ??= OpenAiOptions.DefaultBaseUrl;
        if (!parsed.IsAbsoluteUri || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"{setting} must be an absolute http(s) URL such as \"{OpenAiOptions.DefaultBaseUrl}\", but was \"{LmApiKey.WithoutCredentials(parsed.OriginalString)}\".", setting);
        }

        // The identity (and BaseUrl) never carry user info or the query, which may hold credentials; the query (such as
        // Azure's api-version) is still sent with every request.
        string baseUrl = parsed.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped).TrimEnd('/');
        string query = parsed.Query;
        _query = query;
        BaseUrl = baseUrl;
        _chatUri = new Uri(baseUrl + "/chat/completions" + query);
        _completionsUri = new Uri(baseUrl + "/completions" + query);
        ModelIdentity = string.Equals(baseUrl, OpenAiOptions.DefaultBaseUrl.AbsoluteUri.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)
            ? "openai/" + model.Name
            : "openai/" + model.Name + "@" + baseUrl;

        // The key is looked up now, at Get, as for every provider.
        var key = options.RequireApiKey
            ? LmApiKey.Resolve(apiKey, "OpenAI", OpenAiKeyResolver.EnvironmentVariable, OpenAiKeyResolver.KeyFileName, "https://platform.openai.com/account/api-keys", options)
            : LmApiKey.TryResolve(apiKey, OpenAiKeyResolver.EnvironmentVariable, OpenAiKeyResolver.KeyFileName, options, out _);
        ApiKeySource = key?.Source ?? "no key (RequireApiKey is false)";
        _authorization = options.UseApiKeyHeader ? key?.Value ?? "no-key" : "Bearer " + (key?.Value ?? "no-key");
        _organization = options.Organization ?? options.Environment(OpenAiOptions.OrganizationEnvironmentVariable);
        _project = options.Project ?? options.Environment(OpenAiOptions.ProjectEnvironmentVariable);
        LmApiKey.CheckHeaderValue(_organization, options.Organization is null ? OpenAiOptions.OrganizationEnvironmentVariable : nameof(OpenAiOptions.Organization));
        LmApiKey.CheckHeaderValue(_project, options.Project is null ? OpenAiOptions.ProjectEnvironmentVariable : nameof(OpenAiOptions.Project));
        if (options.HttpClient is { } client)
        {
            _http = client;
        }
        else
        {
            // A light HttpClient per model over a shared (or the given) handler: connections are pooled across models.
            _http = new HttpClient(options.HttpMessageHandler ?? SharedHandler.Value, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
            _ownsHttp = true;
        }

        _pipeline = new LmHttpPipeline(_http, new LmHttpPipelineSettings
        {
            ProviderName = "OpenAI (" + baseUrl + ")",
            Retry = options.Retry,
            RequestTimeout = options.RequestTimeout,
            TotalTimeout = options.TotalTimeout,
            PrepareRequest = AddHeaders,
            KeySource = ApiKeySource,
            AuthenticationHint = "Check the key, its organization/project and its permissions.",
            RateLimiter = RateLimiter,
            Logger = Logger,
            Model = this,
        });
    }

    /// <summary>Where the API key came from ("the apiKey argument", "the OPENAI_API_KEY environment variable", "the file …"); never the key.</summary>
    public string ApiKeySource { get; }

    /// <summary>What LmWrapper knows of this OpenAI model: its API, limits, tokenizer, flags and prices (<see cref="ModelInfo"/> is the provider-neutral view).</summary>
    public OpenAiModelInfo Info { get; }

    /// <inheritdoc/>
    public override LmModelInfo ModelInfo => new(
        Info.Name,
        Info.ContextWindow,
        Info.MaxOutputTokens,
        Info.Prices,
        (Info.IsChatModel ? LmCapabilities.Chat : LmCapabilities.None)
        | (Info.SupportsLogprobs ? LmCapabilities.Logprobs : LmCapabilities.None)
        | (Info.SupportsEcho ? LmCapabilities.Echo : LmCapabilities.None)
        | (Info.SupportedReasoningEfforts.Count > 0 ? LmCapabilities.ReasoningEffort : LmCapabilities.None)
        | (Info.SupportsVision && Info.IsChatModel ? LmCapabilities.Vision : LmCapabilities.None)
        | (TakesTools ? LmCapabilities.Tools | LmCapabilities.StructuredOutput : LmCapabilities.None)
        | LmCapabilities.Batch);

    /// <summary>Chat models take tools and response formats, except the first o1 previews (o1-preview, o1-mini), which take neither.</summary>
    private bool TakesTools => Info.IsChatModel && !(Info.IsReasoningModel && Info.SupportedReasoningEfforts.Count == 0);

    /// <summary>The API base URL requests go to (ending in the version path, such as "/v1").</summary>
    public string BaseUrl { get; }

    /// <summary>Whether 429 rate-limit answers are retried (true) or given up at once (an <see cref="LmErrorKind.RateLimitExhausted"/> error).</summary>
    public bool RetryOnRateLimit { get; }

    /// <summary>"openai/&lt;model&gt;", plus "@&lt;base URL&gt;" for any endpoint but OpenAI's own.</summary>
    public override string ModelIdentity { get; }

    /// <inheritdoc/>
    public override int TokenLimit => Info.ContextWindow;

    /// <inheritdoc/>
    public override bool IsChatModel => Info.IsChatModel;

    /// <summary>Tokens generated when <see cref="LmPrompt.MaxTokens"/> is null: the context window / 16, at most the model's max output.</summary>
    public override int DefaultTokensGenerated => Math.Max(1, Math.Min(Info.ContextWindow / 16, Info.MaxOutputTokens));

    /// <summary>
    /// Gets a model by name (see <see cref="OpenAiModelNames"/>; other names once registered in <see cref="OpenAiModelRegistry"/>).
    /// </summary>
    /// <param name="modelName">The model name.</param>
    /// <param name="apiKey">The API key; null looks in OPENAI_API_KEY, then ~/oai_key.txt (now, at Get).</param>
    /// <param name="retryOnRateLimit">Whether to wait and retry on 429 (true) or give up at once with an <see cref="LmErrorKind.RateLimitExhausted"/> error.</param>
    /// <param name="options">Endpoint, retries, HTTP and caching settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">The model is unknown, or a setting is invalid (the message names it).</exception>
    /// <exception cref="LmAuthenticationException">No key was found (and <see cref="OpenAiOptions.RequireApiKey"/> is true), or the key holds a control character; the message says where LmWrapper looked.</exception>
    public static OpenAiLm Get(string modelName, string? apiKey = null, bool retryOnRateLimit = true, OpenAiOptions? options = null) =>
        Get(OpenAiModelRegistry.Get(modelName), apiKey, retryOnRateLimit, options);

    /// <summary>Gets a model described by <paramref name="model"/> (for models not in the registry).</summary>
    /// <param name="model">The model's description.</param>
    /// <param name="apiKey">The API key; null looks in OPENAI_API_KEY, then ~/oai_key.txt (now, at Get).</param>
    /// <param name="retryOnRateLimit">Whether to wait and retry on 429 (true) or give up at once with an <see cref="LmErrorKind.RateLimitExhausted"/> error.</param>
    /// <param name="options">Endpoint, retries, HTTP and caching settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">A setting is invalid (the message names it).</exception>
    /// <exception cref="LmAuthenticationException">No key was found (and <see cref="OpenAiOptions.RequireApiKey"/> is true), or the key holds a control character.</exception>
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
        return OpenAiTokenizers.Get(Info.Encoding).CountTokens(text);
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
        var tokenizer = OpenAiTokenizers.Get(Info.Encoding);
        if (!Info.IsChatModel)
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

            foreach (var call in turn.ToolCalls ?? [])
            {
                total += 3 + tokenizer.CountTokens(call.Name) + tokenizer.CountTokens(call.Arguments);
            }
        }

        // Tool definitions and a schema count too (OpenAI renders them into the prompt); their JSON text is a fair estimate.
        foreach (var tool in prompt.Tools ?? [])
        {
            total += 3 + tokenizer.CountTokens(tool.Name) + tokenizer.CountTokens(tool.Description ?? string.Empty) + tokenizer.CountTokens(tool.ParametersJson);
        }

        if (prompt.ResponseFormat?.SchemaJson is { } schema)
        {
            total += tokenizer.CountTokens(schema);
        }

        foreach (var (_, part) in prompt.ImageParts())
        {
            total += EstimateImageTokens(part.Image!, part.Detail);
        }

        return total;
    }

    /// <summary>
    /// The input tokens of one image for this model, by OpenAI's published rule: the tile rule (detail low: the base
    /// tokens; otherwise fit in 2048x2048, shortest side to 768, base + tile tokens per 512 px tile) or, for models with an
    /// <see cref="OpenAiModelInfo.ImagePatchMultiplier"/>, the patch rule. A URL image (size unknown) counts as the largest.
    /// </summary>
    /// <param name="image">The image.</param>
    /// <param name="detail">The detail it is sent with (auto counts as high).</param>
    public int EstimateImageTokens(LmImage image, LmImageDetail detail = LmImageDetail.Auto)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Info.ImagePatchMultiplier is { } multiplier
            ? Images.ImageTokens.OpenAiPatches(image.Width, image.Height, multiplier)
            : Images.ImageTokens.OpenAiTiles(image.Width, image.Height, detail, Info.ImageBaseTokens, Info.ImageTileTokens);
    }

    /// <summary>OpenAI's limits on image inputs: at most 500 images and 50 MB of image bytes per request, 20 MB per image, no animated GIFs.</summary>
    internal const int MaxImagesPerRequest = 500;

    /// <summary>The most bytes one image may have (20 MB).</summary>
    internal const long MaxImageBytes = 20L * 1024 * 1024;

    /// <summary>The most image bytes one request may carry (50 MB).</summary>
    internal const long MaxImageBytesPerRequest = 50L * 1024 * 1024;

    private static void CheckImageLimits(LmPrompt prompt)
    {
        int count = 0;
        long total = 0;
        foreach (var (turn, part) in prompt.ImageParts())
        {
            count++;
            var image = part.Image!;
            if (image.ByteCount > MaxImageBytes)
            {
                throw new LmImageException(
                    $"The image in chat turn {turn} is {image.ByteCount} bytes; OpenAI takes at most 20 MB per image. Shrink or recompress it.", nameof(LmPrompt.Chat));
            }

            if (image.IsAnimated)
            {
                throw new LmImageException(
                    $"The image in chat turn {turn} is an animated GIF; OpenAI takes only non-animated GIFs. Send one frame (as PNG or a still GIF).", nameof(LmPrompt.Chat));
            }

            total += image.ByteCount;
        }

        if (count > MaxImagesPerRequest)
        {
            throw new LmImageException($"The prompt has {count} images; OpenAI takes at most {MaxImagesPerRequest} per request.", nameof(LmPrompt.Chat));
        }

        if (total > MaxImageBytesPerRequest)
        {
            throw new LmImageException($"The prompt's images are {total} bytes together; OpenAI takes at most 50 MB of images per request.", nameof(LmPrompt.Chat));
        }
    }

    /// <inheritdoc/>
    protected override void ValidatePrompt(LmPrompt prompt)
    {
        base.ValidatePrompt(prompt);
        var m = Info;
        if (prompt.HasImages)
        {
            CheckImageLimits(prompt);
        }

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

        if (m.IsChatModel && prompt.Chat is { } chat && chat.FirstOrDefault(t => t.Role == LmChatRole.Tool && t.ToolCallId is null) is { } orphan)
        {
            throw new LmPromptException(
                $"LmPrompt.Chat has a tool turn without a ToolCallId (turn {chat.ToList().IndexOf(orphan)}): OpenAI takes a tool message only as the answer to a tool call (tool_call_id). Use LmChatTurn.ToolResult(callId, content) after the assistant turn that made the call.",
                nameof(LmPrompt.Chat));
        }

        if (prompt.ResponseFormat is { Kind: LmResponseFormatKind.JsonObject }
            && !prompt.GetTextAsChat().Any(t => t.Content.Contains("json", StringComparison.OrdinalIgnoreCase)))
        {
            throw new LmPromptException(
                "ResponseFormat is LmResponseFormat.JsonObject, but no message mentions JSON; OpenAI refuses json_object mode unless the messages contain the word \"json\". Say in the prompt that the answer is JSON (or use a JSON Schema).",
                nameof(LmPrompt.ResponseFormat));
        }

        if (prompt.ThinkingBudgetTokens is not null)
        {
            throw new LmPromptException(
                $"ThinkingBudgetTokens is Claude's extended thinking; OpenAI models take no thinking budget. For {m.Name} use ReasoningEffort{(m.SupportedReasoningEfforts.Count > 0 ? "" : " on a reasoning model")} instead.",
                nameof(LmPrompt.ThinkingBudgetTokens));
        }

        if (prompt.ReasoningEffort is { } effort && !m.SupportedReasoningEfforts.Contains(effort))
        {
            throw new LmPromptException(
                !m.IsReasoningModel
                    ? $"ReasoningEffort is set, but {m.Name} is not a reasoning model; use one such as {OpenAiModelNames.O4Mini} or {OpenAiModelNames.Gpt5}, or leave ReasoningEffort null."
                    : m.SupportedReasoningEfforts.Count == 0
                        ? $"ReasoningEffort is set, but {m.Name} takes no reasoning_effort; leave it null."
                        : $"ReasoningEffort {effort} is not one {m.Name} takes; it takes {string.Join(", ", m.SupportedReasoningEfforts)}.",
                nameof(LmPrompt.ReasoningEffort));
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
        int maxTokens = prompt.MaxTokens ?? DefaultTokensGenerated;
        string? promptText = Info.IsChatModel ? null : prompt.GetTextAsStringDefaultForm();
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteBody(writer, Info, prompt, numCompletions, maxTokens, _options.UseLegacyMaxTokens);
        }

        var body = buffer.WrittenMemory;
        var uri = promptText is null ? _chatUri : _completionsUri;
        var call = new LmHttpCall(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ReadOnlyMemoryContent(body) };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            return request;
        })
        {
            UsesRateLimiter = true,
            RetryOnRateLimit = RetryOnRateLimit,
        };

        // The body is fully read by then (a cut-off one is retried by the pipeline), so a body that does not parse is the
        // server's answer, not a network fault: retrying would only pay again.
        return await _pipeline.SendAsync<IReadOnlyList<LmPrediction>>(
            call,
            async (response, token) =>
            {
                byte[] json = await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
                return Read(json, prompt, promptText, numCompletions, LmHttpErrors.RequestId(response.Headers));
            },
            recover: null,
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Streams the request's samples over server-sent events (<c>stream: true</c>, with <c>stream_options.include_usage</c>
    /// so the final prediction has its usage): chat deltas or legacy completion chunks, each with its tokens' logprobs
    /// when asked; the final predictions are read from the reassembled response, as <c>PredictAsync</c> reads it.
    /// </summary>
    /// <param name="request">The prompt and how many samples.</param>
    /// <param name="cancellationToken">Cancels the stream and closes the connection.</param>
    protected override async IAsyncEnumerable<LmStreamingUpdate> PredictUncachedStreamingAsync(
        LmUncachedRequest request, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var prompt = request.Prompt;
        int maxTokens = prompt.MaxTokens ?? DefaultTokensGenerated;
        string? promptText = Info.IsChatModel ? null : prompt.GetTextAsStringDefaultForm();
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (Info.IsChatModel)
            {
                OpenAiRequestWriter.WriteChat(writer, Info, prompt, request.NumCompletions, maxTokens, _options.UseLegacyMaxTokens, stream: true);
            }
            else
            {
                OpenAiRequestWriter.WriteCompletion(writer, Info, prompt, promptText!, request.NumCompletions, maxTokens, stream: true);
            }
        }

        var body = buffer.WrittenMemory;
        var uri = promptText is null ? _chatUri : _completionsUri;
        var call = new LmHttpCall(() =>
        {
            var message = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ReadOnlyMemoryContent(body) };
            message.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            message.Headers.TryAddWithoutValidation("Accept", "text/event-stream");
            return message;
        })
        {
            UsesRateLimiter = true,
            RetryOnRateLimit = RetryOnRateLimit,
        };

        bool wantLogprobs = Info.IsChatModel && prompt.Logprobs >= 1 && Info.SupportsLogprobs;
        await using var stream = new OpenAiStream(_pipeline, call, prompt, promptText, request.NumCompletions, wantLogprobs, cancellationToken);
        while (await stream.NextAsync().ConfigureAwait(false) is { } update)
        {
            yield return update;
        }
    }

    /// <summary>Reads a streamed answer put back together as a whole response (see <see cref="OpenAiStream"/>).</summary>
    internal static LmPrediction[] ReadStreamed(byte[] json, LmPrompt prompt, string? promptText, int numCompletions, string? requestId) =>
        Read(json, prompt, promptText, numCompletions, requestId);

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
        LazyInitializer.EnsureInitialized(ref _batches, () => new OpenAiBatchBackend(this, _pipeline, BaseUrl, _query, Logger));

    /// <summary>Whether chat requests send the old <c>max_tokens</c> (<see cref="OpenAiOptions.UseLegacyMaxTokens"/>).</summary>
    internal bool UsesLegacyMaxTokens => _options.UseLegacyMaxTokens;

    /// <summary>How long this model's requests still hold back after a 429 (zero when they do not).</summary>
    internal TimeSpan RateLimitPause => RateLimiter.RemainingPause;

    /// <summary>Writes the body of the request for a prompt: chat or completions, as the model takes it (also a batch line's body).</summary>
    internal static void WriteBody(Utf8JsonWriter writer, OpenAiModelInfo model, LmPrompt prompt, int numCompletions, int maxTokens, bool legacyMaxTokens)
    {
        if (model.IsChatModel)
        {
            OpenAiRequestWriter.WriteChat(writer, model, prompt, numCompletions, maxTokens, legacyMaxTokens);
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
            throw new LmProviderException(
                new LmError(LmErrorKind.MalformedResponse, $"The server's answer is not a response LmWrapper can read ({e.Message}); it begins: {start}", 200, RequestId: requestId),
                e);
        }
    }

    private void AddHeaders(HttpRequestMessage request)
    {
        var headers = request.Headers;
        headers.TryAddWithoutValidation(_options.UseApiKeyHeader ? "api-key" : "Authorization", _authorization);
        if (_organization is { } org)
        {
            headers.TryAddWithoutValidation("OpenAI-Organization", org);
        }

        if (_project is { } project)
        {
            headers.TryAddWithoutValidation("OpenAI-Project", project);
        }
    }
}
