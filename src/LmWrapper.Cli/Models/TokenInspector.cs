using LmWrapper.HuggingFace;
using LmWrapper.OpenAI;
using Microsoft.ML.Tokenizers;

namespace LmWrapper.Cli.Models;

/// <summary>A text's tokens for one model: the count, and the ids and token strings where the model's tokenizer is local.</summary>
internal static class TokenInspector
{
    /// <summary>Tokenizes <paramref name="text"/> as <paramref name="lm"/> would (no chat formatting, no special tokens).</summary>
    /// <param name="lm">The model.</param>
    /// <param name="text">The text.</param>
    /// <returns>The count, and the ids and strings, or null ids for a model whose tokenizer only counts (Claude, mock).</returns>
    public static (int Count, IReadOnlyList<int>? Ids, IReadOnlyList<string>? Tokens) Inspect(LanguageModel lm, string text)
    {
        ArgumentNullException.ThrowIfNull(lm);
        ArgumentNullException.ThrowIfNull(text);
        switch (lm)
        {
            case OpenAiLm openAi:
                var tiktoken = TiktokenTokenizer.CreateForEncoding(openAi.Info.Encoding);
                var encoded = tiktoken.EncodeToTokens(text, out _);
                return (encoded.Count, [.. encoded.Select(t => t.Id)], [.. encoded.Select(t => t.Value)]);
            case HuggingFaceLm hf:
                int[] ids = hf.Tokenizer.Encode(text);
                return (ids.Length, ids, [.. ids.Select(id => hf.Tokenizer.IdToToken(id) ?? string.Empty)]);
            default:
                return (lm.EstimateTokensInPrompt(new LmPrompt(text)), null, null);
        }
    }
}
