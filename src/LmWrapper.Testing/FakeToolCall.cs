namespace LmWrapper.Testing;

/// <summary>
/// A tool call a fake server's responder asks the model to make (<see cref="FakeOpenAiReply.ToolCalls"/>,
/// <see cref="Anthropic.FakeAnthropicReply.ToolCalls"/>); the server gives it an id and writes it in the API's shape.
/// </summary>
/// <param name="Name">The tool to call (one of the request's tools).</param>
/// <param name="ArgumentsJson">The arguments, as a JSON object's text.</param>
public sealed record FakeToolCall(string Name, string ArgumentsJson);
