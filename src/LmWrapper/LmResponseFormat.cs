using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.RegularExpressions;
using LmWrapper.Tools;

namespace LmWrapper;

/// <summary>
/// Asks for a structured answer (<see cref="LmPrompt.ResponseFormat"/>): any JSON object (<see cref="JsonObject"/>) or JSON
/// that follows a JSON Schema (<see cref="ForJsonSchema"/>, <see cref="ForType{T}"/>). OpenAI takes it as
/// <c>response_format</c>; Claude answers through a forced tool whose input is the answer. Either way the JSON is the
/// prediction's <see cref="LmPrediction.CompletionText"/>. Immutable; compares by value (the schema by its JSON text).
/// </summary>
public sealed partial record LmResponseFormat
{
    private readonly JsonElement _schema;

    private LmResponseFormat(LmResponseFormatKind kind, string? name, JsonElement schema, bool strict)
    {
        Kind = kind;
        Name = name;
        _schema = schema;
        SchemaJson = schema.ValueKind == JsonValueKind.Undefined ? null : schema.GetRawText();
        Strict = strict;
    }

    /// <summary>Any JSON object (OpenAI's <c>json_object</c> mode; the prompt must mention JSON, as OpenAI requires).</summary>
    public static LmResponseFormat JsonObject { get; } = new(LmResponseFormatKind.JsonObject, null, default, strict: false);

    /// <summary>Which kind of format this is.</summary>
    public LmResponseFormatKind Kind { get; }

    /// <summary>For a schema: its name (<c>^[a-zA-Z0-9_-]{1,64}$</c>, sent to the provider); null for <see cref="JsonObject"/>.</summary>
    public string? Name { get; }

    /// <summary>For a schema: the JSON Schema the answer follows; undefined for <see cref="JsonObject"/>.</summary>
    public JsonElement Schema => _schema;

    /// <summary>For a schema: its JSON text (what equality and the cache key use); null for <see cref="JsonObject"/>.</summary>
    public string? SchemaJson { get; }

    /// <summary>
    /// For a schema: OpenAI's strict mode, in which the model's answer always follows the schema. Strict schemas must set
    /// <c>"additionalProperties": false</c> on every object and list every property in <c>"required"</c>; that is checked
    /// when the format is made.
    /// </summary>
    public bool Strict { get; }

    /// <summary>A format whose answer follows <paramref name="schema"/>.</summary>
    /// <param name="schema">A JSON Schema whose root is an object schema (<c>"type": "object"</c>).</param>
    /// <param name="name">The schema's name (<c>^[a-zA-Z0-9_-]{1,64}$</c>).</param>
    /// <param name="strict">OpenAI's strict mode (see <see cref="Strict"/>).</param>
    /// <exception cref="LmPromptException">The name is not valid, the root is not an object schema, or a strict schema breaks strict mode's rules (the message names where).</exception>
    public static LmResponseFormat ForJsonSchema(JsonElement schema, string name, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!NamePattern().IsMatch(name))
        {
            throw new LmPromptException($"The response format's name \"{name}\" is not valid: it must be 1 to 64 letters, digits, underscores or hyphens.", nameof(LmPrompt.ResponseFormat));
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            throw new LmPromptException($"The response format's schema must be a JSON Schema object, not {schema.ValueKind}.", nameof(LmPrompt.ResponseFormat));
        }

        if (!(schema.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "object"))
        {
            throw new LmPromptException(
                "The response format's schema must have \"type\": \"object\" at its root: OpenAI's json_schema and Claude's tool input both take an object. Wrap other values in a property.",
                nameof(LmPrompt.ResponseFormat));
        }

        if (strict && JsonSchemaShape.StrictProblem(schema) is { } problem)
        {
            throw new LmPromptException($"The response format's schema is strict, but {problem}. Fix the schema or pass strict: false.", nameof(LmPrompt.ResponseFormat));
        }

        return new(LmResponseFormatKind.JsonSchema, name, schema.Clone(), strict);
    }

    /// <summary>
    /// A strict format for <typeparamref name="T"/>: the schema System.Text.Json's <see cref="JsonSchemaExporter"/> makes for
    /// it, with every object closed (<c>"additionalProperties": false</c>) and every property required, as strict mode
    /// needs. Its name is the type's name. <see cref="LanguageModel.PredictAsync{T}(LmPrompt, CancellationToken)"/> uses it.
    /// </summary>
    /// <typeparam name="T">An object type (a class, record or struct with properties).</typeparam>
    /// <param name="options">The serializer options the answer is read with (property names, converters); null for <see cref="DefaultJsonOptions"/>.</param>
    /// <exception cref="LmPromptException">The type's schema is not an object schema.</exception>
    public static LmResponseFormat ForType<T>(JsonSerializerOptions? options = null)
    {
        options ??= DefaultJsonOptions;
        var node = options.GetJsonSchemaAsNode(typeof(T), new JsonSchemaExporterOptions { TreatNullObliviousAsNonNullable = true });
        Close(node);
        using var doc = JsonDocument.Parse(node.ToJsonString());
        string name = SafeName(typeof(T).Name);
        return ForJsonSchema(doc.RootElement, name, strict: true);
    }

    /// <summary>
    /// The serializer options <see cref="ForType{T}"/> and <see cref="LanguageModel.PredictAsync{T}(LmPrompt, CancellationToken)"/>
    /// use by default: the web defaults (camelCase names, case-insensitive reading) with numbers as JSON numbers only, so
    /// the schema says "integer" rather than "integer or a numeric string".
    /// </summary>
    public static JsonSerializerOptions DefaultJsonOptions { get; } = MakeDefaultOptions();

    private static JsonSerializerOptions MakeDefaultOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict,
            TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
        };
        options.MakeReadOnly();
        return options;
    }

    /// <summary>Makes every object schema in <paramref name="node"/> strict: closed, with every property required.</summary>
    private static void Close(JsonNode? node)
    {
        switch (node)
        {
            case System.Text.Json.Nodes.JsonObject obj:
                if (obj["properties"] is System.Text.Json.Nodes.JsonObject props)
                {
                    obj["additionalProperties"] = false;
                    var required = new JsonArray();
                    foreach (var (key, _) in props)
                    {
                        required.Add(key);
                    }

                    obj["required"] = required;
                }

                foreach (var (_, child) in obj.ToList())
                {
                    Close(child);
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    Close(child);
                }

                break;
        }
    }

    private static string SafeName(string typeName)
    {
        int tick = typeName.IndexOf('`', StringComparison.Ordinal);
        string name = Regex.Replace(tick >= 0 ? typeName[..tick] : typeName, "[^a-zA-Z0-9_-]", "_");
        return name.Length == 0 ? "response" : name.Length > 64 ? name[..64] : name;
    }

    /// <summary>Value equality: kind, name, strictness and schema text.</summary>
    /// <param name="other">The format to compare with.</param>
    public bool Equals(LmResponseFormat? other) =>
        other is not null && Kind == other.Kind && Name == other.Name && Strict == other.Strict && SchemaJson == other.SchemaJson;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Name, Strict, SchemaJson);

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex NamePattern();
}
