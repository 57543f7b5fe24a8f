using System.Globalization;
using System.Text.Json;

namespace LmWrapper.OpenAI;

/// <summary>Turns a legacy completions response body into one <see cref="LmPrediction"/> per choice (chat: <see cref="OpenAiChatResponseParser"/>).</summary>
internal static class OpenAiResponseReader
{
    public static LmPrediction[] ReadCompletion(JsonElement root, LmPrompt prompt, string promptText, int n, string? requestId = null, string? batchId = null)
    {
        var choices = Choices(root, n);
        var (input, output, cached, reasoning) = Usage(root);
        var predictions = new LmPrediction[n];
        for (int i = 0; i < n; i++)
        {
            var choice = choices[i];
            string text = choice.GetProperty("text"u8).GetString() ?? string.Empty;
            int promptChars = 0;
            if (prompt.Echo && text.StartsWith(promptText, StringComparison.Ordinal))
            {
                promptChars = promptText.Length;
                text = text[promptChars..];
            }

            string? finish = FinishReason(choice);
            List<string>? tokens = null;
            List<int>? offsets = null;
            List<double>? logprobs = null;
            List<IReadOnlyDictionary<string, double>>? top = null;
            List<string>? promptTokens = null;
            List<double?>? promptLogprobs = null;
            if (choice.TryGetProperty("logprobs"u8, out var lp) && lp.ValueKind == JsonValueKind.Object)
            {
                var tokenArray = lp.GetProperty("tokens"u8);
                var lpArray = lp.GetProperty("token_logprobs"u8);
                var offsetArray = lp.TryGetProperty("text_offset"u8, out var o) && o.ValueKind == JsonValueKind.Array ? o : default;
                var topArray = lp.TryGetProperty("top_logprobs"u8, out var tl) && tl.ValueKind == JsonValueKind.Array ? tl : default;
                int count = tokenArray.GetArrayLength();
                bool hasOffsets = offsetArray.ValueKind == JsonValueKind.Array && offsetArray.GetArrayLength() == count;

                // Legacy text_offset counts from the start of the prompt (echo or not); the first completion token
                // starts at the prompt's length.
                int completionStart = 0;
                if (prompt.Echo)
                {
                    promptTokens = [];
                    promptLogprobs = [];
                    completionStart = count;
                    int acc = 0;
                    for (int t = 0; t < count; t++)
                    {
                        int at = hasOffsets ? offsetArray[t].GetInt32() : acc;
                        if (at >= promptChars)
                        {
                            completionStart = t;
                            break;
                        }

                        string tok = tokenArray[t].GetString()!;
                        acc += tok.Length;
                        promptTokens.Add(tok);
                        promptLogprobs.Add(lpArray[t].ValueKind == JsonValueKind.Number ? lpArray[t].GetDouble() : null);
                    }
                }

                int completionCount = count - completionStart;
                tokens = new List<string>(completionCount);
                offsets = new List<int>(completionCount);
                int baseOffset = hasOffsets && completionCount > 0 && offsetArray[completionStart].GetInt32() >= promptText.Length ? promptText.Length : 0;
                int running = 0;
                for (int t = completionStart; t < count; t++)
                {
                    string tok = tokenArray[t].GetString()!;
                    tokens.Add(tok);
                    offsets.Add(hasOffsets ? offsetArray[t].GetInt32() - baseOffset : running);
                    running += tok.Length;
                }

                if (prompt.Logprobs >= 1)
                {
                    logprobs = new List<double>(completionCount);
                    for (int t = completionStart; t < count; t++)
                    {
                        logprobs.Add(lpArray[t].ValueKind == JsonValueKind.Number ? lpArray[t].GetDouble() : double.NaN);
                    }

                    if (prompt.Logprobs >= 1 && topArray.ValueKind == JsonValueKind.Array)
                    {
                        top = new List<IReadOnlyDictionary<string, double>>(completionCount);
                        for (int t = completionStart; t < count; t++)
                        {
                            var alternatives = new Dictionary<string, double>(StringComparer.Ordinal);
                            if (topArray[t].ValueKind == JsonValueKind.Object)
                            {
                                foreach (var p in topArray[t].EnumerateObject())
                                {
                                    alternatives.TryAdd(p.Name, p.Value.GetDouble());
                                }
                            }

                            top.Add(alternatives);
                        }
                    }
                }
            }

            predictions[i] = new LmPrediction
            {
                CompletionText = text,
                Prompt = prompt,
                FinishReason = finish,
                CompletionTokens = tokens!,
                CompletionTokenOffsets = offsets!,
                CompletionLogprobs = logprobs!,
                TopTokenLogprobs = top!,
                PromptTokens = promptTokens!,
                PromptLogprobs = promptLogprobs!,
                Usage = ShareOfUsage(i, n, input, output, cached, tokens?.Count, reasoning),
                ProviderData = ProviderData(root, finish, reasoning, requestId, batchId),
            };
        }

        return predictions;
    }

    /// <summary>
    /// The part of the request's usage that belongs to choice <paramref name="i"/>: the first choice carries the
    /// prompt (billed once per request), each carries its own output tokens, so the choices add up to the request. The
    /// reasoning tokens (part of the output tokens) are shared out the same way.
    /// </summary>
    internal static LmUsage? ShareOfUsage(int i, int n, int? input, int? output, int cached, int? ownTokens, int reasoning = 0)
    {
        if (input is null || output is null)
        {
            return null;
        }

        int outTokens = n == 1 ? output.Value : ownTokens ?? (output.Value / n + (i == 0 ? output.Value % n : 0));
        int ownReasoning = n == 1 ? reasoning : reasoning / n + (i == 0 ? reasoning % n : 0);
        if (n > 1 && ownTokens is not null)
        {
            // The choice's own visible tokens leave its reasoning out: add its share, so the output still covers it.
            outTokens += ownReasoning;
        }

        return (i == 0 ? new LmUsage(input.Value, outTokens, cached) : new LmUsage(0, outTokens, 0)) with { ReasoningTokens = Math.Min(ownReasoning, outTokens) };
    }

    private static JsonElement[] Choices(JsonElement root, int n)
    {
        var choices = new JsonElement[n];
        var array = root.GetProperty("choices"u8);
        int seen = 0;
        foreach (var c in array.EnumerateArray())
        {
            int index = c.TryGetProperty("index"u8, out var ix) && ix.ValueKind == JsonValueKind.Number ? ix.GetInt32() : seen;
            if ((uint)index < (uint)n && choices[index].ValueKind == JsonValueKind.Undefined)
            {
                choices[index] = c;
                seen++;
            }
        }

        if (seen != n)
        {
            throw new JsonException($"The response has {seen} usable choices where {n} were asked for.");
        }

        return choices;
    }

    private static string? FinishReason(JsonElement choice) =>
        choice.TryGetProperty("finish_reason"u8, out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;

    private static (int? Input, int? Output, int Cached, int Reasoning) Usage(JsonElement root)
    {
        if (!root.TryGetProperty("usage"u8, out var u) || u.ValueKind != JsonValueKind.Object)
        {
            return (null, null, 0, 0);
        }

        int? input = u.TryGetProperty("prompt_tokens"u8, out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : null;
        int? output = u.TryGetProperty("completion_tokens"u8, out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : null;
        int cached = u.TryGetProperty("prompt_tokens_details"u8, out var pd) && pd.ValueKind == JsonValueKind.Object
            && pd.TryGetProperty("cached_tokens"u8, out var ct) && ct.ValueKind == JsonValueKind.Number ? ct.GetInt32() : 0;
        int reasoning = u.TryGetProperty("completion_tokens_details"u8, out var cd) && cd.ValueKind == JsonValueKind.Object
            && cd.TryGetProperty("reasoning_tokens"u8, out var rt) && rt.ValueKind == JsonValueKind.Number ? rt.GetInt32() : 0;
        return (input, output, cached, reasoning);
    }

    private static Dictionary<string, string> ProviderData(JsonElement root, string? finish, int reasoning, string? requestId, string? batchId)
    {
        var data = new Dictionary<string, string>(4, StringComparer.Ordinal);
        AddString(data, root, "id"u8, "id");
        AddString(data, root, "model"u8, "model");
        AddString(data, root, "system_fingerprint"u8, "system_fingerprint");
        if (requestId is not null)
        {
            data["request_id"] = requestId;
        }

        if (batchId is not null)
        {
            data["batch_id"] = batchId;
        }

        if (finish == "content_filter")
        {
            data["content_filter"] = "true";
        }

        if (reasoning > 0)
        {
            data["reasoning_tokens"] = reasoning.ToString(CultureInfo.InvariantCulture);
        }

        return data;
    }

    private static void AddString(Dictionary<string, string> data, JsonElement root, ReadOnlySpan<byte> property, string name)
    {
        if (root.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String)
        {
            data[name] = v.GetString()!;
        }
    }
}
