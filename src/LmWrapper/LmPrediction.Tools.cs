using System.Text.Json;

namespace LmWrapper;

/// <content>Tool use and structured output on a prediction.</content>
public sealed partial class LmPrediction
{
    private readonly IReadOnlyList<LmToolCall>? _toolCalls;

    /// <summary>
    /// The tools the model asked to call (for a prompt with <see cref="LmPrompt.Tools"/>), in order; empty when it called
    /// none. The provider's finish reason is then "tool_calls" (OpenAI, the mock) or "tool_use" (Claude); test
    /// <see cref="HasToolCalls"/> rather than either. Kept by the cache and by <see cref="ToJson"/>, and carried on the
    /// assistant turn of <see cref="MakeReplyPrompt(IReadOnlyList{LmChatTurn})"/> so the next prompt can answer them with
    /// <see cref="LmChatTurn.ToolResult(string, string)"/> turns.
    /// </summary>
    public IReadOnlyList<LmToolCall> ToolCalls
    {
        get => _toolCalls ?? [];
        init => _toolCalls = value is null || value.Count == 0 ? null : Freeze(value);
    }

    /// <summary>Whether the model asked to call tools (<see cref="ToolCalls"/> is not empty).</summary>
    public bool HasToolCalls => _toolCalls is not null;

    /// <summary>
    /// The completion as JSON (for a prompt with <see cref="LmPrompt.ResponseFormat"/>), checked against the format's
    /// schema where it has one.
    /// </summary>
    /// <exception cref="LmStructuredOutputException">The completion is not JSON, or does not fit the schema (the exception carries the text).</exception>
    /// <exception cref="InvalidOperationException">The prediction failed.</exception>
    public JsonElement GetCompletionJson()
    {
        if (HasErrors)
        {
            throw new InvalidOperationException($"The prediction failed, so it has no JSON: {ErrorMessage}");
        }

        JsonElement value;
        try
        {
            using var doc = JsonDocument.Parse(CompletionText);
            value = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new LmStructuredOutputException(
                $"The model's answer is not valid JSON{(FinishReason is "length" or "max_tokens" ? " (it was cut off at the token limit: raise MaxTokens)" : "")}: {e.Message}",
                CompletionText,
                e);
        }

        if (Prompt.ResponseFormat is { Kind: LmResponseFormatKind.JsonSchema } format
            && Tools.JsonSchemaShape.Check(value, format.Schema) is { } problem)
        {
            throw new LmStructuredOutputException($"The model's answer does not fit the schema \"{format.Name}\": {problem}.", CompletionText);
        }

        if (Prompt.ResponseFormat is { Kind: LmResponseFormatKind.JsonObject } && value.ValueKind != JsonValueKind.Object)
        {
            throw new LmStructuredOutputException($"The model's answer is JSON but not an object ({value.ValueKind}).", CompletionText);
        }

        return value;
    }

    internal IReadOnlyList<LmToolCall>? RawToolCalls => _toolCalls;
}
