namespace LmWrapper;

/// <content>Tools and structured output on a prompt.</content>
public sealed partial record LmPrompt
{
    /// <summary>
    /// The tools the model may call (function calling); null (the default) for none. The model answers with
    /// <see cref="LmPrediction.ToolCalls"/>; continue with <see cref="LmPrediction.MakeReplyPrompt(IReadOnlyList{LmChatTurn})"/>
    /// and <see cref="LmChatTurn.ToolResult(string, string)"/> turns, or let
    /// <see cref="LanguageModel.RunToolsAsync(LmPrompt, IReadOnlyDictionary{string, Func{System.Text.Json.JsonElement, CancellationToken, Task{string}}}, int, CancellationToken)"/>
    /// do it. Names must be unique. Models without <see cref="LmCapabilities.Tools"/> refuse the prompt before anything is
    /// sent. An empty list reads as null. Part of equality and of the cache key.
    /// </summary>
    public IReadOnlyList<LmToolDefinition>? Tools
    {
        get => _extras.Tools;
        init => _extras = _extras with { Tools = value is null || value.Count == 0 ? null : [.. value] };
    }

    /// <summary>Whether and which tool the model must call; null (the default) leaves it to the provider (auto). Needs <see cref="Tools"/>.</summary>
    public LmToolChoice? ToolChoice
    {
        get => _extras.ToolChoice;
        init => _extras = _extras with { ToolChoice = value };
    }

    /// <summary>
    /// Asks for a structured (JSON) answer: <see cref="LmResponseFormat.JsonObject"/> or a JSON Schema
    /// (<see cref="LmResponseFormat.ForJsonSchema"/>, <see cref="LmResponseFormat.ForType{T}"/>); null (the default) for
    /// text. The JSON is the prediction's <see cref="LmPrediction.CompletionText"/> (<see cref="LmPrediction.GetCompletionJson"/>
    /// checks it). Models without <see cref="LmCapabilities.StructuredOutput"/> refuse the prompt before anything is sent.
    /// Part of equality and of the cache key.
    /// </summary>
    public LmResponseFormat? ResponseFormat
    {
        get => _extras.ResponseFormat;
        init => _extras = _extras with { ResponseFormat = value };
    }

    /// <summary>Whether the prompt uses tools at all: tool definitions, a tool choice, or tool calls and results in its dialog.</summary>
    internal bool UsesTools =>
        _extras.Tools is not null || _extras.ToolChoice is not null
        || (_content is LmChatTurn[] chat && chat.Any(t => t.ToolCalls is not null || t.ToolCallId is not null));

    private bool ToolFieldsEqual(LmPrompt other) =>
        SeqEq(_extras.Tools, other._extras.Tools)
        && Equals(_extras.ToolChoice, other._extras.ToolChoice)
        && Equals(_extras.ResponseFormat, other._extras.ResponseFormat);

    private void ValidateToolFields()
    {
        if (_extras.Tools is { } tools)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < tools.Length; i++)
            {
                var tool = tools[i] ?? throw new LmPromptException($"Tool {i} is null.", nameof(Tools));
                if (!names.Add(tool.Name))
                {
                    throw new LmPromptException($"Two tools are named \"{tool.Name}\"; tool names must be unique.", nameof(Tools));
                }
            }
        }

        if (_extras.ToolChoice is { } choice)
        {
            if (!Enum.IsDefined(choice.Mode))
            {
                throw new LmPromptException($"ToolChoice has an unknown mode ({(int)choice.Mode}).", nameof(ToolChoice));
            }

            if (_extras.Tools is null)
            {
                throw new LmPromptException($"ToolChoice is {choice}, but the prompt has no Tools; set Tools or leave ToolChoice null.", nameof(ToolChoice));
            }

            if (choice.Mode == LmToolChoiceMode.Named && !_extras.Tools.Any(t => t.Name == choice.ToolName))
            {
                throw new LmPromptException(
                    $"ToolChoice names the tool \"{choice.ToolName}\", which is not one of the prompt's Tools ({string.Join(", ", _extras.Tools.Select(t => t.Name))}).",
                    nameof(ToolChoice));
            }
        }
    }

    /// <summary>
    /// Tool calls belong to assistant turns (each with an id, a valid name and arguments), tool-call ids to tool turns; every
    /// call is answered by tool turns right after its assistant turn, and every tool turn with an id answers one of them.
    /// </summary>
    private static void CheckToolTurn(LmChatTurn[] chat, int i)
    {
        var turn = chat[i];
        if (turn.ToolCallId is not null && turn.Role != LmChatRole.Tool)
        {
            throw new LmPromptException($"Chat turn {i} ({turn.RoleName}) has a ToolCallId; only a tool turn (LmChatTurn.ToolResult) answers a tool call.", nameof(Chat));
        }

        if (turn.ToolCalls is { } calls)
        {
            if (turn.Role != LmChatRole.Assistant)
            {
                throw new LmPromptException($"Chat turn {i} ({turn.RoleName}) has tool calls; only an assistant turn can make them.", nameof(Chat));
            }

            var pending = new HashSet<string>(StringComparer.Ordinal);
            for (int c = 0; c < calls.Count; c++)
            {
                var call = calls[c] ?? throw new LmPromptException($"Tool call {c} of chat turn {i} is null.", nameof(Chat));
                if (string.IsNullOrEmpty(call.Id) || string.IsNullOrEmpty(call.Name) || call.Arguments is null)
                {
                    throw new LmPromptException($"Tool call {c} of chat turn {i} needs an Id, a Name and Arguments.", nameof(Chat));
                }

                if (!pending.Add(call.Id))
                {
                    throw new LmPromptException($"Chat turn {i} has two tool calls with the id \"{call.Id}\".", nameof(Chat));
                }
            }

            int j = i + 1;
            for (; j < chat.Length && chat[j].Role == LmChatRole.Tool && chat[j].ToolCallId is { } id; j++)
            {
                if (!pending.Remove(id))
                {
                    throw new LmPromptException($"Chat turn {j} answers the tool call \"{id}\", which chat turn {i} did not make (or which is answered twice).", nameof(Chat));
                }
            }

            if (pending.Count > 0)
            {
                throw new LmPromptException(
                    $"Chat turn {i} made the tool call{(pending.Count > 1 ? "s" : "")} {string.Join(", ", pending.Select(p => $"\"{p}\""))}, which the turns right after it do not answer; add a LmChatTurn.ToolResult(id, result) turn for each call before any other turn.",
                    nameof(Chat));
            }
        }

        if (turn.Role == LmChatRole.Tool && turn.ToolCallId is { } callId)
        {
            int k = i - 1;
            while (k >= 0 && chat[k].Role == LmChatRole.Tool)
            {
                k--;
            }

            if (k < 0 || chat[k].ToolCalls is not { } made || !made.Any(c => c.Id == callId))
            {
                throw new LmPromptException(
                    $"Chat turn {i} is a tool result for the call \"{callId}\", but no assistant turn right before it made that call. Tool results must follow the assistant turn that made the calls.",
                    nameof(Chat));
            }
        }
    }

    /// <content>The tool settings, in the shared extras.</content>
    private sealed partial record Extras
    {
        public LmToolDefinition[]? Tools { get; init; }

        public LmToolChoice? ToolChoice { get; init; }

        public LmResponseFormat? ResponseFormat { get; init; }
    }
}
