namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// The state of a JSON parser that only accepts prefixes of documents matching a schema, over UTF-8 bytes. Immutable:
/// <see cref="Advance(ReadOnlySpan{byte})"/> gives a new state. A state is a small set of parser stacks (more than one while anyOf
/// alternatives or enum values share a prefix); every stack in it can still be finished (its <see cref="CloseCost"/>
/// is finite), so a constrained generator never gets stuck.
/// </summary>
internal sealed class JsonMatcher
{
    private JsonMatcher(JsonFrame[] states) => States = states;

    /// <summary>The parser stacks (their top frames); never empty.</summary>
    public IReadOnlyList<JsonFrame> States { get; }

    /// <summary>Whether the text so far is a whole document matching the schema.</summary>
    public bool IsComplete => States.Any(s => s.IsComplete);

    /// <summary>Whether the document is complete and nothing more may follow.</summary>
    public bool IsFinal => States.All(s => s.IsFinal);

    /// <summary>The fewest bytes that finish the document from here (0 when complete).</summary>
    public int CloseCost => States.Min(s => s.CloseCost);

    /// <summary>The state before any byte.</summary>
    public static JsonMatcher Start(JsonSchemaNode schema, JsonSettings? settings = null) =>
        new([new JsonRootFrame(schema, settings ?? new JsonSettings(), false, 0)]);

    /// <summary>The state after <paramref name="bytes"/>, or null when they do not continue a valid prefix.</summary>
    public JsonMatcher? Advance(ReadOnlySpan<byte> bytes)
    {
        var current = new List<JsonFrame>(States);
        var next = new List<JsonFrame>();
        foreach (byte b in bytes)
        {
            next.Clear();
            foreach (var s in current)
            {
                s.Step(b, next);
            }

            if (next.Count == 0)
            {
                return null;
            }

            (current, next) = (next, current);
        }

        return new JsonMatcher([.. current]);
    }

    /// <summary>The state after some text (UTF-8 encoded), or null.</summary>
    public JsonMatcher? Advance(string text) => Advance(System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Whether <paramref name="text"/> is a valid prefix of a matching document.</summary>
    public static bool IsValidPrefix(JsonSchemaNode schema, string text, JsonSettings? settings = null) => Start(schema, settings).Advance(text) is not null;

    /// <summary>Whether <paramref name="text"/> is a whole matching document.</summary>
    public static bool IsValidDocument(JsonSchemaNode schema, string text, JsonSettings? settings = null) => Start(schema, settings).Advance(text)?.IsComplete == true;
}
