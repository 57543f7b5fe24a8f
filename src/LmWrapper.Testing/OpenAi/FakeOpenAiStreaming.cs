using System.Buffers;
using System.Text;
using System.Text.Json;

namespace LmWrapper.Testing;

/// <summary>
/// Turns the fake's whole answers into the event streams the API sends for <c>stream: true</c>, so a streamed answer
/// always holds exactly what the whole one does: chat.completion.chunk events (a role chunk per choice, one chunk per
/// token with its logprobs, a finish chunk per choice, choices interleaved), text_completion chunks for the legacy API,
/// the usage chunk (empty <c>choices</c>) when <c>stream_options.include_usage</c> is set, and <c>data: [DONE]</c>.
/// </summary>
internal static class FakeOpenAiStreaming
{
    public static byte[] ChatStream(byte[] whole, List<List<string>> tokens, bool includeUsage)
    {
        using var doc = JsonDocument.Parse(whole);
        var root = doc.RootElement;
        var output = new StringBuilder();
        var choices = root.GetProperty("choices").EnumerateArray().ToList();
        var pieces = new List<List<(string Text, JsonElement? Logprob, bool Refusal)>>();
        bool anyLogprobs = false;
        foreach (var choice in choices)
        {
            int i = choice.GetProperty("index").GetInt32();
            var list = new List<(string, JsonElement?, bool)>();
            var message = choice.GetProperty("message");
            if (message.GetProperty("refusal") is { ValueKind: JsonValueKind.String } refusal)
            {
                list.Add((refusal.GetString()!, null, true));
            }
            else if (choice.GetProperty("logprobs") is { ValueKind: JsonValueKind.Object } lp)
            {
                anyLogprobs = true;
                foreach (var entry in lp.GetProperty("content").EnumerateArray())
                {
                    list.Add((entry.GetProperty("token").GetString()!, entry, false));
                }
            }
            else
            {
                list.AddRange(tokens[i].Select(t => (t, (JsonElement?)null, false)));
            }

            pieces.Add(list);
        }

        // The role chunk of every choice, then the tokens, choices taking turns, then the finish chunks.
        for (int c = 0; c < choices.Count; c++)
        {
            Chunk(output, root, includeUsage, w =>
            {
                w.WriteStartObject("delta");
                w.WriteString("role", "assistant");
                w.WriteString("content", string.Empty);
                w.WriteNull("refusal");
                w.WriteEndObject();
                w.WriteNull("logprobs");
                w.WriteNull("finish_reason");
            }, c);
        }

        int longest = pieces.Count == 0 ? 0 : pieces.Max(p => p.Count);
        for (int t = 0; t < longest; t++)
        {
            for (int c = 0; c < choices.Count; c++)
            {
                if (t >= pieces[c].Count)
                {
                    continue;
                }

                var (text, logprob, isRefusal) = pieces[c][t];
                Chunk(output, root, includeUsage, w =>
                {
                    w.WriteStartObject("delta");
                    w.WriteString(isRefusal ? "refusal" : "content", text);
                    w.WriteEndObject();
                    if (logprob is { } entry)
                    {
                        w.WriteStartObject("logprobs");
                        w.WriteStartArray("content");
                        entry.WriteTo(w);
                        w.WriteEndArray();
                        w.WriteNull("refusal");
                        w.WriteEndObject();
                    }
                    else if (anyLogprobs && !isRefusal)
                    {
                        w.WriteStartObject("logprobs");
                        w.WriteStartArray("content");
                        w.WriteEndArray();
                        w.WriteNull("refusal");
                        w.WriteEndObject();
                    }
                    else
                    {
                        w.WriteNull("logprobs");
                    }

                    w.WriteNull("finish_reason");
                }, c);
            }
        }

        // Tool calls stream as OpenAI streams them: a first piece with the index, id, type and name (arguments empty),
        // then the arguments in parts.
        for (int c = 0; c < choices.Count; c++)
        {
            if (!choices[c].GetProperty("message").TryGetProperty("tool_calls", out var calls))
            {
                continue;
            }

            int k = 0;
            foreach (var call in calls.EnumerateArray())
            {
                int index = k++;
                var function = call.GetProperty("function");
                string args = function.GetProperty("arguments").GetString()!;
                var parts = new List<string> { string.Empty };
                for (int at = 0; at < args.Length; at += 8)
                {
                    parts.Add(args.Substring(at, Math.Min(8, args.Length - at)));
                }

                for (int part = 0; part < parts.Count; part++)
                {
                    bool first = part == 0;
                    string piece = parts[part];
                    Chunk(output, root, includeUsage, w =>
                    {
                        w.WriteStartObject("delta");
                        if (first)
                        {
                            w.WriteNull("content");
                        }

                        w.WriteStartArray("tool_calls");
                        w.WriteStartObject();
                        w.WriteNumber("index", index);
                        if (first)
                        {
                            w.WriteString("id", call.GetProperty("id").GetString());
                            w.WriteString("type", "function");
                        }

                        w.WriteStartObject("function");
                        if (first)
                        {
                            w.WriteString("name", function.GetProperty("name").GetString());
                        }

                        w.WriteString("arguments", piece);
                        w.WriteEndObject();
                        w.WriteEndObject();
                        w.WriteEndArray();
                        w.WriteEndObject();
                        w.WriteNull("logprobs");
                        w.WriteNull("finish_reason");
                    }, c);
                }
            }
        }

        for (int c = 0; c < choices.Count; c++)
        {
            var finish = choices[c].GetProperty("finish_reason");
            Chunk(output, root, includeUsage, w =>
            {
                w.WriteStartObject("delta");
                w.WriteEndObject();
                w.WriteNull("logprobs");
                w.WritePropertyName("finish_reason");
                finish.WriteTo(w);
            }, c);
        }

        return Finish(output, root, includeUsage, chat: true);
    }

    public static byte[] CompletionsStream(byte[] whole, List<(string Prompt, List<string> Tokens)> perChoice, bool echo, bool includeUsage)
    {
        using var doc = JsonDocument.Parse(whole);
        var root = doc.RootElement;
        var output = new StringBuilder();
        var choices = root.GetProperty("choices").EnumerateArray().ToList();

        // A choice's pieces: the echoed prompt first (one piece, with the prompt tokens' logprobs), then token by token.
        var pieces = new List<List<(string Text, int From, int To)>>();
        for (int c = 0; c < choices.Count; c++)
        {
            var (prompt, tokens) = perChoice[c];
            var list = new List<(string, int, int)>();
            if (choices[c].GetProperty("logprobs") is { ValueKind: JsonValueKind.Object } lp)
            {
                var names = lp.GetProperty("tokens").EnumerateArray().Select(e => e.GetString()!).ToList();
                var offsets = lp.GetProperty("text_offset").EnumerateArray().Select(e => e.GetInt32()).ToList();
                int first = 0;
                if (echo)
                {
                    while (first < names.Count && offsets[first] < prompt.Length)
                    {
                        first++;
                    }

                    list.Add((prompt, 0, first));
                }

                for (int t = first; t < names.Count; t++)
                {
                    list.Add((names[t], t, t + 1));
                }
            }
            else
            {
                if (echo)
                {
                    list.Add((prompt, 0, 0));
                }

                list.AddRange(tokens.Select(t => (t, 0, 0)));
            }

            pieces.Add(list);
        }

        int longest = pieces.Count == 0 ? 0 : pieces.Max(p => p.Count);
        for (int t = 0; t < longest; t++)
        {
            for (int c = 0; c < choices.Count; c++)
            {
                if (t >= pieces[c].Count)
                {
                    continue;
                }

                var (text, from, to) = pieces[c][t];
                var lp = choices[c].GetProperty("logprobs");
                int index = choices[c].GetProperty("index").GetInt32();
                Chunk(output, root, includeUsage, w =>
                {
                    w.WriteString("text", text);
                    w.WriteNumber("index", index);
                    if (lp.ValueKind == JsonValueKind.Object)
                    {
                        w.WriteStartObject("logprobs");
                        foreach (string name in (string[])["tokens", "token_logprobs", "top_logprobs", "text_offset"])
                        {
                            w.WriteStartArray(name);
                            var all = lp.GetProperty(name);
                            for (int k = from; k < to; k++)
                            {
                                all[k].WriteTo(w);
                            }

                            w.WriteEndArray();
                        }

                        w.WriteEndObject();
                    }
                    else
                    {
                        w.WriteNull("logprobs");
                    }

                    w.WriteNull("finish_reason");
                }, choice: null);
            }
        }

        for (int c = 0; c < choices.Count; c++)
        {
            var finish = choices[c].GetProperty("finish_reason");
            int index = choices[c].GetProperty("index").GetInt32();
            Chunk(output, root, includeUsage, w =>
            {
                w.WriteString("text", string.Empty);
                w.WriteNumber("index", index);
                w.WriteNull("logprobs");
                w.WritePropertyName("finish_reason");
                finish.WriteTo(w);
            }, choice: null);
        }

        return Finish(output, root, includeUsage, chat: false);
    }

    /// <summary>One chunk with one choice, written by <paramref name="choiceBody"/> (for chat, after its index).</summary>
    private static void Chunk(StringBuilder output, JsonElement root, bool includeUsage, Action<Utf8JsonWriter> choiceBody, int? choice)
    {
        bool chat = choice is not null;
        Event(output, root, includeUsage, chat, w =>
        {
            w.WriteStartArray("choices");
            w.WriteStartObject();
            if (choice is int c)
            {
                w.WriteNumber("index", c);
            }

            choiceBody(w);
            w.WriteEndObject();
            w.WriteEndArray();
        }, usage: null);
    }

    private static byte[] Finish(StringBuilder output, JsonElement root, bool includeUsage, bool chat)
    {
        if (includeUsage)
        {
            Event(output, root, includeUsage, chat, w =>
            {
                w.WriteStartArray("choices");
                w.WriteEndArray();
            }, root.GetProperty("usage"));
        }

        output.Append("data: [DONE]\n\n");
        return Encoding.UTF8.GetBytes(output.ToString());
    }

    private static void Event(StringBuilder output, JsonElement root, bool includeUsage, bool chat, Action<Utf8JsonWriter> choices, JsonElement? usage)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, FakeOpenAiServer.JsonOptions))
        {
            w.WriteStartObject();
            w.WriteString("id", root.GetProperty("id").GetString());
            w.WriteString("object", chat ? "chat.completion.chunk" : "text_completion");
            w.WriteNumber("created", root.GetProperty("created").GetInt64());
            w.WriteString("model", root.GetProperty("model").GetString());
            if (chat)
            {
                w.WriteString("service_tier", root.GetProperty("service_tier").GetString());
                w.WriteString("system_fingerprint", root.GetProperty("system_fingerprint").GetString());
            }

            choices(w);
            if (usage is { } u)
            {
                w.WritePropertyName("usage");
                u.WriteTo(w);
            }
            else if (includeUsage)
            {
                w.WriteNull("usage");
            }

            w.WriteEndObject();
        }

        output.Append("data: ").Append(Encoding.UTF8.GetString(buffer.WrittenSpan)).Append("\n\n");
    }
}
