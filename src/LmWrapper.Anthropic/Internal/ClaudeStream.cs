using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LmWrapper.Http;

namespace LmWrapper.Anthropic.Internal;

/// <summary>
/// A streamed Messages API call (<c>"stream": true</c>): <c>message_start</c>, <c>content_block_start</c>/<c>_delta</c>/<c>_stop</c>,
/// <c>message_delta</c> (stop reason, output tokens), <c>message_stop</c>, <c>ping</c> and <c>error</c> events. Each text
/// delta becomes an update; at <c>message_stop</c> the events are put back together into the message the same request
/// answers without streaming, read by the same parser, so the streamed prediction equals the whole one.
/// </summary>
internal sealed class ClaudeStream : LmSseStream
{
    private readonly LmPrompt _prompt;
    private readonly int _sample;
    private readonly SortedDictionary<int, StreamedBlock> _blocks = [];
    private JsonObject? _message;
    private JsonObject _usage = [];

    public ClaudeStream(LmHttpPipeline pipeline, LmHttpCall call, LmPrompt prompt, int sample, CancellationToken cancellationToken)
        : base(pipeline, call, cancellationToken)
    {
        _prompt = prompt;
        _sample = sample;
    }

    protected override void Reset()
    {
        _blocks.Clear();
        _message = null;
        _usage = [];
    }

    protected override void OnEvent(string? name, string data)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(data) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException e)
        {
            throw ClaudeResponseParser.Malformed($"{ProviderName} streamed an event LmWrapper cannot read ({e.Message}); it begins: {Start(data)}", RequestId, e);
        }

        string type = (root["type"] as JsonValue)?.TryGetValue(out string? t) == true ? t! : name ?? string.Empty;
        switch (type)
        {
            case "message_start":
                _message = root["message"] as JsonObject ?? throw ClaudeResponseParser.Malformed($"{ProviderName} streamed a message_start without a message.", RequestId);
                Merge(_message["usage"] as JsonObject);
                break;
            case "content_block_start":
                if (root["content_block"] is JsonObject block)
                {
                    // text and thinking grow by deltas; any other block (redacted_thinking) arrives whole here.
                    var streamed = Block(root);
                    streamed.Start = (JsonObject)block.DeepClone();
                    switch (Text(block, "type"))
                    {
                        case "text":
                            string first = Text(block, "text") ?? string.Empty;
                            streamed.Text.Append(first);
                            Give(first);
                            break;
                        case "thinking":
                            streamed.Text.Append(Text(block, "thinking") ?? string.Empty);
                            streamed.Signature.Append(Text(block, "signature") ?? string.Empty);
                            break;
                    }
                }

                break;
            case "content_block_delta":
                if (root["delta"] is JsonObject delta)
                {
                    switch (Text(delta, "type"))
                    {
                        case "text_delta":
                            string piece = Text(delta, "text") ?? string.Empty;
                            Block(root).Text.Append(piece);
                            Give(piece);
                            break;
                        case "thinking_delta":
                            Block(root).Text.Append(Text(delta, "thinking") ?? string.Empty);
                            break;
                        case "signature_delta":
                            Block(root).Signature.Append(Text(delta, "signature") ?? string.Empty);
                            break;
                        case "input_json_delta":
                            // A tool_use block's input streams as pieces of JSON text, whole only at the end.
                            Block(root).Text.Append(Text(delta, "partial_json") ?? string.Empty);
                            break;
                    }
                }

                break;
            case "message_delta":
                if (_message is not null && root["delta"] is JsonObject changes)
                {
                    foreach (var (key, value) in changes)
                    {
                        _message[key] = value?.DeepClone();
                    }
                }

                Merge(root["usage"] as JsonObject);
                break;
            case "message_stop":
                Complete();
                break;
            case "error":
                var body = LmHttpErrors.ReadBody(Encoding.UTF8.GetBytes(data));
                throw ErrorEvent(body, passing: body.Type is "overloaded_error" or "api_error" or "rate_limit_error" or null);
            default:
                break; // ping, content_block_stop, and event types added later
        }
    }

    private StreamedBlock Block(JsonObject evt)
    {
        int index = evt["index"] is JsonValue v && v.TryGetValue(out int i) ? i : 0;
        if (!_blocks.TryGetValue(index, out var block))
        {
            _blocks[index] = block = new StreamedBlock();
        }

        return block;
    }

    /// <summary>One content block as it streams: its start event's block, and the text (or thinking) and signature deltas.</summary>
    private sealed class StreamedBlock
    {
        public JsonObject? Start { get; set; }

        public StringBuilder Text { get; } = new();

        public StringBuilder Signature { get; } = new();

        /// <summary>The block as the whole (unstreamed) message holds it.</summary>
        public JsonObject ToBlock()
        {
            switch (Start?["type"] is JsonValue v && v.TryGetValue(out string? type) ? type : "text")
            {
                case "text":
                    return new JsonObject { ["type"] = "text", ["text"] = Text.ToString() };
                case "thinking":
                    return new JsonObject { ["type"] = "thinking", ["thinking"] = Text.ToString(), ["signature"] = Signature.ToString() };
                case "tool_use":
                    var block = (JsonObject)Start!.DeepClone();
                    string input = Text.ToString();
                    if (input.Length > 0)
                    {
                        block["input"] = JsonNode.Parse(input);
                    }

                    return block;
                default:
                    return (JsonObject)Start!.DeepClone();
            }
        }
    }

    private void Give(string text)
    {
        if (text.Length > 0)
        {
            Emit(new LmStreamingUpdate { SampleIndex = _sample, Text = text });
        }
    }

    /// <summary>Usage counts arrive in message_start and (the final output tokens, sometimes more) in message_delta; later values win.</summary>
    private void Merge(JsonObject? usage)
    {
        if (usage is null)
        {
            return;
        }

        foreach (var (key, value) in usage)
        {
            if (value is not null)
            {
                _usage[key] = value.DeepClone();
            }
        }
    }

    private void Complete()
    {
        var message = _message ?? throw ClaudeResponseParser.Malformed($"{ProviderName} ended a stream without a message_start.", RequestId);
        var content = new JsonArray();
        foreach (var block in _blocks.Values)
        {
            content.Add(block.ToBlock());
        }

        message["content"] = content;
        message["usage"] = _usage.DeepClone();
        using var doc = JsonDocument.Parse(message.ToJsonString());
        var prediction = ClaudeResponseParser.Parse(doc.RootElement, _prompt, RequestId);

        // A response format's answer (a forced tool's input) is whole only now: it comes as one piece of text.
        if (_prompt.ResponseFormat is not null)
        {
            Give(prediction.CompletionText);
        }

        Emit(new LmStreamingUpdate { SampleIndex = _sample, Prediction = prediction });
        End();
    }

    private static string? Text(JsonObject obj, string name) =>
        obj[name] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static string Start(string data) => data.Length <= 200 ? data : data[..200];
}
