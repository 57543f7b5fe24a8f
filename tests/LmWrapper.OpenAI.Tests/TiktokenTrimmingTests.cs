using LmWrapper.PromptTrimming;

namespace LmWrapper.OpenAI.Tests;

public sealed class TiktokenTrimmingTests
{
    [Theory]
    [InlineData("o200k_base")]
    [InlineData("cl100k_base")]
    public void TokensJoinBackToTheTextAndCountAsTheModelCounts(string encoding)
    {
        var tokenizer = new TiktokenTrimmingTokenizer(encoding);
        const string text = "Héllo wörld! 東京は日本の首都です。 Emoji: 😀🎉 and code: for (int i = 0; i < n; i++) { }";
        var tokens = tokenizer.Tokenize(text);
        Assert.Equal(text, string.Concat(tokens));
        Assert.Equal(OpenAiTokenizers.Get(encoding).CountTokens(text), tokens.Count);
    }

    [Fact]
    public void TheEndOfALongPromptIsKeptWithinTheModelsTokenBudget()
    {
        var model = OpenAiModelRegistry.Get(OpenAiModelNames.Gpt4oMini);
        var tokenizer = TiktokenTrimmingTokenizer.ForModel(model);
        Assert.Equal(model.Encoding, tokenizer.Encoding);
        string document = string.Concat(Enumerable.Range(0, 400).Select(i => $"Line {i}: the quick brown fox jumps over the lazy dog.\n")) + "Question: what did the fox do?";
        var trimmer = new TokenPromptTrimmer(50, tokenizer);
        string trimmed = trimmer.TrimText(document);

        Assert.EndsWith("Question: what did the fox do?", trimmed, StringComparison.Ordinal);
        Assert.EndsWith(trimmed, document, StringComparison.Ordinal);
        int count = OpenAiTokenizers.Get(model.Encoding).CountTokens(trimmed);
        Assert.InRange(count, 48, 51); // re-tokenizing the cut text may merge or split at the new start by a token
        Assert.Equal(document, new TokenPromptTrimmer(100_000, tokenizer).TrimText(document));

        // Whole lines only, within the budget.
        string lines = trimmer.TrimTextLineLevel(document);
        Assert.StartsWith("Line ", lines, StringComparison.Ordinal);
        Assert.InRange(OpenAiTokenizers.Get(model.Encoding).CountTokens(lines), 30, 50);
        Assert.Throws<ArgumentException>(() => new TiktokenTrimmingTokenizer("p50k_base"));
    }
}
