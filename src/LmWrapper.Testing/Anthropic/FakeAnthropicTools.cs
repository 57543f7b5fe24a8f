using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LmWrapper.Tools;

namespace LmWrapper.Testing.Anthropic;

/// <summary>
/// The fake Messages API's tool use: checks <c>tools</c>, <c>tool_choice</c> and the messages' <c>tool_use</c> and
/// <c>tool_result</c> blocks as the real API does, and decides when the model calls a tool.
/// </summary>
/// <remarks>
/// The model calls a tool when <c>tool_choice</c> is <c>any</c> (the tool the last user text names with
/// "call &lt;name&gt;", else the first) or <c>tool</c> (that one), or, with <c>auto</c>, when the last user message's text says
/// "call &lt;name&gt;". The input is the responder's text when that is a JSON object fitting the tool's schema (so a forced
/// tool can carry a structured answer), else a minimal instance of the schema.
/// </remarks>
internal static partial class FakeAnthropicTools
{
    /// <summary>Checks the request's tools and tool choice; returns the tools (name → input schema) and the choice.</summary>
    public static (List<(string Name, JsonElement Schema)> Tools, string Choice, string? ChoiceName) Parse(JsonObject body, int? thinkingBudget)
    {
        var tools = new List<(string, JsonElement)>();
        if (body["tools"] is { } node)
        {
            if (node is not JsonArray array)
            {
                throw FakeAnthropicApiError.Invalid("tools: Input should be a valid list");
            }

            for (int i = 0; i < array.Count; i++)
            {
                if (array[i] is not JsonObject tool)
                {
                    throw FakeAnthropicApiError.Invalid($"tools.{i}: Input should be a valid dictionary");
                }

                string? name = (tool["name"] as JsonValue)?.TryGetValue(out string? n) == true ? n : null;
                if (name is null)
                {
                    throw FakeAnthropicApiError.Invalid($"tools.{i}.custom.name: Field required");
                }

                if (!NamePattern().IsMatch(name))
                {
                    throw FakeAnthropicApiError.Invalid($"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'");
                }

                if (tools.Any(t => t.Item1 == name))
                {
                    throw FakeAnthropicApiError.Invalid("tools: Tool names must be unique.");
                }

                if (tool["input_schema"] is not JsonObject schema)
                {
                    throw FakeAnthropicApiError.Invalid($"tools.{i}.custom.input_schema: Field required");
                }

                if ((schema["type"] as JsonValue)?.TryGetValue(out string? type) != true || type != "object")
                {
                    throw FakeAnthropicApiError.Invalid($"tools.{i}.custom.input_schema.type: Input should be 'object'");
                }

                using var doc = JsonDocument.Parse(schema.ToJsonString());
                tools.Add((name, doc.RootElement.Clone()));
            }
        }

        string choice = "auto";
        string? choiceName = null;
        if (body["tool_choice"] is { } tc)
        {
            if (tc is not JsonObject obj || (obj["type"] as JsonValue)?.TryGetValue(out string? kind) != true)
            {
                throw FakeAnthropicApiError.Invalid("tool_choice: Input should be a valid dictionary with a type");
            }

            if (kind is not ("auto" or "any" or "tool" or "none"))
            {
                throw FakeAnthropicApiError.Invalid($"tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
            }

            if (tools.Count == 0)
            {
                throw FakeAnthropicApiError.Invalid("tool_choice may only be specified while providing tools.");
            }

            if (kind == "tool")
            {
                choiceName = (obj["name"] as JsonValue)?.TryGetValue(out string? cn) == true ? cn : throw FakeAnthropicApiError.Invalid("tool_choice.tool.name: Field required");
                if (!tools.Any(t => t.Item1 == choiceName))
                {
                    throw FakeAnthropicApiError.Invalid($"tool_choice.tool.name: Tool '{choiceName}' not found in the provided tools.");
                }
            }

            if (kind is "any" or "tool" && thinkingBudget is not null)
            {
                throw FakeAnthropicApiError.Invalid("Thinking may not be enabled when tool_choice forces tool use.");
            }

            choice = kind;
        }

        return (tools, choice, choiceName);
    }

    /// <summary>
    /// Checks the messages' tool blocks: <c>tool_use</c> only from the assistant, <c>tool_result</c> only from the user and
    /// first in its message, each answering a <c>tool_use</c> of the message right before, and every <c>tool_use</c>
    /// answered in the next message. Returns, per message, the texts of its tool results.
    /// </summary>
    public static Dictionary<int, List<string>> CheckToolBlocks(JsonArray messages)
    {
        var results = new Dictionary<int, List<string>>();
        HashSet<string>? open = null;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject m || m["content"] is not JsonArray blocks)
            {
                if (open is { Count: > 0 })
                {
                    throw FakeAnthropicApiError.Invalid($"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: {string.Join(", ", open)}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.");
                }

                open = null;
                continue;
            }

            string? role = (m["role"] as JsonValue)?.TryGetValue(out string? r) == true ? r : null;
            var answered = new HashSet<string>();
            var used = new HashSet<string>();
            bool seenOther = false;
            for (int b = 0; b < blocks.Count; b++)
            {
                if (blocks[b] is not JsonObject block || (block["type"] as JsonValue)?.TryGetValue(out string? type) != true)
                {
                    continue;
                }

                string at = $"messages.{i}.content.{b}";
                if (type == "tool_use")
                {
                    if (role != "assistant")
                    {
                        throw FakeAnthropicApiError.Invalid($"{at}: `tool_use` blocks are only allowed in `assistant` messages.");
                    }

                    string id = (block["id"] as JsonValue)?.TryGetValue(out string? x) == true ? x : throw FakeAnthropicApiError.Invalid($"{at}.tool_use.id: Field required");
                    if ((block["name"] as JsonValue)?.TryGetValue(out string? _) != true)
                    {
                        throw FakeAnthropicApiError.Invalid($"{at}.tool_use.name: Field required");
                    }

                    if (block["input"] is not JsonObject)
                    {
                        throw FakeAnthropicApiError.Invalid($"{at}.tool_use.input: Input should be a valid dictionary");
                    }

                    used.Add(id);
                }
                else if (type == "tool_result")
                {
                    if (role != "user")
                    {
                        throw FakeAnthropicApiError.Invalid($"{at}: `tool_result` blocks are only allowed in `user` messages.");
                    }

                    if (seenOther)
                    {
                        throw FakeAnthropicApiError.Invalid($"{at}: `tool_result` blocks must come first in the message, before any other content.");
                    }

                    string id = (block["tool_use_id"] as JsonValue)?.TryGetValue(out string? x) == true ? x : throw FakeAnthropicApiError.Invalid($"{at}.tool_result.tool_use_id: Field required");
                    if (open is null || !open.Contains(id))
                    {
                        throw FakeAnthropicApiError.Invalid($"{at}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.");
                    }

                    answered.Add(id);
                    string content = block["content"] switch
                    {
                        JsonValue v when v.TryGetValue(out string? text) => text,
                        JsonArray parts => string.Concat(parts.OfType<JsonObject>().Select(p => (p["text"] as JsonValue)?.GetValue<string>() ?? string.Empty)),
                        _ => string.Empty,
                    };
                    (results.TryGetValue(i, out var list) ? list : results[i] = []).Add(content);
                }
                else if (type is not ("thinking" or "redacted_thinking"))
                {
                    seenOther = true;
                }
            }

            if (open is { Count: > 0 } && !open.SetEquals(answered))
            {
                throw FakeAnthropicApiError.Invalid($"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: {string.Join(", ", open.Except(answered))}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.");
            }

            open = used.Count > 0 ? used : null;
        }

        return results;
    }

    /// <summary>The tool_use block the model answers with, or null for a text answer.</summary>
    public static JsonObject? Call(FakeAnthropicMessageRequest request, string responderText)
    {
        var tools = request.ToolSchemas;
        if (tools.Count == 0 || request.ToolChoice == "none")
        {
            return null;
        }

        var lastUser = request.Messages.LastOrDefault(m => m.Role == "user");
        bool afterResults = lastUser is { ToolResults.Count: > 0 } && string.IsNullOrWhiteSpace(lastUser.Text);
        var mentioned = lastUser is null || afterResults ? default : tools.FirstOrDefault(t => Says(lastUser.Text, t.Name));
        (string Name, JsonElement Schema) tool = request.ToolChoice switch
        {
            "tool" => tools.First(t => t.Name == request.ToolChoiceName),
            "any" => mentioned.Name is null ? tools[0] : mentioned,
            _ => mentioned,
        };
        if (tool.Name is null)
        {
            return null;
        }

        string input = Fits(responderText, tool.Schema) ? responderText : JsonSchemaShape.SampleJson(tool.Schema);
        string conversation = string.Join("\n", request.Messages.Select(m => m.Role + ":" + m.Text + string.Join("|", m.ToolResults)));
        string id = "toolu_fake" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(conversation)))[..20];
        return new JsonObject { ["type"] = "tool_use", ["id"] = id, ["name"] = tool.Name, ["input"] = JsonNode.Parse(input) };
    }

    /// <summary>A responder's scripted tool calls as tool_use blocks; each must name one of the request's tools.</summary>
    public static List<JsonObject> Scripted(FakeAnthropicMessageRequest request, IReadOnlyList<FakeToolCall>? calls)
    {
        var blocks = new List<JsonObject>();
        string conversation = string.Join("\n", request.Messages.Select(m => m.Role + ":" + m.Text + string.Join("|", m.ToolResults)));
        string stem = "toolu_fake" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(conversation)))[..16];
        for (int k = 0; k < (calls?.Count ?? 0); k++)
        {
            var call = calls![k];
            if (!request.ToolSchemas.Any(t => t.Name == call.Name))
            {
                throw new InvalidOperationException($"The responder asked for a call of \"{call.Name}\", which is not one of the request's tools.");
            }

            blocks.Add(new JsonObject { ["type"] = "tool_use", ["id"] = stem + "_" + k, ["name"] = call.Name, ["input"] = JsonNode.Parse(call.ArgumentsJson) });
        }

        return blocks;
    }

    private static bool Fits(string text, JsonElement schema)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object && JsonSchemaShape.Check(doc.RootElement, schema) is null;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool Says(string text, string toolName) =>
        Regex.IsMatch(text, @"\bcall\s+" + Regex.Escape(toolName) + "(?![a-zA-Z0-9_-])", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,128}$")]
    private static partial Regex NamePattern();
}
