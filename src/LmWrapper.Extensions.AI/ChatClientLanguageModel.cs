using System.Globalization;
using LmWrapper.Extensions.AI.Internal;
using Microsoft.Extensions.AI;

namespace LmWrapper.Extensions.AI;

/// <summary>
/// Any Microsoft.Extensions.AI <see cref="IChatClient"/> (Ollama, Azure AI Inference, OpenAI's SDK, your own, or a
/// pipeline of MEAI middleware) as a <see cref="LanguageModel"/>, made by <c>chatClient.AsLanguageModel(…)</c>: it gets
/// LmWrapper's validation, response cache, de-duplication, <c>PredictMany</c> concurrency, rate limits and cost accounting.
/// </summary>
/// <remarks>
/// <para>A prompt becomes chat messages (a text prompt one user message) and <see cref="ChatOptions"/>:
/// <see cref="LmPrompt.MaxTokens"/> → <see cref="ChatOptions.MaxOutputTokens"/>, temperature (a greedy prompt,
/// <see cref="LmPrompt.IsDeterministicSampling"/>, as temperature 0), top-p, penalties, stop sequences and seed; the
/// fields <see cref="ChatOptions"/> lacks go in <see cref="ChatOptions.AdditionalProperties"/> (<see cref="LmChatPropertyNames"/>)
/// when they differ from their defaults. <see cref="LmPrompt.NumCompletions"/> &gt; 1 makes one call per sample, at
/// once; sample i (from 0) has the seed <c>Seed + i</c> and, for i &gt; 0, a <see cref="LmChatPropertyNames.Sample"/>
/// property, so a caching client keeps samples apart.</para>
/// <para>The response's text, usage and finish reason fill the prediction; tokens and logprobs too when the client
/// returns them under <see cref="LmChatPropertyNames"/> (as <see cref="LanguageModelChatClient"/> does). A client that
/// ignores stop sequences has its text cut at the first one. Failures: an HTTP status in the client's exception
/// (<see cref="HttpRequestException.StatusCode"/>, or a <c>Status</c> property as OpenAI's and Azure's exceptions have)
/// makes a failed prediction of the matching <see cref="LmErrorKind"/> (401/403 throw
/// <see cref="LmAuthenticationException"/>); cancellation and other exceptions propagate.</para>
/// <para>Tools and structured output: <see cref="LmPrompt.Tools"/> go as function declarations in
/// <see cref="ChatOptions.Tools"/> (the client's own function invocation, if any, never runs them: there are no
/// functions behind them), <see cref="LmPrompt.ToolChoice"/> as <see cref="ChatOptions.ToolMode"/>,
/// <see cref="LmPrompt.ResponseFormat"/> as <see cref="ChatOptions.ResponseFormat"/>; tool calls and results in the dialog
/// as <see cref="FunctionCallContent"/> and <see cref="FunctionResultContent"/>; the response's function calls become
/// <see cref="LmPrediction.ToolCalls"/>. A chat client takes them by default (<see cref="LmCapabilities.Tools"/>,
/// <see cref="LmCapabilities.StructuredOutput"/>); set <see cref="ChatClientLanguageModelOptions.Capabilities"/> to say
/// otherwise.</para>
/// <para>Token counts are an estimate (see <see cref="ChatClientLanguageModelOptions.TokenCounter"/>). Disposing the
/// model does not dispose the chat client.</para>
/// </remarks>
public sealed class ChatClientLanguageModel : LanguageModel
{
    private const int DefaultTokenLimit = 128_000;
    private readonly IChatClient _client;
    private readonly LanguageModel? _inner;
    private readonly ChatClientLanguageModelOptions _options;
    private readonly LmCapabilities _capabilities;

    /// <summary>Wraps a chat client.</summary>
    /// <param name="chatClient">The client to send through.</param>
    /// <param name="options">What the model is and the shared model settings; null for the defaults.</param>
    /// <exception cref="ArgumentException">No model id: neither <see cref="ChatClientLanguageModelOptions.ModelId"/> nor the client's metadata names one; or a setting is out of range.</exception>
    public ChatClientLanguageModel(IChatClient chatClient, ChatClientLanguageModelOptions? options = null)
        : base((options ?? new ChatClientLanguageModelOptions()).ResolveModelOptions())
    {
        ArgumentNullException.ThrowIfNull(chatClient);
        _client = chatClient;
        _options = options ?? new ChatClientLanguageModelOptions();
        var metadata = chatClient.GetService<ChatClientMetadata>();
        _inner = chatClient.GetService<LanguageModel>();
        ModelId = _options.ModelId ?? metadata?.DefaultModelId ?? throw new ArgumentException(
            "The chat client names no default model (ChatClientMetadata.DefaultModelId); set ChatClientLanguageModelOptions.ModelId.", nameof(options));
        ProviderName = _options.ProviderName ?? metadata?.ProviderName ?? "chatclient";
        TokenLimit = _options.TokenLimit ?? _inner?.TokenLimit ?? DefaultTokenLimit;
        if (TokenLimit < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), TokenLimit, "TokenLimit must be at least 1.");
        }

        if (_options.MaxOutputTokens is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.MaxOutputTokens, "MaxOutputTokens must be at least 1 (or null).");
        }

        IsChatModel = _options.IsChatModel ?? _inner?.IsChatModel ?? true;
        _capabilities = (_options.Capabilities
                ?? (_inner?.ModelInfo.Capabilities & (LmCapabilities.Logprobs | LmCapabilities.Echo | LmCapabilities.Vision | LmCapabilities.Tools | LmCapabilities.StructuredOutput))
                ?? (IsChatModel ? LmCapabilities.Tools | LmCapabilities.StructuredOutput : LmCapabilities.None))
            | (IsChatModel ? LmCapabilities.Chat : LmCapabilities.None);

        // The address is part of the identity (answers cached from different servers never mix), without user info or query.
        string where = metadata?.ProviderUri is { IsAbsoluteUri: true } uri ? "@" + uri.Scheme + "://" + uri.Authority + uri.AbsolutePath.TrimEnd('/') : string.Empty;
        ModelIdentity = $"chatclient/{ProviderName}/{ModelId}{where}";
    }

    /// <summary>The model id sent with every request.</summary>
    public string ModelId { get; }

    /// <summary>The provider's name (from the options or the client's metadata).</summary>
    public string ProviderName { get; }

    /// <summary>The chat client requests go through.</summary>
    public IChatClient ChatClient => _client;

    /// <summary><c>chatclient/&lt;provider&gt;/&lt;model id&gt;</c>, and <c>@&lt;address&gt;</c> when the client's metadata gives one.</summary>
    public override string ModelIdentity { get; }

    /// <inheritdoc/>
    public override int TokenLimit { get; }

    /// <inheritdoc/>
    public override bool IsChatModel { get; }

    /// <inheritdoc/>
    public override LmModelInfo ModelInfo =>
        new(ModelId, TokenLimit, _options.MaxOutputTokens ?? DefaultTokensGenerated, _options.Prices, _capabilities);

    /// <summary>The fallback estimate's tokens for one image: 1,600, about the most Claude and GPT-4o charge for one.</summary>
    private const int ImageTokenEstimate = 1600;

    /// <summary>
    /// The prompt's tokens: <see cref="ChatClientLanguageModelOptions.TokenCounter"/>, else the wrapped LmWrapper model's
    /// count, else an estimate (a quarter of the characters, rounded up, plus 4 per chat turn, 1,600 per image and 3 to
    /// prime the reply).
    /// </summary>
    /// <param name="prompt">The prompt.</param>
    public override int EstimateTokensInPrompt(LmPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (_options.TokenCounter is { } counter)
        {
            return counter(prompt);
        }

        if (_inner is not null)
        {
            return _inner.EstimateTokensInPrompt(prompt);
        }

        if (prompt.Text is { } text)
        {
            return Quarter(text.Length);
        }

        int total = 3;
        foreach (var turn in prompt.GetTextAsChat())
        {
            total += 4 + Quarter(turn.Content.Length) + (turn.Name is { } name ? Quarter(name.Length) : 0)
                + (ImageTokenEstimate * (turn.Parts?.Count(p => p.Image is not null) ?? 0));
        }

        return total;
    }

    /// <inheritdoc/>
    protected override void ValidatePrompt(LmPrompt prompt)
    {
        base.ValidatePrompt(prompt);
        if (prompt.Logprobs > 1 && (_capabilities & LmCapabilities.Logprobs) == 0)
        {
            throw new LmPromptException(
                string.Create(CultureInfo.InvariantCulture, $"{ModelIdentity} returns no top-{prompt.Logprobs} logprobs: an IChatClient has none unless ChatClientLanguageModelOptions.Capabilities says so. Set Logprobs to 0 or 1."),
                nameof(LmPrompt.Logprobs));
        }

        if (prompt.Echo && (_capabilities & LmCapabilities.Echo) == 0)
        {
            throw new LmPromptException(
                $"{ModelIdentity} cannot echo the prompt: an IChatClient does not unless ChatClientLanguageModelOptions.Capabilities says so. Remove Echo.",
                nameof(LmPrompt.Echo));
        }
    }

    /// <inheritdoc/>
    protected override Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(LmPrompt prompt, int numCompletions, CancellationToken cancellationToken) =>
        PredictUncachedAsync(new LmUncachedRequest(0, prompt, numCompletions), cancellationToken);

    /// <inheritdoc/>
    protected override async Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(LmUncachedRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var calls = new Task<LmPrediction>[request.NumCompletions];
        for (int i = 0; i < calls.Length; i++)
        {
            calls[i] = PredictSampleAsync(request.Prompt, request.FirstSample + i, cancellationToken);
        }

        return await Task.WhenAll(calls).ConfigureAwait(false);
    }

    private async Task<LmPrediction> PredictSampleAsync(LmPrompt prompt, int sample, CancellationToken cancellationToken)
    {
        var messages = ToMessages(prompt);
        var options = ToOptions(prompt, sample);
        ChatResponse response;
        try
        {
            response = await _client.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not LmException && !(e is OperationCanceledException && cancellationToken.IsCancellationRequested) && Translate(e) is { } translated)
        {
            throw translated;
        }

        return ToPrediction(prompt, response);
    }

    private static List<ChatMessage> ToMessages(LmPrompt prompt)
    {
        if (prompt.Text is { } text)
        {
            return [new ChatMessage(ChatRole.User, text)];
        }

        var messages = new List<ChatMessage>(prompt.Chat!.Count);
        foreach (var turn in prompt.Chat)
        {
            var role = turn.Role switch
            {
                LmChatRole.System => ChatRole.System,
                LmChatRole.User => ChatRole.User,
                LmChatRole.Assistant => ChatRole.Assistant,
                _ => ChatRole.Tool,
            };
            if (turn.ToolCalls is { } calls)
            {
                var message = new ChatMessage(ChatRole.Assistant, turn.Content.Length > 0 ? [new TextContent(turn.Content)] : []);
                foreach (var call in calls)
                {
                    var args = call.GetArguments();
                    message.Contents.Add(new FunctionCallContent(
                        call.Id,
                        call.Name,
                        args.ValueKind == System.Text.Json.JsonValueKind.Object ? args.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone(), StringComparer.Ordinal) : null));
                }

                messages.Add(message);
                continue;
            }

            if (turn.ToolCallId is { } callId)
            {
                messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(callId, turn.Content)]));
                continue;
            }

            if (turn.Parts is { } parts)
            {
                // Images as the abstractions carry them: bytes as DataContent, a remote image as UriContent.
                var contents = new List<AIContent>(parts.Count);
                foreach (var part in parts)
                {
                    contents.Add(part.Image switch
                    {
                        null => new TextContent(part.Text),
                        { Url: { } url } => new UriContent(url, "image/*"),
                        { } image => new DataContent(image.Data, image.MediaType!),
                    });
                    if (part.Image is not null && part.Detail != LmImageDetail.Auto)
                    {
                        contents[^1].AdditionalProperties = new() { ["detail"] = part.Detail == LmImageDetail.Low ? "low" : "high" };
                    }
                }

                messages.Add(new ChatMessage(role, contents) { AuthorName = turn.Name });
                continue;
            }

            messages.Add(new ChatMessage(role, turn.Content) { AuthorName = turn.Name });
        }

        return messages;
    }

    private ChatOptions ToOptions(LmPrompt prompt, int sample)
    {
        var options = new ChatOptions { ModelId = ModelId, MaxOutputTokens = prompt.MaxTokens };
        if (prompt.IsDeterministicSampling)
        {
            options.Temperature = 0;
        }
        else
        {
            options.Temperature = (float)prompt.Temperature;
            if (prompt.TopP != 1)
            {
                options.TopP = (float)prompt.TopP;
            }
        }

        if (prompt.FrequencyPenalty != 0)
        {
            options.FrequencyPenalty = (float)prompt.FrequencyPenalty;
        }

        if (prompt.PresencePenalty != 0)
        {
            options.PresencePenalty = (float)prompt.PresencePenalty;
        }

        if (prompt.Stop is { Count: > 0 } stop)
        {
            options.StopSequences = [.. stop];
        }

        if (prompt.Seed is { } seed)
        {
            options.Seed = (long)seed + sample;
        }

        if (prompt.Tools is { } tools)
        {
            options.Tools = [.. tools.Select(t => (AITool)AIFunctionFactory.CreateDeclaration(t.Name, t.Description, t.Parameters))];
            options.ToolMode = prompt.ToolChoice?.Mode switch
            {
                LmToolChoiceMode.None => ChatToolMode.None,
                LmToolChoiceMode.Required => ChatToolMode.RequireAny,
                LmToolChoiceMode.Named => ChatToolMode.RequireSpecific(prompt.ToolChoice.ToolName!),
                LmToolChoiceMode.Auto => ChatToolMode.Auto,
                _ => null,
            };
        }

        if (prompt.ResponseFormat is { } format)
        {
            options.ResponseFormat = format.Kind == LmResponseFormatKind.JsonObject
                ? ChatResponseFormat.Json
                : ChatResponseFormat.ForJsonSchema(format.Schema, format.Name);
        }

        var props = new AdditionalPropertiesDictionary();
        if (prompt.Logprobs != 1)
        {
            props[LmChatPropertyNames.Logprobs] = prompt.Logprobs;
        }

        if (prompt.Echo)
        {
            props[LmChatPropertyNames.Echo] = true;
        }

        if (prompt.AddBosToken is { } bos)
        {
            props[LmChatPropertyNames.AddBosToken] = bos;
        }

        if (prompt.AddSpecialTokens is { } special)
        {
            props[LmChatPropertyNames.AddSpecialTokens] = special;
        }

        if (sample > 0)
        {
            props[LmChatPropertyNames.Sample] = sample;
        }

        if (props.Count > 0)
        {
            options.AdditionalProperties = props;
        }

        return options;
    }

    private static LmPrediction ToPrediction(LmPrompt prompt, ChatResponse response)
    {
        var props = response.AdditionalProperties;
        string text = response.Text;
        string? finish = ChatValues.String(props, LmChatPropertyNames.FinishReason) ?? response.FinishReason?.Value;
        var tokens = ChatValues.Strings(props, LmChatPropertyNames.CompletionTokens);
        var logprobs = ChatValues.Doubles(props, LmChatPropertyNames.CompletionLogprobs);
        var top = ChatValues.Alternatives(props, LmChatPropertyNames.TopTokenLogprobs);
        if (prompt.Stop is { Count: > 0 } stops && CutAtStop(text, stops) is int cut)
        {
            // The client ignored the stop sequences: cut the text, and drop token data that no longer matches it.
            text = text[..cut];
            finish = "stop";
            tokens = null;
            logprobs = null;
            top = null;
        }

        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        if (response.ResponseId is { } id)
        {
            data["id"] = id;
        }

        if (response.ModelId is { } model)
        {
            data["model"] = model;
        }

        return new LmPrediction
        {
            CompletionText = text,
            Prompt = prompt,
            FinishReason = finish,
            Usage = response.Usage is { } u
                ? new LmUsage(Clamp(u.InputTokenCount), Clamp(u.OutputTokenCount), Clamp(u.CachedInputTokenCount))
                : null,
            ProviderData = data.Count > 0 ? data : null,
            CompletionTokens = tokens!,
            CompletionLogprobs = logprobs!,
            TopTokenLogprobs = top!,
            PromptTokens = ChatValues.Strings(props, LmChatPropertyNames.PromptTokens)!,
            PromptLogprobs = ChatValues.NullableDoubles(props, LmChatPropertyNames.PromptLogprobs)!,
            ToolCalls = [.. response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>()
                .Select(c => new LmToolCall(c.CallId, c.Name, LanguageModelChatClient.ArgumentsJson(c.Arguments)))],
        };
    }

    private static int? CutAtStop(string text, IReadOnlyList<string> stops)
    {
        int? first = null;
        foreach (var stop in stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first is null || at < first))
            {
                first = at;
            }
        }

        return first;
    }

    private static int Clamp(long? count) => count is { } c ? (int)Math.Clamp(c, 0, int.MaxValue) : 0;

    private static int Quarter(int chars) => (chars + 3) / 4;

    /// <summary>An exception from the client as LmWrapper's error model; null to let it propagate.</summary>
    private Exception? Translate(Exception e)
    {
        int? status = e switch
        {
            HttpRequestException http => (int?)http.StatusCode,
            _ => e.GetType().GetProperty("Status")?.GetValue(e) as int?,
        };
        bool transport = e is HttpRequestException || e is TimeoutException || e is TaskCanceledException;
        if (status is null && !transport)
        {
            return null;
        }

        string message = $"{ModelIdentity}: the chat client failed: {e.Message}";
        if (status is 401 or 403)
        {
            return new LmAuthenticationException(
                string.Create(CultureInfo.InvariantCulture, $"{ModelIdentity}: the chat client's request was refused ({status}); check the key it was made with."), e);
        }

        var kind = status switch
        {
            null or 0 => LmErrorKind.Transport,
            429 => LmErrorKind.RateLimitExhausted,
            404 => LmErrorKind.NotFound,
            >= 500 => LmErrorKind.Server,
            408 => LmErrorKind.Transport,
            _ => LmErrorKind.InvalidRequest,
        };
        return new LmProviderException(new LmError(kind, message, status is 0 ? null : status), e);
    }
}
