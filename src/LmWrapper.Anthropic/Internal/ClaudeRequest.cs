using System.Globalization;
using System.Text.Json.Nodes;

namespace LmWrapper.Anthropic.Internal;

/// <summary>
/// An <see cref="LmPrompt"/> translated to the Messages API: the checks that reject what Claude cannot take, and the
/// JSON <c>params</c> (shared by <c>/v1/messages</c>, <c>/v1/messages/count_tokens</c> and, later, a batch's requests).
/// </summary>
internal sealed class ClaudeRequest
{
    private readonly Dictionary<int, IReadOnlyList<LmReasoningBlock>>? _reasoning;
    private readonly Dictionary<int, IReadOnlyList<LmContentPart>>? _parts;
    private readonly Dictionary<int, IReadOnlyList<LmToolCall>>? _toolUse;
    private readonly Dictionary<int, List<(string Id, string Content)>>? _toolResults;

    private ClaudeRequest(
        string? system,
        List<(string Role, string Text)> messages,
        Dictionary<int, IReadOnlyList<LmReasoningBlock>>? reasoning = null,
        Dictionary<int, IReadOnlyList<LmContentPart>>? parts = null,
        Dictionary<int, IReadOnlyList<LmToolCall>>? toolUse = null,
        Dictionary<int, List<(string Id, string Content)>>? toolResults = null)
    {
        System = system;
        Messages = messages;
        _reasoning = reasoning;
        _parts = parts;
        _toolUse = toolUse;
        _toolResults = toolResults;
    }

    /// <summary>Claude's limits on images: at most 100 per request.</summary>
    internal const int MaxImagesPerRequest = 100;

    /// <summary>The most base64 characters one image may have (5 MB).</summary>
    internal const long MaxImageBase64Bytes = 5L * 1024 * 1024;

    /// <summary>The longest side an image may have (8000 px), and (2000 px) when the request has more than 20 images.</summary>
    internal const int MaxImageSide = 8000;

    /// <summary>The longest side of each image when a request has more than <see cref="ManyImages"/> images.</summary>
    internal const int MaxImageSideWhenMany = 2000;

    /// <summary>More images than this in one request lower the size limit to <see cref="MaxImageSideWhenMany"/>.</summary>
    internal const int ManyImages = 20;

    /// <summary>The input tokens of the request's images by Claude's rule (width x height / 750, after its resize).</summary>
    public int ImageTokens => _parts is null ? 0
        : _parts.Values.SelectMany(p => p).Where(p => p.Image is not null).Sum(p => Images.ImageTokens.Claude(p.Image!.Width, p.Image.Height));

    /// <summary>The name of the forced tool that carries a response format's answer when the format has no name.</summary>
    public const string JsonAnswerTool = "json_answer";

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
        Dictionary<int, IReadOnlyList<LmReasoningBlock>>? reasoning = null;
        Dictionary<int, IReadOnlyList<LmContentPart>>? partsByMessage = null;
        Dictionary<int, IReadOnlyList<LmToolCall>>? toolUse = null;
        Dictionary<int, List<(string Id, string Content)>>? toolResults = null;
        for (int i = 0; i < turns.Count; i++)
        {
            var turn = turns[i];
            string where = prompt.IsChat ? $"Chat turn {i} ({turn.RoleName})" : "The prompt text";
            if (turn.ToolCalls is { } calls)
            {
                // An assistant turn that called tools: its text (if any), then a tool_use block per call.
                if (messages.Count > 0 && messages[^1].Role == "assistant")
                {
                    throw new LmPromptException($"{where} follows another assistant turn; Claude needs user and assistant turns to alternate. Merge them into one turn.", nameof(LmPrompt.Chat));
                }

                if (turn.ReasoningBlocks is { } thought)
                {
                    (reasoning ??= [])[messages.Count] = thought;
                }

                foreach (var call in calls)
                {
                    try
                    {
                        using var args = global::System.Text.Json.JsonDocument.Parse(string.IsNullOrWhiteSpace(call.Arguments) ? "{}" : call.Arguments);
                        if (args.RootElement.ValueKind != global::System.Text.Json.JsonValueKind.Object)
                        {
                            throw new global::System.Text.Json.JsonException("not an object");
                        }
                    }
                    catch (global::System.Text.Json.JsonException e)
                    {
                        throw new LmPromptException($"{where}: the arguments of tool call {call.Id} are not a JSON object ({e.Message}); Claude takes a tool_use input only as an object.", nameof(LmPrompt.Chat));
                    }
                }

                (toolUse ??= [])[messages.Count] = calls;
                messages.Add(("assistant", string.Concat(turn.Content, string.Concat(calls.Select(c => c.Name + c.Arguments)))));
                continue;
            }

            if (turn.Role == LmChatRole.Tool)
            {
                // Tool results are tool_result blocks in a user message, right after the tool_use they answer; several
                // results (and a user turn after them) share that message.
                if (turn.ToolCallId is not { } callId)
                {
                    throw new LmPromptException(
                        $"{where} is a tool turn without a ToolCallId; Claude takes tool results only as tool_result blocks answering a tool_use block. Use LmChatTurn.ToolResult(callId, content) after the assistant turn that made the call.",
                        nameof(LmPrompt.Chat));
                }

                if (messages.Count == 0 || messages[^1].Role != "user" || toolResults?.ContainsKey(messages.Count - 1) != true)
                {
                    messages.Add(("user", string.Empty));
                }

                (toolResults ??= []).TryAdd(messages.Count - 1, []);
                toolResults[messages.Count - 1].Add((callId, turn.Content));
                messages[^1] = ("user", messages[^1].Text + turn.Content);
                continue;
            }

            if (turn.Role == LmChatRole.User && toolResults?.ContainsKey(messages.Count - 1) == true && messages[^1].Role == "user"
                && !string.IsNullOrWhiteSpace(turn.Content) && turn.Name is null && turn.Parts is null)
            {
                // A user turn right after tool results joins their message, as a text block after them.
                (toolResults[messages.Count - 1]).Add((string.Empty, turn.Content));
                messages[^1] = ("user", messages[^1].Text + turn.Content);
                continue;
            }

            if (turn.Parts is { } parts)
            {
                if (parts.Any(p => p.Text is not null && string.IsNullOrWhiteSpace(p.Text)))
                {
                    throw new LmPromptException($"{where} has a text part that is only whitespace; Claude rejects text blocks without non-whitespace characters.", nameof(LmPrompt.Chat));
                }
            }
            else if (string.IsNullOrWhiteSpace(turn.Content))
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

            if (turn.ReasoningBlocks is { } blocks)
            {
                // LmPrompt.Validate already allows reasoning blocks on assistant turns only.
                if (blocks.FirstOrDefault(b => !b.IsRedacted && string.IsNullOrEmpty(b.Signature)) is not null)
                {
                    throw new LmPromptException(
                        $"{where} has a thinking block without a signature; Claude takes back only the thinking blocks it signed, unchanged. Remove the turn's ReasoningBlocks.",
                        nameof(LmPrompt.Chat));
                }

                (reasoning ??= [])[messages.Count] = blocks;
            }

            if (turn.Parts is { } turnParts)
            {
                (partsByMessage ??= [])[messages.Count] = turnParts;
            }

            messages.Add((role, turn.Content));
        }

        if (partsByMessage is not null)
        {
            CheckImageLimits(partsByMessage);
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

        if (messages.Count > 0 && toolUse?.ContainsKey(messages.Count - 1) == true)
        {
            throw new LmPromptException("The last turn made tool calls; answer them with LmChatTurn.ToolResult turns before asking Claude again.", nameof(LmPrompt.Chat));
        }

        return new ClaudeRequest(system, messages, reasoning, partsByMessage, toolUse, toolResults);
    }

    /// <summary>Claude's published image limits, checked before sending (the API would answer 400).</summary>
    private static void CheckImageLimits(Dictionary<int, IReadOnlyList<LmContentPart>> parts)
    {
        var images = parts.Values.SelectMany(p => p).Where(p => p.Image is not null).Select(p => p.Image!).ToList();
        if (images.Count > MaxImagesPerRequest)
        {
            throw new LmImageException($"The prompt has {images.Count} images; Claude takes at most {MaxImagesPerRequest} per request.", nameof(LmPrompt.Chat));
        }

        int maxSide = images.Count > ManyImages ? MaxImageSideWhenMany : MaxImageSide;
        foreach (var image in images)
        {
            long base64 = 4L * ((image.ByteCount + 2) / 3);
            if (base64 > MaxImageBase64Bytes)
            {
                throw new LmImageException(
                    $"An image is {base64} bytes in base64 ({image.ByteCount} bytes raw); Claude takes at most 5 MB of base64 per image. Shrink or recompress it.",
                    nameof(LmPrompt.Chat));
            }

            if (image.Width > maxSide || image.Height > maxSide)
            {
                throw new LmImageException(
                    string.Create(CultureInfo.InvariantCulture, $"An image is {image.Width}x{image.Height} px; Claude rejects images larger than {maxSide}x{maxSide} px")
                    + (images.Count > ManyImages ? $" in a request with more than {ManyImages} images." : ".") + " Resize it.",
                    nameof(LmPrompt.Chat));
            }
        }
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

        if (prompt.ReasoningEffort is not null)
        {
            throw new LmPromptException(
                $"ReasoningEffort is OpenAI's reasoning setting; Claude takes a thinking budget instead. Set ThinkingBudgetTokens (at least 1024) on a model with extended thinking, such as {ClaudeModelNames.ClaudeSonnet4.Name}.",
                nameof(LmPrompt.ReasoningEffort));
        }

        if (prompt.ThinkingBudgetTokens is { } budget)
        {
            ValidateThinking(prompt, model, budget);
        }

        ValidateTools(prompt);

        if (!model.AcceptsTemperatureWithTopP && prompt.TopP is not (1 or 0) && prompt.Temperature != 1)
        {
            throw new LmPromptException(
                $"{model.Name} takes temperature or top_p, not both; this prompt sets both (Temperature {prompt.Temperature.ToString(CultureInfo.InvariantCulture)}, TopP {prompt.TopP.ToString(CultureInfo.InvariantCulture)}). Leave one at its default of 1.",
                nameof(LmPrompt.TopP));
        }
    }

    /// <summary>What Claude's tool use cannot combine: a response format (itself a forced tool) with tools, and forced tool use with thinking.</summary>
    private static void ValidateTools(LmPrompt prompt)
    {
        if (prompt.ResponseFormat is not null && (prompt.Tools is not null || prompt.ToolChoice is not null))
        {
            throw new LmPromptException(
                "ResponseFormat and Tools are both set; Claude answers a response format through a forced tool, so it cannot also choose among tools. Ask for the tools first, then for the structured answer in a later prompt.",
                nameof(LmPrompt.ResponseFormat));
        }

        bool forced = prompt.ResponseFormat is not null || prompt.ToolChoice?.Mode is LmToolChoiceMode.Required or LmToolChoiceMode.Named;
        if (forced && prompt.ThinkingBudgetTokens is not null)
        {
            throw new LmPromptException(
                $"{(prompt.ResponseFormat is not null ? "ResponseFormat (a forced tool for Claude)" : $"ToolChoice {prompt.ToolChoice}")} forces tool use, which Claude does not allow with extended thinking (ThinkingBudgetTokens); use ToolChoice Auto, or turn thinking off.",
                prompt.ResponseFormat is not null ? nameof(LmPrompt.ResponseFormat) : nameof(LmPrompt.ToolChoice));
        }

        if (prompt.Chat is { Count: > 0 } chat && chat[^1].Role == LmChatRole.Assistant && (forced || prompt.Tools is not null))
        {
            throw new LmPromptException("The last turn is an assistant turn (a prefill); Claude cannot continue a prefill with tools or a response format. End with a user turn.", nameof(LmPrompt.Chat));
        }
    }

    /// <summary>Extended thinking's rules, as the Messages API enforces them.</summary>
    private static void ValidateThinking(LmPrompt prompt, ClaudeModelInfo model, int budget)
    {
        const string Field = nameof(LmPrompt.ThinkingBudgetTokens);
        if (!model.SupportsExtendedThinking)
        {
            throw new LmPromptException(
                $"ThinkingBudgetTokens is set, but {model.Name} has no extended thinking; use a model that has (Claude 3.7 Sonnet or a Claude 4 model, such as {ClaudeModelNames.ClaudeSonnet4.Name}), or leave it null.",
                Field);
        }

        if (budget < 1024)
        {
            throw new LmPromptException($"ThinkingBudgetTokens is {budget}, but Claude's thinking budget must be at least 1024 tokens.", Field);
        }

        int maxTokens = prompt.MaxTokens ?? model.DefaultMaxTokens;
        if (budget >= maxTokens)
        {
            throw new LmPromptException(
                $"ThinkingBudgetTokens is {budget}, but it must be less than max_tokens ({maxTokens}{(prompt.MaxTokens is null ? ", the model's default" : "")}), which counts the thinking and the answer together. Raise MaxTokens.",
                Field);
        }

        if (prompt.Temperature != 1)
        {
            throw new LmPromptException(
                string.Create(CultureInfo.InvariantCulture, $"Temperature is {prompt.Temperature}, but with extended thinking (ThinkingBudgetTokens) Claude takes only temperature 1. Leave it at 1."),
                nameof(LmPrompt.Temperature));
        }

        if (prompt.TopP < 0.95)
        {
            throw new LmPromptException(
                string.Create(CultureInfo.InvariantCulture, $"TopP is {prompt.TopP}, but with extended thinking (ThinkingBudgetTokens) Claude takes top_p only from 0.95 to 1."),
                nameof(LmPrompt.TopP));
        }

        if (prompt.Chat is { Count: > 0 } chat && chat[^1].Role == LmChatRole.Assistant)
        {
            throw new LmPromptException(
                "The last turn is an assistant turn (a prefill), but Claude cannot continue a prefilled answer with extended thinking (ThinkingBudgetTokens). End with a user turn.",
                nameof(LmPrompt.Chat));
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
        bool sendTemperature = !(sendTopP && !model.AcceptsTemperatureWithTopP && prompt.Temperature == 1) && prompt.ThinkingBudgetTokens is null;
        if (prompt.ThinkingBudgetTokens is { } budget)
        {
            // With thinking, temperature may only be 1 (its default): it is left out.
            body["thinking"] = new JsonObject { ["type"] = "enabled", ["budget_tokens"] = budget };
        }

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

        AddTools(body, prompt);
        return body;
    }

    /// <summary>
    /// <c>tools</c> and <c>tool_choice</c>; a response format becomes one tool whose input schema is the format's schema,
    /// forced with <c>{"type":"tool","name":…}</c>, so the tool's input is the answer.
    /// </summary>
    private static void AddTools(JsonObject body, LmPrompt prompt)
    {
        if (prompt.ResponseFormat is { } format)
        {
            string name = format.Name ?? JsonAnswerTool;
            var schema = format.Kind == LmResponseFormatKind.JsonSchema ? JsonNode.Parse(format.SchemaJson!)! : new JsonObject { ["type"] = "object" };
            body["tools"] = new JsonArray
            {
                new JsonObject
                {
                    ["name"] = name,
                    ["description"] = "Give your answer as this tool's input: a JSON object" + (format.Kind == LmResponseFormatKind.JsonSchema ? " that follows the input schema." : "."),
                    ["input_schema"] = schema,
                },
            };
            body["tool_choice"] = new JsonObject { ["type"] = "tool", ["name"] = name };
            return;
        }

        if (prompt.Tools is { } tools)
        {
            var array = new JsonArray();
            foreach (var tool in tools)
            {
                var t = new JsonObject { ["name"] = tool.Name };
                if (tool.Description is { } description)
                {
                    t["description"] = description;
                }

                var schema = JsonNode.Parse(tool.ParametersJson)!.AsObject();
                if (!schema.ContainsKey("type"))
                {
                    schema["type"] = "object"; // Claude's input_schema needs the type, which a JSON Schema may leave out
                }

                t["input_schema"] = schema;
                array.Add(t);
            }

            body["tools"] = array;
        }

        if (prompt.ToolChoice is { } choice)
        {
            body["tool_choice"] = choice.Mode switch
            {
                LmToolChoiceMode.Auto => new JsonObject { ["type"] = "auto" },
                LmToolChoiceMode.None => new JsonObject { ["type"] = "none" },
                LmToolChoiceMode.Required => new JsonObject { ["type"] = "any" },
                _ => new JsonObject { ["type"] = "tool", ["name"] = choice.ToolName },
            };
        }
    }

    /// <summary>The <c>/v1/messages/count_tokens</c> body.</summary>
    public JsonObject ToCountTokensBody(LmPrompt prompt, ClaudeModelInfo model)
    {
        var body = new JsonObject { ["model"] = model.Name };
        AddDialog(body);
        AddTools(body, prompt);
        return body;
    }

    private void AddDialog(JsonObject body)
    {
        if (System is not null)
        {
            body["system"] = System;
        }

        var messages = new JsonArray();
        for (int i = 0; i < Messages.Count; i++)
        {
            var (role, text) = Messages[i];
            if (_toolResults is not null && _toolResults.TryGetValue(i, out var results))
            {
                var content = new JsonArray();
                foreach (var (id, result) in results)
                {
                    content.Add(id.Length == 0
                        ? new JsonObject { ["type"] = "text", ["text"] = result }
                        : new JsonObject { ["type"] = "tool_result", ["tool_use_id"] = id, ["content"] = result });
                }

                messages.Add(new JsonObject { ["role"] = role, ["content"] = content });
                continue;
            }

            if (_toolUse is not null && _toolUse.TryGetValue(i, out var calls))
            {
                var content = new JsonArray();
                if (_reasoning is not null && _reasoning.TryGetValue(i, out var thought))
                {
                    AddThinking(content, thought);
                }

                string said = text[..^calls.Sum(c => c.Name.Length + c.Arguments.Length)];
                if (!string.IsNullOrWhiteSpace(said))
                {
                    content.Add(new JsonObject { ["type"] = "text", ["text"] = said });
                }

                foreach (var call in calls)
                {
                    content.Add(new JsonObject
                    {
                        ["type"] = "tool_use",
                        ["id"] = call.Id,
                        ["name"] = call.Name,
                        ["input"] = JsonNode.Parse(string.IsNullOrWhiteSpace(call.Arguments) ? "{}" : call.Arguments),
                    });
                }

                messages.Add(new JsonObject { ["role"] = role, ["content"] = content });
                continue;
            }

            if (_reasoning is not null && _reasoning.TryGetValue(i, out var blocks))
            {
                // An answer that came with thinking goes back with its blocks first, unchanged, as Claude requires.
                var content = new JsonArray();
                AddThinking(content, blocks);

                content.Add(new JsonObject { ["type"] = "text", ["text"] = text });
                messages.Add(new JsonObject { ["role"] = role, ["content"] = content });
                continue;
            }

            if (_parts is not null && _parts.TryGetValue(i, out var parts))
            {
                var content = new JsonArray();
                foreach (var part in parts)
                {
                    content.Add(part.Image is { } image
                        ? new JsonObject
                        {
                            ["type"] = "image",
                            ["source"] = image.Url is { } url
                                ? new JsonObject { ["type"] = "url", ["url"] = url.OriginalString }
                                : new JsonObject { ["type"] = "base64", ["media_type"] = image.MediaType, ["data"] = image.ToBase64() },
                        }
                        : new JsonObject { ["type"] = "text", ["text"] = part.Text });
                }

                messages.Add(new JsonObject { ["role"] = role, ["content"] = content });
                continue;
            }

            messages.Add(new JsonObject { ["role"] = role, ["content"] = text });
        }

        body["messages"] = messages;
    }

    /// <summary>An answer's thinking blocks as Claude takes them back: signed <c>thinking</c> and <c>redacted_thinking</c>, unchanged.</summary>
    private static void AddThinking(JsonArray content, IReadOnlyList<LmReasoningBlock> blocks)
    {
        foreach (var b in blocks)
        {
            content.Add(b.IsRedacted
                ? new JsonObject { ["type"] = "redacted_thinking", ["data"] = b.RedactedData }
                : new JsonObject { ["type"] = "thinking", ["thinking"] = b.Text, ["signature"] = b.Signature });
        }
    }
}
