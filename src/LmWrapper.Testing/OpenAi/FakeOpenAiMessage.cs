namespace LmWrapper.Testing;

/// <summary>One chat message as the <see cref="FakeOpenAiServer"/> received it.</summary>
/// <param name="Role">"system", "developer", "user", "assistant" or "tool".</param>
/// <param name="Content">The message text (text parts of an array content joined).</param>
/// <param name="Name">The optional author name.</param>
public sealed record FakeOpenAiMessage(string Role, string Content, string? Name = null)
{
    /// <summary>The message's images (its <c>image_url</c> parts, in order), as the fake checked and counted them; empty when none.</summary>
    public IReadOnlyList<FakeImage> Images { get; init; } = [];

    /// <summary>For a "tool" message: the id of the tool call it answers (<c>tool_call_id</c>); null otherwise.</summary>
    public string? ToolCallId { get; init; }
}
