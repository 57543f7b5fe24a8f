namespace LmWrapper.Testing.Anthropic;

/// <summary>One message of a request to <see cref="FakeAnthropicServer"/>, as the responder sees it.</summary>
/// <param name="Role">"user" or "assistant".</param>
/// <param name="Text">The message's text (a string content, or its text blocks joined).</param>
public sealed record FakeAnthropicMessage(string Role, string Text)
{
    /// <summary>The contents of the message's <c>tool_result</c> blocks, in order (a user message answering tool calls); empty otherwise.</summary>
    public IReadOnlyList<string> ToolResults { get; init; } = [];

    /// <summary>Value equality: role, text and tool results (element by element).</summary>
    /// <param name="other">The message to compare with.</param>
    public bool Equals(FakeAnthropicMessage? other) =>
        other is not null && Role == other.Role && Text == other.Text && ToolResults.SequenceEqual(other.ToolResults);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Role, Text, ToolResults.Count);
}
