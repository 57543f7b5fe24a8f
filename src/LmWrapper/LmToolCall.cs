using System.Text.Json;

namespace LmWrapper;

/// <summary>
/// One call of a tool the model asked for (<see cref="LmPrediction.ToolCalls"/>, <see cref="LmChatTurn.ToolCalls"/>):
/// the provider's call id (answer it with <see cref="LmChatTurn.ToolResult(string, string)"/>), the tool's name, and the
/// arguments as JSON text.
/// </summary>
/// <param name="Id">The call's id, as the provider gave it ("call_…" for OpenAI, "toolu_…" for Claude).</param>
/// <param name="Name">The name of the tool to call.</param>
/// <param name="Arguments">The arguments, as JSON text (an object, as the model wrote it).</param>
public sealed record LmToolCall(string Id, string Name, string Arguments)
{
    /// <summary>The arguments parsed as JSON.</summary>
    /// <exception cref="LmStructuredOutputException">The model's arguments are not valid JSON (the exception carries the text).</exception>
    public JsonElement GetArguments()
    {
        try
        {
            using var doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(Arguments) ? "{}" : Arguments);
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new LmStructuredOutputException($"The arguments of tool call {Id} ({Name}) are not valid JSON: {e.Message}", Arguments, e);
        }
    }
}
