namespace LmWrapper.HuggingFace;

/// <summary>
/// The result of <see cref="HuggingFaceTokenizer.EncodeWithOffsets"/>: token ids, their vocabulary
/// strings, and the range of the input text each token came from.
/// </summary>
public sealed class TokenizerEncoding
{
    internal TokenizerEncoding(int[] ids, string[] tokens, (int Start, int End)[] offsets, bool[] special)
    {
        Ids = ids;
        Tokens = tokens;
        Offsets = offsets;
        IsSpecial = special;
    }

    /// <summary>The token ids, as <see cref="HuggingFaceTokenizer.Encode"/> returns them.</summary>
    public IReadOnlyList<int> Ids { get; }

    /// <summary>Each token's string in the vocabulary (e.g. <c>"Ġworld"</c> for byte-level BPE, <c>"▁world"</c> for SentencePiece-style).</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>
    /// For each token, the [Start, End) range of UTF-16 chars in the input text it came from.
    /// Special tokens added by the post-processor get (0, 0); a token covering only part of a
    /// character (a byte of a multi-byte char) gets the whole character's range.
    /// </summary>
    public IReadOnlyList<(int Start, int End)> Offsets { get; }

    /// <summary>For each token, whether it is a special token (added by the post-processor or marked special).</summary>
    public IReadOnlyList<bool> IsSpecial { get; }

    /// <summary>The number of tokens.</summary>
    public int Count => Ids.Count;
}
