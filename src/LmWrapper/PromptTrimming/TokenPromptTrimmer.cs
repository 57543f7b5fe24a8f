namespace LmWrapper.PromptTrimming;

/// <summary>
/// Trims text to a number of tokens of a given tokenizer (the Python original's <c>GenericTokenTrimmer</c>): by default
/// the last <see cref="TokenLimit"/> tokens are kept, which keeps the end of a long prompt within a token budget. Use it
/// with <c>TiktokenTrimmingTokenizer</c> (LmWrapper.OpenAI) or any tokenizer, given as an
/// <see cref="ITrimmingTokenizer"/> or a function.
/// </summary>
public sealed class TokenPromptTrimmer : PromptTrimmer
{
    private readonly Func<string, IReadOnlyList<string>> _tokenize;

    /// <summary>Creates the trimmer.</summary>
    /// <param name="tokenLimit">The most tokens the trimmed text may have (0 or more).</param>
    /// <param name="tokenizer">Splits text into tokens.</param>
    /// <param name="side">The side that is cut (default: the beginning).</param>
    public TokenPromptTrimmer(int tokenLimit, ITrimmingTokenizer tokenizer, TrimSide side = TrimSide.Start)
        : this(tokenLimit, (tokenizer ?? throw new ArgumentNullException(nameof(tokenizer))).Tokenize, side)
    {
    }

    /// <summary>Creates the trimmer from a tokenizing function.</summary>
    /// <param name="tokenLimit">The most tokens the trimmed text may have (0 or more).</param>
    /// <param name="tokenize">The text's tokens as strings that, joined, give back the text (see <see cref="ITrimmingTokenizer.Tokenize"/>).</param>
    /// <param name="side">The side that is cut (default: the beginning).</param>
    public TokenPromptTrimmer(int tokenLimit, Func<string, IReadOnlyList<string>> tokenize, TrimSide side = TrimSide.Start)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokenLimit);
        ArgumentNullException.ThrowIfNull(tokenize);
        TokenLimit = tokenLimit;
        _tokenize = tokenize;
        Side = side;
    }

    /// <summary>The most tokens the trimmed text may have.</summary>
    public int TokenLimit { get; }

    /// <summary>The side that is cut.</summary>
    public TrimSide Side { get; }

    /// <summary>How many tokens <paramref name="text"/> has for this trimmer's tokenizer.</summary>
    /// <param name="text">The text.</param>
    public int CountTokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _tokenize(text).Count;
    }

    /// <inheritdoc/>
    public override string TrimText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = _tokenize(text);
        if (tokens.Count <= TokenLimit)
        {
            return text;
        }

        return Side == TrimSide.Start
            ? string.Concat(tokens.Skip(tokens.Count - TokenLimit))
            : string.Concat(tokens.Take(TokenLimit));
    }

    /// <inheritdoc/>
    public override string TrimText(IReadOnlyList<string> pieces) => KeepWholePieces(pieces, TokenLimit, p => _tokenize(p).Count, Side);
}
