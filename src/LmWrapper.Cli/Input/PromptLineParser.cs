using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LmWrapper.Internals;

namespace LmWrapper.Cli.Input;

/// <summary>
/// Reads one JSONL line into an <see cref="LmPrompt"/>. A line is an object with <c>text</c> (plain text) or
/// <c>messages</c> (chat turns: <c>{"role": "user", "content": "…"}</c>; <c>chat</c>, the name
/// <see cref="LmPrompt.ToJson"/> uses, is accepted too), every other field of <see cref="LmPrompt.ToJson"/>'s form
/// (snake_case: <c>max_tokens</c>, <c>temperature</c>, <c>stop</c>, …), and free <c>metadata</c>. The prompt itself is
/// read by <see cref="LmPrompt.FromJson"/>, so the two forms cannot drift apart; this class adds what a file of hand-written
/// lines needs: unknown fields refused, every problem reported with its column.
/// </summary>
internal static class PromptLineParser
{
    private const string MessagesField = "messages";
    private const string ChatField = "chat";
    private const string MetadataField = "metadata";

    /// <summary>The prompt fields of <see cref="LmPrompt.ToJson"/>, read from a prompt that sets every one of them.</summary>
    private static readonly FrozenSet<string> PromptFields = ReadPromptFields();

    /// <summary>Every field a line may have.</summary>
    public static IReadOnlyCollection<string> KnownFields { get; } =
        [.. PromptFields.Where(f => f != ChatField).Append(MessagesField).Append(MetadataField).Order(StringComparer.Ordinal)];

    /// <summary>Parses one non-blank line.</summary>
    /// <param name="line">The line, without its newline.</param>
    /// <param name="lineNumber">Its 1-based number in the file.</param>
    /// <param name="validate">Checks a parsed prompt for the model it will run on (throws <see cref="LmPromptException"/>); null checks only the prompt's own fields.</param>
    /// <returns>The record: a prompt, or the line's error with its column.</returns>
    public static InputRecord Parse(string line, int lineNumber, Action<LmPrompt>? validate = null)
    {
        ArgumentNullException.ThrowIfNull(line);
        byte[] utf8 = Encoding.UTF8.GetBytes(line);
        var fields = new List<(string Name, int NameStart, int ValueStart, int ValueEnd)>();
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Bad(utf8, lineNumber, (int)reader.TokenStartIndex, "a line must be a JSON object, such as {\"text\": \"…\"}");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                int nameStart = (int)reader.TokenStartIndex;
                string name = reader.GetString()!;
                reader.Read();
                int valueStart = (int)reader.TokenStartIndex;
                reader.Skip();
                fields.Add((name, nameStart, valueStart, (int)reader.BytesConsumed));
            }

            if (reader.Read())
            {
                return Bad(utf8, lineNumber, (int)reader.TokenStartIndex, "unexpected text after the JSON object (one prompt per line)");
            }
        }
        catch (JsonException e)
        {
            int at = (int)Math.Min(e.BytePositionInLine ?? 0, utf8.Length);
            return Bad(utf8, lineNumber, at, "not valid JSON: " + CleanJsonMessage(e.Message));
        }

        JsonElement? metadata = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        (string Name, int NameStart, int ValueStart, int ValueEnd)? chat = null;
        bool hasText = false;
        foreach (var f in fields)
        {
            if (!seen.Add(f.Name))
            {
                return Bad(utf8, lineNumber, f.NameStart, $"\"{f.Name}\" appears twice");
            }

            if (f.Name == MetadataField)
            {
                using var doc = JsonDocument.Parse(utf8.AsMemory(f.ValueStart, f.ValueEnd - f.ValueStart));
                metadata = doc.RootElement.Clone();
            }
            else if (f.Name is MessagesField or ChatField)
            {
                if (chat is { } other)
                {
                    return Bad(utf8, lineNumber, f.NameStart, $"\"{f.Name}\" and \"{other.Name}\" both give the chat turns; keep one");
                }

                chat = f;
            }
            else if (f.Name == "text")
            {
                hasText = true;
            }
            else if (!PromptFields.Contains(f.Name))
            {
                return Bad(utf8, lineNumber, f.NameStart, $"unknown field \"{f.Name}\" (known: {string.Join(", ", KnownFields)})");
            }
        }

        if (hasText == chat.HasValue)
        {
            return Bad(
                utf8, lineNumber, hasText ? chat!.Value.NameStart : 0,
                hasText ? "a line has either \"text\" or \"messages\", not both" : "a line needs \"text\" (a string) or \"messages\" (a list of {\"role\", \"content\"})");
        }

        // The prompt in LmPrompt's own JSON form: the same fields, "messages" under its serialized name, no metadata.
        var json = new StringBuilder("{");
        foreach (var f in fields.Where(f => f.Name != MetadataField))
        {
            if (json.Length > 1)
            {
                json.Append(',');
            }

            string name = f.Name == MessagesField ? ChatField : f.Name;
            json.Append('"').Append(name).Append("\":").Append(Encoding.UTF8.GetString(utf8, f.ValueStart, f.ValueEnd - f.ValueStart));
        }

        json.Append('}');
        LmPrompt prompt;
        try
        {
            prompt = LmPrompt.FromJson(json.ToString());
        }
        catch (FormatException e)
        {
            string? field = e.InnerException is JsonException { Path: { } path } ? FieldOfPath(path) : null;
            var at = field is null ? null : (int?)fields.FindIndex(f => f.Name == field || (field == ChatField && f.Name == MessagesField));
            if (at is int i and >= 0)
            {
                var f = fields[i];
                string value = Encoding.UTF8.GetString(utf8, f.ValueStart, f.ValueEnd - f.ValueStart);
                return Bad(utf8, lineNumber, f.ValueStart, $"\"{f.Name}\" has a value of the wrong type: {Shorten(value)}");
            }

            string message = e.InnerException is JsonException ? CleanJsonMessage(e.InnerException.Message) : e.Message;
            int column = chat is { } c && message.Contains("role", StringComparison.Ordinal) ? c.ValueStart : 0;
            return Bad(utf8, lineNumber, column, message);
        }

        try
        {
            prompt.Validate();
            validate?.Invoke(prompt);
        }
        catch (LmPromptException e)
        {
            string? snake = e.FieldName is null ? null : SnakeCase(e.FieldName);
            int at = fields.FindIndex(f => f.Name == snake || (snake == ChatField && f.Name == MessagesField) || (snake == "text" && f.Name == "text"));
            return Bad(utf8, lineNumber, at >= 0 ? fields[at].ValueStart : 0, e.Message);
        }

        return new InputRecord(lineNumber, prompt, metadata, null);
    }

    /// <summary>The snake_case form of a C# property name ("MaxTokens" → "max_tokens").</summary>
    /// <param name="name">A PascalCase name.</param>
    internal static string SnakeCase(string name)
    {
        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0)
                {
                    sb.Append('_');
                }

                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static InputRecord Bad(byte[] utf8, int lineNumber, int byteOffset, string message)
    {
        int column = Encoding.UTF8.GetCharCount(utf8, 0, Math.Clamp(byteOffset, 0, utf8.Length)) + 1;
        return new InputRecord(lineNumber, null, null, new InputLineError(lineNumber, column, message));
    }

    /// <summary>The top-level field a System.Text.Json path points into ("$.chat[0].role" → "chat").</summary>
    private static string? FieldOfPath(string path)
    {
        if (!path.StartsWith("$.", StringComparison.Ordinal))
        {
            return null;
        }

        var rest = path.AsSpan(2);
        int end = rest.IndexOfAny('.', '[');
        return (end < 0 ? rest : rest[..end]).ToString();
    }

    private static string CleanJsonMessage(string message)
    {
        // System.Text.Json appends " LineNumber: 0 | BytePositionInLine: 12." (and a path); the column says that better.
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        int path = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (path >= 0 && (cut < 0 || path < cut))
        {
            cut = path;
        }

        return (cut >= 0 ? message[..cut] : message).TrimEnd(' ', '|', '.');
    }

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..40] + "…";

    private static FrozenSet<string> ReadPromptFields()
    {
        // A prompt that sets every optional field, so that its JSON names them all.
        var probe = new LmPrompt("x")
        {
            MaxTokens = 1, Stop = ["x"], Cache = true, AddBosToken = true, AddSpecialTokens = true, Seed = 1,
            Internals = new ModelInternalsRequest { HiddenStates = true },
            ReasoningEffort = LmReasoningEffort.Low, ThinkingBudgetTokens = 1024,
            Tools = [LmToolDefinition.FromJson("t", null, "{}")], ToolChoice = LmToolChoice.Auto, ResponseFormat = LmResponseFormat.JsonObject,
        };
        using var doc = JsonDocument.Parse(probe.ToJson());
        return doc.RootElement.EnumerateObject().Select(p => p.Name).Append(ChatField)
            .ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>Formats a count for messages.</summary>
    internal static string Count(int n, string what) => string.Create(CultureInfo.InvariantCulture, $"{n} {what}{(n == 1 ? string.Empty : "s")}");
}
