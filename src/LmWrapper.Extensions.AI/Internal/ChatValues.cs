using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace LmWrapper.Extensions.AI.Internal;

/// <summary>
/// Reads values from <see cref="AdditionalPropertiesDictionary"/>: as set in code (int, bool, arrays) or as they come
/// back from a JSON round trip (a <see cref="JsonElement"/>, for example through MEAI's distributed cache).
/// </summary>
internal static class ChatValues
{
    public static int? Int(AdditionalPropertiesDictionary? props, string key)
    {
        if (props is null || !props.TryGetValue(key, out object? value) || value is null)
        {
            return null;
        }

        try
        {
            return value switch
            {
                int i => i,
                long l => checked((int)l),
                short s => s,
                JsonElement { ValueKind: JsonValueKind.Number } e => e.GetInt32(),
                string text => int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture),
                IConvertible c when value is not bool => c.ToInt32(CultureInfo.InvariantCulture),
                _ => throw Bad(key, value, "an integer"),
            };
        }
        catch (Exception e) when (e is FormatException or OverflowException or InvalidOperationException)
        {
            throw Bad(key, value, "an integer");
        }
    }

    public static bool? Bool(AdditionalPropertiesDictionary? props, string key)
    {
        if (props is null || !props.TryGetValue(key, out object? value) || value is null)
        {
            return null;
        }

        return value switch
        {
            bool b => b,
            JsonElement { ValueKind: JsonValueKind.True } => true,
            JsonElement { ValueKind: JsonValueKind.False } => false,
            string text when bool.TryParse(text, out bool b) => b,
            _ => throw Bad(key, value, "a boolean"),
        };
    }

    public static string? String(AdditionalPropertiesDictionary? props, string key) =>
        props is not null && props.TryGetValue(key, out object? value)
            ? value switch
            {
                string s => s,
                JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
                _ => null,
            }
            : null;

    public static string[]? Strings(AdditionalPropertiesDictionary? props, string key) => Read(props, key) switch
    {
        IEnumerable<string> list => [.. list],
        JsonElement { ValueKind: JsonValueKind.Array } e => [.. e.EnumerateArray().Select(x => x.GetString() ?? string.Empty)],
        _ => null,
    };

    public static double[]? Doubles(AdditionalPropertiesDictionary? props, string key) => Read(props, key) switch
    {
        IEnumerable<double> list => [.. list],
        JsonElement { ValueKind: JsonValueKind.Array } e => [.. e.EnumerateArray().Select(x => x.GetDouble())],
        _ => null,
    };

    public static double?[]? NullableDoubles(AdditionalPropertiesDictionary? props, string key) => Read(props, key) switch
    {
        IEnumerable<double?> list => [.. list],
        JsonElement { ValueKind: JsonValueKind.Array } e => [.. e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Null ? (double?)null : x.GetDouble())],
        _ => null,
    };

    public static IReadOnlyDictionary<string, double>[]? Alternatives(AdditionalPropertiesDictionary? props, string key) => Read(props, key) switch
    {
        IEnumerable<IReadOnlyDictionary<string, double>> list => [.. list],
        JsonElement { ValueKind: JsonValueKind.Array } e => [.. e.EnumerateArray().Select(x => (IReadOnlyDictionary<string, double>)x.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble(), StringComparer.Ordinal))],
        _ => null,
    };

    private static object? Read(AdditionalPropertiesDictionary? props, string key) =>
        props is not null && props.TryGetValue(key, out object? value) ? value : null;

    private static ArgumentException Bad(string key, object value, string what) =>
        new($"ChatOptions.AdditionalProperties[\"{key}\"] must be {what}, but was a {value.GetType().Name} ({value}).", "options");
}
