namespace LmWrapper.Testing.Anthropic;

/// <summary>
/// What <see cref="FakeAnthropicServer.Responder"/> wants the model to say. The server then applies the request's
/// <c>stop_sequences</c> (cutting the text before the first one, <c>stop_reason</c> "stop_sequence") and
/// <c>max_tokens</c> (cutting to that many whitespace-separated words, <c>stop_reason</c> "max_tokens"), and reports usage.
/// </summary>
public sealed record FakeAnthropicReply
{
    /// <summary>A reply of one text block.</summary>
    /// <param name="text">The text.</param>
    public FakeAnthropicReply(string text)
        : this([text])
    {
    }

    /// <summary>A reply of several text blocks (the text a client sees is their concatenation).</summary>
    /// <param name="textBlocks">The blocks' texts, in order.</param>
    public FakeAnthropicReply(IReadOnlyList<string> textBlocks)
    {
        ArgumentNullException.ThrowIfNull(textBlocks);
        TextBlocks = [.. textBlocks];
    }

    /// <summary>The text blocks, in order.</summary>
    public IReadOnlyList<string> TextBlocks { get; }

    /// <summary>
    /// The thinking to answer with when the request enables extended thinking (a <c>thinking</c> block, signed, before
    /// the text); null for the server's own ("Let me think about: …"). Cut to the request's budget, and counted in
    /// <c>output_tokens</c>. Ignored when thinking is off.
    /// </summary>
    public string? Thinking { get; init; }

    /// <summary>Whether to add a <c>redacted_thinking</c> block after the thinking block (when thinking is on), as Claude does when safety systems flag its reasoning.</summary>
    public bool RedactedThinking { get; init; }

    /// <summary>
    /// Tool calls to answer with (the request must have those tools): <c>tool_use</c> blocks (ids made by the server)
    /// instead of the text, and <c>stop_reason</c> "tool_use". Null (the default) answers the text. The server's own rule
    /// (a forced choice, or "call &lt;name&gt;") is applied first.
    /// </summary>
    public IReadOnlyList<FakeToolCall>? ToolCalls { get; init; }

    /// <summary>A <c>stop_reason</c> to report instead of the computed one (for example "refusal"), or null.</summary>
    public string? StopReason { get; init; }

    /// <summary>How many of the prompt's tokens to report as written to the prompt cache (<c>cache_creation_input_tokens</c>; taken out of <c>input_tokens</c>).</summary>
    public int CacheCreationInputTokens { get; init; }

    /// <summary>How many of the prompt's tokens to report as read from the prompt cache (<c>cache_read_input_tokens</c>; taken out of <c>input_tokens</c>).</summary>
    public int CacheReadInputTokens { get; init; }
}
