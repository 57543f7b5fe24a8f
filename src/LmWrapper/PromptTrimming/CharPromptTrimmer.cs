namespace LmWrapper.PromptTrimming;

/// <summary>
/// Trims text to a number of characters (UTF-16 code units, never splitting a surrogate pair), as the Python original's
/// <c>CharPromptTrimmer</c>: by default the last <see cref="CharLimit"/> characters are kept.
/// </summary>
public sealed class CharPromptTrimmer : PromptTrimmer
{
    /// <summary>Creates the trimmer.</summary>
    /// <param name="charLimit">The most characters the trimmed text may have (0 or more).</param>
    /// <param name="side">The side that is cut (default: the beginning).</param>
    public CharPromptTrimmer(int charLimit, TrimSide side = TrimSide.Start)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(charLimit);
        CharLimit = charLimit;
        Side = side;
    }

    /// <summary>The most characters the trimmed text may have.</summary>
    public int CharLimit { get; }

    /// <summary>The side that is cut.</summary>
    public TrimSide Side { get; }

    /// <inheritdoc/>
    public override string TrimText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length <= CharLimit)
        {
            return text;
        }

        if (Side == TrimSide.Start)
        {
            int start = text.Length - CharLimit;
            if (start < text.Length && char.IsLowSurrogate(text[start]) && char.IsHighSurrogate(text[start - 1]))
            {
                start++; // half a character is no character: keep one fewer
            }

            return text[start..];
        }

        int end = CharLimit;
        if (end > 0 && char.IsHighSurrogate(text[end - 1]) && char.IsLowSurrogate(text[end]))
        {
            end--;
        }

        return text[..end];
    }

    /// <inheritdoc/>
    public override string TrimText(IReadOnlyList<string> pieces) => KeepWholePieces(pieces, CharLimit, p => p.Length, Side);
}
