using System.Text;

namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// Turns one sample's tokens, as they are generated, into streaming updates that never show text the final prediction
/// cuts: the text from the earliest point where a stop sequence occurs, or could still begin (a tail of the text that is
/// the start of a stop sequence), is held back until later tokens rule it out. Whatever the final prediction keeps that
/// was held back comes with the last update. With <c>holdAll</c> (a forced tool call, whose JSON becomes tool calls rather
/// than text) nothing is sent before the last update.
/// </summary>
internal sealed class StreamHoldBack(int sample, IReadOnlyList<string>? stops, bool withLogprobs, bool holdAll = false)
{
    private readonly StringBuilder _text = new();
    private readonly List<(string Piece, double Logprob, int End)> _tokens = [];
    private int _emitted;
    private int _tokensGiven;

    /// <summary>Takes the next token; returns the update it releases, or null when everything new is held back.</summary>
    public LmStreamingUpdate? Add(string piece, double logprob)
    {
        _text.Append(piece);
        _tokens.Add((piece, logprob, _text.Length));
        return Release(SafeLength());
    }

    /// <summary>The last update of the sample: what the final prediction keeps that was not sent yet, and the prediction.</summary>
    public LmStreamingUpdate Finish(LmPrediction final)
    {
        string rest = final.CompletionText.Length > _emitted ? final.CompletionText[_emitted..] : string.Empty;
        var tokens = final.CompletionTokens.Skip(_tokensGiven).ToList();
        var logprobs = final.HasCompletionLogprobs ? final.CompletionLogprobs.Skip(_tokensGiven).ToList() : null;
        return new LmStreamingUpdate
        {
            SampleIndex = sample,
            Text = rest,
            Tokens = tokens,
            Logprobs = withLogprobs ? logprobs : null,
            Prediction = final,
        };
    }

    /// <summary>
    /// How much of the text is certain to stay: up to the first occurrence of any stop sequence, and short of the longest
    /// tail of the text that begins a stop sequence.
    /// </summary>
    internal int SafeLength()
    {
        int safe = holdAll ? 0 : _text.Length;
        if (stops is null || holdAll)
        {
            return safe;
        }

        string text = _text.ToString();
        foreach (string stop in stops)
        {
            if (stop.Length == 0)
            {
                continue;
            }

            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0)
            {
                safe = Math.Min(safe, at);
                continue;
            }

            for (int k = Math.Min(stop.Length - 1, text.Length); k > 0; k--)
            {
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                {
                    safe = Math.Min(safe, text.Length - k);
                    break;
                }
            }
        }

        return safe;
    }

    private LmStreamingUpdate? Release(int safe)
    {
        string text = safe > _emitted ? _text.ToString(_emitted, safe - _emitted) : string.Empty;
        _emitted = Math.Max(_emitted, safe);
        List<string>? tokens = null;
        List<double>? logprobs = null;
        while (_tokensGiven < _tokens.Count && _tokens[_tokensGiven].End <= _emitted)
        {
            (tokens ??= []).Add(_tokens[_tokensGiven].Piece);
            (logprobs ??= []).Add(_tokens[_tokensGiven].Logprob);
            _tokensGiven++;
        }

        return text.Length == 0 && tokens is null
            ? null
            : new LmStreamingUpdate { SampleIndex = sample, Text = text, Tokens = tokens, Logprobs = withLogprobs ? logprobs : null };
    }
}
