using LmWrapper.HuggingFace.Tokenization;

namespace LmWrapper.HuggingFace.Tests.Tokenization;

/// <summary>Our normalization tables against Python's unicodedata (expected values computed there).</summary>
public class UnicodeNormalizationTests
{
    public static TheoryData<string, string, string, string, string> Cases() => new()
    {
        // input, NFC, NFD, NFKC, NFKD
        { "e\u0301", "\u00e9", "e\u0301", "\u00e9", "e\u0301" },
        { "caf\u00e9", "caf\u00e9", "cafe\u0301", "caf\u00e9", "cafe\u0301" },
        { "A\u030a", "\u00c5", "A\u030a", "\u00c5", "A\u030a" },
        { "\u212b", "\u00c5", "A\u030a", "\u00c5", "A\u030a" },
        { "\u1e9b\u0323", "\u1e9b\u0323", "\u017f\u0323\u0307", "\u1e69", "s\u0323\u0307" },
        { "\ufb01\u2460\u00bd", "\ufb01\u2460\u00bd", "\ufb01\u2460\u00bd", "fi11\u20442", "fi11\u20442" },
        { "\ud55c\uad6d\uc5b4", "\ud55c\uad6d\uc5b4", "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165", "\ud55c\uad6d\uc5b4", "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165" },
        { "\u1100\u1161\u11a8", "\uac01", "\u1100\u1161\u11a8", "\uac01", "\u1100\u1161\u11a8" },
        { "\u00c5\u0301\u0323", "\u1ea0\u030a\u0301", "A\u0323\u030a\u0301", "\u1ea0\u030a\u0301", "A\u0323\u030a\u0301" },
        { "q\u0307\u0323", "q\u0323\u0307", "q\u0323\u0307", "q\u0323\u0307", "q\u0323\u0307" },
        { "\u0958", "\u0915\u093c", "\u0915\u093c", "\u0915\u093c", "\u0915\u093c" },
        { "x\u0345\u0301", "x\u0301\u0345", "x\u0301\u0345", "x\u0301\u0345", "x\u0301\u0345" },
        { "\U0001d400\U0001d7d8", "\U0001d400\U0001d7d8", "\U0001d400\U0001d7d8", "A0", "A0" },
        { "\uff76\uff9e", "\uff76\uff9e", "\uff76\uff9e", "\u30ac", "\u30ab\u3099" },
        { "\u00c5\u0328", "\u0104\u030a", "A\u0328\u030a", "\u0104\u030a", "A\u0328\u030a" },
        { "a\u0328\u0301\u0300b", "\u0105\u0301\u0300b", "a\u0328\u0301\u0300b", "\u0105\u0301\u0300b", "a\u0328\u0301\u0300b" },
        { "\u0b47\u0b3e", "\u0b4b", "\u0b47\u0b3e", "\u0b4b", "\u0b47\u0b3e" },
        { "\u01c4", "\u01c4", "\u01c4", "D\u017d", "DZ\u030c" },
        { "e\u0301\u0301", "\u00e9\u0301", "e\u0301\u0301", "\u00e9\u0301", "e\u0301\u0301" },
        { "\U0001f600e\u0301", "\U0001f600\u00e9", "\U0001f600e\u0301", "\U0001f600\u00e9", "\U0001f600e\u0301" },
        { "plain ASCII stays", "plain ASCII stays", "plain ASCII stays", "plain ASCII stays", "plain ASCII stays" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void All_four_forms_match_python_unicodedata(string input, string nfc, string nfd, string nfkc, string nfkd)
    {
        Assert.Equal(nfc, UnicodeNormalization.Normalize(input, UnicodeForm.Nfc));
        Assert.Equal(nfd, UnicodeNormalization.Normalize(input, UnicodeForm.Nfd));
        Assert.Equal(nfkc, UnicodeNormalization.Normalize(input, UnicodeForm.Nfkc));
        Assert.Equal(nfkd, UnicodeNormalization.Normalize(input, UnicodeForm.Nfkd));
    }

    [Fact]
    public void Qwen3_nfc_normalizer_makes_decomposed_and_composed_text_encode_alike()
    {
        var qwen = Fixtures.Tokenizer("qwen3");
        Assert.Equal(qwen.Encode("caf\u00e9 r\u00e9sum\u00e9"), qwen.Encode("cafe\u0301 re\u0301sume\u0301"));

        // GPT-2 has no normalizer: the decomposed form is different bytes, so different ids.
        var gpt2 = Fixtures.Tokenizer("gpt2");
        Assert.NotEqual(gpt2.Encode("caf\u00e9"), gpt2.Encode("cafe\u0301"));
    }

    [Fact]
    public void Normalized_offsets_point_back_into_the_original_text()
    {
        var qwen = Fixtures.Tokenizer("qwen3");
        string text = "cafe\u0301 ok";
        var e = qwen.EncodeWithOffsets(text);
        Assert.Equal(qwen.Encode(text), e.Ids);
        Assert.Equal(text.Length, e.Offsets[^1].End);
        Assert.All(e.Offsets, o => Assert.InRange(o.End, o.Start, text.Length));
    }
}
