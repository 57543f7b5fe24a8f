namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// Turns a generated sample into an <see cref="LmPrediction"/>: the text and tokens cut at a stop sequence as the
/// Python lmwrapper cuts them, logprobs and alternatives, and the echoed prompt.
/// </summary>
internal static class PredictionBuilder
{
    public static LmPrediction Build(LmPrompt prompt, PromptEncoding encoding, GenerationResult result, GeneratedSample sample, HuggingFaceTokenizer tokenizer, TokenText tokenText)
    {
        var pieces = sample.Pieces;
        var offsets = new int[pieces.Count];
        int length = 0;
        for (int i = 0; i < pieces.Count; i++)
        {
            offsets[i] = length;
            length += pieces[i].Length;
        }

        string text = string.Concat(pieces);
        int keep = pieces.Count;
        string finish = sample.FinishReason;
        if (Cut(text, offsets, prompt.Stop) is (int at, int kept))
        {
            text = text[..at];
            keep = kept;
            finish = "stop";
        }

        // Tools: a forced call's JSON, or the <tool_call> blocks of free text, become the prediction's tool calls.
        List<LmToolCall>? calls = null;
        if (finish != "length" && LocalToolCalls.Extract(prompt, text) is ({ } found, string rest))
        {
            calls = found;
            text = rest;
            finish = "tool_calls";
        }

        List<IReadOnlyDictionary<string, double>>? top = null;
        if (prompt.Logprobs > 1 && sample.Top is { } alternatives)
        {
            top = new List<IReadOnlyDictionary<string, double>>(keep);
            var context = new List<int>(encoding.Ids);
            for (int i = 0; i < keep; i++)
            {
                var map = new Dictionary<string, double>(StringComparer.Ordinal);
                foreach (var (id, lp) in alternatives[i])
                {
                    map.TryAdd(tokenText.Label(context, id), lp);
                }

                top.Add(map);
                context.Add(sample.Tokens[i]);
            }
        }

        int skip = encoding.HasBos ? 1 : 0;
        string[]? promptTokens = null;
        double?[]? promptLogprobs = null;
        int[]? promptOffsets = null;
        if (prompt.Echo && result.PromptLogprobs is { } lps)
        {
            var ids = encoding.Ids;
            var decoded = tokenizer.DecodeEachToken(ids.AsSpan(skip).ToArray());
            promptTokens = decoded;
            promptLogprobs = lps.AsSpan(skip).ToArray();
            promptOffsets = encoding.Starts.AsSpan(skip).ToArray();
        }

        return new LmPrediction
        {
            CompletionText = text,
            Prompt = prompt,
            FinishReason = finish,
            CompletionTokens = pieces.GetRange(0, keep),
            CompletionTokenOffsets = offsets.AsSpan(0, keep).ToArray(),
            CompletionLogprobs = prompt.Logprobs > 0 ? sample.Logprobs.GetRange(0, keep) : null!,
            TopTokenLogprobs = top!,
            PromptTokens = promptTokens!,
            PromptLogprobs = promptLogprobs!,
            PromptTokenOffsets = promptOffsets!,
            Usage = new LmUsage(encoding.Ids.Length, sample.Tokens.Count + (sample.EndedWithEos ? 1 : 0), 0),
            Internals = sample.Internals,
            ToolCalls = calls!,
        };
    }

    /// <summary>
    /// Where a stop sequence cuts the completion: the longest stop that occurs wins, cut at its first occurrence; the
    /// tokens kept are those that start before the cut (so a token the stop begins inside is kept, with its logprob,
    /// and one the stop begins exactly at is dropped). Null when no stop occurs.
    /// </summary>
    internal static (int At, int Kept)? Cut(string text, IReadOnlyList<int> offsets, IReadOnlyList<string>? stops)
    {
        if (stops is null || stops.Count == 0)
        {
            return null;
        }

        foreach (var stop in stops.OrderByDescending(s => s.Length))
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at < 0)
            {
                continue;
            }

            int kept = 0;
            while (kept < offsets.Count && offsets[kept] < at)
            {
                kept++;
            }

            return (at, kept);
        }

        return null;
    }
}
