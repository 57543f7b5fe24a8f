using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LmWrapper.Anthropic.Internal;

/// <summary>Reads a Messages API <c>message</c> object (from <c>/v1/messages</c>, or a batch result) into an <see cref="LmPrediction"/>.</summary>
internal static class ClaudeResponseParser
{
    /// <summary>Reads a message.</summary>
    /// <param name="message">The <c>message</c> object.</param>
    /// <param name="prompt">The prompt it answers.</param>
    /// <param name="requestId">The HTTP <c>request-id</c> of a single call, or null.</param>
    /// <param name="batchId">The message batch it came from, or null for a single call (kept as "batch_id" in <see cref="LmPrediction.ProviderData"/>).</param>
    public static LmPrediction Parse(JsonElement message, LmPrompt prompt, string? requestId, string? batchId = null)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            throw Malformed($"The Anthropic API answered a {message.ValueKind} where a message object was expected.", requestId);
        }

        var text = new StringBuilder();
        List<LmReasoningBlock>? reasoning = null;
        List<LmToolCall>? toolCalls = null;
        string? structured = null;
        string? answerTool = prompt.ResponseFormat is { } format ? format.Name ?? ClaudeRequest.JsonAnswerTool : null;
        if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
        {
            foreach (var block in content.EnumerateArray())
            {
                string? type = block.ValueKind == JsonValueKind.Object ? StringOf(block, "type") : null;
                if (type == "text" && block.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                {
                    text.Append(t.GetString());
                }
                else if (type == "thinking")
                {
                    (reasoning ??= []).Add(LmReasoningBlock.Thinking(StringOf(block, "thinking") ?? string.Empty, StringOf(block, "signature")));
                }
                else if (type == "redacted_thinking")
                {
                    (reasoning ??= []).Add(LmReasoningBlock.Redacted(StringOf(block, "data") ?? string.Empty));
                }
                else if (type == "tool_use")
                {
                    string id = StringOf(block, "id") ?? throw Malformed("The Anthropic API answered a tool_use block without an id.", requestId);
                    string name = StringOf(block, "name") ?? throw Malformed("The Anthropic API answered a tool_use block without a name.", requestId);
                    string input = block.TryGetProperty("input", out var i) && i.ValueKind == JsonValueKind.Object ? i.GetRawText() : "{}";
                    if (answerTool is not null && name == answerTool && structured is null)
                    {
                        // A response format's forced tool: its input is the answer.
                        structured = input;
                    }
                    else
                    {
                        (toolCalls ??= []).Add(new LmToolCall(id, name, input));
                    }
                }
            }
        }
        else
        {
            throw Malformed("The Anthropic API answered a message without a content array.", requestId);
        }

        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        AddString(message, "id", data);
        AddString(message, "model", data);
        AddString(message, "stop_sequence", data);
        if (requestId is not null)
        {
            data["request_id"] = requestId;
        }

        if (batchId is not null)
        {
            data["batch_id"] = batchId;
        }

        LmUsage? usage = null;
        if (message.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
        {
            int input = GetInt(u, "input_tokens");
            int output = GetInt(u, "output_tokens");
            int cacheWrite = GetInt(u, "cache_creation_input_tokens");
            int cacheRead = GetInt(u, "cache_read_input_tokens");

            // Claude's input_tokens leaves out the tokens read from or written to its prompt cache; LmUsage counts all.
            usage = new LmUsage(input + cacheWrite + cacheRead, output, cacheRead);
            data["input_tokens"] = input.ToString(CultureInfo.InvariantCulture);
            data["cache_creation_input_tokens"] = cacheWrite.ToString(CultureInfo.InvariantCulture);
            data["cache_read_input_tokens"] = cacheRead.ToString(CultureInfo.InvariantCulture);
            AddString(u, "service_tier", data);
        }

        string? finish = message.TryGetProperty("stop_reason", out var sr) && sr.ValueKind == JsonValueKind.String ? sr.GetString() : null;
        if (structured is not null && finish == "tool_use")
        {
            finish = "end_turn"; // the forced tool is how the answer came, not a call for the caller to run
        }

        return new LmPrediction
        {
            CompletionText = structured ?? text.ToString(),
            Prompt = prompt,
            FinishReason = finish,
            ToolCalls = toolCalls!,
            Usage = usage,
            ProviderData = data,
            ReasoningBlocks = reasoning,
        };
    }

    /// <summary>A response LmWrapper cannot read: a <see cref="LmErrorKind.MalformedResponse"/> error.</summary>
    public static LmProviderException Malformed(string message, string? requestId, Exception? inner = null) =>
        new(new LmError(LmErrorKind.MalformedResponse, message, 200, RequestId: requestId), inner);

    private static void AddString(JsonElement obj, string name, Dictionary<string, string> data)
    {
        if (obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String)
        {
            data[name] = v.GetString()!;
        }
    }

    private static string? StringOf(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int GetInt(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) ? n : 0;
}
