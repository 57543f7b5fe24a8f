namespace LmWrapper;

/// <content>Tool use: the tool calls of an assistant turn and the call a tool turn answers.</content>
public sealed partial record LmChatTurn
{
    private readonly ValueList<LmToolCall>? _toolCalls;

    /// <summary>
    /// For an assistant turn: the tool calls the model made in this answer (copied from <see cref="LmPrediction.ToolCalls"/>
    /// by <see cref="LmPrediction.MakeReplyPrompt(IReadOnlyList{LmChatTurn})"/>). Such a turn may have empty
    /// <see cref="Content"/>. Null (the usual case) when there are none; an empty list reads as null. Part of equality and
    /// of the cache key.
    /// </summary>
    public IReadOnlyList<LmToolCall>? ToolCalls
    {
        get => _toolCalls?.Items;
        init => _toolCalls = value is null || value.Count == 0 ? null : new ValueList<LmToolCall>([.. value]);
    }

    /// <summary>
    /// For a tool turn: the id of the tool call (<see cref="LmToolCall.Id"/>) whose result this turn carries; it must answer
    /// a call of an earlier assistant turn. Null otherwise.
    /// </summary>
    public string? ToolCallId { get; init; }

    /// <summary>Creates a tool-result turn answering the tool call <paramref name="toolCallId"/>.</summary>
    /// <param name="toolCallId">The <see cref="LmToolCall.Id"/> of the call this answers.</param>
    /// <param name="content">The tool's output (text; JSON is common).</param>
    public static LmChatTurn ToolResult(string toolCallId, string content)
    {
        ArgumentNullException.ThrowIfNull(toolCallId);
        return new LmChatTurn(LmChatRole.Tool, content) { ToolCallId = toolCallId };
    }

    /// <summary>Creates an assistant turn that made tool calls (with optional text said alongside them).</summary>
    /// <param name="toolCalls">The calls.</param>
    /// <param name="content">Text the assistant said with the calls; empty for none.</param>
    public static LmChatTurn AssistantToolCalls(IReadOnlyList<LmToolCall> toolCalls, string content = "")
    {
        ArgumentNullException.ThrowIfNull(toolCalls);
        return new LmChatTurn(LmChatRole.Assistant, content ?? string.Empty) { ToolCalls = toolCalls };
    }
}
