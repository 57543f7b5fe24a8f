using System.Globalization;
using System.Text.Json;

namespace LmWrapper.Testing;

/// <summary>Reads and type-checks request fields the way the OpenAI API does, throwing its error messages.</summary>
internal static class FakeRequestReader
{
    public static JsonDocument ParseObject(byte[] body)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            throw new FakeApiError(400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)");
        }

        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new FakeApiError(400, "Invalid type for request body: expected an object.", param: null, code: "invalid_type");
        }

        return doc;
    }

    public static void RejectUnknown(JsonElement root, HashSet<string> known)
    {
        foreach (var p in root.EnumerateObject())
        {
            if (!known.Contains(p.Name))
            {
                throw new FakeApiError(400, $"Unrecognized request argument supplied: {p.Name}");
            }
        }
    }

    public static bool Has(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public static string KindName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    public static FakeApiError InvalidType(string name, string expected, JsonElement got) =>
        new(400, $"Invalid type for '{name}': expected {expected}, but got {KindName(got.ValueKind)} instead.", param: name, code: "invalid_type");

    public static double? Number(JsonElement root, string name, double min, double max)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number)
        {
            throw InvalidType(name, "a decimal", v);
        }

        double d = v.GetDouble();
        if (d < min)
        {
            throw new FakeApiError(400, string.Create(CultureInfo.InvariantCulture, $"Invalid '{name}': decimal below minimum value. Expected a value >= {min}, but got {d} instead."), param: name, code: "decimal_below_min_value");
        }

        if (d > max)
        {
            throw new FakeApiError(400, string.Create(CultureInfo.InvariantCulture, $"Invalid '{name}': decimal above maximum value. Expected a value <= {max}, but got {d} instead."), param: name, code: "decimal_above_max_value");
        }

        return d;
    }

    public static long? Integer(JsonElement root, string name, long min, long max)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long i))
        {
            throw v.ValueKind == JsonValueKind.Number
                ? new FakeApiError(400, $"Invalid type for '{name}': expected an integer, but got a decimal instead.", param: name, code: "invalid_type")
                : InvalidType(name, "an integer", v);
        }

        if (i < min)
        {
            throw new FakeApiError(400, string.Create(CultureInfo.InvariantCulture, $"Invalid '{name}': integer below minimum value. Expected a value >= {min}, but got {i} instead."), param: name, code: "integer_below_min_value");
        }

        if (i > max)
        {
            throw new FakeApiError(400, string.Create(CultureInfo.InvariantCulture, $"Invalid '{name}': integer above maximum value. Expected a value <= {max}, but got {i} instead."), param: name, code: "integer_above_max_value");
        }

        return i;
    }

    public static bool? Bool(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw InvalidType(name, "a boolean", v),
        };
    }

    public static string? String(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw InvalidType(name, "a string", v);
    }

    public static List<string> Stop(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (v.ValueKind == JsonValueKind.String)
        {
            return [v.GetString()!];
        }

        if (v.ValueKind != JsonValueKind.Array)
        {
            throw InvalidType("stop", "one of a string or an array of strings", v);
        }

        int count = v.GetArrayLength();
        if (count > 4)
        {
            throw new FakeApiError(400, $"Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length {count} instead.", param: "stop", code: "array_above_max_length");
        }

        var list = new List<string>(count);
        int i = 0;
        foreach (var s in v.EnumerateArray())
        {
            if (s.ValueKind != JsonValueKind.String)
            {
                throw InvalidType($"stop[{i}]", "a string", s);
            }

            list.Add(s.GetString()!);
            i++;
        }

        return list;
    }

    public static FakeApiError Unsupported(string name) =>
        new(400, $"Unsupported parameter: '{name}' is not supported with this model.", param: name, code: "unsupported_parameter");
}
