using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LmWrapper.Testing.Anthropic;

/// <summary>The Messages API's request checks and the fake model's deterministic behaviour (internal).</summary>
internal static class FakeAnthropicRules
{
    private static readonly HashSet<string> MessageFields =
    [
        "model", "messages", "max_tokens", "system", "temperature", "top_p", "top_k", "stop_sequences", "metadata",
        "stream", "tools", "tool_choice", "thinking", "service_tier", "container", "mcp_servers", "context_management",
    ];

    private static readonly HashSet<string> CountTokensFields =
        ["model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers", "context_management"];

    /// <summary>Checks a <c>/v1/messages</c> body (or a batch request's params) or a count-tokens body, like the real API.</summary>
    public static FakeAnthropicMessageRequest Parse(JsonNode? node, bool countTokens, Func<string, bool> isKnownModel, string? customId = null)
    {
        if (node is not JsonObject body)
        {
            throw FakeAnthropicApiError.Invalid("The request body must be a JSON object.");
        }

        var allowed = countTokens ? CountTokensFields : MessageFields;
        foreach (var (name, _) in body)
        {
            if (!allowed.Contains(name))
            {
                throw FakeAnthropicApiError.Invalid($"{name}: Extra inputs are not permitted");
            }
        }

        string model = GetString(body, "model") ?? throw FakeAnthropicApiError.Invalid("model: Field required");
        int maxTokens = 0;
        if (!countTokens)
        {
            if (!body.TryGetPropertyValue("max_tokens", out var mt) || mt is null)
            {
                throw FakeAnthropicApiError.Invalid("max_tokens: Field required");
            }

            if (!TryGetInt(mt, out maxTokens))
            {
                throw FakeAnthropicApiError.Invalid("max_tokens: Input should be a valid integer");
            }

            if (maxTokens < 1)
            {
                throw FakeAnthropicApiError.Invalid("max_tokens: Input should be greater than or equal to 1");
            }

            if (body["stream"] is JsonValue s && s.TryGetValue(out bool stream) && stream && customId is not null)
            {
                throw FakeAnthropicApiError.Invalid("stream: batch requests cannot stream; send stream: false or leave it out.");
            }

            if (body["stream"] is { } streamNode && (streamNode is not JsonValue sv || !sv.TryGetValue(out bool _)))
            {
                throw FakeAnthropicApiError.Invalid("stream: Input should be a valid boolean");
            }
        }

        string? system = null;
        if (body.TryGetPropertyValue("system", out var sys) && sys is not null)
        {
            system = sys switch
            {
                JsonValue v when v.TryGetValue(out string? text) => text,
                JsonArray blocks => JoinTextBlocks(blocks, "system"),
                _ => throw FakeAnthropicApiError.Invalid("system: Input should be a valid string or a list of text blocks"),
            };
        }

        if (!body.TryGetPropertyValue("messages", out var msgs) || msgs is null)
        {
            throw FakeAnthropicApiError.Invalid("messages: Field required");
        }

        if (msgs is not JsonArray array)
        {
            throw FakeAnthropicApiError.Invalid("messages: Input should be a valid list");
        }

        if (array.Count == 0)
        {
            throw FakeAnthropicApiError.Invalid("messages: at least one message is required");
        }

        int? thinkingBudget = ParseThinking(body);
        var toolResults = FakeAnthropicTools.CheckToolBlocks(array);
        var (tools, toolChoice, toolChoiceName) = FakeAnthropicTools.Parse(body, thinkingBudget);
        int thinkingBlocks = 0;
        var images = new List<(FakeImage Image, string At)>();
        var messages = new List<FakeAnthropicMessage>();
        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject m)
            {
                throw FakeAnthropicApiError.Invalid($"messages.{i}: Input should be a valid dictionary");
            }

            string? role = GetString(m, "role");
            if (role is "system")
            {
                throw FakeAnthropicApiError.Invalid(
                    "messages: Unexpected role \"system\". The Messages API accepts a top-level `system` parameter, not \"system\" as an input message role.");
            }

            if (role is not ("user" or "assistant"))
            {
                throw FakeAnthropicApiError.Invalid($"messages.{i}.role: Input should be 'user' or 'assistant'");
            }

            bool isFinalAssistant = i == array.Count - 1 && role == "assistant";
            string text;
            switch (m["content"])
            {
                case JsonValue v when v.TryGetValue(out string? str):
                    if (str.Length == 0 && !isFinalAssistant)
                    {
                        throw FakeAnthropicApiError.Invalid("messages: text content blocks must be non-empty");
                    }

                    if (str.Length > 0 && string.IsNullOrWhiteSpace(str))
                    {
                        throw FakeAnthropicApiError.Invalid("messages: text content blocks must contain non-whitespace text");
                    }

                    text = str;
                    break;
                case JsonArray blocks:
                    if (blocks.Count == 0 && !isFinalAssistant)
                    {
                        throw FakeAnthropicApiError.Invalid(
                            $"messages.{i}: all messages must have non-empty content except for the optional final assistant message");
                    }

                    thinkingBlocks += CheckThinkingBlocks(blocks, i, role);
                    ReadImageBlocks(blocks, i, images);
                    if (isFinalAssistant && thinkingBudget is not null && blocks.Count > 0
                        && GetString(blocks[0] as JsonObject ?? [], "type") is not ("thinking" or "redacted_thinking"))
                    {
                        throw FakeAnthropicApiError.Invalid(
                            $"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{GetString(blocks[0] as JsonObject ?? [], "type")}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block.");
                    }

                    text = JoinTextBlocks(blocks, $"messages.{i}.content");
                    break;
                case null:
                    throw FakeAnthropicApiError.Invalid($"messages.{i}.content: Field required");
                default:
                    throw FakeAnthropicApiError.Invalid($"messages.{i}.content: Input should be a valid string or a list of content blocks");
            }

            if (messages.Count == 0 && role != "user")
            {
                throw FakeAnthropicApiError.Invalid("messages: first message must use the \"user\" role");
            }

            if (isFinalAssistant && thinkingBudget is not null && m["content"] is JsonValue)
            {
                throw FakeAnthropicApiError.Invalid(
                    $"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`. When `thinking` is enabled, a final `assistant` message must start with a thinking block.");
            }

            if (isFinalAssistant && text.Length > 0 && char.IsWhiteSpace(text[^1]))
            {
                throw FakeAnthropicApiError.Invalid("messages: final assistant content cannot end with trailing whitespace");
            }

            // Like the real API: consecutive turns with the same role are combined into one.
            var results = toolResults.TryGetValue(i, out var r) ? r : [];
            if (messages.Count > 0 && messages[^1].Role == role)
            {
                messages[^1] = messages[^1] with { Text = messages[^1].Text + "\n\n" + text, ToolResults = [.. messages[^1].ToolResults, .. results] };
            }
            else
            {
                messages.Add(new FakeAnthropicMessage(role, text) { ToolResults = results });
            }
        }

        double? temperature = GetRange(body, "temperature", 0, 1);
        double? topP = GetRange(body, "top_p", 0, 1);
        int? topK = null;
        if (body["top_k"] is { } tk)
        {
            if (!TryGetInt(tk, out int k) || k < 0)
            {
                throw FakeAnthropicApiError.Invalid("top_k: Input should be a non-negative integer");
            }

            topK = k;
        }

        var stops = new List<string>();
        if (body["stop_sequences"] is { } ss)
        {
            if (ss is not JsonArray sa)
            {
                throw FakeAnthropicApiError.Invalid("stop_sequences: Input should be a valid list");
            }

            foreach (var item in sa)
            {
                if (item is not JsonValue sv || !sv.TryGetValue(out string? stop))
                {
                    throw FakeAnthropicApiError.Invalid("stop_sequences: Input should be a list of strings");
                }

                stops.Add(stop);
            }
        }

        if (!isKnownModel(model))
        {
            throw FakeAnthropicApiError.NotFound($"model: {model}");
        }

        if (temperature is not null && topP is not null && RejectsTemperatureWithTopP(model))
        {
            throw FakeAnthropicApiError.Invalid("`temperature` and `top_p` cannot both be specified for this model. Please use only one.");
        }

        if (thinkingBudget is { } tb)
        {
            if (!SupportsThinking(model))
            {
                throw FakeAnthropicApiError.Invalid($"'{model}' does not support thinking.");
            }

            if (!countTokens && tb >= maxTokens)
            {
                throw FakeAnthropicApiError.Invalid(
                    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size");
            }

            if (temperature is not null and not 1)
            {
                throw FakeAnthropicApiError.Invalid(
                    "`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility");
            }

            if (topP is < 0.95)
            {
                throw FakeAnthropicApiError.Invalid(
                    "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility");
            }

            if (topK is not null)
            {
                throw FakeAnthropicApiError.Invalid(
                    "`top_k` must be unset when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility");
            }
        }

        CheckImageLimits(images);
        return new FakeAnthropicMessageRequest
        {
            Images = [.. images.Select(x => x.Image)],
            Model = model,
            System = system,
            Messages = messages,
            MaxTokens = maxTokens,
            Temperature = temperature,
            TopP = topP,
            TopK = topK,
            StopSequences = stops,
            ThinkingBudgetTokens = thinkingBudget,
            ThinkingBlocksSentBack = thinkingBlocks,
            Body = body,
            CustomId = customId,
            ToolSchemas = tools,
            ToolChoice = toolChoice,
            ToolChoiceName = toolChoiceName,
        };
    }

    /// <summary>Extended thinking: Claude 3.7 Sonnet and every later model; not Claude 3 or 3.5.</summary>
    public static bool SupportsThinking(string model) =>
        !model.StartsWith("claude-3-", StringComparison.Ordinal) || model.StartsWith("claude-3-7-", StringComparison.Ordinal);

    /// <summary>The fake's signature of a thinking text (the real one is opaque too; any change to the text breaks it).</summary>
    public static string Sign(string thinking) =>
        Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("fake-anthropic-thinking\n" + thinking)));

    /// <summary>The fake's encrypted content of a redacted thinking block: a nonce and its signature.</summary>
    public static string RedactedData(string nonce) => Convert.ToBase64String(Encoding.UTF8.GetBytes(nonce + "|" + Sign(nonce)));

    private static bool IsValidRedactedData(string data)
    {
        try
        {
            string payload = Encoding.UTF8.GetString(Convert.FromBase64String(data));
            int bar = payload.IndexOf('|', StringComparison.Ordinal);
            return bar > 0 && payload[(bar + 1)..] == Sign(payload[..bar]);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>The <c>thinking</c> field: null when absent or disabled, else the budget (checked like the real API).</summary>
    private static int? ParseThinking(JsonObject body)
    {
        if (body["thinking"] is not { } node)
        {
            return null;
        }

        if (node is not JsonObject thinking)
        {
            throw FakeAnthropicApiError.Invalid("thinking: Input should be a valid dictionary or object to extract fields from");
        }

        switch (GetString(thinking, "type"))
        {
            case "disabled":
                return null;
            case "enabled":
                break;
            case var other:
                throw FakeAnthropicApiError.Invalid($"thinking: Input tag '{other}' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'");
        }

        if (thinking["budget_tokens"] is not { } b)
        {
            throw FakeAnthropicApiError.Invalid("thinking.enabled.budget_tokens: Field required");
        }

        if (!TryGetInt(b, out int budget))
        {
            throw FakeAnthropicApiError.Invalid("thinking.enabled.budget_tokens: Input should be a valid integer");
        }

        if (budget < 1024)
        {
            throw FakeAnthropicApiError.Invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024");
        }

        return budget;
    }

    /// <summary>Checks the thinking blocks a message sends back: assistant messages only, each unchanged (its signature checks out).</summary>
    private static int CheckThinkingBlocks(JsonArray blocks, int i, string role)
    {
        int count = 0;
        for (int b = 0; b < blocks.Count; b++)
        {
            if (blocks[b] is not JsonObject block)
            {
                continue;
            }

            string? type = GetString(block, "type");
            if (type is not ("thinking" or "redacted_thinking"))
            {
                continue;
            }

            string at = $"messages.{i}.content.{b}";
            if (role != "assistant")
            {
                throw FakeAnthropicApiError.Invalid($"{at}: `{type}` blocks are only allowed in `assistant` messages.");
            }

            if (type == "thinking")
            {
                string thinking = GetString(block, "thinking") ?? throw FakeAnthropicApiError.Invalid($"{at}.thinking.thinking: Field required");
                string signature = GetString(block, "signature") ?? throw FakeAnthropicApiError.Invalid($"{at}.thinking.signature: Field required");
                if (signature != Sign(thinking))
                {
                    throw FakeAnthropicApiError.Invalid($"{at}: Invalid `signature` in `thinking` block");
                }
            }
            else
            {
                string data = GetString(block, "data") ?? throw FakeAnthropicApiError.Invalid($"{at}.redacted_thinking.data: Field required");
                if (!IsValidRedactedData(data))
                {
                    throw FakeAnthropicApiError.Invalid($"{at}: Invalid `data` in `redacted_thinking` block");
                }
            }

            count++;
        }

        return count;
    }

    /// <summary>
    /// Checks the <c>image</c> blocks of a message as the real API does (a base64 source of a PNG, JPEG, GIF or WebP image
    /// whose bytes match its media_type and are at most 5 MB of base64, or a URL source) and counts their tokens.
    /// </summary>
    private static void ReadImageBlocks(JsonArray blocks, int i, List<(FakeImage, string)> images)
    {
        for (int b = 0; b < blocks.Count; b++)
        {
            if (blocks[b] is not JsonObject block || GetString(block, "type") != "image")
            {
                continue;
            }

            string at = $"messages.{i}.content.{b}.image.source";
            if (block["source"] is not JsonObject source)
            {
                throw FakeAnthropicApiError.Invalid($"{at}: Field required");
            }

            string? type = GetString(source, "type");
            if (type == "url")
            {
                string url = GetString(source, "url") ?? throw FakeAnthropicApiError.Invalid($"{at}.url.url: Field required");
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "https" && uri.Scheme != "http"))
                {
                    throw FakeAnthropicApiError.Invalid($"{at}.url.url: Input should be a valid URL");
                }

                images.Add((new FakeImage(null, url, null, null, "auto", FakeImages.Claude(null, null)), at));
                continue;
            }

            if (type != "base64")
            {
                throw FakeAnthropicApiError.Invalid($"{at}: Input tag '{type}' found using 'type' does not match any of the expected tags: 'base64', 'file', 'url'");
            }

            string mediaType = GetString(source, "media_type") ?? throw FakeAnthropicApiError.Invalid($"{at}.base64.media_type: Field required");
            if (!FakeImages.MediaTypes.Contains(mediaType))
            {
                throw FakeAnthropicApiError.Invalid($"{at}.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'");
            }

            string data = GetString(source, "data") ?? throw FakeAnthropicApiError.Invalid($"{at}.base64.data: Field required");
            if (data.Length > 5 * 1024 * 1024)
            {
                throw FakeAnthropicApiError.Invalid($"{at}.base64: image exceeds 5 MB maximum: {data.Length} bytes > {5 * 1024 * 1024} bytes");
            }

            byte[] bytes = FakeImages.TryDecode(data) ?? throw FakeAnthropicApiError.Invalid($"{at}.base64.data: Invalid base64 data");
            if (!FakeImages.TryRead(bytes, out string actual, out int w, out int h))
            {
                throw FakeAnthropicApiError.Invalid($"{at}.base64.data: Could not process image");
            }

            if (actual != mediaType)
            {
                throw FakeAnthropicApiError.Invalid($"{at}.base64.data: Image does not match the provided media type {mediaType}");
            }

            images.Add((new FakeImage(actual, null, w, h, "auto", FakeImages.Claude(w, h)), at));
        }
    }

    /// <summary>At most 100 images, each at most 8000 px a side (2000 px when there are more than 20).</summary>
    private static void CheckImageLimits(List<(FakeImage Image, string At)> images)
    {
        if (images.Count > 100)
        {
            throw FakeAnthropicApiError.Invalid($"messages: Too many images in this request: {images.Count} > 100");
        }

        foreach (var (image, at) in images)
        {
            if (image.Width > 8000 || image.Height > 8000)
            {
                throw FakeAnthropicApiError.Invalid($"{at}.base64.data: At least one of the image dimensions exceed max allowed size: 8000 pixels");
            }

            if (images.Count > 20 && (image.Width > 2000 || image.Height > 2000))
            {
                throw FakeAnthropicApiError.Invalid($"{at}.base64.data: At least one of the image dimensions exceed max allowed size for many-image requests: 2000 pixels");
            }
        }
    }

    /// <summary>The 4.5 generation refuses temperature and top_p together.</summary>
    public static bool RejectsTemperatureWithTopP(string model) => model.Contains("-4-5", StringComparison.Ordinal);

    /// <summary>The fake's token count of a text: its whitespace-separated words.</summary>
    public static int CountTokens(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return 0;
        }

        return text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
    }

    /// <summary>The fake's input tokens: words of the system prompt and every message, plus 3 per message, plus each image's tokens (width x height / 750).</summary>
    public static int CountInputTokens(FakeAnthropicMessageRequest request)
    {
        int n = CountTokens(request.System);
        foreach (var m in request.Messages)
        {
            n += 3 + CountTokens(m.Text);
        }

        return n + request.Images.Sum(image => image.Tokens);
    }

    /// <summary>Builds the message object for a reply, applying stop sequences and max_tokens.</summary>
    public static JsonObject BuildMessage(string id, FakeAnthropicMessageRequest request, FakeAnthropicReply reply)
    {
        var content = new JsonArray();
        string stopReason = "end_turn";
        string? stopSequence = null;
        int budget = request.MaxTokens;
        int outputTokens = 0;
        if (request.ThinkingBudgetTokens is { } thinkingBudget)
        {
            string thinking = reply.Thinking
                ?? "Let me think about: " + (request.Messages.LastOrDefault(m => m.Role == "user")?.Text ?? string.Empty);
            var thinkingWords = Words(thinking);
            int keep = Math.Min(thinkingWords.Count, Math.Min(thinkingBudget, budget));
            if (keep < thinkingWords.Count)
            {
                thinking = thinking[..thinkingWords[keep]];
            }

            content.Add(new JsonObject { ["type"] = "thinking", ["thinking"] = thinking, ["signature"] = Sign(thinking) });
            if (reply.RedactedThinking)
            {
                content.Add(new JsonObject { ["type"] = "redacted_thinking", ["data"] = RedactedData(id) });
            }

            // Claude bills its thinking as output tokens, inside output_tokens and max_tokens.
            budget -= keep;
            outputTokens += keep;
        }

        var toolUse = FakeAnthropicTools.Call(request, string.Concat(reply.TextBlocks)) is { } ruled ? [ruled] : FakeAnthropicTools.Scripted(request, reply.ToolCalls);
        foreach (var use in toolUse)
        {
            content.Add(use);
            outputTokens += 3 + CountTokens(use["input"]!.ToJsonString());
            stopReason = "tool_use";
        }

        foreach (var block in toolUse.Count == 0 ? reply.TextBlocks : [])
        {
            string text = block ?? string.Empty;
            bool stopHere = false;
            int cut = -1;
            foreach (var stop in request.StopSequences)
            {
                int at = stop.Length == 0 ? -1 : text.IndexOf(stop, StringComparison.Ordinal);
                if (at >= 0 && (cut < 0 || at < cut))
                {
                    cut = at;
                    stopSequence = stop;
                }
            }

            if (cut >= 0)
            {
                text = text[..cut];
                stopHere = true;
            }

            var words = Words(text);
            if (words.Count > budget)
            {
                text = text[..words[budget]];
                outputTokens += budget;
                content.Add(new JsonObject { ["type"] = "text", ["text"] = text });
                stopReason = "max_tokens";
                stopSequence = null;
                break;
            }

            budget -= words.Count;
            outputTokens += words.Count;
            content.Add(new JsonObject { ["type"] = "text", ["text"] = text });
            if (stopHere)
            {
                stopReason = "stop_sequence";
                break;
            }
        }

        int input = CountInputTokens(request);
        int cacheWrite = Math.Min(reply.CacheCreationInputTokens, input);
        int cacheRead = Math.Min(reply.CacheReadInputTokens, input - cacheWrite);
        return new JsonObject
        {
            ["id"] = id,
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = request.Model,
            ["content"] = content,
            ["stop_reason"] = reply.StopReason ?? stopReason,
            ["stop_sequence"] = reply.StopReason is null ? stopSequence : null,
            ["usage"] = new JsonObject
            {
                ["input_tokens"] = input - cacheWrite - cacheRead,
                ["cache_creation_input_tokens"] = cacheWrite,
                ["cache_read_input_tokens"] = cacheRead,
                ["cache_creation"] = new JsonObject { ["ephemeral_5m_input_tokens"] = cacheWrite, ["ephemeral_1h_input_tokens"] = 0 },
                ["output_tokens"] = outputTokens,
                ["service_tier"] = "standard",
            },
        };
    }

    /// <summary>An Anthropic error body.</summary>
    public static JsonObject ErrorBody(string type, string message, string requestId) => new()
    {
        ["type"] = "error",
        ["error"] = new JsonObject { ["type"] = type, ["message"] = message },
        ["request_id"] = requestId,
    };

    /// <summary>RFC 3339 with microseconds, as the API writes timestamps.</summary>
    public static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>The text in words, each keeping its leading whitespace (trailing whitespace is a piece of its own); they concatenate back to the text.</summary>
    public static List<string> SplitWords(string text)
    {
        var starts = Words(text);
        var pieces = new List<string>(starts.Count + 1);
        for (int i = 0; i < starts.Count; i++)
        {
            int end = i + 1 < starts.Count ? starts[i + 1] : text.Length;
            pieces.Add(text[(i == 0 ? 0 : starts[i])..end]);
        }

        if (starts.Count == 0 && text.Length > 0)
        {
            pieces.Add(text);
        }

        return pieces;
    }

    /// <summary>The start offset of each word (a word keeps its leading whitespace).</summary>
    private static List<int> Words(string text)
    {
        var starts = new List<int>();
        int i = 0;
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i == text.Length)
            {
                break;
            }

            while (i < text.Length && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            starts.Add(start);
        }

        return starts;
    }

    private static string JoinTextBlocks(JsonArray blocks, string where)
    {
        var sb = new StringBuilder();
        for (int b = 0; b < blocks.Count; b++)
        {
            if (blocks[b] is not JsonObject block || GetString(block, "type") is not { } type)
            {
                throw FakeAnthropicApiError.Invalid($"{where}.{b}: Input should be a content block with a type");
            }

            if (type != "text")
            {
                continue;
            }

            string? text = GetString(block, "text") ?? throw FakeAnthropicApiError.Invalid($"{where}.{b}.text: Field required");
            if (text.Length == 0)
            {
                throw FakeAnthropicApiError.Invalid("messages: text content blocks must be non-empty");
            }

            if (string.IsNullOrWhiteSpace(text))
            {
                throw FakeAnthropicApiError.Invalid("messages: text content blocks must contain non-whitespace text");
            }

            sb.Append(text);
        }

        return sb.ToString();
    }

    private static double? GetRange(JsonObject body, string name, double low, double high)
    {
        if (body[name] is not { } node)
        {
            return null;
        }

        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
        {
            throw FakeAnthropicApiError.Invalid($"{name}: Input should be a valid number");
        }

        double x = v.GetValue<double>();
        if (x < low)
        {
            throw FakeAnthropicApiError.Invalid(string.Create(CultureInfo.InvariantCulture, $"{name}: Input should be greater than or equal to {low}"));
        }

        if (x > high)
        {
            throw FakeAnthropicApiError.Invalid(string.Create(CultureInfo.InvariantCulture, $"{name}: Input should be less than or equal to {high}"));
        }

        return x;
    }

    private static bool TryGetInt(JsonNode node, out int value)
    {
        value = 0;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
        {
            return false;
        }

        double d = v.GetValue<double>();
        if (d != Math.Floor(d) || d > int.MaxValue || d < int.MinValue)
        {
            return false;
        }

        value = (int)d;
        return true;
    }

    private static string? GetString(JsonObject obj, string name) =>
        obj[name] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
}
