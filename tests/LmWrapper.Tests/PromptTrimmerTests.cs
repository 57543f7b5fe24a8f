using LmWrapper.PromptTrimming;

namespace LmWrapper.Tests;

public class PromptTrimmerTests
{
    // Whitespace-separated words, each with its leading whitespace, join back to the text (as MockLm counts tokens).
    private static IReadOnlyList<string> Words(string text) =>
        [.. System.Text.RegularExpressions.Regex.Matches(text, @"\s*\S+|\s+$").Select(m => m.Value)];

    [Fact]
    public void CharTrimmerKeepsTheEndAsInThePythonOriginal()
    {
        // The Python original's own tests.
        Assert.Equal("xyz", new CharPromptTrimmer(3).TrimText("abcdefghijklmnopqrstuvwxyz"));
        Assert.Equal("defghi", new CharPromptTrimmer(7).TrimText(["abc", "def", "ghi"]));
        Assert.Equal("ghib\nabc", new CharPromptTrimmer(10).TrimTextLineLevel("abc\ndef\nghib\nabc"));
    }

    [Fact]
    public void CharTrimmerCanKeepTheBeginningAndNeverSplitsACharacter()
    {
        Assert.Equal("abc", new CharPromptTrimmer(3, TrimSide.End).TrimText("abcdef"));
        Assert.Equal("abc\n", new CharPromptTrimmer(5, TrimSide.End).TrimTextLineLevel("abc\ndef\ngh"));
        Assert.Equal("short", new CharPromptTrimmer(50).TrimText("short"));
        Assert.Equal(string.Empty, new CharPromptTrimmer(0).TrimText("abc"));
        Assert.Equal(string.Empty, new CharPromptTrimmer(2).TrimText(["abc"])); // a piece is never split

        // "😀" is two UTF-16 code units: a limit that would cut it in half keeps one fewer.
        Assert.Equal("b", new CharPromptTrimmer(2).TrimText("a😀b"));
        Assert.Equal("😀b", new CharPromptTrimmer(3).TrimText("a😀b"));
        Assert.Equal("a", new CharPromptTrimmer(2, TrimSide.End).TrimText("a😀b"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CharPromptTrimmer(-1));
    }

    [Fact]
    public void TokenTrimmerKeepsTheLastTokensWithinTheBudget()
    {
        var trimmer = new TokenPromptTrimmer(3, Words);
        Assert.Equal(" four five six", trimmer.TrimText("one two three four five six"));
        Assert.Equal("one two", trimmer.TrimText("one two"));
        Assert.Equal(3, trimmer.CountTokens(trimmer.TrimText("a long prompt that will not fit in three tokens")));
        Assert.Equal("one two three", new TokenPromptTrimmer(3, Words, TrimSide.End).TrimText("one two three four five six"));

        // Whole lines only: "e" is 1 token and "c d\n" 3 more (a trailing newline is a token of Words), so a budget of 4
        // keeps both; the first line would make 7.
        Assert.Equal("c d\ne", new TokenPromptTrimmer(4, Words).TrimTextLineLevel("a b\nc d\ne"));
        Assert.Equal("e", trimmer.TrimTextLineLevel("a b\nc d\ne"));
    }

    [Fact]
    public void TokenTrimmerTakesAnyTokenizer()
    {
        var tokenizer = new LetterTokenizer();
        var trimmer = new TokenPromptTrimmer(4, tokenizer);
        Assert.Equal("wxyz", trimmer.TrimText("abcdefghijklmnopqrstuvwxyz"));
        Assert.Equal(1, tokenizer.Calls);
        Assert.Throws<ArgumentNullException>(() => new TokenPromptTrimmer(4, (ITrimmingTokenizer)null!));
    }

    private sealed class LetterTokenizer : ITrimmingTokenizer
    {
        public int Calls { get; private set; }

        public IReadOnlyList<string> Tokenize(string text)
        {
            Calls++;
            return [.. text.Select(c => c.ToString())];
        }
    }
}
