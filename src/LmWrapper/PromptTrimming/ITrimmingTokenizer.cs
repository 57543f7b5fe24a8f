namespace LmWrapper.PromptTrimming;

/// <summary>
/// Splits text into tokens for a <see cref="TokenPromptTrimmer"/> (the Python original's <c>TrimmingTokenizer</c>).
/// </summary>
public interface ITrimmingTokenizer
{
    /// <summary>
    /// The text's tokens as strings that, joined, give back the text exactly (a token that is only part of a character
    /// may be an empty string; it still counts as a token).
    /// </summary>
    /// <param name="text">The text.</param>
    IReadOnlyList<string> Tokenize(string text);
}
