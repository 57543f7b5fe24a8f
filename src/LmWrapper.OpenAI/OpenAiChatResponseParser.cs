using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LmWrapper.OpenAI;

/// <summary>
/// Reads a Chat Completions response in one forward pass with <see cref="Utf8JsonReader"/> (no DOM): this is on every
/// call's hot path. Unknown fields are skipped, so new API fields do not break it.
/// </summary>
internal static class OpenAiChatResponseParser
{
    public static LmPrediction[] Parse(ReadOnlySpan<byte> json, LmPrompt prompt, int n, string? requestId = null, string? batchId = null)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("The response is not a JSON object.");
        }

        string? id = null, model = null, fingerprint = null;
        int? input = null, output = null;
        int cached = 0, reasoning = 0;
        var choices = new Choice?[n];
        int seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("choices"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    throw new JsonException("'choices' is not an array.");
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    var choice = ReadChoice(ref reader, prompt, seen);
                    if ((uint)choice.Index < (uint)n && choices[choice.Index] is null)
                    {
                        choices[choice.Index] = choice;
                        seen++;
                    }
                }
            }
            else if (reader.ValueTextEquals("usage"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    ReadUsage(ref reader, ref input, ref output, ref cached, ref reasoning);
                }
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                id = ReadString(ref reader);
            }
            else if (reader.ValueTextEquals("model"u8))
            {
                model = ReadString(ref reader);
            }
            else if (reader.ValueTextEquals("system_fingerprint"u8))
            {
                fingerprint = ReadString(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (seen != n)
        {
            throw new JsonException($"The response has {seen} usable choices where {n} were asked for.");
        }

        var predictions = new LmPrediction[n];
        for (int i = 0; i < n; i++)
        {
            var c = choices[i]!;
            var data = new Dictionary<string, string>(4, StringComparer.Ordinal);
            AddIfSet(data, "id", id);
            AddIfSet(data, "model", model);
            AddIfSet(data, "system_fingerprint", fingerprint);
            AddIfSet(data, "request_id", requestId);
            AddIfSet(data, "batch_id", batchId);
            AddIfSet(data, "refusal", c.Refusal);
            if (c.Finish == "content_filter")
            {
                data["content_filter"] = "true";
            }

            if (reasoning > 0)
            {
                data["reasoning_tokens"] = reasoning.ToString(CultureInfo.InvariantCulture);
            }

            predictions[i] = new LmPrediction
            {
                CompletionText = c.Text ?? string.Empty,
                Prompt = prompt,
                FinishReason = c.Finish,
                Error = c.Refusal is null ? null : new LmError(LmErrorKind.ContentFilter, "The model refused: " + c.Refusal, ProviderCode: "refusal", RequestId: requestId),
                CompletionTokens = c.Tokens!,
                CompletionTokenOffsets = c.Offsets!,
                CompletionLogprobs = c.Logprobs!,
                TopTokenLogprobs = c.Top!,
                Usage = OpenAiResponseReader.ShareOfUsage(i, n, input, output, cached, c.Tokens?.Count, reasoning),
                ProviderData = data,
                ReasoningBlocks = string.IsNullOrEmpty(c.Reasoning) ? null : [LmReasoningBlock.Thinking(c.Reasoning)],
                ToolCalls = c.ToolCalls!,
            };
        }

        return predictions;
    }

    private static Choice ReadChoice(ref Utf8JsonReader reader, LmPrompt prompt, int position)
    {
        var c = new Choice { Index = position };
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("index"u8))
            {
                reader.Read();
                c.Index = reader.GetInt32();
            }
            else if (reader.ValueTextEquals("message"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("content"u8))
                    {
                        c.Text = ReadStringOrNull(ref reader, "message.content");
                    }
                    else if (reader.ValueTextEquals("refusal"u8))
                    {
                        c.Refusal = ReadStringOrNull(ref reader, "message.refusal");
                    }
                    else if (reader.ValueTextEquals("tool_calls"u8))
                    {
                        c.ToolCalls = ReadToolCalls(ref reader);
                    }
                    else if (reader.ValueTextEquals("reasoning_content"u8))
                    {
                        // OpenAI-compatible servers that expose their reasoning (vLLM, DeepSeek); OpenAI's own API does not.
                        c.Reasoning = ReadStringOrNull(ref reader, "message.reasoning_content");
                    }
                    else
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
            }
            else if (reader.ValueTextEquals("logprobs"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject || prompt.Logprobs < 1)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isContent = reader.ValueTextEquals("content"u8);
                    reader.Read();
                    if (isContent && reader.TokenType == JsonTokenType.StartArray)
                    {
                        ReadTokens(ref reader, prompt, c);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else if (reader.ValueTextEquals("finish_reason"u8))
            {
                c.Finish = ReadString(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return c;
    }

    private static void ReadTokens(ref Utf8JsonReader reader, LmPrompt prompt, Choice c)
    {
        c.Tokens = new List<string>(16);
        c.Offsets = new List<int>(16);
        c.Logprobs = new List<double>(16);
        c.Top = prompt.Logprobs >= 1 ? new List<IReadOnlyDictionary<string, double>>(16) : null;
        var decoder = Encoding.UTF8.GetDecoder();
        Span<byte> bytes = stackalloc byte[64];
        Span<char> chars = stackalloc char[64];
        int offset = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            string token = string.Empty;
            double logprob = double.NaN;
            int byteCount = -1;
            Dictionary<string, double>? top = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("token"u8))
                {
                    token = ReadString(ref reader) ?? string.Empty;
                }
                else if (reader.ValueTextEquals("logprob"u8))
                {
                    reader.Read();
                    logprob = reader.GetDouble();
                }
                else if (reader.ValueTextEquals("bytes"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        byteCount = 0;
                        while (reader.Read() && reader.TokenType == JsonTokenType.Number)
                        {
                            if (byteCount < bytes.Length)
                            {
                                bytes[byteCount] = (byte)reader.GetInt32();
                            }

                            byteCount++;
                        }

                        if (byteCount > bytes.Length)
                        {
                            byteCount = -1;
                        }
                    }
                }
                else if (reader.ValueTextEquals("top_logprobs"u8) && c.Top is not null)
                {
                    reader.Read();
                    top = new Dictionary<string, double>(prompt.Logprobs, StringComparer.Ordinal);
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                        {
                            string? alt = null;
                            double altLogprob = double.NaN;
                            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                            {
                                if (reader.ValueTextEquals("token"u8))
                                {
                                    alt = ReadString(ref reader);
                                }
                                else if (reader.ValueTextEquals("logprob"u8))
                                {
                                    reader.Read();
                                    altLogprob = reader.GetDouble();
                                }
                                else
                                {
                                    reader.Read();
                                    reader.Skip();
                                }
                            }

                            if (alt is not null)
                            {
                                top.TryAdd(alt, altLogprob);
                            }
                        }
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            c.Tokens.Add(token);
            c.Offsets.Add(offset);
            c.Logprobs.Add(logprob);
            c.Top?.Add(top ?? new Dictionary<string, double>(0));
            offset += byteCount >= 0 ? decoder.GetChars(bytes[..byteCount], chars, flush: false) : token.Length;
        }
    }

    private static void ReadUsage(ref Utf8JsonReader reader, ref int? input, ref int? output, ref int cached, ref int reasoning)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8))
            {
                input = ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("completion_tokens"u8))
            {
                output = ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("prompt_tokens_details"u8))
            {
                cached = ReadNested(ref reader, "cached_tokens"u8) ?? cached;
            }
            else if (reader.ValueTextEquals("completion_tokens_details"u8))
            {
                reasoning = ReadNested(ref reader, "reasoning_tokens"u8) ?? reasoning;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static int? ReadNested(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }

        int? value = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(name))
            {
                value = ReadInt(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return value;
    }

    private static int? ReadInt(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int v) ? v : null;
    }

    private static string? ReadString(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.String)
        {
            return reader.GetString();
        }

        reader.Skip();
        return null;
    }

    /// <summary>A string or null; anything else is an answer of the wrong shape (a <see cref="JsonException"/>, reported as malformed).</summary>
    private static string? ReadStringOrNull(ref Utf8JsonReader reader, string field)
    {
        reader.Read();
        return reader.TokenType switch
        {
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Null => null,
            _ => throw new JsonException($"{field} is a {reader.TokenType}, not a string"),
        };
    }

    private static void AddIfSet(Dictionary<string, string> data, string name, string? value)
    {
        if (value is not null)
        {
            data[name] = value;
        }
    }

    private sealed class Choice
    {
        public int Index { get; set; }

        public string? Text { get; set; }

        public string? Refusal { get; set; }

        public string? Reasoning { get; set; }

        public string? Finish { get; set; }

        public List<string>? Tokens { get; set; }

        public List<int>? Offsets { get; set; }

        public List<double>? Logprobs { get; set; }

        public List<IReadOnlyDictionary<string, double>>? Top { get; set; }

        public List<LmToolCall>? ToolCalls { get; set; }
    }

    /// <summary>Reads <c>message.tool_calls</c>: function calls, each with its id, name and arguments (JSON text).</summary>
    private static List<LmToolCall>? ReadToolCalls(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return null;
        }

        var calls = new List<LmToolCall>(2);
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            string? id = null, name = null, arguments = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8))
                {
                    id = ReadStringOrNull(ref reader, "tool_calls.id");
                }
                else if (reader.ValueTextEquals("function"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        reader.Skip();
                        continue;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        if (reader.ValueTextEquals("name"u8))
                        {
                            name = ReadStringOrNull(ref reader, "tool_calls.function.name");
                        }
                        else if (reader.ValueTextEquals("arguments"u8))
                        {
                            arguments = ReadStringOrNull(ref reader, "tool_calls.function.arguments");
                        }
                        else
                        {
                            reader.Read();
                            reader.Skip();
                        }
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (id is null || name is null)
            {
                throw new JsonException("A tool call in the response has no id or no function name.");
            }

            calls.Add(new LmToolCall(id, name, arguments ?? "{}"));
        }

        return calls;
    }
}
