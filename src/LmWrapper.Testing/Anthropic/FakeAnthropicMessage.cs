namespace LmWrapper.Testing.Anthropic;

/// <summary>One message of a request to <see cref="FakeAnthropicServer"/>, as the responder sees it.</summary>
/// <param name="Role">"user" or "assistant".</param>
/// <param name="Text">The message's text (a string content, or its text blocks joined).</param>
public sealed record FakeAnthropicMessage(string Role, string Text);
