using System.Text.Json;
using System.Text.Json.Serialization;

namespace LmWrapper.Serialization;

/// <summary>The stable JSON form of predictions and prompts, shared by <see cref="LmPrediction.ToJson"/> and the cache.</summary>
internal static class PredictionJson
{
    /// <summary>Serializes a prediction with its prompt (the public form).</summary>
    public static string Serialize(LmPrediction p) =>
        JsonSerializer.Serialize(ToDto(p, includePrompt: true), LmJsonContext.Default.PredictionDto);

    /// <summary>Reads the public form back.</summary>
    public static LmPrediction Deserialize(string json)
    {
        var dto = Parse(json, LmJsonContext.Default.PredictionDto, "prediction");
        if (dto?.Prompt is null)
        {
            throw new FormatException("Not a prediction in LmWrapper's JSON form: it has no \"prompt\".");
        }

        return FromDto(dto, PromptOf(dto.Prompt), dto.WasCached ?? false);
    }

    /// <summary>A serialized prompt; a tool or format it cannot hold (a bad name or schema) is a <see cref="FormatException"/>.</summary>
    private static LmPrompt PromptOf(PromptDto dto)
    {
        try
        {
            return FromDto(dto);
        }
        catch (LmPromptException e)
        {
            throw new FormatException($"Not a prompt in LmWrapper's JSON form: {e.Message}", e);
        }
    }

    /// <summary>Serializes a prompt on its own (the public form of <see cref="LmPrompt.ToJson"/>).</summary>
    public static string SerializePrompt(LmPrompt p) =>
        JsonSerializer.Serialize(ToDto(p, includeInternals: true), LmJsonContext.Default.PromptDto);

    /// <summary>Reads a prompt written by <see cref="SerializePrompt"/> (or the "prompt" of a serialized prediction).</summary>
    public static LmPrompt DeserializePrompt(string json)
    {
        var dto = Parse(json, LmJsonContext.Default.PromptDto, "prompt");
        return dto is null ? throw new FormatException("Not a prompt in LmWrapper's JSON form: it is null.") : PromptOf(dto);
    }

    /// <summary>Reads JSON into a DTO; JSON that does not fit is a <see cref="FormatException"/> naming <paramref name="what"/>.</summary>
    private static T? Parse<T>(string json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info, string what)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize(json, info);
        }
        catch (JsonException e)
        {
            throw new FormatException($"Not a {what} in LmWrapper's JSON form: {e.Message}", e);
        }
    }

    /// <summary>The cache's payload for one sample: the prediction without its prompt (the caller supplies that).</summary>
    public static byte[] SerializePayload(LmPrediction p) =>
        JsonSerializer.SerializeToUtf8Bytes(ToDto(p, includePrompt: false), LmJsonContext.Default.PredictionDto);

    /// <summary>Reads a cache payload, attaching the caller's prompt.</summary>
    public static LmPrediction DeserializePayload(ReadOnlySpan<byte> utf8, LmPrompt prompt, bool wasCached)
    {
        PredictionDto dto;
        try
        {
            dto = PayloadReader.Read(utf8);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new FormatException($"A cache entry is not a prediction in LmWrapper's JSON form: {e.Message}", e);
        }

        return FromDto(dto, prompt, wasCached);
    }

    /// <summary>Serializes a prompt (without its metadata; internals only on request, since predictions never stored them).</summary>
    public static PromptDto ToDto(LmPrompt p, bool includeInternals = false) => new()
    {
        Text = p.Text,
        Chat = p.Chat?.Select(t => new ChatTurnDto { Role = t.RoleName, Content = t.Content, Name = t.Name, ReasoningBlocks = ReasoningToDto(t.ReasoningBlocks), Parts = PartsToDto(t.Parts), ToolCalls = ToolCallsToDto(t.ToolCalls), ToolCallId = t.ToolCallId }).ToList(),
        MaxTokens = p.MaxTokens,
        Stop = p.Stop?.ToList(),
        Logprobs = p.Logprobs,
        Temperature = p.Temperature,
        TopP = p.TopP,
        PresencePenalty = p.PresencePenalty,
        FrequencyPenalty = p.FrequencyPenalty,
        NumCompletions = p.NumCompletions,
        Cache = p.Cache,
        Echo = p.Echo,
        AddBosToken = p.AddBosToken,
        AddSpecialTokens = p.AddSpecialTokens,
        Seed = p.Seed,
        ReasoningEffort = p.ReasoningEffort is { } effort ? ReasoningEffortName(effort) : null,
        ThinkingBudgetTokens = p.ThinkingBudgetTokens,
        Tools = p.Tools?.Select(t => new ToolDto { Name = t.Name, Description = t.Description, Parameters = t.Parameters }).ToList(),
        ToolChoice = p.ToolChoice is { } choice ? new ToolChoiceDto { Type = ToolChoiceName(choice.Mode), Name = choice.ToolName } : null,
        ResponseFormat = p.ResponseFormat is { } format
            ? new ResponseFormatDto
            {
                Type = format.Kind == LmResponseFormatKind.JsonObject ? "json_object" : "json_schema",
                Name = format.Name,
                Strict = format.Kind == LmResponseFormatKind.JsonSchema ? format.Strict : null,
                Schema = format.Kind == LmResponseFormatKind.JsonSchema ? format.Schema : null,
            }
            : null,
        Internals = includeInternals && p.Internals is { } i
            ? new InternalsDto
            {
                HiddenStates = i.HiddenStates,
                Attentions = i.Attentions,
                Layers = i.Layers?.ToList(),
                LayerFractions = i.LayerFractions?.ToList(),
                Positions = i.Positions == Internals.LmInternalsPositions.All ? null
                    : i.Positions == Internals.LmInternalsPositions.Prompt ? "prompt" : "generated",
            }
            : null,
    };

    /// <summary>Reads a serialized prompt.</summary>
    public static LmPrompt FromDto(PromptDto d)
    {
        LmPrompt baseline;
        if (d.Text is not null)
        {
            baseline = new LmPrompt(d.Text);
        }
        else if (d.Chat is not null)
        {
            baseline = new LmPrompt(d.Chat.Select(t => new LmChatTurn(ParseRole(t.Role), t.Content ?? string.Empty, t.Name) { ReasoningBlocks = ReasoningFromDto(t.ReasoningBlocks), Parts = PartsFromDto(t.Parts), ToolCalls = ToolCallsFromDto(t.ToolCalls), ToolCallId = t.ToolCallId }).ToList());
        }
        else
        {
            throw new FormatException("A serialized prompt has neither \"text\" nor \"chat\".");
        }

        return baseline with
        {
            MaxTokens = d.MaxTokens,
            Stop = d.Stop,
            Logprobs = d.Logprobs,
            Temperature = d.Temperature,
            TopP = d.TopP,
            PresencePenalty = d.PresencePenalty,
            FrequencyPenalty = d.FrequencyPenalty,
            NumCompletions = d.NumCompletions,
            Cache = d.Cache,
            Echo = d.Echo,
            AddBosToken = d.AddBosToken,
            AddSpecialTokens = d.AddSpecialTokens,
            Seed = d.Seed,
            ReasoningEffort = d.ReasoningEffort is { } effort ? ParseReasoningEffort(effort) : null,
            ThinkingBudgetTokens = d.ThinkingBudgetTokens,
            Tools = d.Tools?.Select(t => new LmToolDefinition(t.Name ?? string.Empty, t.Description, t.Parameters ?? default)).ToList(),
            ToolChoice = d.ToolChoice is { } choice ? ParseToolChoice(choice) : null,
            ResponseFormat = d.ResponseFormat is { } format
                ? format.Type switch
                {
                    "json_object" => LmResponseFormat.JsonObject,
                    "json_schema" => LmResponseFormat.ForJsonSchema(format.Schema ?? default, format.Name ?? string.Empty, format.Strict ?? true),
                    _ => throw new FormatException($"Unknown response format type \"{format.Type}\" in a serialized prompt."),
                }
                : null,
            Internals = d.Internals is { } i
                ? new Internals.ModelInternalsRequest
                {
                    HiddenStates = i.HiddenStates,
                    Attentions = i.Attentions,
                    Layers = i.Layers,
                    LayerFractions = i.LayerFractions,
                    Positions = i.Positions switch
                    {
                        null => Internals.LmInternalsPositions.All,
                        "prompt" => Internals.LmInternalsPositions.Prompt,
                        "generated" => Internals.LmInternalsPositions.Generated,
                        _ => throw new FormatException($"Unknown internals positions \"{i.Positions}\" in a serialized prompt."),
                    },
                }
                : null,
        };
    }

    private static string ToolChoiceName(LmToolChoiceMode mode) => mode switch
    {
        LmToolChoiceMode.Auto => "auto",
        LmToolChoiceMode.None => "none",
        LmToolChoiceMode.Required => "required",
        LmToolChoiceMode.Named => "tool",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    private static LmToolChoice ParseToolChoice(ToolChoiceDto d) => d.Type switch
    {
        "auto" => LmToolChoice.Auto,
        "none" => LmToolChoice.None,
        "required" => LmToolChoice.Required,
        "tool" => LmToolChoice.Named(d.Name ?? string.Empty),
        _ => throw new FormatException($"Unknown tool choice \"{d.Type}\" in a serialized prompt."),
    };

    internal static List<ToolCallDto>? ToolCallsToDto(IReadOnlyList<LmToolCall>? calls) =>
        calls is null || calls.Count == 0 ? null : calls.Select(c => new ToolCallDto { Id = c.Id, Name = c.Name, Arguments = c.Arguments }).ToList();

    internal static LmToolCall[]? ToolCallsFromDto(List<ToolCallDto>? calls) =>
        calls?.Select(c => new LmToolCall(c.Id ?? string.Empty, c.Name ?? string.Empty, c.Arguments ?? string.Empty)).ToArray();

    /// <summary>The stored (and OpenAI's) name of a reasoning effort.</summary>
    internal static string ReasoningEffortName(LmReasoningEffort effort) => effort switch
    {
        LmReasoningEffort.None => "none",
        LmReasoningEffort.Minimal => "minimal",
        LmReasoningEffort.Low => "low",
        LmReasoningEffort.Medium => "medium",
        LmReasoningEffort.High => "high",
        LmReasoningEffort.XHigh => "xhigh",
        _ => throw new ArgumentOutOfRangeException(nameof(effort), effort, null),
    };

    private static LmReasoningEffort ParseReasoningEffort(string name) => name switch
    {
        "none" => LmReasoningEffort.None,
        "minimal" => LmReasoningEffort.Minimal,
        "low" => LmReasoningEffort.Low,
        "medium" => LmReasoningEffort.Medium,
        "high" => LmReasoningEffort.High,
        "xhigh" => LmReasoningEffort.XHigh,
        _ => throw new FormatException($"Unknown reasoning effort \"{name}\" in a serialized prompt."),
    };

    /// <summary>Content parts as JSON: text, or an image as its data URI (or URL) and its detail.</summary>
    private static List<ContentPartDto>? PartsToDto(IReadOnlyList<LmContentPart>? parts) =>
        parts?.Select(p => p.Image is { } image
            ? new ContentPartDto
            {
                Type = "image",
                Url = image.Url?.OriginalString,
                Data = image.IsUrl ? null : image.ToDataUri(),
                Detail = p.Detail == LmImageDetail.Auto ? null : p.Detail == LmImageDetail.Low ? "low" : "high",
            }
            : new ContentPartDto { Type = "text", Text = p.Text }).ToList();

    private static LmContentPart[]? PartsFromDto(List<ContentPartDto>? parts) =>
        parts?.Select(p => p.Type switch
        {
            "text" => LmContentPart.FromText(p.Text ?? string.Empty),
            "image" => LmContentPart.FromImage(
                p.Url is { } url ? LmImage.FromUrl(new Uri(url, UriKind.Absolute))
                    : LmImage.FromDataUri(p.Data ?? throw new FormatException("An image part in LmWrapper's JSON has neither \"url\" nor \"data\".")),
                p.Detail switch
                {
                    null => LmImageDetail.Auto,
                    "low" => LmImageDetail.Low,
                    "high" => LmImageDetail.High,
                    _ => throw new FormatException($"Unknown image detail \"{p.Detail}\" in LmWrapper's JSON."),
                }),
            _ => throw new FormatException($"Unknown content part type \"{p.Type}\" in LmWrapper's JSON."),
        }).ToArray();

    private static List<ReasoningBlockDto>? ReasoningToDto(IReadOnlyList<LmReasoningBlock>? blocks) =>
        blocks?.Select(b => b.IsRedacted
            ? new ReasoningBlockDto { Type = "redacted_thinking", Data = b.RedactedData }
            : new ReasoningBlockDto { Type = "thinking", Thinking = b.Text, Signature = b.Signature }).ToList();

    internal static LmReasoningBlock[]? ReasoningFromDto(List<ReasoningBlockDto>? blocks) =>
        blocks?.Select(b => b.Type switch
        {
            "thinking" => new LmReasoningBlock(b.Thinking ?? string.Empty, b.Signature),
            "redacted_thinking" => LmReasoningBlock.Redacted(b.Data ?? string.Empty),
            _ => throw new FormatException($"Unknown reasoning block type \"{b.Type}\" in LmWrapper's JSON."),
        }).ToArray();

    private static LmChatRole ParseRole(string? role) => role switch
    {
        "system" => LmChatRole.System,
        "user" => LmChatRole.User,
        "assistant" => LmChatRole.Assistant,
        "tool" => LmChatRole.Tool,
        _ => throw new FormatException($"Unknown chat role \"{role}\" in a serialized prompt."),
    };

    private static PredictionDto ToDto(LmPrediction p, bool includePrompt) => new()
    {
        Prompt = includePrompt ? ToDto(p.Prompt) : null,
        CompletionText = p.CompletionText,
        Error = p.Error?.Message,
        ErrorPermanent = p.IsErrorPermanent ? true : null,
        ErrorKind = p.Error is { } e ? ErrorKindName(e.Kind) : null,
        ErrorStatus = p.Error?.StatusCode,
        ErrorCode = p.Error?.ProviderCode,
        ErrorRequestId = p.Error?.RequestId,
        FinishReason = p.FinishReason,
        CompletionTokens = AsArray(p.RawCompletionTokens),
        CompletionTokenOffsets = AsArray(p.RawCompletionTokenOffsets),
        CompletionLogprobs = AsArray(p.RawCompletionLogprobs),
        TopTokenLogprobs = p.RawTopTokenLogprobs?.Select(d => d as Dictionary<string, double> ?? new Dictionary<string, double>(d)).ToArray(),
        PromptTokens = AsArray(p.RawPromptTokens),
        PromptLogprobs = AsArray(p.RawPromptLogprobs),
        PromptTokenOffsets = AsArray(p.RawPromptTokenOffsets),
        ReasoningBlocks = ReasoningToDto(p.ReasoningBlocks),
        ToolCalls = ToolCallsToDto(p.RawToolCalls),
        Usage = p.Usage is { } u ? new UsageDto { InputTokens = u.InputTokens, OutputTokens = u.OutputTokens, CachedInputTokens = u.CachedInputTokens, ReasoningTokens = u.ReasoningTokens == 0 ? null : u.ReasoningTokens } : null,
        WasCached = includePrompt && p.WasCached ? true : null,
        ProviderData = p.ProviderData is null ? null : p.ProviderData as Dictionary<string, string> ?? new Dictionary<string, string>(p.ProviderData),
        Completions = p.RawCompletions?.Select(c => ToDto(c, includePrompt: false)).ToList(),
    };

    /// <summary>
    /// The error of a stored prediction. Entries written before errors were typed carry only "error" and
    /// "error_permanent" (and only permanent errors were stored): those read as <see cref="LmErrorKind.InvalidRequest"/>.
    /// </summary>
    private static LmError? ErrorOf(PredictionDto d)
    {
        if (d.Error is null && d.ErrorKind is null)
        {
            return null;
        }

        var kind = d.ErrorKind is { } name && ParseErrorKind(name) is { } k ? k : d.ErrorPermanent == true || d.ErrorKind is null ? LmErrorKind.InvalidRequest : LmErrorKind.Server;
        return new LmError(kind, d.Error ?? string.Empty, d.ErrorStatus, d.ErrorCode, d.ErrorRequestId) { IsPermanent = d.ErrorPermanent ?? false };
    }

    /// <summary>The stored name of an error kind (snake_case, stable across renames of the enum).</summary>
    internal static string ErrorKindName(LmErrorKind kind) => kind switch
    {
        LmErrorKind.InvalidRequest => "invalid_request",
        LmErrorKind.ContentFilter => "content_filter",
        LmErrorKind.ContextLength => "context_length",
        LmErrorKind.RateLimitExhausted => "rate_limit_exhausted",
        LmErrorKind.Server => "server",
        LmErrorKind.Transport => "transport",
        LmErrorKind.NotFound => "not_found",
        LmErrorKind.MalformedResponse => "malformed_response",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private static LmErrorKind? ParseErrorKind(string name) => name switch
    {
        "invalid_request" => LmErrorKind.InvalidRequest,
        "content_filter" => LmErrorKind.ContentFilter,
        "context_length" => LmErrorKind.ContextLength,
        "rate_limit_exhausted" => LmErrorKind.RateLimitExhausted,
        "server" => LmErrorKind.Server,
        "transport" => LmErrorKind.Transport,
        "not_found" => LmErrorKind.NotFound,
        "malformed_response" => LmErrorKind.MalformedResponse,
        _ => null,
    };

    private static T[]? AsArray<T>(IReadOnlyList<T>? list) => list is null ? null : list as T[] ?? [.. list];

    private static LmPrediction FromDto(PredictionDto d, LmPrompt prompt, bool wasCached) => new()
    {
        CompletionText = d.CompletionText ?? string.Empty,
        Prompt = prompt,
        Error = ErrorOf(d),
        FinishReason = d.FinishReason,
        CompletionTokens = d.CompletionTokens!,
        CompletionTokenOffsets = d.CompletionTokenOffsets!,
        CompletionLogprobs = d.CompletionLogprobs!,
        TopTokenLogprobs = d.TopTokenLogprobs!,
        PromptTokens = d.PromptTokens!,
        PromptLogprobs = d.PromptLogprobs!,
        PromptTokenOffsets = d.PromptTokenOffsets!,
        ReasoningBlocks = ReasoningFromDto(d.ReasoningBlocks),
        ToolCalls = ToolCallsFromDto(d.ToolCalls)!,
        Usage = d.Usage is { } u ? new LmUsage(u.InputTokens, u.OutputTokens, u.CachedInputTokens) { ReasoningTokens = u.ReasoningTokens ?? 0 } : null,
        WasCached = wasCached,
        ProviderData = d.ProviderData,
        Completions = d.Completions?.Select(c => FromDto(c, prompt, wasCached)).ToList()!,
    };
}

/// <summary>The JSON shape of a prediction.</summary>
internal sealed class PredictionDto
{
    [JsonPropertyName("prompt")] public PromptDto? Prompt { get; set; }
    [JsonPropertyName("completion_text")] public string? CompletionText { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
    [JsonPropertyName("error_permanent")] public bool? ErrorPermanent { get; set; }
    [JsonPropertyName("error_kind")] public string? ErrorKind { get; set; }
    [JsonPropertyName("error_status")] public int? ErrorStatus { get; set; }
    [JsonPropertyName("error_code")] public string? ErrorCode { get; set; }
    [JsonPropertyName("error_request_id")] public string? ErrorRequestId { get; set; }
    [JsonPropertyName("finish_reason")] public string? FinishReason { get; set; }
    [JsonPropertyName("completion_tokens")] public string[]? CompletionTokens { get; set; }
    [JsonPropertyName("completion_token_offsets")] public int[]? CompletionTokenOffsets { get; set; }
    [JsonPropertyName("completion_logprobs")] public double[]? CompletionLogprobs { get; set; }
    [JsonPropertyName("top_token_logprobs")] public Dictionary<string, double>[]? TopTokenLogprobs { get; set; }
    [JsonPropertyName("prompt_tokens")] public string[]? PromptTokens { get; set; }
    [JsonPropertyName("prompt_logprobs")] public double?[]? PromptLogprobs { get; set; }
    [JsonPropertyName("prompt_token_offsets")] public int[]? PromptTokenOffsets { get; set; }
    [JsonPropertyName("reasoning_blocks")] public List<ReasoningBlockDto>? ReasoningBlocks { get; set; }
    [JsonPropertyName("tool_calls")] public List<ToolCallDto>? ToolCalls { get; set; }
    [JsonPropertyName("usage")] public UsageDto? Usage { get; set; }
    [JsonPropertyName("was_cached")] public bool? WasCached { get; set; }
    [JsonPropertyName("provider_data")] public Dictionary<string, string>? ProviderData { get; set; }
    [JsonPropertyName("completions")] public List<PredictionDto>? Completions { get; set; }
}

/// <summary>The JSON shape of token usage.</summary>
internal sealed class UsageDto
{
    [JsonPropertyName("input_tokens")] public int InputTokens { get; set; }
    [JsonPropertyName("output_tokens")] public int OutputTokens { get; set; }
    [JsonPropertyName("cached_input_tokens")] public int CachedInputTokens { get; set; }
    [JsonPropertyName("reasoning_tokens")] public int? ReasoningTokens { get; set; }
}

/// <summary>The JSON shape of a reasoning block (Claude's own: "thinking" with its signature, or "redacted_thinking").</summary>
internal sealed class ReasoningBlockDto
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("thinking")] public string? Thinking { get; set; }
    [JsonPropertyName("signature")] public string? Signature { get; set; }
    [JsonPropertyName("data")] public string? Data { get; set; }
}

/// <summary>The JSON shape of a prompt (metadata is never serialized).</summary>
internal sealed class PromptDto
{
    [JsonPropertyName("text")] public string? Text { get; set; }
    [JsonPropertyName("chat")] public List<ChatTurnDto>? Chat { get; set; }
    [JsonPropertyName("max_tokens")] public int? MaxTokens { get; set; }
    [JsonPropertyName("stop")] public List<string>? Stop { get; set; }
    [JsonPropertyName("logprobs")] public int Logprobs { get; set; } = 1;
    [JsonPropertyName("temperature")] public double Temperature { get; set; } = 1.0;
    [JsonPropertyName("top_p")] public double TopP { get; set; } = 1.0;
    [JsonPropertyName("presence_penalty")] public double PresencePenalty { get; set; }
    [JsonPropertyName("frequency_penalty")] public double FrequencyPenalty { get; set; }
    [JsonPropertyName("num_completions")] public int NumCompletions { get; set; } = 1;
    [JsonPropertyName("cache")] public bool? Cache { get; set; }
    [JsonPropertyName("echo")] public bool Echo { get; set; }
    [JsonPropertyName("add_bos_token")] public bool? AddBosToken { get; set; }
    [JsonPropertyName("add_special_tokens")] public bool? AddSpecialTokens { get; set; }
    [JsonPropertyName("seed")] public int? Seed { get; set; }
    [JsonPropertyName("reasoning_effort")] public string? ReasoningEffort { get; set; }
    [JsonPropertyName("thinking_budget_tokens")] public int? ThinkingBudgetTokens { get; set; }
    [JsonPropertyName("tools")] public List<ToolDto>? Tools { get; set; }
    [JsonPropertyName("tool_choice")] public ToolChoiceDto? ToolChoice { get; set; }
    [JsonPropertyName("response_format")] public ResponseFormatDto? ResponseFormat { get; set; }
    [JsonPropertyName("internals")] public InternalsDto? Internals { get; set; }
}

/// <summary>The JSON shape of a tool definition.</summary>
internal sealed class ToolDto
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("description")] public string? Description { get; set; }
    [JsonPropertyName("parameters")] public JsonElement? Parameters { get; set; }
}

/// <summary>The JSON shape of a tool choice: "auto", "none", "required" or "tool" with its name.</summary>
internal sealed class ToolChoiceDto
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
}

/// <summary>The JSON shape of a response format.</summary>
internal sealed class ResponseFormatDto
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("strict")] public bool? Strict { get; set; }
    [JsonPropertyName("schema")] public JsonElement? Schema { get; set; }
}

/// <summary>The JSON shape of a tool call (arguments as the model's JSON text).</summary>
internal sealed class ToolCallDto
{
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("arguments")] public string? Arguments { get; set; }
}

/// <summary>The JSON shape of a prompt's request for model internals.</summary>
internal sealed class InternalsDto
{
    [JsonPropertyName("hidden_states")] public bool HiddenStates { get; set; }
    [JsonPropertyName("attentions")] public bool Attentions { get; set; }
    [JsonPropertyName("layers")] public List<int>? Layers { get; set; }
    [JsonPropertyName("layer_fractions")] public List<double>? LayerFractions { get; set; }
    [JsonPropertyName("positions")] public string? Positions { get; set; }
}

/// <summary>The JSON shape of a chat turn.</summary>
internal sealed class ChatTurnDto
{
    [JsonPropertyName("role")] public string? Role { get; set; }
    [JsonPropertyName("content")] public string? Content { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("reasoning_blocks")] public List<ReasoningBlockDto>? ReasoningBlocks { get; set; }
    [JsonPropertyName("parts")] public List<ContentPartDto>? Parts { get; set; }
    [JsonPropertyName("tool_calls")] public List<ToolCallDto>? ToolCalls { get; set; }
    [JsonPropertyName("tool_call_id")] public string? ToolCallId { get; set; }
}

/// <summary>The JSON shape of a content part: {"type":"text","text":…} or {"type":"image","data":"data:…"|"url":…,"detail":…}.</summary>
internal sealed class ContentPartDto
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("text")] public string? Text { get; set; }
    [JsonPropertyName("data")] public string? Data { get; set; }
    [JsonPropertyName("url")] public string? Url { get; set; }
    [JsonPropertyName("detail")] public string? Detail { get; set; }
}

[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(PredictionDto))]
[JsonSerializable(typeof(PromptDto))]
internal sealed partial class LmJsonContext : JsonSerializerContext;
