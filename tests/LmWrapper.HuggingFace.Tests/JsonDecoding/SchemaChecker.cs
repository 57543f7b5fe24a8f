using System.Globalization;
using System.Text.Json;

namespace LmWrapper.HuggingFace.Tests.JsonDecoding;

/// <summary>
/// An independent, deliberately simple JSON Schema checker for the subset constrained decoding supports: validates a
/// parsed value against a schema by walking both, sharing no code with the decoder.
/// </summary>
internal static class SchemaChecker
{
    /// <summary>Whether <paramref name="value"/> matches <paramref name="schema"/> (a subschema of <paramref name="root"/>).</summary>
    public static bool Matches(JsonElement root, JsonElement schema, JsonElement value)
    {
        if (schema.ValueKind == JsonValueKind.True)
        {
            return true;
        }

        if (schema.ValueKind == JsonValueKind.False)
        {
            return false;
        }

        if (schema.TryGetProperty("$ref", out var r))
        {
            var target = root;
            string pointer = r.GetString()!;
            foreach (var part in pointer.Length <= 2 ? [] : pointer[2..].Split('/'))
            {
                target = target.GetProperty(part);
            }

            return Matches(root, target, value);
        }

        if (schema.TryGetProperty("anyOf", out var anyOf) && !anyOf.EnumerateArray().Any(a => Matches(root, a, value)))
        {
            return false;
        }

        if (schema.TryGetProperty("oneOf", out var oneOf) && !oneOf.EnumerateArray().Any(a => Matches(root, a, value)))
        {
            return false;
        }

        if (schema.TryGetProperty("type", out var type))
        {
            var names = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToList() : [type.GetString()!];
            if (!names.Contains(TypeOf(value)) && !(TypeOf(value) == "integer" && names.Contains("number")))
            {
                return false;
            }
        }

        if (schema.TryGetProperty("enum", out var e) && !e.EnumerateArray().Any(x => JsonElement.DeepEquals(x, value)))
        {
            return false;
        }

        if (schema.TryGetProperty("const", out var c) && !JsonElement.DeepEquals(c, value))
        {
            return false;
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            int length = value.GetString()!.EnumerateRunes().Count();
            if ((schema.TryGetProperty("minLength", out var min) && length < min.GetInt32())
                || (schema.TryGetProperty("maxLength", out var max) && length > max.GetInt32()))
            {
                return false;
            }
        }

        if (value.ValueKind == JsonValueKind.Object)
        {
            var names = value.EnumerateObject().Select(p => p.Name).ToList();
            if (names.Count != names.Distinct(StringComparer.Ordinal).Count())
            {
                return false;
            }

            if (schema.TryGetProperty("required", out var required) && required.EnumerateArray().Any(n => !names.Contains(n.GetString()!)))
            {
                return false;
            }

            schema.TryGetProperty("properties", out var properties);
            foreach (var member in value.EnumerateObject())
            {
                if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(member.Name, out var ps))
                {
                    if (!Matches(root, ps, member.Value))
                    {
                        return false;
                    }
                }
                else if (schema.TryGetProperty("additionalProperties", out var ap) && !Matches(root, ap, member.Value))
                {
                    return false;
                }
            }
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            var items = value.EnumerateArray().ToList();
            if ((schema.TryGetProperty("minItems", out var min) && items.Count < min.GetInt32())
                || (schema.TryGetProperty("maxItems", out var max) && items.Count > max.GetInt32()))
            {
                return false;
            }

            int prefix = 0;
            if (schema.TryGetProperty("prefixItems", out var pi))
            {
                prefix = pi.GetArrayLength();
                for (int i = 0; i < Math.Min(prefix, items.Count); i++)
                {
                    if (!Matches(root, pi[i], items[i]))
                    {
                        return false;
                    }
                }
            }

            if (schema.TryGetProperty("items", out var its))
            {
                for (int i = prefix; i < items.Count; i++)
                {
                    if (!Matches(root, its, items[i]))
                    {
                        return false;
                    }
                }
            }
        }

        return true;
    }

    /// <summary>Parses <paramref name="text"/> and checks it against <paramref name="schema"/>; the failure says why.</summary>
    public static void AssertMatches(string schema, string text)
    {
        using var s = JsonDocument.Parse(schema);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            Assert.Fail($"Not JSON ({ex.Message}): {text}");
            return;
        }

        using (doc)
        {
            Assert.True(Matches(s.RootElement, s.RootElement, doc.RootElement), $"Does not match the schema {schema}: {text}");
        }
    }

    private static string TypeOf(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => v.GetRawText().AsSpan().IndexOfAny(".eE") < 0 ? "integer" : IsWhole(v) ? "integer" : "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };

    private static bool IsWhole(JsonElement v) =>
        double.TryParse(v.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && Math.Floor(d) == d && !double.IsInfinity(d);
}
