using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// Tool calls for local models, in the Hermes/Qwen form: a forced choice (<see cref="LmToolChoiceMode.Required"/> or
/// <see cref="LmToolChoiceMode.Named"/>) generates one JSON object <c>{"name": …, "arguments": …}</c> under a JSON
/// constraint; otherwise (<see cref="LmToolChoiceMode.Auto"/> or no choice) the free text's
/// <c>&lt;tool_call&gt;{…}&lt;/tool_call&gt;</c> blocks become the calls. <see cref="LmToolChoiceMode.None"/> still
/// renders the tools but neither constrains nor parses.
/// </summary>
internal static class LocalToolCalls
{
    /// <summary>The tag that opens a Hermes/Qwen tool-call block.</summary>
    public const string OpenTag = "<tool_call>";

    /// <summary>The tag that closes a Hermes/Qwen tool-call block.</summary>
    public const string CloseTag = "</tool_call>";

    /// <summary>Whether the prompt forces a tool call (the output is generated under <see cref="ForcedSchema"/>).</summary>
    public static bool IsForced(LmPrompt prompt) =>
        prompt.Tools is { Count: > 0 } && prompt.ToolChoice?.Mode is LmToolChoiceMode.Required or LmToolChoiceMode.Named;

    /// <summary>Whether the free text is searched for tool-call blocks (tools given, choice Auto or unset).</summary>
    public static bool ParsesText(LmPrompt prompt) =>
        prompt.Tools is { Count: > 0 } && (prompt.ToolChoice is null || prompt.ToolChoice.Mode == LmToolChoiceMode.Auto);

    /// <summary>
    /// The schema a forced call is generated under: <c>{"name": {"const": tool}, "arguments": tool's parameters}</c>, as
    /// an <c>anyOf</c> over the tools when the choice is Required (the named tool alone when Named). A <c>$ref</c> inside
    /// a tool's parameters is re-rooted to where the parameters now sit.
    /// </summary>
    public static JsonElement ForcedSchema(LmPrompt prompt)
    {
        var tools = prompt.Tools!;
        var chosen = prompt.ToolChoice!.Mode == LmToolChoiceMode.Named
            ? tools.Where(t => t.Name == prompt.ToolChoice.ToolName).ToList()
            : tools.ToList();
        JsonNode schema;
        if (chosen.Count == 1)
        {
            schema = CallSchema(chosen[0], "#/properties/arguments");
        }
        else
        {
            var alternatives = new JsonArray();
            for (int i = 0; i < chosen.Count; i++)
            {
                alternatives.Add(CallSchema(chosen[i], $"#/anyOf/{i}/properties/arguments"));
            }

            schema = new JsonObject { ["anyOf"] = alternatives };
        }

        using var doc = JsonDocument.Parse(schema.ToJsonString());
        return doc.RootElement.Clone();
    }

    /// <summary>
    /// Turns a sample's text into tool calls: a forced call's JSON object, or the <c>&lt;tool_call&gt;</c> blocks of free
    /// text. Null when the prompt takes no calls from this text, or the text holds none that parse (then it stays as is).
    /// </summary>
    /// <returns>The calls (ids <c>call_&lt;n&gt;</c>, numbered on from the dialog's earlier calls) and the text left.</returns>
    public static (List<LmToolCall> Calls, string Text)? Extract(LmPrompt prompt, string text)
    {
        List<(string Name, string Arguments)>? found;
        string rest;
        if (IsForced(prompt))
        {
            found = ParseCall(text, prompt.Tools!) is { } call ? [call] : null;
            rest = string.Empty;
        }
        else if (ParsesText(prompt))
        {
            found = ParseBlocks(text, prompt.Tools!, out rest);
        }
        else
        {
            return null;
        }

        if (found is null || found.Count == 0)
        {
            return null;
        }

        int first = prompt.IsChat ? prompt.Chat!.Sum(t => t.ToolCalls?.Count ?? 0) : 0;
        var calls = found.Select((c, i) => new LmToolCall(string.Create(CultureInfo.InvariantCulture, $"call_{first + i}"), c.Name, c.Arguments)).ToList();
        return (calls, rest);
    }

    /// <summary>
    /// The <c>&lt;tool_call&gt;{"name": …, "arguments": {…}}&lt;/tool_call&gt;</c> blocks of a text (an unclosed last block
    /// runs to the end), each an object naming one of <paramref name="tools"/>. Null when there is none, or any block is
    /// not such an object (then no calls are taken). <paramref name="rest"/>: the text without the blocks and the
    /// whitespace right after each.
    /// </summary>
    internal static List<(string Name, string Arguments)>? ParseBlocks(string text, IReadOnlyList<LmToolDefinition> tools, out string rest)
    {
        rest = text;
        int at = text.IndexOf(OpenTag, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var calls = new List<(string, string)>();
        var kept = new StringBuilder();
        int from = 0;
        while (at >= 0)
        {
            kept.Append(text, from, at - from);
            int bodyStart = at + OpenTag.Length;
            int close = text.IndexOf(CloseTag, bodyStart, StringComparison.Ordinal);
            int bodyEnd = close < 0 ? text.Length : close;
            if (ParseCall(text[bodyStart..bodyEnd], tools) is not { } call)
            {
                return null;
            }

            calls.Add(call);
            from = close < 0 ? text.Length : close + CloseTag.Length;
            while (from < text.Length && char.IsWhiteSpace(text[from]))
            {
                from++;
            }

            at = text.IndexOf(OpenTag, from, StringComparison.Ordinal);
        }

        kept.Append(text, from, text.Length - from);
        rest = kept.ToString();
        return calls;
    }

    /// <summary>One call object, <c>{"name": "tool", "arguments": {…}}</c> (arguments may be JSON text in a string); null when it is not one naming a tool.</summary>
    internal static (string Name, string Arguments)? ParseCall(string json, IReadOnlyList<LmToolDefinition> tools)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.Trim());
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String
                || !tools.Any(t => t.Name == name.GetString()))
            {
                return null;
            }

            if (!root.TryGetProperty("arguments", out var arguments))
            {
                return (name.GetString()!, "{}");
            }

            if (arguments.ValueKind == JsonValueKind.String)
            {
                using var inner = JsonDocument.Parse(arguments.GetString()!);
                arguments = inner.RootElement.Clone();
            }

            return arguments.ValueKind == JsonValueKind.Object ? (name.GetString()!, arguments.GetRawText()) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The tools as the transformers convention passes them to a chat template.</summary>
    public static List<object?> TemplateTools(IReadOnlyList<LmToolDefinition> tools) =>
        [.. tools.Select(t =>
        {
            var function = new Dictionary<string, object?>(StringComparer.Ordinal) { ["name"] = t.Name };
            if (t.Description is not null)
            {
                function["description"] = t.Description;
            }

            function["parameters"] = t.Parameters;
            return (object?)new Dictionary<string, object?>(StringComparer.Ordinal) { ["type"] = "function", ["function"] = function };
        })];

    private static JsonObject CallSchema(LmToolDefinition tool, string argumentsPointer)
    {
        var parameters = JsonNode.Parse(tool.ParametersJson)!;
        Reroot(parameters, argumentsPointer);
        return new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["name"] = new JsonObject { ["const"] = tool.Name },
                ["arguments"] = parameters,
            },
            ["required"] = new JsonArray("name", "arguments"),
            ["additionalProperties"] = false,
        };
    }

    /// <summary>Rewrites <c>$ref</c>s inside the same document (<c>#…</c>) to point under <paramref name="prefix"/>.</summary>
    private static void Reroot(JsonNode? node, string prefix)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o.ToList())
                {
                    if (key == "$ref" && value is JsonValue v && v.TryGetValue<string>(out var pointer) && pointer.StartsWith('#'))
                    {
                        o["$ref"] = prefix + pointer[1..];
                    }
                    else
                    {
                        Reroot(value, prefix);
                    }
                }

                break;
            case JsonArray a:
                foreach (var item in a)
                {
                    Reroot(item, prefix);
                }

                break;
        }
    }
}
