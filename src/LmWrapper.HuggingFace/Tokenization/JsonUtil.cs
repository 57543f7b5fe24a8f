using System.Text.Json;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>Small helpers for reading tokenizer.json components.</summary>
internal static class JsonUtil
{
    public static string Type(JsonElement json, string component)
    {
        if (json.ValueKind != JsonValueKind.Object || !json.TryGetProperty("type", out var t) || t.ValueKind != JsonValueKind.String)
        {
            throw new FormatException($"tokenizer.json: a {component} has no \"type\".");
        }

        return t.GetString()!;
    }

    public static NotSupportedException Unsupported(string component, string type, string supported) =>
        new($"tokenizer.json {component} type '{type}' is not supported by LmWrapper's HuggingFaceTokenizer (supported: {supported}).");

    public static string String(JsonElement json, string name, string? fallback = null)
    {
        if (json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String)
        {
            return v.GetString()!;
        }

        return fallback ?? throw new FormatException($"tokenizer.json: \"{name}\" is missing or not a string in {json.GetRawText()[..Math.Min(200, json.GetRawText().Length)]}.");
    }

    public static string? OptionalString(JsonElement json, string name) =>
        json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static bool Bool(JsonElement json, string name, bool fallback) =>
        json.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    public static int Int(JsonElement json, string name, int fallback) =>
        json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;

    /// <summary>Reads <c>"pattern": {"String": ...}</c> or <c>{"Regex": ...}</c>.</summary>
    public static TextPattern Pattern(JsonElement json, string component)
    {
        if (!json.TryGetProperty("pattern", out var p) || p.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"tokenizer.json: the {component} has no pattern.");
        }

        if (p.TryGetProperty("String", out var s))
        {
            return new LiteralPattern(s.GetString() ?? "");
        }

        if (p.TryGetProperty("Regex", out var r))
        {
            return TextPattern.FromRegex(r.GetString() ?? "", component);
        }

        throw new NotSupportedException($"tokenizer.json: the {component} pattern {p.GetRawText()} is neither String nor Regex.");
    }
}
