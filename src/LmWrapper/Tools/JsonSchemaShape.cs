using System.Globalization;
using System.Text.Json;

namespace LmWrapper.Tools;

/// <summary>
/// The basic shape of JSON Schema, shared by the core (checking structured answers, the mock's answers) and the fake
/// servers (linked into LmWrapper.Testing): a minimal valid instance of a schema, and a check of an instance against
/// the keywords the APIs' structured output uses (type, properties, required, additionalProperties, items, enum, const,
/// anyOf/oneOf, local $ref). Not a full validator: unknown keywords are ignored.
/// </summary>
internal static class JsonSchemaShape
{
    private const int MaxDepth = 32;

    /// <summary>A small JSON value that fits <paramref name="schema"/>, as JSON text.</summary>
    public static string SampleJson(JsonElement schema)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            WriteSample(w, schema, schema, 0);
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Checks <paramref name="instance"/> against <paramref name="schema"/>; the first problem found, or null when it fits.</summary>
    public static string? Check(JsonElement instance, JsonElement schema) => Check(instance, schema, schema, "$", 0);

    /// <summary>For OpenAI's strict mode: the first object schema that does not set additionalProperties false or does not require every property, or null.</summary>
    public static string? StrictProblem(JsonElement schema) => StrictProblem(schema, "$", 0);

    private static void WriteSample(Utf8JsonWriter w, JsonElement schema, JsonElement root, int depth)
    {
        schema = Resolve(schema, root);
        if (depth > MaxDepth || schema.ValueKind != JsonValueKind.Object)
        {
            w.WriteNullValue();
            return;
        }

        if (schema.TryGetProperty("const", out var constant))
        {
            constant.WriteTo(w);
            return;
        }

        if (schema.TryGetProperty("enum", out var en) && en.ValueKind == JsonValueKind.Array && en.GetArrayLength() > 0)
        {
            en[0].WriteTo(w);
            return;
        }

        foreach (var key in (ReadOnlySpan<string>)["anyOf", "oneOf", "allOf"])
        {
            if (schema.TryGetProperty(key, out var options) && options.ValueKind == JsonValueKind.Array && options.GetArrayLength() > 0)
            {
                // Prefer a branch that is not just null.
                var pick = options.EnumerateArray().FirstOrDefault(o => TypeOf(Resolve(o, root)) != "null");
                WriteSample(w, pick.ValueKind == JsonValueKind.Undefined ? options[0] : pick, root, depth + 1);
                return;
            }
        }

        switch (TypeOf(schema))
        {
            case "object":
                w.WriteStartObject();
                if (schema.TryGetProperty("properties", out var props) && props.ValueKind == JsonValueKind.Object)
                {
                    foreach (var p in props.EnumerateObject())
                    {
                        w.WritePropertyName(p.Name);
                        WriteSample(w, p.Value, root, depth + 1);
                    }
                }

                w.WriteEndObject();
                break;
            case "array":
                w.WriteStartArray();
                int min = schema.TryGetProperty("minItems", out var mi) && mi.TryGetInt32(out int m) ? Math.Min(m, 8) : 0;
                if (schema.TryGetProperty("items", out var items))
                {
                    for (int i = 0; i < Math.Max(min, 1); i++)
                    {
                        WriteSample(w, items, root, depth + 1);
                    }
                }

                w.WriteEndArray();
                break;
            case "string":
                w.WriteStringValue(schema.TryGetProperty("format", out var f) && f.GetString() is "date-time" ? "2025-01-01T00:00:00Z" : "text");
                break;
            case "integer":
            case "number":
                double low = schema.TryGetProperty("minimum", out var min2) && min2.ValueKind == JsonValueKind.Number ? min2.GetDouble() : 0;
                w.WriteNumberValue(Math.Ceiling(Math.Max(low, 0)));
                break;
            case "boolean":
                w.WriteBooleanValue(false);
                break;
            case "null":
                w.WriteNullValue();
                break;
            default:
                w.WriteNullValue();
                break;
        }
    }

    private static string? Check(JsonElement value, JsonElement schema, JsonElement root, string path, int depth)
    {
        schema = Resolve(schema, root);
        if (depth > MaxDepth || schema.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (schema.TryGetProperty("const", out var constant) && !JsonElement.DeepEquals(constant, value))
        {
            return $"{path} must be {constant.GetRawText()}";
        }

        if (schema.TryGetProperty("enum", out var en) && en.ValueKind == JsonValueKind.Array
            && !en.EnumerateArray().Any(e => JsonElement.DeepEquals(e, value)))
        {
            return $"{path} must be one of {en.GetRawText()}, not {Short(value)}";
        }

        foreach (var key in (ReadOnlySpan<string>)["anyOf", "oneOf"])
        {
            if (schema.TryGetProperty(key, out var options) && options.ValueKind == JsonValueKind.Array
                && !options.EnumerateArray().Any(o => Check(value, o, root, path, depth + 1) is null))
            {
                return $"{path} fits none of the schema's {key} choices";
            }
        }

        if (schema.TryGetProperty("type", out var type) && !TypeMatches(type, value))
        {
            return $"{path} must be {type.GetRawText()}, not {Kind(value)}";
        }

        if (value.ValueKind == JsonValueKind.Object)
        {
            var props = schema.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
            if (schema.TryGetProperty("required", out var req) && req.ValueKind == JsonValueKind.Array)
            {
                foreach (var r in req.EnumerateArray())
                {
                    if (r.GetString() is { } name && !value.TryGetProperty(name, out _))
                    {
                        return $"{path} lacks the required property \"{name}\"";
                    }
                }
            }

            bool closed = schema.TryGetProperty("additionalProperties", out var ap) && ap.ValueKind == JsonValueKind.False;
            foreach (var member in value.EnumerateObject())
            {
                if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty(member.Name, out var sub))
                {
                    if (Check(member.Value, sub, root, path + "." + member.Name, depth + 1) is { } problem)
                    {
                        return problem;
                    }
                }
                else if (closed)
                {
                    return $"{path} has the property \"{member.Name}\", which the schema does not allow";
                }
            }
        }
        else if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
        {
            int i = 0;
            foreach (var item in value.EnumerateArray())
            {
                if (Check(item, items, root, string.Create(CultureInfo.InvariantCulture, $"{path}[{i}]"), depth + 1) is { } problem)
                {
                    return problem;
                }

                i++;
            }
        }

        return null;
    }

    private static string? StrictProblem(JsonElement schema, string path, int depth)
    {
        if (depth > MaxDepth || schema.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (schema.TryGetProperty("properties", out var props) && props.ValueKind == JsonValueKind.Object)
        {
            if (!(schema.TryGetProperty("additionalProperties", out var ap) && ap.ValueKind == JsonValueKind.False))
            {
                return $"the object schema at {path} must set \"additionalProperties\": false";
            }

            var required = schema.TryGetProperty("required", out var req) && req.ValueKind == JsonValueKind.Array
                ? req.EnumerateArray().Select(r => r.GetString()).ToHashSet()
                : [];
            foreach (var p in props.EnumerateObject())
            {
                if (!required.Contains(p.Name))
                {
                    return $"the property \"{p.Name}\" at {path} must be listed in \"required\" (strict mode requires every property; make it nullable instead of optional)";
                }

                if (StrictProblem(p.Value, path + "." + p.Name, depth + 1) is { } problem)
                {
                    return problem;
                }
            }
        }

        foreach (var key in (ReadOnlySpan<string>)["items", "additionalItems"])
        {
            if (schema.TryGetProperty(key, out var sub) && StrictProblem(sub, path + "[]", depth + 1) is { } problem)
            {
                return problem;
            }
        }

        foreach (var key in (ReadOnlySpan<string>)["anyOf", "oneOf", "allOf"])
        {
            if (schema.TryGetProperty(key, out var options) && options.ValueKind == JsonValueKind.Array)
            {
                foreach (var o in options.EnumerateArray())
                {
                    if (StrictProblem(o, path, depth + 1) is { } problem)
                    {
                        return problem;
                    }
                }
            }
        }

        foreach (var key in (ReadOnlySpan<string>)["$defs", "definitions"])
        {
            if (schema.TryGetProperty(key, out var defs) && defs.ValueKind == JsonValueKind.Object)
            {
                foreach (var d in defs.EnumerateObject())
                {
                    if (StrictProblem(d.Value, "#/" + key + "/" + d.Name, depth + 1) is { } problem)
                    {
                        return problem;
                    }
                }
            }
        }

        return null;
    }

    /// <summary>Follows a local <c>$ref</c> ("#", "#/$defs/X", "#/definitions/X", "#/properties/…").</summary>
    private static JsonElement Resolve(JsonElement schema, JsonElement root)
    {
        for (int hops = 0; hops < 8 && schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("$ref", out var r) && r.GetString() is { } reference; hops++)
        {
            if (!reference.StartsWith('#'))
            {
                return default;
            }

            var target = root;
            foreach (var part in reference[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                string name = part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                if (target.ValueKind != JsonValueKind.Object || !target.TryGetProperty(name, out target))
                {
                    return default;
                }
            }

            schema = target;
        }

        return schema;
    }

    /// <summary>The schema's type (the first non-null one of a list), or "object" when it has properties, or null.</summary>
    private static string? TypeOf(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (schema.TryGetProperty("type", out var t))
        {
            if (t.ValueKind == JsonValueKind.String)
            {
                return t.GetString();
            }

            if (t.ValueKind == JsonValueKind.Array)
            {
                string? first = null;
                foreach (var x in t.EnumerateArray())
                {
                    first ??= x.GetString();
                    if (x.GetString() != "null")
                    {
                        return x.GetString();
                    }
                }

                return first;
            }
        }

        return schema.TryGetProperty("properties", out _) ? "object" : null;
    }

    private static bool TypeMatches(JsonElement type, JsonElement value)
    {
        if (type.ValueKind == JsonValueKind.Array)
        {
            return type.EnumerateArray().Any(t => TypeMatches(t, value));
        }

        return type.GetString() switch
        {
            "object" => value.ValueKind == JsonValueKind.Object,
            "array" => value.ValueKind == JsonValueKind.Array,
            "string" => value.ValueKind == JsonValueKind.String,
            "number" => value.ValueKind == JsonValueKind.Number,
            "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out decimal d) && d == Math.Truncate(d),
            "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
            "null" => value.ValueKind == JsonValueKind.Null,
            _ => true,
        };
    }

    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static string Short(JsonElement value)
    {
        string raw = value.GetRawText();
        return raw.Length <= 40 ? raw : raw[..40] + "…";
    }
}
