namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// The text of generated tokens, in context. A model may have more embedding rows than its tokenizer has ids (padded
/// vocabularies are common): such ids decode to nothing, as Hugging Face's decode drops them, rather than failing.
/// </summary>
internal sealed class TokenText(HuggingFaceTokenizer tokenizer)
{
    /// <summary>The text <paramref name="id"/> adds after <paramref name="context"/> ("" for ids the tokenizer lacks).</summary>
    public string Next(IReadOnlyList<int> context, int id, bool skipSpecialTokens)
    {
        if (!Known(id))
        {
            return string.Empty;
        }

        // DecodeNext looks at the last few ids only; keep the last known ones.
        var recent = new List<int>(9);
        for (int i = context.Count - 1; i >= 0 && recent.Count < 8; i--)
        {
            if (Known(context[i]))
            {
                recent.Add(context[i]);
            }
        }

        recent.Reverse();
        return tokenizer.DecodeNext(recent, id, skipSpecialTokens);
    }

    /// <summary>A label for an alternative token: its text in context, else its vocabulary string, else its id.</summary>
    public string Label(IReadOnlyList<int> context, int id)
    {
        string text = Next(context, id, skipSpecialTokens: false);
        return text.Length > 0 ? text : tokenizer.IdToToken(id) ?? $"<id {id}>";
    }

    private bool Known(int id) => (uint)id < (uint)tokenizer.IdLimit && tokenizer.IdToToken(id) is not null;
}
