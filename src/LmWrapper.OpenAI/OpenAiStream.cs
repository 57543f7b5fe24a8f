using System.Buffers;
using System.Text;
using System.Text.Json;
using LmWrapper.Http;

namespace LmWrapper.OpenAI;

/// <summary>
/// A streamed chat or legacy completion (<c>stream: true</c>, <c>stream_options.include_usage</c>): each chunk's text (and
/// logprobs) becomes an update as it comes; at <c>data: [DONE]</c> the chunks are put back together into the response the
/// same request answers without streaming, and read by the same code, so the streamed prediction equals the whole one.
/// </summary>
internal sealed class OpenAiStream : LmSseStream
{
    private readonly LmPrompt _prompt;
    private readonly string? _promptText; // null for chat
    private readonly int _n;
    private readonly bool _wantLogprobs;
    private readonly Choice[] _choices;
    private string? _id;
    private string? _model;
    private string? _fingerprint;
    private string? _usage;

    public OpenAiStream(LmHttpPipeline pipeline, LmHttpCall call, LmPrompt prompt, string? promptText, int n, bool wantLogprobs, CancellationToken cancellationToken)
        : base(pipeline, call, cancellationToken)
    {
        _prompt = prompt;
        _promptText = promptText;
        _n = n;
        _wantLogprobs = wantLogprobs;
        _choices = new Choice[n];
        Reset();
    }

    protected override void Reset()
    {
        for (int i = 0; i < _n; i++)
        {
            _choices[i] = new Choice();
        }

        _id = _model = _fingerprint = _usage = null;
    }

    protected override void OnEvent(string? name, string data)
    {
        if (data == "[DONE]")
        {
            Complete();
            return;
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(data);
        }
        catch (JsonException e)
        {
            throw Malformed($"an event is not JSON ({e.Message})", data, e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Malformed("an event is not a JSON object", data);
            }

            if (root.TryGetProperty("error"u8, out var error) && error.ValueKind == JsonValueKind.Object)
            {
                var body = LmHttpErrors.ReadBody(Encoding.UTF8.GetBytes(data));
                throw ErrorEvent(body, passing: body.Type is null or "server_error" or "api_error" or "overloaded_error" or "service_unavailable");
            }

            _id ??= Text(root, "id"u8);
            _model ??= Text(root, "model"u8);
            _fingerprint ??= Text(root, "system_fingerprint"u8);
            if (root.TryGetProperty("usage"u8, out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                _usage = usage.GetRawText();
            }

            if (!root.TryGetProperty("choices"u8, out var choices) || choices.ValueKind != JsonValueKind.Array)
            {
                return;
            }

            foreach (var choice in choices.EnumerateArray())
            {
                if (choice.ValueKind != JsonValueKind.Object || !choice.TryGetProperty("index"u8, out var ix) || !ix.TryGetInt32(out int index) || (uint)index >= (uint)_n)
                {
                    throw Malformed("a chunk's choice has no index within n", data);
                }

                if (_promptText is null)
                {
                    OnChatChoice(index, choice);
                }
                else
                {
                    OnCompletionChoice(index, choice);
                }
            }
        }
    }

    private void OnChatChoice(int index, JsonElement choice)
    {
        var c = _choices[index];
        List<string>? tokens = null;
        List<double>? logprobs = null;
        if (choice.TryGetProperty("logprobs"u8, out var lp) && lp.ValueKind == JsonValueKind.Object
            && lp.TryGetProperty("content"u8, out var content) && content.ValueKind == JsonValueKind.Array)
        {
            c.HasLogprobs = true;
            foreach (var entry in content.EnumerateArray())
            {
                c.Entries.Add(entry.GetRawText());
                if (_prompt.Logprobs >= 1 && Text(entry, "token"u8) is { } token && entry.TryGetProperty("logprob"u8, out var l) && l.TryGetDouble(out double value))
                {
                    (tokens ??= []).Add(token);
                    (logprobs ??= []).Add(value);
                }
            }
        }

        string text = string.Empty;
        if (choice.TryGetProperty("delta"u8, out var delta) && delta.ValueKind == JsonValueKind.Object)
        {
            if (Text(delta, "content"u8) is { } piece)
            {
                c.Content ??= new StringBuilder();
                c.Content.Append(piece);
                text = piece;
            }

            if (Text(delta, "refusal"u8) is { } refusal)
            {
                c.Refusal ??= new StringBuilder();
                c.Refusal.Append(refusal);
            }

            if (delta.TryGetProperty("tool_calls"u8, out var calls) && calls.ValueKind == JsonValueKind.Array)
            {
                // Each tool call streams as pieces: its index, then (once) its id and name, then its arguments in parts.
                foreach (var call in calls.EnumerateArray())
                {
                    int at = call.TryGetProperty("index"u8, out var ci) && ci.TryGetInt32(out int n) ? n : c.ToolCalls.Count;
                    if (!c.ToolCalls.TryGetValue(at, out var built))
                    {
                        c.ToolCalls[at] = built = new ToolCallParts();
                    }

                    built.Id ??= Text(call, "id"u8);
                    if (call.TryGetProperty("function"u8, out var f) && f.ValueKind == JsonValueKind.Object)
                    {
                        built.Name ??= Text(f, "name"u8);
                        built.Arguments.Append(Text(f, "arguments"u8));
                    }
                }
            }
        }

        c.Finish = Text(choice, "finish_reason"u8) ?? c.Finish;
        if (text.Length > 0 || tokens is not null)
        {
            Emit(new LmStreamingUpdate { SampleIndex = index, Text = text, Tokens = tokens, Logprobs = logprobs });
        }
    }

    private void OnCompletionChoice(int index, JsonElement choice)
    {
        var c = _choices[index];
        string piece = Text(choice, "text"u8) ?? string.Empty;
        c.Content ??= new StringBuilder();
        int before = c.Content.Length;
        c.Content.Append(piece);

        // With echo the stream starts with the prompt, which is not part of the completion.
        int skip = _prompt.Echo ? Math.Clamp(_promptText!.Length - before, 0, piece.Length) : 0;
        List<string>? tokens = null;
        List<double>? logprobs = null;
        if (choice.TryGetProperty("logprobs"u8, out var lp) && lp.ValueKind == JsonValueKind.Object)
        {
            c.HasLogprobs = true;
            var names = Array(lp, "tokens"u8);
            var values = Array(lp, "token_logprobs"u8);
            var top = Array(lp, "top_logprobs"u8);
            var offsets = Array(lp, "text_offset"u8);
            for (int t = 0; t < names.Count; t++)
            {
                c.Tokens.Add(names[t].GetRawText());
                c.TokenLogprobs.Add(t < values.Count ? values[t].GetRawText() : "null");
                c.Top.Add(t < top.Count ? top[t].GetRawText() : "null");
                if (t < offsets.Count)
                {
                    c.Offsets.Add(offsets[t].GetRawText());
                }

                bool inPrompt = _prompt.Echo && t < offsets.Count && offsets[t].TryGetInt32(out int at) && at < _promptText!.Length;
                if (!inPrompt && _prompt.Logprobs >= 1 && names[t].ValueKind == JsonValueKind.String && t < values.Count && values[t].TryGetDouble(out double value))
                {
                    (tokens ??= []).Add(names[t].GetString()!);
                    (logprobs ??= []).Add(value);
                }
            }
        }

        c.Finish = Text(choice, "finish_reason"u8) ?? c.Finish;
        string text = piece[skip..];
        if (text.Length > 0 || tokens is not null)
        {
            Emit(new LmStreamingUpdate { SampleIndex = index, Text = text, Tokens = tokens, Logprobs = logprobs });
        }
    }

    /// <summary>Puts the chunks back together as the whole response and reads it as a single call does.</summary>
    private void Complete()
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            WriteNullable(w, "id", _id);
            WriteNullable(w, "model", _model);
            WriteNullable(w, "system_fingerprint", _fingerprint);
            w.WriteStartArray("choices");
            for (int i = 0; i < _n; i++)
            {
                var c = _choices[i];
                w.WriteStartObject();
                w.WriteNumber("index", i);
                if (_promptText is null)
                {
                    w.WriteStartObject("message");
                    w.WriteString("role", "assistant");
                    WriteNullable(w, "content", c.Content?.ToString());
                    WriteNullable(w, "refusal", c.Refusal?.ToString());
                    if (c.ToolCalls.Count > 0)
                    {
                        w.WriteStartArray("tool_calls");
                        foreach (var (_, call) in c.ToolCalls)
                        {
                            w.WriteStartObject();
                            WriteNullable(w, "id", call.Id);
                            w.WriteString("type", "function");
                            w.WriteStartObject("function");
                            WriteNullable(w, "name", call.Name);
                            w.WriteString("arguments", call.Arguments.ToString());
                            w.WriteEndObject();
                            w.WriteEndObject();
                        }

                        w.WriteEndArray();
                    }

                    w.WriteEndObject();
                    if (c.HasLogprobs || _wantLogprobs)
                    {
                        w.WriteStartObject("logprobs");
                        w.WritePropertyName("content");
                        WriteRawArray(w, c.Entries);
                        w.WriteEndObject();
                    }
                }
                else
                {
                    w.WriteString("text", c.Content?.ToString() ?? string.Empty);
                    if (c.HasLogprobs)
                    {
                        w.WriteStartObject("logprobs");
                        w.WritePropertyName("tokens");
                        WriteRawArray(w, c.Tokens);
                        w.WritePropertyName("token_logprobs");
                        WriteRawArray(w, c.TokenLogprobs);
                        w.WritePropertyName("top_logprobs");
                        WriteRawArray(w, c.Top);
                        w.WritePropertyName("text_offset");
                        WriteRawArray(w, c.Offsets);
                        w.WriteEndObject();
                    }
                }

                WriteNullable(w, "finish_reason", c.Finish);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (_usage is not null)
            {
                w.WritePropertyName("usage");
                w.WriteRawValue(_usage, skipInputValidation: true);
            }

            w.WriteEndObject();
        }

        var predictions = OpenAiLm.ReadStreamed(buffer.WrittenSpan.ToArray(), _prompt, _promptText, _n, RequestId);
        for (int i = 0; i < predictions.Length; i++)
        {
            Emit(new LmStreamingUpdate { SampleIndex = i, Prediction = predictions[i] });
        }

        End();
    }

    private LmProviderException Malformed(string what, string data, Exception? inner = null) =>
        new(new LmError(LmErrorKind.MalformedResponse, $"{ProviderName} streamed an answer LmWrapper cannot read: {what}; it begins: {(data.Length <= 200 ? data : data[..200])}", 200, RequestId: RequestId), inner);

    private static List<JsonElement> Array(JsonElement obj, ReadOnlySpan<byte> name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? [.. v.EnumerateArray()] : [];

    private static string? Text(JsonElement obj, ReadOnlySpan<byte> name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static void WriteRawArray(Utf8JsonWriter w, List<string> items)
    {
        w.WriteStartArray();
        foreach (var item in items)
        {
            w.WriteRawValue(item, skipInputValidation: true);
        }

        w.WriteEndArray();
    }

    private sealed class Choice
    {
        public StringBuilder? Content { get; set; }

        public StringBuilder? Refusal { get; set; }

        public string? Finish { get; set; }

        public bool HasLogprobs { get; set; }

        public List<string> Entries { get; } = [];

        public List<string> Tokens { get; } = [];

        public List<string> TokenLogprobs { get; } = [];

        public List<string> Top { get; } = [];

        public List<string> Offsets { get; } = [];

        public SortedDictionary<int, ToolCallParts> ToolCalls { get; } = [];
    }

    private sealed class ToolCallParts
    {
        public string? Id { get; set; }

        public string? Name { get; set; }

        public StringBuilder Arguments { get; } = new();
    }
}
