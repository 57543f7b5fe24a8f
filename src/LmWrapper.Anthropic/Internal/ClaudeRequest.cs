using System.Globalization;
using System.Text.Json.Nodes;

namespace LmWrapper.Anthropic.Internal;

/// <summary>
/// An <see cref="LmPrompt"/> translated to the Messages API: the checks that reject what Claude cannot take, and the
/// JSON <c>params</c> (shared by <c>/v1/messages</c>, <c>/v1/messages/count_tokens</c> and, later, a batch's requests).
/// </summary>
internal sealed class ClaudeRequest
{
    private ClaudeRequest(string? system, List<(string Role, string Text)> messages)
    {
        System = system;
        Messages = messages;
    }

    /// <summary>The <c>system</c> field, or null.</summary>
    public string? System { get; }

    /// <summary>The <c>messages</c>, in order: user first, alternating.</summary>
    public IReadOnlyList<(string Role, string Text)> Messages { get; }

    /// <summary>Translates the dialog, throwing <see cref="LmPromptException"/> for any shape the API rejects.</summary>
    public static ClaudeRequest FromPrompt(LmPrompt prompt)
    {
        var turns = prompt.GetTextAsChat();
        string? system = null;
        var messages = new List<(string Role, string Text)>(turns.Count);
        for (int i = 0; i < turns.Count; i++)
        {
            var turn = turns[i];
            string where = prompt.IsChat ? $"Chat turn {i} ({turn.RoleName})" : "The prompt text";
            if (string.IsNullOrWhiteSpace(turn.Content))
            {
                throw new LmPromptException($"{where} is only whitespace; Claude rejects text without non-whitespace characters.", prompt.IsChat ? nameof(LmPrompt.Chat) : nameof(LmPrompt.Text));
            }

            if (turn.Name is not null)
            {
                throw new LmPromptException($"{where} has a Name (\"{turn.Name}\"); the Claude Messages API has no author names. Put the name in the text instead.", nameof(LmPrompt.Chat));
            }

            switch (turn.Role)
            {
                case LmChatRole.System:
                    // LmPrompt.Validate already allows a system turn only first.
                    system = turn.Content;
                    continue;
                case LmChatRole.Tool:
                    throw new LmPromptException(
                        $"{where} is a tool turn; Claude takes tool results only as tool_result blocks inside a user turn, answering a tool_use block, which LmPrompt cannot express.",
                        nameof(LmPrompt.Chat));
                case LmChatRole.User:
                case LmChatRole.Assistant:
                    break;
                default:
                    throw new LmPromptException($"{where} has an unknown role.", nameof(LmPrompt.Chat));
            }

            string role = turn.RoleName;
            if (messages.Count == 0 && turn.Role != LmChatRole.User)
            {
                throw new LmPromptException($"{where}: Claude needs the first message (after any system turn) to be a user turn.", nameof(LmPrompt.Chat));
            }

            if (messages.Count > 0 && messages[^1].Role == role)
            {
                throw new LmPromptException($"{where} follows another {role} turn; Claude needs user and assistant turns to alternate. Merge them into one turn.", nameof(LmPrompt.Chat));
            }

            messages.Add((role, turn.Content));
        }

        if (messages.Count == 0)
        {
            throw new LmPromptException("The dialog has only a system turn; Claude needs at least one user turn.", nameof(LmPrompt.Chat));
        }

        if (messages[^1].Role == "assistant" && messages[^1].Text.Length > 0 && char.IsWhiteSpace(messages[^1].Text[^1]))
        {
            throw new LmPromptException(
                "The last turn is an assistant turn (a prefill Claude continues from) that ends with whitespace; Claude rejects that. Trim it.",
                nameof(LmPrompt.Chat));
        }

        return new ClaudeRequest(system, messages);
    }

    /// <summary>Checks the sampling fields against what Claude and this model honour.</summary>
    public static void ValidateSettings(LmPrompt prompt, ClaudeModelInfo model)
    {
        if (prompt.Temperature > 1)
        {
            throw new LmPromptException(
                string.Create(CultureInfo.InvariantCulture, $"Temperature must be in [0, 1] for Claude, but was {prompt.Temperature}."),
                nameof(LmPrompt.Temperature));
        }

        if (prompt.Logprobs > 1)
        {
            throw new LmPromptException(
                $"Logprobs is {prompt.Logprobs}, but Claude returns no log probabilities. Leave it at 1 (predictions then say logprobs are unavailable) or set 0.",
                nameof(LmPrompt.Logprobs));
        }

        if (prompt.Echo)
        {
            throw new LmPromptException("Echo is set, but Claude cannot return the prompt's tokens. Unset it.", nameof(LmPrompt.Echo));
        }

        if (prompt.PresencePenalty != 0)
        {
            throw new LmPromptException("PresencePenalty is set, but Claude has no presence penalty. Leave it at 0.", nameof(LmPrompt.PresencePenalty));
        }

        if (prompt.FrequencyPenalty != 0)
        {
            throw new LmPromptException("FrequencyPenalty is set, but Claude has no frequency penalty. Leave it at 0.", nameof(LmPrompt.FrequencyPenalty));
        }

        if (prompt.Seed is not null)
        {
            throw new LmPromptException("Seed is set, but Claude has no sampling seed, so the output would not be reproducible. Unset it (use Temperature = 0 for the most repeatable output).", nameof(LmPrompt.Seed));
        }

        if (prompt.AddBosToken is not null)
        {
            throw new LmPromptException("AddBosToken is for local models; Claude's API has no such setting. Leave it null.", nameof(LmPrompt.AddBosToken));
        }

        if (prompt.AddSpecialTokens is not null)
        {
            throw new LmPromptException("AddSpecialTokens is for local models; Claude's API has no such setting. Leave it null.", nameof(LmPrompt.AddSpecialTokens));
        }

        if (prompt.MaxTokens > model.MaxOutputTokens)
        {
            throw new LmPromptException(
                $"MaxTokens is {prompt.MaxTokens}, but {model.Name} generates at most {model.MaxOutputTokens} tokens.", nameof(LmPrompt.MaxTokens));
        }

        if (!model.AcceptsTemperatureWithTopP && prompt.TopP is not (1 or 0) && prompt.Temperature != 1)
        {
            throw new LmPromptException(
                $"{model.Name} takes temperature or top_p, not both; this prompt sets both (Temperature {prompt.Temperature.ToString(CultureInfo.InvariantCulture)}, TopP {prompt.TopP.ToString(CultureInfo.InvariantCulture)}). Leave one at its default of 1.",
                nameof(LmPrompt.TopP));
        }
    }

    /// <summary>The <c>/v1/messages</c> body (also a batch request's <c>params</c>).</summary>
    public JsonObject ToMessagesBody(LmPrompt prompt, ClaudeModelInfo model)
    {
        var body = new JsonObject
        {
            ["model"] = model.Name,
            ["max_tokens"] = prompt.MaxTokens ?? model.DefaultMaxTokens,
        };
        AddDialog(body);

        // TopP 0 means greedy (as in the Python original): sent as temperature 0 alone.
        bool greedy = prompt.TopP == 0;
        bool sendTopP = prompt.TopP != 1 && !greedy;
        bool sendTemperature = !(sendTopP && !model.AcceptsTemperatureWithTopP && prompt.Temperature == 1);
        if (sendTemperature)
        {
            body["temperature"] = greedy ? 0 : prompt.Temperature;
        }

        if (sendTopP)
        {
            body["top_p"] = prompt.TopP;
        }

        if (prompt.Stop is { Count: > 0 } stops)
        {
            var array = new JsonArray();
            foreach (var s in stops)
            {
                array.Add(s);
            }

            body["stop_sequences"] = array;
        }

        return body;
    }

    /// <summary>The <c>/v1/messages/count_tokens</c> body.</summary>
    public JsonObject ToCountTokensBody(ClaudeModelInfo model)
    {
        var body = new JsonObject { ["model"] = model.Name };
        AddDialog(body);
        return body;
    }

    private void AddDialog(JsonObject body)
    {
        if (System is not null)
        {
            body["system"] = System;
        }

        var messages = new JsonArray();
        foreach (var (role, text) in Messages)
        {
            messages.Add(new JsonObject { ["role"] = role, ["content"] = text });
        }

        body["messages"] = messages;
    }
}
