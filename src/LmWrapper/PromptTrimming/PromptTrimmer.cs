namespace LmWrapper.PromptTrimming;

/// <summary>
/// Shortens prompt text to fit a budget (the Python original's <c>PromptTrimmer</c>). By default the beginning is cut and
/// the end kept, since the end of a long prompt (the latest context, the question) is what the model must see.
/// </summary>
public abstract class PromptTrimmer
{
    /// <summary>The text, shortened to fit the budget (unchanged when it already fits).</summary>
    /// <param name="text">The text to trim.</param>
    public abstract string TrimText(string text);

    /// <summary>
    /// The pieces that fit the budget, joined, never splitting a piece: as many whole pieces as fit are kept, counted
    /// from the side that is kept (the end, by default). Pieces are lines, paragraphs or documents.
    /// </summary>
    /// <param name="pieces">The pieces, in order.</param>
    public abstract string TrimText(IReadOnlyList<string> pieces);

    /// <summary>
    /// The text's whole lines that fit the budget (the Python original's <c>trim_text_line_level</c>): a line is kept
    /// entirely or not at all.
    /// </summary>
    /// <param name="text">The text to trim.</param>
    public string TrimTextLineLevel(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split('\n');
        var pieces = new string[lines.Length];
        for (int i = 0; i < lines.Length; i++)
        {
            pieces[i] = i < lines.Length - 1 ? lines[i] + "\n" : lines[i];
        }

        return TrimText(pieces);
    }

    /// <summary>Keeps the longest run of whole pieces, from the kept side, whose total size is within <paramref name="limit"/>.</summary>
    /// <param name="pieces">The pieces.</param>
    /// <param name="limit">The budget.</param>
    /// <param name="size">The size of one piece.</param>
    /// <param name="side">The side that is cut.</param>
    private protected static string KeepWholePieces(IReadOnlyList<string> pieces, long limit, Func<string, long> size, TrimSide side)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        long used = 0;
        int count = 0;
        for (; count < pieces.Count; count++)
        {
            var piece = pieces[side == TrimSide.Start ? pieces.Count - 1 - count : count]
                ?? throw new ArgumentException("A piece is null.", nameof(pieces));
            used += size(piece);
            if (used > limit)
            {
                break;
            }
        }

        return side == TrimSide.Start
            ? string.Concat(pieces.Skip(pieces.Count - count))
            : string.Concat(pieces.Take(count));
    }
}
