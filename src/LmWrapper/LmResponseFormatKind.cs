namespace LmWrapper;

/// <summary>What shape of answer an <see cref="LmResponseFormat"/> asks for.</summary>
public enum LmResponseFormatKind
{
    /// <summary>Any JSON object (OpenAI's <c>json_object</c> mode).</summary>
    JsonObject,

    /// <summary>JSON that follows a given JSON Schema (OpenAI's <c>json_schema</c>; Claude through a forced tool).</summary>
    JsonSchema,
}
