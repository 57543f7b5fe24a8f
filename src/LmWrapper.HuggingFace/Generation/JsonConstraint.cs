using System.Text.Json;

namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// Constrained JSON decoding for local models: a compiled schema (or "any JSON object") and the model's vocabulary as a
/// <see cref="TokenTrie"/>. Immutable and shared; each sample keeps its own <see cref="JsonConstraintState"/>.
/// </summary>
/// <remarks>
/// At each step the generator asks the sample's state which tokens keep the output a valid prefix of a matching
/// document (<see cref="JsonConstraintState.FillAllowed"/>), masks the others' logits to -inf, and lets the sampler
/// choose as usual (greedy or sampled); logprobs are then those of that masked, renormalized distribution. When the
/// document is complete only end-of-sequence is allowed. To keep generation finite, whitespace runs are bounded
/// (<see cref="JsonSettings"/>), numbers have a bounded length, and near the end of the token budget only tokens after
/// which the document can still be closed within the remaining tokens are allowed (counting one byte per token, which a
/// byte-level or byte-fallback vocabulary always has), so a budget that is large enough for the schema's shortest
/// document ends in a complete one; a smaller budget ends with finish reason "length" and a truncated document.
/// </remarks>
internal sealed class JsonConstraint
{
    public JsonConstraint(JsonSchemaNode schema, TokenTrie vocabulary, JsonSettings? settings = null)
    {
        Schema = schema;
        Vocabulary = vocabulary;
        Settings = settings ?? new JsonSettings();
    }

    public JsonSchemaNode Schema { get; }

    public TokenTrie Vocabulary { get; }

    public JsonSettings Settings { get; }

    /// <summary>
    /// The constraint for a prompt's response format: <paramref name="schema"/> null for "any JSON object" (JSON mode,
    /// LmResponseFormat.JsonObject), else the JSON Schema (LmResponseFormat.ForJsonSchema's schema element).
    /// </summary>
    /// <exception cref="LmPromptException">The schema uses a keyword outside the supported subset (see <see cref="JsonSchemaCompiler"/>).</exception>
    public static JsonConstraint FromResponseFormat(JsonElement? schema, TokenTrie vocabulary, JsonSettings? settings = null) =>
        new(schema is JsonElement s ? JsonSchemaCompiler.Compile(s) : JsonSchemaCompiler.AnyObject(), vocabulary, settings);

    /// <summary>A fresh state for one sample.</summary>
    public JsonConstraintState NewState() => new(this, JsonMatcher.Start(Schema, Settings));
}
