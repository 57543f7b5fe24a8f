using LmWrapper.PromptTrimming;

namespace LmWrapper.OpenAI;

/// <summary>
/// A tiktoken encoding as an <see cref="ITrimmingTokenizer"/> (the Python original's <c>TikTokenTrimmingTokenizer</c>), so a
/// <see cref="TokenPromptTrimmer"/> counts tokens exactly as an OpenAI model does:
/// <c>new TokenPromptTrimmer(1000, TiktokenTrimmingTokenizer.ForModel(OpenAiModelNames.Gpt4oMini))</c>.
/// </summary>
public sealed class TiktokenTrimmingTokenizer : ITrimmingTokenizer
{
    /// <summary>Creates the tokenizer for a tiktoken encoding.</summary>
    /// <param name="encoding">"o200k_base" (GPT-4o and later, the default) or "cl100k_base" (GPT-4, GPT-3.5).</param>
    /// <exception cref="ArgumentException">The encoding is not one of those.</exception>
    public TiktokenTrimmingTokenizer(string encoding = "o200k_base")
    {
        OpenAiTokenizers.CheckKnown(encoding);
        Encoding = encoding;
    }

    /// <summary>The tiktoken encoding.</summary>
    public string Encoding { get; }

    /// <summary>The tokenizer of an OpenAI model (its <see cref="OpenAiModelInfo.Encoding"/>).</summary>
    /// <param name="model">The model.</param>
    public static TiktokenTrimmingTokenizer ForModel(OpenAiModelInfo model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new TiktokenTrimmingTokenizer(model.Encoding);
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = OpenAiTokenizers.Get(Encoding).EncodeToTokens(text, out _);

        // Each token is the text from its start to the next token's start, so the pieces join back to the text exactly,
        // even where a token is only some bytes of a character (it then comes out empty, and still counts).
        var pieces = new string[tokens.Count];
        int start = 0;
        for (int i = 0; i < tokens.Count; i++)
        {
            int next = i + 1 < tokens.Count ? Math.Clamp(tokens[i + 1].Offset.Start.GetOffset(text.Length), start, text.Length) : text.Length;
            pieces[i] = text[start..next];
            start = next;
        }

        return pieces;
    }
}
