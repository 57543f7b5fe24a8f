using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using LmWrapper.Extensions.AI.Internal;
using Microsoft.Extensions.AI;

namespace LmWrapper.Extensions.AI;

/// <summary>
/// Any <see cref="LanguageModel"/> (OpenAI, Claude, a local model, a mock) as a Microsoft.Extensions.AI
/// <see cref="IChatClient"/>, made by <c>languageModel.AsChatClient()</c>, so it composes with MEAI's middleware
/// (<c>ChatClientBuilder.UseLogging()</c>, <c>UseOpenTelemetry()</c>, <c>UseDistributedCache()</c>) and with
/// libraries that take an <see cref="IChatClient"/>.
/// </summary>
/// <remarks>
/// <para>Messages become an <see cref="LmPrompt"/> dialog: leading system messages (and <see cref="ChatOptions.Instructions"/>)
/// one system turn, then user, assistant and tool turns (for a model that is not a chat model, a lone user message
/// becomes a text prompt, which it completes); <see cref="ChatOptions"/> fills the prompt's fields
/// (<see cref="ChatOptions.MaxOutputTokens"/>, temperature, top-p, penalties, stop sequences, seed), and
/// <see cref="ChatOptions.AdditionalProperties"/> the rest (<see cref="LmChatPropertyNames"/>). The call goes through
/// the model's <see cref="LanguageModel.PredictAsync(LmPrompt, CancellationToken)"/>, with its validation, cache and rate
/// limits. The response carries the text, usage, finish reason, model id, and in its additional properties the tokens,
/// logprobs, cost and whether it was cached. A failed prediction is thrown as an <see cref="LmProviderException"/>, as
/// other chat clients throw.</para>
/// <para>Text and images are supported (an image <see cref="DataContent"/> or <see cref="UriContent"/> becomes an
/// <see cref="LmImage"/> part of its turn, refused by a model without <see cref="LmCapabilities.Vision"/>).
/// Tools and structured output map both ways: <see cref="ChatOptions.Tools"/> (function declarations) become
/// <see cref="LmPrompt.Tools"/>, <see cref="ChatOptions.ToolMode"/> <see cref="LmPrompt.ToolChoice"/>,
/// <see cref="ChatOptions.ResponseFormat"/> <see cref="LmPrompt.ResponseFormat"/>; <see cref="FunctionCallContent"/> in
/// assistant messages becomes <see cref="LmChatTurn.ToolCalls"/> and <see cref="FunctionResultContent"/>
/// <see cref="LmChatTurn.ToolResult(string, string)"/> turns; a prediction's tool calls come back as
/// <see cref="FunctionCallContent"/>, so MEAI's <c>UseFunctionInvocation()</c> works on top. Audio, files, tools other than
/// functions, top-k and server-side conversations are a <see cref="NotSupportedException"/> naming what was asked, before
/// anything is sent. Disposing the client does not dispose the model.</para>
/// </remarks>
public sealed class LanguageModelChatClient : IChatClient
{
    /// <summary>Wraps a model.</summary>
    /// <param name="model">The model to answer with.</param>
    public LanguageModelChatClient(LanguageModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        string identity = model.ModelIdentity;
        int slash = identity.IndexOf('/', StringComparison.Ordinal);
        Metadata = new ChatClientMetadata(slash > 0 ? identity[..slash] : "lmwrapper", providerUri: null, model.ModelInfo.Name);
    }

    /// <summary>The model behind this client.</summary>
    public LanguageModel Model { get; }

    /// <summary>
    /// What the client says about itself: the provider (the part of <see cref="LanguageModel.ModelIdentity"/> before
    /// its first '/', for example "openai") and the model's name as the default model id.
    /// </summary>
    public ChatClientMetadata Metadata { get; }

    /// <inheritdoc/>
    /// <exception cref="NotSupportedException">The messages or options ask for something other than text and images (audio, files, tools, JSON output, top-k, a server-side conversation).</exception>
    /// <exception cref="ArgumentException"><see cref="ChatOptions.ModelId"/> names another model, or an additional property has the wrong type.</exception>
    /// <exception cref="LmPromptException">The prompt is invalid for the model (nothing was sent).</exception>
    /// <exception cref="LmProviderException">The provider refused or failed the request.</exception>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var prompt = ToPrompt(messages, options);
        var prediction = await Model.PredictAsync(prompt, cancellationToken).ConfigureAwait(false);
        if (prediction.Error is { } error)
        {
            throw new LmProviderException(error);
        }

        return ToResponse(prediction);
    }

    /// <inheritdoc/>
    /// <remarks>The model streams through <see cref="LanguageModel.PredictStreamingAsync"/>: the first completion's text as it comes (token by token, word by word for <see cref="MockLm"/>, at once when cached), then one last update with the usage, finish reason and LmWrapper's extra properties.</remarks>
    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        // Checked now, so bad input throws at the call rather than at the first MoveNextAsync.
        var prompt = ToPrompt(messages, options);
        return StreamAsync(prompt, cancellationToken);
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        if (serviceType == typeof(ChatClientMetadata))
        {
            return Metadata;
        }

        if (serviceType.IsInstanceOfType(this))
        {
            return this;
        }

        return serviceType.IsInstanceOfType(Model) ? Model : null;
    }

    /// <summary>Does nothing: the model is not the client's to dispose.</summary>
    public void Dispose()
    {
    }

    /// <summary>
    /// The prompt that <see cref="GetResponseAsync"/> sends for these messages and options (without sending it).
    /// </summary>
    /// <param name="messages">The conversation.</param>
    /// <param name="options">The options, or null.</param>
    /// <exception cref="NotSupportedException">The messages or options ask for something other than text.</exception>
    /// <exception cref="ArgumentException"><see cref="ChatOptions.ModelId"/> names another model, or an additional property has the wrong type.</exception>
    public LmPrompt ToPrompt(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        CheckOptions(options);
        var turns = new List<LmChatTurn>();
        var system = new List<string>();
        if (options?.Instructions is { Length: > 0 } instructions)
        {
            system.Add(instructions);
        }

        int index = 0;
        foreach (var message in messages)
        {
            if (message is null)
            {
                throw new ArgumentException($"Message {index} is null.", nameof(messages));
            }

            var role = message.Role;
            if (ImagePartsOf(message, index) is { } parts)
            {
                // Images go on the turn as content parts; the prompt's validation refuses them on any but a user turn, and
                // the model refuses them without LmCapabilities.Vision, both before anything is sent.
                var lmRole = role == ChatRole.User ? LmChatRole.User
                    : role == ChatRole.Assistant ? LmChatRole.Assistant
                    : role == ChatRole.System ? LmChatRole.System
                    : role == ChatRole.Tool ? LmChatRole.Tool
                    : throw new NotSupportedException($"Message {index} has the role '{role}', which LmWrapper's chat client does not support (system, user, assistant and tool are).");
                turns.Add(LmChatTurn.FromParts(lmRole, parts, message.AuthorName));
                index++;
                continue;
            }

            string text = TextOf(message, index);
            var calls = message.Contents.OfType<FunctionCallContent>().Select(c => new LmToolCall(c.CallId, c.Name, ArgumentsJson(c.Arguments))).ToList();
            var results = message.Contents.OfType<FunctionResultContent>().ToList();
            if (calls.Count > 0 && role == ChatRole.Assistant)
            {
                turns.Add(LmChatTurn.AssistantToolCalls(calls, text));
            }
            else if (results.Count > 0 && (role == ChatRole.Tool || role == ChatRole.User))
            {
                foreach (var result in results)
                {
                    string output = LmTools.ResultText(result.Result);
                    turns.Add(LmChatTurn.ToolResult(result.CallId, output.Length == 0 ? "(no output)" : output));
                }
            }
            else if (calls.Count > 0 || results.Count > 0)
            {
                throw new NotSupportedException($"Message {index} ({role}) holds function {(calls.Count > 0 ? "calls" : "results")}; calls belong to assistant messages and results to tool messages.");
            }
            else if (role == ChatRole.System && turns.Count == 0)
            {
                system.Add(text);
            }
            else if (role == ChatRole.System)
            {
                turns.Add(LmChatTurn.System(text)); // the prompt's validation says a system turn must come first
            }
            else if (role == ChatRole.User)
            {
                turns.Add(LmChatTurn.User(text, message.AuthorName));
            }
            else if (role == ChatRole.Assistant)
            {
                turns.Add(LmChatTurn.Assistant(text));
            }
            else if (role == ChatRole.Tool)
            {
                turns.Add(LmChatTurn.Tool(text, message.AuthorName));
            }
            else
            {
                throw new NotSupportedException($"Message {index} has the role '{role}', which LmWrapper's chat client does not support (system, user, assistant and tool are).");
            }

            index++;
        }

        if (system.Count > 0)
        {
            turns.Insert(0, LmChatTurn.System(string.Join("\n\n", system)));
        }

        // A completion model (not a chat model) asked one user message completes that text, as a text prompt.
        var prompt = !Model.IsChatModel && turns is [{ Role: LmChatRole.User, Name: null } only]
            ? new LmPrompt(only.Content)
            : new LmPrompt(turns);
        return options is null ? prompt : Apply(prompt, options);
    }

    private async IAsyncEnumerable<ChatResponseUpdate> StreamAsync(LmPrompt prompt, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The first sample's text as the model streams it (token by token, or at once from the cache), then one update
        // with everything else the whole response has: usage, finish reason, id and LmWrapper's extra properties.
        var streamed = new System.Text.StringBuilder();
        await foreach (var update in Model.PredictStreamingAsync(prompt, cancellationToken).ConfigureAwait(false))
        {
            if (update.Prediction is { } prediction)
            {
                if (prediction.Error is { } error)
                {
                    throw new LmProviderException(error);
                }

                var response = ToResponse(prediction);
                var rest = prediction.CompletionText.StartsWith(streamed.ToString(), StringComparison.Ordinal)
                    ? prediction.CompletionText[streamed.Length..]
                    : prediction.CompletionText;
                var last = new ChatResponseUpdate(ChatRole.Assistant, rest.Length > 0 ? [new TextContent(rest)] : [])
                {
                    ModelId = response.ModelId,
                    ResponseId = response.ResponseId,
                    FinishReason = response.FinishReason,
                    AdditionalProperties = response.AdditionalProperties,
                    RawRepresentation = prediction,
                };
                foreach (var call in FunctionCalls(prediction))
                {
                    last.Contents.Add(call);
                }

                if (response.Usage is { } usage)
                {
                    last.Contents.Add(new UsageContent(usage));
                }

                yield return last;
                yield break;
            }

            if (update.SampleIndex == 0 && update.Text.Length > 0)
            {
                streamed.Append(update.Text);
                yield return new ChatResponseUpdate(ChatRole.Assistant, update.Text)
                {
                    ModelId = Model.ModelInfo.Name,
                    RawRepresentation = update,
                };
            }
        }
    }

    private void CheckOptions(ChatOptions? options)
    {
        if (options is null)
        {
            return;
        }

        if (options.Tools?.FirstOrDefault(t => t is not AIFunctionDeclaration) is { } other)
        {
            throw new NotSupportedException(
                $"ChatOptions.Tools holds '{other.Name}' ({other.GetType().Name}), which is not a function; LmWrapper's chat client sends function tools (AIFunction, AIFunctionDeclaration) only.");
        }

        if (options.TopK is { } topK)
        {
            throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture, $"ChatOptions.TopK ({topK}) is not supported by LmWrapper's chat client; use TopP, or HuggingFaceLmOptions.TopK for a local model."));
        }

        if (options.ConversationId is not null)
        {
            throw new NotSupportedException("ChatOptions.ConversationId (a conversation kept by the server) is not supported by LmWrapper's chat client; send the whole conversation as messages.");
        }

        if (options.RawRepresentationFactory is not null)
        {
            throw new NotSupportedException("ChatOptions.RawRepresentationFactory (a provider's own request options) is not supported by LmWrapper's chat client; LmWrapper builds the request from the prompt.");
        }

        if (options.ModelId is { } id && id != Model.ModelInfo.Name && id != Model.ModelIdentity)
        {
            throw new ArgumentException(
                $"ChatOptions.ModelId is '{id}', but this chat client answers with {Model.ModelIdentity} (model id '{Model.ModelInfo.Name}'); leave ModelId unset or make a client for that model.",
                nameof(options));
        }
    }

    private LmPrompt Apply(LmPrompt prompt, ChatOptions options)
    {
        var props = options.AdditionalProperties;
        if (options.Seed is { } seed && (seed < int.MinValue || seed > int.MaxValue))
        {
            throw new ArgumentOutOfRangeException(nameof(options), seed, "ChatOptions.Seed must fit in 32 bits for LmWrapper.");
        }

        prompt = prompt with
        {
            MaxTokens = options.MaxOutputTokens,
            Temperature = options.Temperature is { } t ? Exact(t) : prompt.Temperature,
            TopP = options.TopP is { } p ? Exact(p) : prompt.TopP,
            FrequencyPenalty = options.FrequencyPenalty is { } f ? Exact(f) : prompt.FrequencyPenalty,
            PresencePenalty = options.PresencePenalty is { } pp ? Exact(pp) : prompt.PresencePenalty,
            Stop = options.StopSequences is { Count: > 0 } stop ? [.. stop] : null,
            Seed = options.Seed is { } s ? (int)s : null,
            Logprobs = ChatValues.Int(props, LmChatPropertyNames.Logprobs) ?? prompt.Logprobs,
            NumCompletions = ChatValues.Int(props, LmChatPropertyNames.NumCompletions) ?? prompt.NumCompletions,
            Echo = ChatValues.Bool(props, LmChatPropertyNames.Echo) ?? prompt.Echo,
            Cache = ChatValues.Bool(props, LmChatPropertyNames.Cache) ?? prompt.Cache,
            AddBosToken = ChatValues.Bool(props, LmChatPropertyNames.AddBosToken) ?? prompt.AddBosToken,
            AddSpecialTokens = ChatValues.Bool(props, LmChatPropertyNames.AddSpecialTokens) ?? prompt.AddSpecialTokens,
            Tools = options.Tools is { Count: > 0 } tools ? LmTools.Definitions(tools.Cast<AIFunctionDeclaration>()) : null,
            ToolChoice = options.Tools is { Count: > 0 } ? ToolChoiceOf(options.ToolMode) : null,
            ResponseFormat = FormatOf(options.ResponseFormat),
        };
        return prompt;
    }

    private static LmToolChoice? ToolChoiceOf(ChatToolMode? mode) => mode switch
    {
        null => null,
        NoneChatToolMode => LmToolChoice.None,
        RequiredChatToolMode { RequiredFunctionName: { } name } => LmToolChoice.Named(name),
        RequiredChatToolMode => LmToolChoice.Required,
        _ => LmToolChoice.Auto,
    };

    /// <summary>MEAI's response format as LmWrapper's: a schema strict when it meets strict mode's rules, else not.</summary>
    private static LmResponseFormat? FormatOf(ChatResponseFormat? format)
    {
        if (format is not ChatResponseFormatJson json)
        {
            return null;
        }

        if (json.Schema is not { } schema)
        {
            return LmResponseFormat.JsonObject;
        }

        string name = json.SchemaName is { Length: > 0 } n ? n : "response";
        try
        {
            return LmResponseFormat.ForJsonSchema(schema, name, strict: true);
        }
        catch (LmPromptException)
        {
            return LmResponseFormat.ForJsonSchema(schema, name, strict: false);
        }
    }

    /// <summary>Function-call arguments as JSON text.</summary>
    internal static string ArgumentsJson(IDictionary<string, object?>? arguments) =>
        arguments is null ? "{}" : JsonSerializer.Serialize(arguments, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, object?>)));

    /// <summary>Tool calls as MEAI function calls (arguments parsed to a dictionary of JSON values).</summary>
    internal static IEnumerable<FunctionCallContent> FunctionCalls(LmPrediction prediction) =>
        prediction.ToolCalls.Select(c =>
        {
            var args = c.GetArguments();
            var dict = args.ValueKind == JsonValueKind.Object
                ? args.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone(), StringComparer.Ordinal)
                : new Dictionary<string, object?>(StringComparer.Ordinal);
            return new FunctionCallContent(c.Id, c.Name, dict);
        });

    // ChatOptions holds floats: 0.7f as a double is 0.699999988…; go through decimal so the prompt (and its cache key)
    // holds the 0.7 the caller wrote.
    private static double Exact(float value) => float.IsFinite(value) ? (double)(decimal)value : value;

    private string TextOf(ChatMessage message, int index)
    {
        if (message.Contents.Count == 1 && message.Contents[0] is TextContent single)
        {
            return single.Text ?? string.Empty;
        }

        var sb = new StringBuilder();
        foreach (var content in message.Contents)
        {
            switch (content)
            {
                case TextContent text:
                    sb.Append(text.Text);
                    break;
                case UsageContent:
                    break; // bookkeeping from an earlier response, not content
                case FunctionCallContent or FunctionResultContent:
                    break; // tool calls and results: taken apart by ToPrompt
                default:
                    throw new NotSupportedException(
                        $"Message {index} ({message.Role}) holds {Describe(content)}, but LmWrapper's chat client over {Model.ModelIdentity} takes text only.");
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// A message with images (a <see cref="DataContent"/> or <see cref="UriContent"/> whose media type is an image) as
    /// content parts, in order; null for a message without images (read as text by <see cref="TextOf"/>).
    /// </summary>
    /// <exception cref="LmImageException">An image's bytes are not a PNG, JPEG, GIF or WebP image, or not its media type.</exception>
    private List<LmContentPart>? ImagePartsOf(ChatMessage message, int index)
    {
        if (!message.Contents.Any(IsImage))
        {
            return null;
        }

        var parts = new List<LmContentPart>(message.Contents.Count);
        foreach (var content in message.Contents)
        {
            switch (content)
            {
                case TextContent text:
                    if (!string.IsNullOrEmpty(text.Text))
                    {
                        parts.Add(LmContentPart.FromText(text.Text));
                    }

                    break;
                case DataContent data when IsImage(data):
                    parts.Add(LmContentPart.FromImage(LmImage.FromBytes(data.Data.Span, data.MediaType), DetailOf(data)));
                    break;
                case UriContent uri when IsImage(uri):
                    parts.Add(LmContentPart.FromImage(LmImage.FromUrl(uri.Uri), DetailOf(uri)));
                    break;
                case UsageContent:
                    break;
                default:
                    throw new NotSupportedException(
                        $"Message {index} ({message.Role}) holds {Describe(content)}, but LmWrapper's chat client over {Model.ModelIdentity} takes text and images only.");
            }
        }

        return parts;
    }

    private static bool IsImage(AIContent content) => content switch
    {
        DataContent data => data.HasTopLevelMediaType("image"),
        UriContent uri => uri.HasTopLevelMediaType("image"),
        _ => false,
    };

    /// <summary>OpenAI's image detail, when the content's additional properties carry one ("detail": "low" or "high").</summary>
    private static LmImageDetail DetailOf(AIContent content) =>
        content.AdditionalProperties?.TryGetValue("detail", out var value) == true
            ? (value?.ToString()?.ToLowerInvariant()) switch
            {
                "low" => LmImageDetail.Low,
                "high" => LmImageDetail.High,
                _ => LmImageDetail.Auto,
            }
            : LmImageDetail.Auto;

    private static string Describe(AIContent content) => content switch
    {
        DataContent data => $"a DataContent ({data.MediaType}): audio and files are not supported (images are)",
        UriContent uri => $"a UriContent ({uri.MediaType}): audio and files are not supported (images are)",
        FunctionCallContent call => $"a function call ({call.Name}): tools are not supported",
        FunctionResultContent => "a function result: tools are not supported",
        TextReasoningContent => "reasoning content (TextReasoningContent)",
        _ => $"a {content.GetType().Name}",
    };

    private ChatResponse ToResponse(LmPrediction prediction)
    {
        var props = new AdditionalPropertiesDictionary
        {
            [LmChatPropertyNames.Cached] = prediction.WasCached,
        };
        if (prediction.FinishReason is { } finish)
        {
            props[LmChatPropertyNames.FinishReason] = finish;
        }

        if (Model.ModelInfo.Prices is not null)
        {
            props[LmChatPropertyNames.Cost] = Model.CostOf(prediction);
        }

        if (prediction.Completions.Count > 1)
        {
            props[LmChatPropertyNames.Completions] = prediction.Completions.Select(c => c.CompletionText).ToArray();
        }

        if (prediction.HasCompletionTokens)
        {
            props[LmChatPropertyNames.CompletionTokens] = prediction.CompletionTokens.ToArray();
        }

        if (prediction.HasCompletionLogprobs)
        {
            props[LmChatPropertyNames.CompletionLogprobs] = prediction.CompletionLogprobs.ToArray();
        }

        if (prediction.HasTopTokenLogprobs)
        {
            props[LmChatPropertyNames.TopTokenLogprobs] = prediction.TopTokenLogprobs.Select(d => new Dictionary<string, double>(d, StringComparer.Ordinal)).ToArray();
        }

        if (prediction.HasPromptLogprobs)
        {
            props[LmChatPropertyNames.PromptTokens] = prediction.PromptTokens.ToArray();
            props[LmChatPropertyNames.PromptLogprobs] = prediction.PromptLogprobs.ToArray();
        }

        UsageDetails? usage = null;
        foreach (var sample in prediction.Completions)
        {
            if (sample.Usage is { } u)
            {
                usage ??= new UsageDetails { InputTokenCount = 0, OutputTokenCount = 0, TotalTokenCount = 0, CachedInputTokenCount = 0 };
                usage.InputTokenCount += u.InputTokens;
                usage.OutputTokenCount += u.OutputTokens;
                usage.TotalTokenCount += u.TotalTokens;
                usage.CachedInputTokenCount += u.CachedInputTokens;
            }
        }

        var message = new ChatMessage(ChatRole.Assistant, prediction.CompletionText);
        if (prediction.HasToolCalls)
        {
            if (prediction.CompletionText.Length == 0)
            {
                message.Contents.Clear();
            }

            foreach (var call in FunctionCalls(prediction))
            {
                message.Contents.Add(call);
            }
        }

        return new ChatResponse(message)
        {
            ModelId = Model.ModelInfo.Name,
            ResponseId = prediction.ProviderData?.GetValueOrDefault("id"),
            FinishReason = MapFinishReason(prediction.FinishReason),
            Usage = usage,
            AdditionalProperties = props,
            RawRepresentation = prediction,
        };
    }

    /// <summary>The providers' finish reasons in MEAI's terms; one MEAI does not name is kept as it is.</summary>
    internal static ChatFinishReason? MapFinishReason(string? reason) => reason switch
    {
        null => null,
        "stop" or "end_turn" or "stop_sequence" or "eos" => ChatFinishReason.Stop,
        "length" or "max_tokens" or "model_length" => ChatFinishReason.Length,
        "content_filter" or "refusal" => ChatFinishReason.ContentFilter,
        "tool_calls" or "tool_use" or "function_call" => ChatFinishReason.ToolCalls,
        _ => new ChatFinishReason(reason),
    };
}
