using LmWrapper.PromptTrimming;

namespace LmWrapper.HuggingFace;

/// <summary>
/// A Hugging Face tokenizer as a <see cref="TokenPromptTrimmer"/>'s tokenizer: the text's tokens (no special tokens
/// added) as the pieces of the text they came from, so that trimming a local model's prompt to a token budget counts
/// the model's own tokens.
/// </summary>
/// <param name="tokenizer">The tokenizer (for example <see cref="HuggingFaceLm.Tokenizer"/>).</param>
public sealed class HuggingFaceTrimmingTokenizer(HuggingFaceTokenizer tokenizer) : ITrimmingTokenizer
{
    private readonly HuggingFaceTokenizer _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));

    /// <inheritdoc/>
    public IReadOnlyList<string> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var offsets = _tokenizer.EncodeWithOffsets(text).Offsets;

        // Each token is the text from its start to the next token's start, so the pieces join back to the text exactly
        // (a token that is only some bytes of a character comes out empty, and still counts).
        var pieces = new string[offsets.Count];
        int start = 0;
        for (int i = 0; i < offsets.Count; i++)
        {
            int next = i + 1 < offsets.Count ? Math.Clamp(offsets[i + 1].Start, start, text.Length) : text.Length;
            pieces[i] = text[start..next];
            start = next;
        }

        return pieces;
    }
}
