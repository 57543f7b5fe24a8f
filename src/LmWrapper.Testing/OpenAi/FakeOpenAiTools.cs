using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using LmWrapper.Tools;

namespace LmWrapper.Testing;

/// <summary>
/// The fake's function calling and structured output: checks <c>tools</c>, <c>tool_choice</c>, <c>response_format</c> and
/// the tool messages of a chat request as the real API does, and decides the model's tool calls and JSON answers.
/// </summary>
/// <remarks>
/// The model calls a tool when <c>tool_choice</c> is "required" (the tool the last user message names with "call &lt;name&gt;",
/// else the first) or names a function, or, with "auto", when the last message is a user message saying "call &lt;name&gt;".
/// The arguments are a minimal instance of the tool's parameters schema. With a <c>json_schema</c> response format it
/// answers the responder's text when that is JSON fitting the schema, else a minimal instance of the schema; with
/// <c>json_object</c> the responder's text when it is a JSON object, else <c>{"text": …}</c>.
/// </remarks>
internal sealed partial class FakeOpenAiTools
{
    private readonly List<(string Name, JsonElement Parameters)> _tools = [];
    private string _choice = "auto";
    private string? _choiceName;
    private string? _format;
    private JsonElement _schema;

    /// <summary>Whether the request has a response format other than text.</summary>
    public bool WantsJson => _format is "json_object" or "json_schema";

    /// <summary>Checks the request's tool and format fields and its messages' tool calls and results.</summary>
    public static FakeOpenAiTools Read(JsonElement root, IReadOnlyList<FakeOpenAiMessage> messages)
    {
        var t = new FakeOpenAiTools();
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind != JsonValueKind.Null)
        {
            if (tools.ValueKind != JsonValueKind.Array)
            {
                throw new FakeApiError(400, $"Invalid type for 'tools': expected an array, but got {Kind(tools)} instead.", param: "tools", code: "invalid_type");
            }

            if (tools.GetArrayLength() == 0)
            {
                throw new FakeApiError(400, "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.", param: "tools", code: "empty_array");
            }

            int i = 0;
            foreach (var tool in tools.EnumerateArray())
            {
                string at = $"tools[{i++}]";
                if (tool.ValueKind != JsonValueKind.Object)
                {
                    throw new FakeApiError(400, $"Invalid type for '{at}': expected an object, but got {Kind(tool)} instead.", param: at, code: "invalid_type");
                }

                string type = Str(tool, "type") ?? throw Missing(at + ".type");
                if (type != "function")
                {
                    throw new FakeApiError(400, $"Invalid value: '{type}'. Supported values are: 'function' and 'custom'.", param: at + ".type", code: "invalid_value");
                }

                if (!tool.TryGetProperty("function", out var f) || f.ValueKind != JsonValueKind.Object)
                {
                    throw Missing(at + ".function");
                }

                string name = Str(f, "name") ?? throw Missing(at + ".function.name");
                if (!NamePattern().IsMatch(name))
                {
                    throw new FakeApiError(400, $"Invalid '{at}.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", param: at + ".function.name", code: "invalid_value");
                }

                if (t._tools.Any(x => x.Name == name))
                {
                    throw new FakeApiError(400, $"Invalid 'tools': duplicate function name '{name}'.", param: "tools", code: "invalid_value");
                }

                JsonElement parameters = default;
                if (f.TryGetProperty("parameters", out var p) && p.ValueKind != JsonValueKind.Null)
                {
                    if (p.ValueKind != JsonValueKind.Object || (p.TryGetProperty("type", out var pt) && pt.GetString() != "object"))
                    {
                        throw new FakeApiError(400, $"Invalid schema for function '{name}': schema must be a JSON Schema of 'type: \"object\"', got '{(p.ValueKind == JsonValueKind.Object && p.TryGetProperty("type", out var got) ? "type: " + got.GetRawText() : p.GetRawText())}'.", param: at + ".function.parameters", code: "invalid_function_parameters");
                    }

                    parameters = p.Clone();
                }

                t._tools.Add((name, parameters));
            }
        }

        if (root.TryGetProperty("tool_choice", out var choice) && choice.ValueKind != JsonValueKind.Null)
        {
            if (t._tools.Count == 0)
            {
                throw new FakeApiError(400, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", param: "tool_choice");
            }

            if (choice.ValueKind == JsonValueKind.String)
            {
                t._choice = choice.GetString()!;
                if (t._choice is not ("none" or "auto" or "required"))
                {
                    throw new FakeApiError(400, $"Invalid value: '{t._choice}'. Supported values are: 'none', 'auto', and 'required'.", param: "tool_choice", code: "invalid_value");
                }
            }
            else if (choice.ValueKind == JsonValueKind.Object && Str(choice, "type") == "function"
                && choice.TryGetProperty("function", out var cf) && cf.ValueKind == JsonValueKind.Object && Str(cf, "name") is { } named)
            {
                if (!t._tools.Any(x => x.Name == named))
                {
                    throw new FakeApiError(400, $"Invalid value for 'tool_choice': tool choice '{named}' not found in 'tools' parameter.", param: "tool_choice");
                }

                t._choice = "function";
                t._choiceName = named;
            }
            else
            {
                throw new FakeApiError(400, "Invalid 'tool_choice': expected 'none', 'auto', 'required' or an object {\"type\": \"function\", \"function\": {\"name\": …}}.", param: "tool_choice", code: "invalid_value");
            }
        }

        CheckToolMessages(root);
        t.ReadResponseFormat(root, messages);
        return t;
    }

    /// <summary>The tool calls the model makes for this choice, or null for a text answer.</summary>
    public List<(string Id, string Name, string Arguments)>? Calls(IReadOnlyList<FakeOpenAiMessage> messages, JsonElement root, int choiceIndex)
    {
        if (_tools.Count == 0 || _choice == "none")
        {
            return null;
        }

        var last = messages[^1];
        var mentioned = last.Role == "user" ? _tools.FirstOrDefault(x => Says(last.Content, x.Name)) : default;
        (string Name, JsonElement Parameters) tool = _choice switch
        {
            "function" => _tools.First(x => x.Name == _choiceName),
            "required" => mentioned.Name is null ? _tools[0] : mentioned,
            _ => mentioned,
        };
        if (tool.Name is null)
        {
            return null;
        }

        string args = tool.Parameters.ValueKind == JsonValueKind.Object ? JsonSchemaShape.SampleJson(tool.Parameters) : "{}";
        // The id depends on the conversation (not on stream or other settings), so a streamed call has the same id.
        string id = "call_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(root.GetProperty("messages").GetRawText())))[..16] + choiceIndex.ToString(CultureInfo.InvariantCulture);
        return [(id, tool.Name, args)];
    }

    /// <summary>A responder's scripted tool calls, with ids; each must name one of the request's tools.</summary>
    public List<(string Id, string Name, string Arguments)> Scripted(IReadOnlyList<FakeToolCall> calls, JsonElement root, int choiceIndex)
    {
        var list = new List<(string, string, string)>(calls.Count);
        for (int k = 0; k < calls.Count; k++)
        {
            var call = calls[k];
            if (!_tools.Any(t => t.Name == call.Name))
            {
                throw new InvalidOperationException($"The responder asked for a call of \"{call.Name}\", which is not one of the request's tools.");
            }

            string id = "call_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(root.GetProperty("messages").GetRawText())))[..14]
                + choiceIndex.ToString(CultureInfo.InvariantCulture) + "_" + k.ToString(CultureInfo.InvariantCulture);
            list.Add((id, call.Name, call.ArgumentsJson));
        }

        return list;
    }

    /// <summary>The text of a JSON answer for the responder's text (see the remarks), or the text itself without a format.</summary>
    public string Answer(string text)
    {
        if (_format is "json_schema")
        {
            return Fits(text, j => JsonSchemaShape.Check(j, _schema) is null) ? text : JsonSchemaShape.SampleJson(_schema);
        }

        if (_format is "json_object")
        {
            return Fits(text, j => j.ValueKind == JsonValueKind.Object) ? text : JsonSerializer.Serialize(new Dictionary<string, string> { ["text"] = text });
        }

        return text;
    }

    private void ReadResponseFormat(JsonElement root, IReadOnlyList<FakeOpenAiMessage> messages)
    {
        if (!root.TryGetProperty("response_format", out var rf) || rf.ValueKind == JsonValueKind.Null)
        {
            return;
        }

        if (rf.ValueKind != JsonValueKind.Object)
        {
            throw new FakeApiError(400, $"Invalid type for 'response_format': expected an object, but got {Kind(rf)} instead.", param: "response_format", code: "invalid_type");
        }

        string type = Str(rf, "type") ?? throw Missing("response_format.type");
        switch (type)
        {
            case "text":
                return;
            case "json_object":
                if (!messages.Any(m => m.Content.Contains("json", StringComparison.OrdinalIgnoreCase)))
                {
                    throw new FakeApiError(400, "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.", param: "messages", code: null);
                }

                _format = type;
                return;
            case "json_schema":
                if (!rf.TryGetProperty("json_schema", out var js) || js.ValueKind != JsonValueKind.Object)
                {
                    throw Missing("response_format.json_schema");
                }

                string name = Str(js, "name") ?? throw Missing("response_format.json_schema.name");
                if (!NamePattern().IsMatch(name) || name.Length > 64)
                {
                    throw new FakeApiError(400, "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", param: "response_format.json_schema.name", code: "invalid_value");
                }

                if (!js.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
                {
                    throw Missing("response_format.json_schema.schema");
                }

                bool strict = js.TryGetProperty("strict", out var st) && st.ValueKind == JsonValueKind.True;
                if (strict)
                {
                    if (!(schema.TryGetProperty("type", out var rt) && rt.GetString() == "object"))
                    {
                        throw new FakeApiError(400, $"Invalid schema for response_format '{name}': schema must be a JSON Schema of 'type: \"object\"'.", param: "response_format", code: "invalid_json_schema");
                    }

                    if (JsonSchemaShape.StrictProblem(schema) is { } problem)
                    {
                        throw new FakeApiError(400, $"Invalid schema for response_format '{name}': In strict mode, {problem}.", param: "response_format", code: "invalid_json_schema");
                    }
                }

                _format = type;
                _schema = schema.Clone();
                return;
            default:
                throw new FakeApiError(400, $"Invalid value: '{type}'. Supported values are: 'json_object', 'json_schema', and 'text'.", param: "response_format.type", code: "invalid_value");
        }
    }

    /// <summary>An assistant message's tool calls must be answered by the tool messages right after it, and a tool message must answer one.</summary>
    private static void CheckToolMessages(JsonElement root)
    {
        var messages = root.GetProperty("messages").EnumerateArray().ToList();
        HashSet<string>? open = null;
        int openAt = -1;
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            string? role = Str(m, "role");
            if (role == "tool")
            {
                string id = Str(m, "tool_call_id")!;
                if (open is null || !open.Remove(id))
                {
                    throw new FakeApiError(400, $"Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", param: $"messages.[{i}].role");
                }

                continue;
            }

            if (open is { Count: > 0 })
            {
                throw new FakeApiError(400, $"An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {string.Join(", ", open)}", param: $"messages.[{openAt}].role");
            }

            open = null;
            if (role == "assistant" && m.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
            {
                open = [];
                openAt = i;
                int k = 0;
                foreach (var call in calls.EnumerateArray())
                {
                    string at = $"messages[{i}].tool_calls[{k++}]";
                    string id = Str(call, "id") ?? throw Missing(at + ".id");
                    if (Str(call, "type") != "function")
                    {
                        throw Missing(at + ".type");
                    }

                    if (!call.TryGetProperty("function", out var f) || Str(f, "name") is null || Str(f, "arguments") is null)
                    {
                        throw Missing(at + ".function");
                    }

                    open.Add(id);
                }
            }
        }

        if (open is { Count: > 0 })
        {
            throw new FakeApiError(400, $"An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {string.Join(", ", open)}", param: $"messages.[{openAt}].role");
        }
    }

    private static bool Fits(string text, Func<JsonElement, bool> test)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return test(doc.RootElement);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool Says(string text, string toolName) =>
        Regex.IsMatch(text, @"\bcall\s+" + Regex.Escape(toolName) + "(?![a-zA-Z0-9_-])", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    private static FakeApiError Missing(string param) =>
        new(400, $"Missing required parameter: '{param}'.", param: param, code: "missing_required_parameter");

    private static string? Str(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex NamePattern();
}
