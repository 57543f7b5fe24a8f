using System.Text;
using System.Text.RegularExpressions;
using LmWrapper.HuggingFace.Tokenization;

namespace LmWrapper.HuggingFace.Tests.Tokenization;

/// <summary>The hand-written split matchers against .NET's regex engine (exact on BMP text), and the regex translator.</summary>
public class PatternTests
{
    private static readonly string Pool =
        "aAbzZ  éÉßñЖж中文字ひらがなカタカナ한국" + "0123456789٣²Ⅻ½" + "\t\n\r\u00a0\u3000\u2028\u000b\u000c\u0085" +
        ".,;:!?-_()[]{}<>/\\@#$%^&*+=|~`\"'''" + "ststredvellmdSTREVELLMD" + "\u0301\u0308\u200d";

    private static string RandomText(Random random, int length)
    {
        var sb = new StringBuilder(length);
        for (int i = 0; i < length; i++)
        {
            sb.Append(Pool[random.Next(Pool.Length)]);
        }

        return sb.ToString();
    }

    private static List<(int, int)> Matches(TextPattern pattern, string text)
    {
        var list = new List<(int Start, int End)>();
        pattern.FindMatches(text, list);
        return list.Select(m => (m.Start, m.End)).ToList();
    }

    private static List<(int, int)> RegexMatches(string pattern, string text) =>
        Regex.Matches(text, pattern, RegexOptions.CultureInvariant).Select(m => (m.Index, m.Index + m.Length)).ToList();

    [Theory]
    [InlineData(Gpt2Pattern.Source)]
    [InlineData(Llama3Pattern.Llama3Source)]
    [InlineData(Llama3Pattern.QwenSource)]
    public void Hand_written_matchers_agree_with_the_regex_on_random_text(string source)
    {
        var pattern = TextPattern.FromRegex(source, "test");
        Assert.IsNotType<DotNetRegexPattern>(pattern);
        var random = new Random(1234);
        for (int i = 0; i < 3000; i++)
        {
            string text = RandomText(random, random.Next(0, 40));
            Assert.Equal(RegexMatches(source, text), Matches(pattern, text));
        }
    }

    [Fact]
    public void Code_points_outside_the_bmp_are_classified_like_oniguruma()
    {
        // U+20000 is a CJK letter (Lo) and U+1D7D8 a digit (Nd): one code point each, unlike .NET's surrogates.
        var llama3 = TextPattern.FromRegex(Llama3Pattern.Llama3Source, "test");
        string text = " \U00020000\U00020001 \U0001d7d8\U0001d7d9\U0001d7da\U0001d7db";
        var m = Matches(llama3, text);
        Assert.Equal([(0, 5), (5, 6), (6, 12), (12, 14)], m);

        // The generic .NET path uses stand-ins for such code points and agrees.
        var generic = new DotNetRegexPattern(Llama3Pattern.Llama3Source + "|(?!)", "test");
        Assert.Equal(m, Matches(generic, text));
    }

    [Fact]
    public void Llama3_contractions_are_case_insensitive_and_gpt2_ones_are_not()
    {
        var llama3 = TextPattern.FromRegex(Llama3Pattern.Llama3Source, "test");
        Assert.Equal([(0, 1), (1, 4), (4, 7)], Matches(llama3, "I'LL'Ve"));
        Assert.Equal([(0, 1), (1, 3)], Matches(llama3, "I\u2019s".Replace('\u2019', '\'')));
        Assert.Equal([(0, 2)], Matches(llama3, "'\u017f")); // long s folds to s

        var gpt2 = Gpt2Pattern.Instance;
        Assert.Equal([(0, 1), (1, 2), (2, 4)], Matches(gpt2, "I'LL"));
    }

    [Fact]
    public void Possessive_quantifiers_become_atomic_groups()
    {
        Assert.Equal(@"(?>a*)b", RegexTranslator.Translate("a*+b", "test"));
        Assert.Equal(@"(?>[a-z]+)x", RegexTranslator.Translate("[a-z]++x", "test"));
        Assert.Equal(@"(?>(ab)?)c", RegexTranslator.Translate("(ab)?+c", "test"));
        Assert.Equal(@"(?>\p{L}{1,3})", RegexTranslator.Translate(@"\p{L}{1,3}+", "test"));

        // Atomic: "a*+a" can never match, unlike "a*a".
        var pattern = new DotNetRegexPattern("a*+a", "test");
        Assert.Empty(Matches(pattern, "aaaa"));
    }

    [Fact]
    public void Word_class_includes_all_marks_as_in_oniguruma()
    {
        var pattern = new DotNetRegexPattern(@"\w+", "test");
        // U+0903 (Devanagari visarga) is a spacing mark (Mc): a word char for Oniguruma, not for .NET's \w.
        Assert.Equal([(0, 3)], Matches(pattern, "क\u0903क"));
    }

    [Theory]
    [InlineData(@"a(?~b)", "group kind")]
    [InlineData(@"[a-z&&[^aeiou]]", "nested or intersected")]
    [InlineData(@"\X", @"\X")]
    [InlineData(@"[\W]", @"\W inside a character class")]
    [InlineData("[a-z\U00010400-\U0001044F]+", "outside the BMP")]
    [InlineData(@"\x{10400}", "cannot translate")]
    public void Untranslatable_regexes_are_rejected_with_a_clear_message(string pattern, string expected)
    {
        var e = Assert.Throws<NotSupportedException>(() => new DotNetRegexPattern(pattern, "Split pre_tokenizer"));
        Assert.Contains(expected, e.Message);
        Assert.Contains("Split pre_tokenizer", e.Message);
    }

    [Theory]
    [InlineData("Removed", new[] { "the", "final", "countdown" })]
    [InlineData("Isolated", new[] { "the", "-", "final", "-", "-", "countdown" })]
    [InlineData("MergedWithPrevious", new[] { "the-", "final-", "-", "countdown" })]
    [InlineData("MergedWithNext", new[] { "the", "-final", "-", "-countdown" })]
    [InlineData("Contiguous", new[] { "the", "-", "final", "--", "countdown" })]
    public void Split_behaviours_match_hugging_face_documentation(string behavior, string[] expected)
    {
        var source = new NormalizedString("the-final--countdown", null, null, true);
        var output = new List<TextSplit>();
        PreTokenizer.SplitBy(new TextSplit(source, 0, source.Length), new LiteralPattern("-"), PreTokenizer.ParseBehavior(behavior), false, output, new());
        Assert.Equal(expected, output.Select(s => s.Span.ToString()).ToArray());
    }

    [Fact]
    public void Inverted_split_swaps_matches_and_gaps()
    {
        var source = new NormalizedString("Hello, world!", null, null, true);
        var output = new List<TextSplit>();
        // Keep only the matches (Whitespace pre-tokenizer style): \w+|[^\w\s]+ with Removed + invert.
        PreTokenizer.SplitBy(new TextSplit(source, 0, source.Length), new DotNetRegexPattern(@"\w+|[^\w\s]+", "test"), SplitBehavior.Removed, true, output, new());
        Assert.Equal(["Hello", ",", "world", "!"], output.Select(s => s.Span.ToString()).ToArray());
    }
}
