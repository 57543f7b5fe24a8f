using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using static LmWrapper.Testing.FakeRequestReader;

namespace LmWrapper.Testing;

/// <summary>The fake's /v1/chat/completions, /v1/completions and /v1/models.</summary>
internal static class FakeOpenAiGeneration
{
    private const long Created = 1_735_689_600; // 2025-01-01

    private static readonly HashSet<string> ChatParams =
    [
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop", "logprobs",
        "top_logprobs", "presence_penalty", "frequency_penalty", "seed", "user", "stream", "stream_options",
        "response_format", "tools", "tool_choice", "parallel_tool_calls", "logit_bias", "service_tier", "store",
        "metadata", "reasoning_effort", "modalities", "audio", "prediction", "web_search_options", "verbosity",
        "prompt_cache_key", "safety_identifier",
    ];

    private static readonly HashSet<string> CompletionParams =
    [
        "model", "prompt", "suffix", "max_tokens", "temperature", "top_p", "n", "stream", "stream_options", "logprobs",
        "echo", "stop", "presence_penalty", "frequency_penalty", "best_of", "logit_bias", "user", "seed",
    ];

    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant", "tool", "function"];

    private sealed record Choice(string? Text, string? Refusal, List<string> Tokens, string Finish, int Reasoning)
    {
        public List<(string Id, string Name, string Arguments)>? ToolCalls { get; init; }
    }

    public static byte[] Chat(FakeOpenAiServer server, byte[] body) => Chat(server, body, allowStream: false, out _);

    /// <summary>Answers a chat request: a chat.completion, or with <c>stream: true</c> (where allowed) its event stream.</summary>
    public static byte[] Chat(FakeOpenAiServer server, byte[] body, bool allowStream, out bool streamed)
    {
        using var doc = ParseObject(body);
        var root = doc.RootElement;
        var model = RequireModel(server, root);
        if (!model.IsChat)
        {
            throw new FakeApiError(404, "This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?", param: "model");
        }

        RejectUnknown(root, ChatParams);
        var messages = ReadMessages(root, model);
        bool includeUsage = StreamOptions(root, allowStream, out streamed);
        var tools = FakeOpenAiTools.Read(root, messages);

        long? maxTokens = Integer(root, "max_tokens", 1, int.MaxValue);
        long? maxCompletionTokens = Integer(root, "max_completion_tokens", 1, int.MaxValue);
        if (model.IsReasoning && maxTokens is not null)
        {
            throw new FakeApiError(400, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", param: "max_tokens", code: "unsupported_parameter");
        }

        if (maxTokens is not null && maxCompletionTokens is not null)
        {
            throw new FakeApiError(400, "Invalid request: 'max_tokens' and 'max_completion_tokens' cannot both be set.", param: "max_tokens", code: "invalid_value");
        }

        string limitName = maxTokens is not null ? "max_tokens" : "max_completion_tokens";
        long? limit = maxTokens ?? maxCompletionTokens;
        CheckMaxOutput(model, limitName, limit);
        double? temperature = Number(root, "temperature", 0, 2);
        double? topP = Number(root, "top_p", 0, 1);
        double? presence = Number(root, "presence_penalty", -2, 2);
        double? frequency = Number(root, "frequency_penalty", -2, 2);
        long n = Integer(root, "n", 1, 128) ?? 1;
        long? seed = Integer(root, "seed", long.MinValue, long.MaxValue);
        var stop = Stop(root);
        bool logprobs = Bool(root, "logprobs") ?? false;
        long? topLogprobs = Integer(root, "top_logprobs", 0, 20);
        if (topLogprobs is not null && !logprobs)
        {
            throw new FakeApiError(400, "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.", param: "top_logprobs", code: "invalid_value");
        }

        string? effort = ReasoningEffort(root, model);
        if (model.IsReasoning)
        {
            RejectNonDefault("temperature", temperature, 1);
            RejectNonDefault("top_p", topP, 1);
            if (presence is not null and not 0)
            {
                throw Unsupported("presence_penalty");
            }

            if (frequency is not null and not 0)
            {
                throw Unsupported("frequency_penalty");
            }

            if (logprobs)
            {
                throw Unsupported("logprobs");
            }

            if (stop.Count > 0)
            {
                throw Unsupported("stop");
            }
        }

        int promptTokens = 3;
        foreach (var m in messages)
        {
            promptTokens += 3 + FakeTokens.Count(m.Role) + FakeTokens.Count(m.Content) + (m.Name is null ? 0 : 1 + FakeTokens.Count(m.Name))
                + m.Images.Sum(image => image.Tokens);
        }

        if (promptTokens + (limit ?? 0) > model.ContextWindow)
        {
            throw new FakeApiError(400, $"This model's maximum context length is {model.ContextWindow} tokens. However, you requested {promptTokens + (limit ?? 0)} tokens ({promptTokens} in the messages, {limit ?? 0} in the completion). Please reduce the length of the messages or completion.", param: "messages", code: "context_length_exceeded");
        }

        int maxOut = (int)Math.Min(limit ?? model.MaxOutputTokens, model.ContextWindow - promptTokens);
        var responder = server.Responder;
        var choices = new List<Choice>((int)n);
        var reasoningContents = new List<string?>((int)n);
        int cached = 0;
        for (int i = 0; i < n; i++)
        {
            if (tools.Calls(messages, root, i) is { } calls)
            {
                choices.Add(new Choice(null, null, [], "tool_calls", model.IsReasoning ? Math.Min(ReasoningTokens(effort ?? model.DefaultReasoningEffort), maxOut) : 0) { ToolCalls = calls });
                reasoningContents.Add(null);
                continue;
            }

            var reply = responder(new FakeOpenAiGenerationRequest
            {
                Model = model.Id,
                IsChat = true,
                Messages = messages,
                ChoiceIndex = i,
                Temperature = temperature ?? 1,
                Seed = seed,
                Body = root,
            }) ?? throw new InvalidOperationException("The responder returned null.");
            if (reply.ToolCalls is { Count: > 0 } scripted)
            {
                choices.Add(new Choice(null, null, [], "tool_calls", model.IsReasoning ? Math.Min(ReasoningTokens(effort ?? model.DefaultReasoningEffort), maxOut) : 0)
                {
                    ToolCalls = tools.Scripted(scripted, root, i),
                });
                reasoningContents.Add(null);
                continue;
            }

            if (tools.WantsJson && reply.Refusal is null)
            {
                reply = reply with { Text = tools.Answer(reply.Text ?? string.Empty) };
            }

            cached = Math.Max(cached, Math.Min(reply.CachedPromptTokens, promptTokens));
            choices.Add(Generate(reply, stop, maxOut, model.IsReasoning ? Math.Min(ReasoningTokens(effort ?? model.DefaultReasoningEffort), maxOut) : 0));
            reasoningContents.Add(reply.ReasoningContent);
        }

        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, FakeOpenAiServer.JsonOptions))
        {
            w.WriteStartObject();
            w.WriteString("id", "chatcmpl-" + Id(body));
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", Created);
            w.WriteString("model", model.Id);
            w.WriteStartArray("choices");
            int completionTokens = 0, reasoningTokens = 0;
            for (int i = 0; i < choices.Count; i++)
            {
                var c = choices[i];
                completionTokens += c.Tokens.Count + c.Reasoning + (c.ToolCalls?.Sum(t => 3 + FakeTokens.Count(t.Name) + FakeTokens.Count(t.Arguments)) ?? 0);
                reasoningTokens += c.Reasoning;
                w.WriteStartObject();
                w.WriteNumber("index", i);
                w.WriteStartObject("message");
                w.WriteString("role", "assistant");
                FakeOpenAiServer.WriteNullable(w, "content", c.Text);
                FakeOpenAiServer.WriteNullable(w, "refusal", c.Refusal);
                if (reasoningContents[i] is { } reasoningContent)
                {
                    w.WriteString("reasoning_content", reasoningContent);
                }

                if (c.ToolCalls is { } toolCalls)
                {
                    w.WriteStartArray("tool_calls");
                    foreach (var (id, name, arguments) in toolCalls)
                    {
                        w.WriteStartObject();
                        w.WriteString("id", id);
                        w.WriteString("type", "function");
                        w.WriteStartObject("function");
                        w.WriteString("name", name);
                        w.WriteString("arguments", arguments);
                        w.WriteEndObject();
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                w.WriteStartArray("annotations");
                w.WriteEndArray();
                w.WriteEndObject();
                if (logprobs)
                {
                    w.WriteStartObject("logprobs");
                    w.WriteStartArray("content");
                    for (int t = 0; t < c.Tokens.Count; t++)
                    {
                        string tok = c.Tokens[t];
                        double lp = FakeTokens.Logprob(tok, t, i);
                        w.WriteStartObject();
                        WriteTokenInfo(w, tok, lp);
                        w.WriteStartArray("top_logprobs");
                        foreach (var (alt, altLp) in FakeTokens.Top(tok, lp, (int)(topLogprobs ?? 0), t))
                        {
                            w.WriteStartObject();
                            WriteTokenInfo(w, alt, altLp);
                            w.WriteEndObject();
                        }

                        w.WriteEndArray();
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteNull("refusal");
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNull("logprobs");
                }

                w.WriteString("finish_reason", c.Finish);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteUsage(w, promptTokens, completionTokens, cached, reasoningTokens, detailed: true);
            w.WriteString("service_tier", "default");
            w.WriteString("system_fingerprint", "fp_fake0001");
            w.WriteEndObject();
        }

        return streamed
            ? FakeOpenAiStreaming.ChatStream(buffer.WrittenSpan.ToArray(), [.. choices.Select(c => c.Tokens)], includeUsage)
            : buffer.WrittenSpan.ToArray();
    }

    public static byte[] Completions(FakeOpenAiServer server, byte[] body) => Completions(server, body, allowStream: false, out _);

    /// <summary>Answers a completions request: a text_completion, or with <c>stream: true</c> (where allowed) its event stream.</summary>
    public static byte[] Completions(FakeOpenAiServer server, byte[] body, bool allowStream, out bool streamed)
    {
        using var doc = ParseObject(body);
        var root = doc.RootElement;
        var model = RequireModel(server, root);
        if (model.IsChat)
        {
            throw new FakeApiError(404, "This is a chat model and not supported in the v1/completions endpoint. Did you mean to use v1/chat/completions?", param: "model");
        }

        RejectUnknown(root, CompletionParams);
        if (!root.TryGetProperty("prompt", out var promptElement) || promptElement.ValueKind == JsonValueKind.Null)
        {
            throw new FakeApiError(400, "Missing required parameter: 'prompt'.", param: "prompt", code: "missing_required_parameter");
        }

        var prompts = new List<string>();
        if (promptElement.ValueKind == JsonValueKind.String)
        {
            prompts.Add(promptElement.GetString()!);
        }
        else if (promptElement.ValueKind == JsonValueKind.Array && promptElement.GetArrayLength() > 0
                 && promptElement.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
        {
            prompts.AddRange(promptElement.EnumerateArray().Select(e => e.GetString()!));
        }
        else
        {
            throw InvalidType("prompt", "a string or an array of strings", promptElement);
        }

        bool includeUsage = StreamOptions(root, allowStream, out streamed);
        long maxTokens = Integer(root, "max_tokens", 0, int.MaxValue) ?? 16;
        CheckMaxOutput(model, "max_tokens", maxTokens);
        double? temperature = Number(root, "temperature", 0, 2);
        Number(root, "top_p", 0, 1);
        Number(root, "presence_penalty", -2, 2);
        Number(root, "frequency_penalty", -2, 2);
        long n = Integer(root, "n", 1, 128) ?? 1;
        Integer(root, "best_of", 1, 20);
        long? seed = Integer(root, "seed", long.MinValue, long.MaxValue);
        long? logprobs = Integer(root, "logprobs", 0, 5);
        bool echo = Bool(root, "echo") ?? false;
        var stop = Stop(root);
        if (echo && logprobs is not null && !model.SupportsEchoWithLogprobs)
        {
            throw new FakeApiError(400, "Setting 'echo' and 'logprobs' at the same time is not supported for this model.");
        }

        if (maxTokens == 0 && !echo)
        {
            throw new FakeApiError(400, "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 instead.", param: "max_tokens", code: "integer_below_min_value");
        }

        var buffer = new ArrayBufferWriter<byte>(1024);
        var streamChoices = new List<(string Prompt, List<string> Tokens)>();
        int promptTokensTotal = 0, completionTokensTotal = 0;
        using (var w = new Utf8JsonWriter(buffer, FakeOpenAiServer.JsonOptions))
        {
            w.WriteStartObject();
            w.WriteString("id", "cmpl-" + Id(body));
            w.WriteString("object", "text_completion");
            w.WriteNumber("created", Created);
            w.WriteString("model", model.Id);
            w.WriteStartArray("choices");
            var responder = server.Responder;
            int cached = 0;
            for (int p = 0; p < prompts.Count; p++)
            {
                string prompt = prompts[p];
                var promptTokens = FakeTokens.Tokenize(prompt);
                promptTokensTotal += promptTokens.Count;
                if (promptTokens.Count + maxTokens > model.ContextWindow)
                {
                    throw new FakeApiError(400, $"This model's maximum context length is {model.ContextWindow} tokens, however you requested {promptTokens.Count + maxTokens} tokens ({promptTokens.Count} in your prompt; {maxTokens} for the completion). Please reduce your prompt; or completion length.", code: "context_length_exceeded");
                }

                for (int i = 0; i < n; i++)
                {
                    var reply = responder(new FakeOpenAiGenerationRequest
                    {
                        Model = model.Id,
                        IsChat = false,
                        Prompt = prompt,
                        ChoiceIndex = i,
                        Temperature = temperature ?? 1,
                        Seed = seed,
                        Body = root,
                    }) ?? throw new InvalidOperationException("The responder returned null.");
                    cached = Math.Max(cached, reply.CachedPromptTokens);
                    var c = Generate(reply with { Refusal = null }, stop, (int)maxTokens, 0);
                    completionTokensTotal += c.Tokens.Count;
                    streamChoices.Add((prompt, c.Tokens));
                    w.WriteStartObject();
                    w.WriteString("text", echo ? prompt + c.Text : c.Text);
                    w.WriteNumber("index", p * n + i);
                    if (logprobs is { } k)
                    {
                        WriteCompletionLogprobs(w, prompt, echo ? promptTokens : [], c.Tokens, (int)k, i);
                    }
                    else
                    {
                        w.WriteNull("logprobs");
                    }

                    w.WriteString("finish_reason", c.Finish);
                    w.WriteEndObject();
                }
            }

            w.WriteEndArray();
            WriteUsage(w, promptTokensTotal, completionTokensTotal, Math.Min(cached, promptTokensTotal), 0, detailed: false);
            w.WriteEndObject();
        }

        return streamed
            ? FakeOpenAiStreaming.CompletionsStream(buffer.WrittenSpan.ToArray(), streamChoices, echo, includeUsage)
            : buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads <c>stream</c> and <c>stream_options</c> as the API checks them; returns <c>include_usage</c>.</summary>
    private static bool StreamOptions(JsonElement root, bool allowStream, out bool stream)
    {
        stream = Bool(root, "stream") ?? false;
        if (stream && !allowStream)
        {
            throw new FakeApiError(400, "Streaming is not supported here (a batch request cannot stream); send stream: false.", param: "stream");
        }

        if (!root.TryGetProperty("stream_options", out var options) || options.ValueKind == JsonValueKind.Null)
        {
            return false;
        }

        if (!stream)
        {
            throw new FakeApiError(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: "stream_options", code: "invalid_value");
        }

        if (options.ValueKind != JsonValueKind.Object)
        {
            throw InvalidType("stream_options", "an object", options);
        }

        foreach (var property in options.EnumerateObject())
        {
            if (property.Name != "include_usage")
            {
                throw new FakeApiError(400, $"Unrecognized request argument supplied: stream_options.{property.Name}", param: "stream_options." + property.Name);
            }
        }

        return Bool(options, "include_usage") ?? false;
    }

    public static byte[] ListModels(FakeOpenAiServer server)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, FakeOpenAiServer.JsonOptions))
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var m in server.AllModels.OrderBy(m => m.Id, StringComparer.Ordinal))
            {
                WriteModel(w, m);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] GetModel(FakeOpenAiServer server, string id)
    {
        if (!server.TryGetModel(id, out var model))
        {
            throw ModelNotFound(id);
        }

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, FakeOpenAiServer.JsonOptions))
        {
            WriteModel(w, model);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteModel(Utf8JsonWriter w, FakeOpenAiModel m)
    {
        w.WriteStartObject();
        w.WriteString("id", m.Id);
        w.WriteString("object", "model");
        w.WriteNumber("created", Created);
        w.WriteString("owned_by", "system");
        w.WriteEndObject();
    }

    private static FakeApiError ModelNotFound(string id) =>
        new(404, $"The model `{id}` does not exist or you do not have access to it.", code: "model_not_found");

    private static FakeOpenAiModel RequireModel(FakeOpenAiServer server, JsonElement root)
    {
        if (!root.TryGetProperty("model", out var m) || m.ValueKind == JsonValueKind.Null)
        {
            throw new FakeApiError(400, "you must provide a model parameter");
        }

        if (m.ValueKind != JsonValueKind.String)
        {
            throw InvalidType("model", "a string", m);
        }

        string id = m.GetString()!;
        return server.TryGetModel(id, out var model) ? model : throw ModelNotFound(id);
    }

    private static List<FakeOpenAiMessage> ReadMessages(JsonElement root, FakeOpenAiModel model)
    {
        if (!root.TryGetProperty("messages", out var arr) || arr.ValueKind == JsonValueKind.Null)
        {
            throw new FakeApiError(400, "Missing required parameter: 'messages'.", param: "messages", code: "missing_required_parameter");
        }

        if (arr.ValueKind != JsonValueKind.Array)
        {
            throw InvalidType("messages", "an array", arr);
        }

        if (arr.GetArrayLength() == 0)
        {
            throw new FakeApiError(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", param: "messages", code: "empty_array");
        }

        var list = new List<FakeOpenAiMessage>();
        int i = 0;
        foreach (var m in arr.EnumerateArray())
        {
            string at = $"messages[{i}]";
            if (m.ValueKind != JsonValueKind.Object)
            {
                throw InvalidType(at, "an object", m);
            }

            string role = String(m, "role") ?? throw new FakeApiError(400, $"Missing required parameter: '{at}.role'.", param: at + ".role", code: "missing_required_parameter");
            if (!Roles.Contains(role))
            {
                throw new FakeApiError(400, $"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", param: at + ".role", code: "invalid_value");
            }

            string content;
            List<FakeImage>? images = null;
            if (!m.TryGetProperty("content", out var c) || c.ValueKind == JsonValueKind.Null)
            {
                if (role != "assistant")
                {
                    throw new FakeApiError(400, $"Missing required parameter: '{at}.content'.", param: at + ".content", code: "missing_required_parameter");
                }

                content = string.Empty;
            }
            else if (c.ValueKind == JsonValueKind.String)
            {
                content = c.GetString()!;
            }
            else if (c.ValueKind == JsonValueKind.Array)
            {
                var sb = new StringBuilder();
                int p = 0;
                foreach (var part in c.EnumerateArray())
                {
                    string partAt = $"{at}.content[{p}]";
                    string? type = part.ValueKind == JsonValueKind.Object ? String(part, "type") : null;
                    if (type == "text")
                    {
                        if (sb.Length > 0)
                        {
                            sb.Append('\n');
                        }

                        sb.Append(String(part, "text"));
                    }
                    else if (type == "image_url")
                    {
                        (images ??= []).Add(ReadImagePart(part, partAt, role, model));
                    }
                    else if (type is not null && !PartTypes.Contains(type))
                    {
                        throw new FakeApiError(400, $"Invalid value: '{type}'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', 'audio', and 'file'.", param: partAt + ".type", code: "invalid_value");
                    }

                    p++;
                }

                content = sb.ToString();
            }
            else
            {
                throw InvalidType(at + ".content", "one of a string or an array of objects", c);
            }

            if (role == "tool" && String(m, "tool_call_id") is null)
            {
                throw new FakeApiError(400, $"Missing required parameter: '{at}.tool_call_id'.", param: at + ".tool_call_id", code: "missing_required_parameter");
            }

            list.Add(new FakeOpenAiMessage(role, content, String(m, "name")) { Images = images ?? [], ToolCallId = String(m, "tool_call_id") });
            i++;
        }

        return list;
    }

    private static readonly HashSet<string> PartTypes = ["text", "image_url", "input_audio", "refusal", "audio", "file"];

    /// <summary>
    /// Checks an <c>image_url</c> part as the real API does (vision models and user messages only; a URL or a base64 data
    /// URL of a PNG, JPEG, GIF or WebP image of at most 20 MB; detail auto, low or high) and counts its tokens.
    /// </summary>
    private static FakeImage ReadImagePart(JsonElement part, string at, string role, FakeOpenAiModel model)
    {
        if (role != "user")
        {
            throw new FakeApiError(400, role == "assistant"
                ? "Invalid value: 'image_url'. Supported values are: 'text' and 'refusal'."
                : "Invalid value: 'image_url'. Supported values are: 'text'.", param: at + ".type", code: "invalid_value");
        }

        if (!model.SupportsVision)
        {
            throw new FakeApiError(400, "Invalid content type. image_url is only supported by certain models.", param: at + ".type");
        }

        if (!part.TryGetProperty("image_url", out var imageUrl) || imageUrl.ValueKind == JsonValueKind.Null)
        {
            throw new FakeApiError(400, $"Missing required parameter: '{at}.image_url'.", param: at + ".image_url", code: "missing_required_parameter");
        }

        if (imageUrl.ValueKind != JsonValueKind.Object)
        {
            throw InvalidType(at + ".image_url", "an object", imageUrl);
        }

        string url = String(imageUrl, "url") ?? throw new FakeApiError(400, $"Missing required parameter: '{at}.image_url.url'.", param: at + ".image_url.url", code: "missing_required_parameter");
        string detail = String(imageUrl, "detail") ?? "auto";
        if (detail is not ("auto" or "low" or "high"))
        {
            throw new FakeApiError(400, $"Invalid value: '{detail}'. Supported values are: 'auto', 'low', and 'high'.", param: at + ".image_url.detail", code: "invalid_value");
        }

        string? mediaType = null;
        int? width = null, height = null;
        if (url.StartsWith("data:", StringComparison.Ordinal))
        {
            string example = "Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU=')";
            if (!FakeImages.TrySplitDataUrl(url, out string declared, out string base64))
            {
                throw new FakeApiError(400, $"Invalid '{at}.image_url.url'. {example}, but got a value without the ';base64,' marker.", param: at + ".image_url.url", code: "invalid_value");
            }

            if (!FakeImages.MediaTypes.Contains(declared))
            {
                throw new FakeApiError(400, $"Invalid '{at}.image_url.url'. {example}, but got unsupported MIME type '{declared}'.", param: at + ".image_url.url", code: "invalid_value");
            }

            byte[] bytes = FakeImages.TryDecode(base64)
                ?? throw new FakeApiError(400, $"Invalid '{at}.image_url.url'. {example}, but got a value that is not valid base64.", param: at + ".image_url.url", code: "invalid_value");
            if (bytes.Length > 20 * 1024 * 1024 || !FakeImages.TryRead(bytes, out string actual, out int w, out int h))
            {
                throw new FakeApiError(400, "You uploaded an unsupported image. Please make sure your image is below 20 MB in size and is of one the following formats: ['png', 'jpeg', 'gif', 'webp'].", code: "invalid_image_format");
            }

            (mediaType, width, height) = (actual, w, h);
        }
        else if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "https" && uri.Scheme != "http"))
        {
            throw new FakeApiError(400, $"Invalid '{at}.image_url.url'. Expected a valid URL, but got a value with an invalid format.", param: at + ".image_url.url", code: "invalid_value");
        }

        int tokens = model.ImagePatchMultiplier is { } multiplier
            ? FakeImages.OpenAiPatches(width, height, multiplier)
            : FakeImages.OpenAiTiles(width, height, detail, model.ImageBaseTokens, model.ImageTileTokens);
        return new FakeImage(mediaType, mediaType is null ? url : null, width, height, detail, tokens);
    }

    /// <summary>Checks <c>reasoning_effort</c> as the real API does: reasoning models only, and only the values the model takes.</summary>
    private static string? ReasoningEffort(JsonElement root, FakeOpenAiModel model)
    {
        string? effort = String(root, "reasoning_effort");
        if (effort is null)
        {
            return null;
        }

        if (model.ReasoningEfforts.Count == 0)
        {
            throw Unsupported("reasoning_effort");
        }

        if (effort is not ("none" or "minimal" or "low" or "medium" or "high" or "xhigh"))
        {
            throw new FakeApiError(400, $"Invalid value: '{effort}'. Supported values are: 'none', 'minimal', 'low', 'medium', 'high', and 'xhigh'.", param: "reasoning_effort", code: "invalid_value");
        }

        if (!model.ReasoningEfforts.Contains(effort))
        {
            var quoted = model.ReasoningEfforts.Select(e => $"'{e}'").ToList();
            string list = quoted.Count == 1 ? quoted[0] : string.Join(", ", quoted.Take(quoted.Count - 1)) + ", and " + quoted[^1];
            throw new FakeApiError(400, $"Unsupported value: '{effort}' is not supported with the '{model.Id}' model. Supported values are: {list}.", param: "reasoning_effort", code: "unsupported_value");
        }

        return effort;
    }

    /// <summary>The reasoning tokens the fake spends for an effort (more effort, more tokens; none spends none).</summary>
    private static int ReasoningTokens(string effort) => effort switch
    {
        "none" => 0,
        "minimal" => 4,
        "low" => 8,
        "high" => 32,
        "xhigh" => 64,
        _ => 16,
    };

    private static void CheckMaxOutput(FakeOpenAiModel model, string name, long? limit)
    {
        if (limit > model.MaxOutputTokens)
        {
            throw new FakeApiError(400, $"{name} is too large: {limit}. This model supports at most {model.MaxOutputTokens} completion tokens, whereas you provided {limit}.", param: name, code: "invalid_value");
        }
    }

    private static void RejectNonDefault(string name, double? value, double allowed)
    {
        if (value is { } v && v != allowed)
        {
            throw new FakeApiError(400, string.Create(CultureInfo.InvariantCulture, $"Unsupported value: '{name}' does not support {v} with this model. Only the default ({allowed}) value is supported."), param: name, code: "unsupported_value");
        }
    }

    private static Choice Generate(FakeOpenAiReply reply, List<string> stop, int maxTokens, int reasoning)
    {
        if (reply.Refusal is { } refusal)
        {
            return new Choice(null, refusal, [], reply.FinishReason ?? "stop", reasoning);
        }

        string text = reply.Text ?? string.Empty;
        string finish = "stop";
        int cut = -1;
        foreach (var s in stop)
        {
            int at = s.Length == 0 ? -1 : text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut))
            {
                cut = at;
            }
        }

        if (cut >= 0)
        {
            text = text[..cut];
        }

        var tokens = FakeTokens.Tokenize(text);
        int room = Math.Max(0, maxTokens - reasoning);
        if (tokens.Count > room)
        {
            tokens.RemoveRange(room, tokens.Count - room);
            text = string.Concat(tokens);
            finish = "length";
        }

        return new Choice(text, null, tokens, reply.FinishReason ?? finish, reasoning);
    }

    private static void WriteTokenInfo(Utf8JsonWriter w, string token, double logprob)
    {
        w.WriteString("token", token);
        w.WriteNumber("logprob", logprob);
        w.WriteStartArray("bytes");
        foreach (byte b in Encoding.UTF8.GetBytes(token))
        {
            w.WriteNumberValue(b);
        }

        w.WriteEndArray();
    }

    private static void WriteCompletionLogprobs(Utf8JsonWriter w, string prompt, List<string> promptTokens, List<string> tokens, int k, int choice)
    {
        // text_offset counts characters from the start of the prompt, as the legacy API does, echo or not.
        w.WriteStartObject("logprobs");
        w.WriteStartArray("tokens");
        foreach (var t in promptTokens)
        {
            w.WriteStringValue(t);
        }

        foreach (var t in tokens)
        {
            w.WriteStringValue(t);
        }

        w.WriteEndArray();
        w.WriteStartArray("token_logprobs");
        for (int i = 0; i < promptTokens.Count; i++)
        {
            if (i == 0)
            {
                w.WriteNullValue();
            }
            else
            {
                w.WriteNumberValue(FakeTokens.Logprob(promptTokens[i], i, -1));
            }
        }

        for (int i = 0; i < tokens.Count; i++)
        {
            w.WriteNumberValue(FakeTokens.Logprob(tokens[i], i, choice));
        }

        w.WriteEndArray();
        w.WriteStartArray("top_logprobs");
        for (int i = 0; i < promptTokens.Count; i++)
        {
            if (i == 0)
            {
                w.WriteNullValue();
            }
            else
            {
                WriteTopDict(w, promptTokens[i], FakeTokens.Logprob(promptTokens[i], i, -1), k, i);
            }
        }

        for (int i = 0; i < tokens.Count; i++)
        {
            WriteTopDict(w, tokens[i], FakeTokens.Logprob(tokens[i], i, choice), k, i);
        }

        w.WriteEndArray();
        w.WriteStartArray("text_offset");
        int offset = 0;
        foreach (var t in promptTokens)
        {
            w.WriteNumberValue(offset);
            offset += t.Length;
        }

        offset = prompt.Length;
        foreach (var t in tokens)
        {
            w.WriteNumberValue(offset);
            offset += t.Length;
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteTopDict(Utf8JsonWriter w, string token, double logprob, int k, int position)
    {
        w.WriteStartObject();
        foreach (var (alt, lp) in FakeTokens.Top(token, logprob, k, position))
        {
            w.WriteNumber(alt, lp);
        }

        w.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter w, int prompt, int completion, int cached, int reasoning, bool detailed)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", cached);
        w.WriteNumber("audio_tokens", 0);
        w.WriteEndObject();
        if (detailed)
        {
            w.WriteStartObject("completion_tokens_details");
            w.WriteNumber("reasoning_tokens", reasoning);
            w.WriteNumber("audio_tokens", 0);
            w.WriteNumber("accepted_prediction_tokens", 0);
            w.WriteNumber("rejected_prediction_tokens", 0);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static string Id(byte[] body)
    {
        uint h = 2166136261u;
        foreach (byte b in body)
        {
            h = (h ^ b) * 16777619u;
        }

        return h.ToString("x8", CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..16];
    }
}
