using System.Text.Json;
using System.Text.RegularExpressions;

namespace LmWrapper;

/// <summary>
/// A tool (function) the model may call: its name, what it does, and the JSON Schema of its arguments. Put tools on
/// <see cref="LmPrompt.Tools"/>; the model answers with <see cref="LmPrediction.ToolCalls"/>. Immutable; compares by value
/// (the schema by its JSON text).
/// </summary>
/// <remarks>
/// Build one by hand (<see cref="LmToolDefinition(string, string?, JsonElement)"/> or <see cref="FromJson"/>); the
/// LmWrapper.Extensions.AI package builds them from C# delegates and methods through Microsoft.Extensions.AI's
/// <c>AIFunctionFactory</c> (<c>LmTools.FromDelegate</c>, <c>AIFunction.ToLmToolDefinition()</c>).
/// </remarks>
public sealed partial record LmToolDefinition
{
    private readonly JsonElement _parameters;

    /// <summary>Creates a tool definition, checking it as the APIs do.</summary>
    /// <param name="name">The name the model calls it by: 1 to 64 letters, digits, underscores or hyphens (<c>^[a-zA-Z0-9_-]{1,64}$</c>).</param>
    /// <param name="description">What the tool does and when to use it (the model reads this); null for none.</param>
    /// <param name="parameters">The JSON Schema of the arguments: an object schema (<c>{"type":"object","properties":{…}}</c>).</param>
    /// <exception cref="LmPromptException">The name does not match the pattern, or the schema is not an object schema.</exception>
    public LmToolDefinition(string name, string? description, JsonElement parameters)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!NamePattern().IsMatch(name))
        {
            throw new LmPromptException(
                $"The tool name \"{name}\" is not valid: a tool name must be 1 to 64 letters, digits, underscores or hyphens (^[a-zA-Z0-9_-]{{1,64}}$), as OpenAI and Claude require.",
                nameof(LmPrompt.Tools));
        }

        if (parameters.ValueKind != JsonValueKind.Object)
        {
            throw new LmPromptException($"The parameters of tool \"{name}\" must be a JSON Schema object, not {parameters.ValueKind}.", nameof(LmPrompt.Tools));
        }

        if (parameters.TryGetProperty("type", out var type) && !(type.ValueKind == JsonValueKind.String && type.GetString() == "object"))
        {
            throw new LmPromptException(
                $"The parameters schema of tool \"{name}\" has \"type\": {type.GetRawText()}; tool arguments are a JSON object, so the schema must be an object schema (\"type\": \"object\").",
                nameof(LmPrompt.Tools));
        }

        Name = name;
        Description = string.IsNullOrEmpty(description) ? null : description;
        _parameters = parameters.Clone();
        ParametersJson = _parameters.GetRawText();
    }

    /// <summary>The tool's name.</summary>
    public string Name { get; }

    /// <summary>What the tool does, or null.</summary>
    public string? Description { get; }

    /// <summary>The JSON Schema of the tool's arguments (an object schema).</summary>
    public JsonElement Parameters => _parameters;

    /// <summary>The JSON Schema of the tool's arguments as JSON text (what equality and the cache key use).</summary>
    public string ParametersJson { get; }

    /// <summary>Creates a tool definition from its parameters schema as JSON text.</summary>
    /// <param name="name">The tool's name (<c>^[a-zA-Z0-9_-]{1,64}$</c>).</param>
    /// <param name="description">What the tool does; null for none.</param>
    /// <param name="parametersSchemaJson">The arguments' JSON Schema (an object schema), as JSON text.</param>
    /// <exception cref="LmPromptException">The name or schema is not valid, or the text is not JSON.</exception>
    public static LmToolDefinition FromJson(string name, string? description, string parametersSchemaJson)
    {
        ArgumentNullException.ThrowIfNull(parametersSchemaJson);
        JsonElement schema;
        try
        {
            using var doc = JsonDocument.Parse(parametersSchemaJson);
            schema = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new LmPromptException($"The parameters schema of tool \"{name}\" is not valid JSON: {e.Message}", nameof(LmPrompt.Tools));
        }

        return new LmToolDefinition(name, description, schema);
    }

    /// <summary>Value equality: name, description and schema text.</summary>
    /// <param name="other">The definition to compare with.</param>
    public bool Equals(LmToolDefinition? other) =>
        other is not null && Name == other.Name && Description == other.Description && ParametersJson == other.ParametersJson;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Name, Description, ParametersJson);

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    internal static partial Regex NamePattern();
}
