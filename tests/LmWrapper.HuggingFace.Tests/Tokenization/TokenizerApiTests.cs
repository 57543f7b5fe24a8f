using System.Text;

namespace LmWrapper.HuggingFace.Tests.Tokenization;

/// <summary>The public surface on the real fixture tokenizers: special tokens, offsets, streaming decode.</summary>
public class TokenizerApiTests
{
    [Theory]
    [InlineData("gpt2", 50257, "<|endoftext|>", 50256, "<|endoftext|>", 50256, null)]
    [InlineData("llama2", 32000, "<s>", 1, "</s>", 2, null)]
    [InlineData("llama2-meta", 32000, "<s>", 1, "</s>", 2, null)]
    [InlineData("llama3", 128256, "<|begin_of_text|>", 128000, "<|end_of_text|>", 128001, null)]
    [InlineData("qwen3", 151669, null, null, "<|im_end|>", 151645, 151643)]
    public void Special_tokens_and_vocabulary_size(string name, int vocabSize, string? bos, int? bosId, string? eos, int? eosId, int? padId)
    {
        var tok = Fixtures.Tokenizer(name);
        Assert.Equal(vocabSize, tok.VocabSize);
        Assert.Equal(bos, tok.BosToken);
        Assert.Equal(bosId, tok.BosTokenId);
        Assert.Equal(eos, tok.EosToken);
        Assert.Equal(eosId, tok.EosTokenId);
        Assert.Equal(padId, tok.PadTokenId);
    }

    [Fact]
    public void Token_strings_and_ids_round_trip()
    {
        var gpt2 = Fixtures.Tokenizer("gpt2");
        Assert.Equal("\u0120world", gpt2.IdToToken(995));
        Assert.Equal(995, gpt2.TokenToId("\u0120world"));
        Assert.Equal("<|endoftext|>", gpt2.IdToToken(50256));
        Assert.Null(gpt2.IdToToken(60000));
        Assert.Null(gpt2.TokenToId("no such token"));

        var qwen = Fixtures.Tokenizer("qwen3");
        Assert.Equal(151644, qwen.TokenToId("<|im_start|>"));
        Assert.True(qwen.IsSpecialToken(151644));
        Assert.Equal(151669, qwen.IdLimit);
    }

    [Fact]
    public void Byte_level_offsets_and_token_strings()
    {
        var gpt2 = Fixtures.Tokenizer("gpt2");
        var e = gpt2.EncodeWithOffsets("Hello world");
        Assert.Equal([15496, 995], e.Ids);
        Assert.Equal(["Hello", "\u0120world"], e.Tokens);
        Assert.Equal([(0, 5), (5, 11)], e.Offsets);

        // A multi-byte char split over several tokens: each gets the whole char's range.
        var emoji = gpt2.EncodeWithOffsets("a \U0001F600");
        Assert.Equal(gpt2.Encode("a \U0001F600"), emoji.Ids);
        Assert.All(emoji.Offsets.Skip(1), o => Assert.Equal(4, o.End));
    }

    [Fact]
    public void SentencePiece_style_offsets_and_special_tokens()
    {
        var llama = Fixtures.Tokenizer("llama2");
        var e = llama.EncodeWithOffsets("Hello world", addSpecialTokens: true);
        Assert.Equal([1, 22557, 1526], e.Ids);
        Assert.Equal(["<s>", "\u2581Hello", "\u2581world"], e.Tokens);
        Assert.Equal([(0, 0), (0, 5), (5, 11)], e.Offsets);
        Assert.Equal([true, false, false], e.IsSpecial);
    }

    [Fact]
    public void Special_token_text_in_the_input_becomes_the_special_token()
    {
        var qwen = Fixtures.Tokenizer("qwen3");
        var ids = qwen.Encode("<|im_start|>user\nhi<|im_end|>");
        Assert.Equal(151644, ids[0]);
        Assert.Equal(151645, ids[^1]);
        Assert.Equal("user\nhi", qwen.Decode(ids, skipSpecialTokens: true));

        var llama3 = Fixtures.Tokenizer("llama3");
        Assert.Equal([128000, 9906], llama3.Encode("<|begin_of_text|>Hello"));

        // Llama-2 style: special tokens are not normalized, and the text after one gets its own ▁.
        var llama2 = Fixtures.Tokenizer("llama2");
        Assert.Equal([1, 22557], llama2.Encode("<s>Hello"));
    }

    [Fact]
    public void Normalized_special_tokens_match_their_normalized_form()
    {
        // Meta's Llama-2 marks <s> as normalized, so it is matched as "▁<s>" in the normalized text
        // (Hugging Face's behaviour): after a space it is the special token, glued to a word it is not.
        var meta = Fixtures.Tokenizer("llama2-meta");
        Assert.Equal(1, meta.Encode("Hello <s>")[^1]);
        Assert.DoesNotContain(1, meta.Encode("Hello<s>"));
    }

    [Fact]
    public void Clean_up_tokenization_spaces_follows_tokenizer_config()
    {
        // llama3's tokenizer_config.json sets clean_up_tokenization_spaces: true, as transformers applies it.
        var llama3 = Fixtures.Tokenizer("llama3");
        Assert.Equal("a, b.", llama3.Decode(llama3.Encode("a , b .")));
        var qwen = Fixtures.Tokenizer("qwen3");
        Assert.Equal("a , b .", qwen.Decode(qwen.Encode("a , b .")));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama2")]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void DecodeNext_streams_the_same_text_as_Decode(string name)
    {
        var tok = Fixtures.Tokenizer(name);
        string text = "Hello world, this is a test of streaming: déjà vu, 日本語 and 42 numbers.";
        var ids = tok.Encode(text);
        var sb = new StringBuilder();
        for (int i = 0; i < ids.Length; i++)
        {
            sb.Append(tok.DecodeNext(ids[..i], ids[i]));
        }

        Assert.Equal(tok.Decode(ids), sb.ToString());
    }

    [Fact]
    public void DecodeNext_gives_a_space_prefixed_word_for_sentencepiece_style_tokens()
    {
        var llama = Fixtures.Tokenizer("llama2");
        var ids = llama.Encode("Hello world");
        Assert.Equal("Hello", llama.DecodeNext([], ids[0]));
        Assert.Equal(" world", llama.DecodeNext([ids[0]], ids[1]));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama2")]
    [InlineData("llama2-meta")]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void Offsets_path_and_fast_path_give_the_same_ids_on_long_mixed_text(string name)
    {
        var tok = Fixtures.Tokenizer(name);
        string text = MixedText(20_000, seed: 7);
        var fast = tok.Encode(text);
        var withOffsets = tok.EncodeWithOffsets(text);
        Assert.Equal(fast, withOffsets.Ids);
        if (name != "llama3")
        {
            Assert.Equal(text, tok.Decode(fast)); // (llama3's config cleans up " !" and the like when decoding)
        }

        // Offsets never go backwards, leave no gap, and cover the text; a token that is only part of
        // a character shares that character's range with its neighbour.
        int last = 0, previousStart = 0, index = -1;
        foreach (var (start, end) in withOffsets.Offsets)
        {
            index++;
            Assert.True(start >= previousStart, $"offset {start} goes back before {previousStart}");
            Assert.True(start <= last, $"gap between {last} and {start}");
            // (Only a ▁ that the normalizer prepended covers no text.)
            Assert.True(end > start || withOffsets.Tokens[index] == "\u2581", $"empty range at {start}");
            previousStart = start;
            last = Math.Max(last, end);
        }

        Assert.Equal(text.Length, last);

        // Where a token's range is its own, it is exactly the text the token decodes to.
        var pieces = tok.DecodeEachToken(fast);
        var offsets = withOffsets.Offsets;
        int exact = 0;
        for (int i = 1; i + 1 < offsets.Count; i++)
        {
            if (offsets[i].Start == offsets[i - 1].End && offsets[i].End == offsets[i + 1].Start && name is "gpt2" or "qwen3")
            {
                Assert.Equal(text[offsets[i].Start..offsets[i].End], pieces[i]);
                exact++;
            }
        }

        Assert.True(name is not ("gpt2" or "qwen3") || exact > offsets.Count / 2);
    }

    private static string MixedText(int length, int seed)
    {
        string[] pieces =
        [
            "The quick brown fox", " jumps over", " the lazy dog.", "\n\n", "  ", "\t", "don't", " I'm", " 12345", " 3.14",
            " café", " naïve", " 日本語", " 😀", "🎉👍🏽", " нещо", " x**2", "(a, b)", " <html>", "    return x;", "\r\n", "!!!", " A",
        ];
        var random = new Random(seed);
        var sb = new StringBuilder();
        while (sb.Length < length)
        {
            sb.Append(pieces[random.Next(pieces.Length)]);
        }

        return sb.ToString();
    }
}

public class TokenizerConcurrencyTests
{
    [Fact]
    public async Task One_tokenizer_gives_the_same_ids_from_many_threads()
    {
        var tok = HuggingFaceTokenizer.FromFolder(Path.Combine(Fixtures.Root, "llama3")); // a fresh instance: a cold word cache
        var texts = Enumerable.Range(0, 200).Select(i => $"Thread test {i}: naïve café {i * 7919} 😀 don't {new string('x', i % 17)}").ToArray();
        var expected = texts.Select(t => Fixtures.Tokenizer("llama3").Encode(t)).ToArray();
        var tasks = Enumerable.Range(0, 8).Select(k => Task.Run(() =>
        {
            for (int i = 0; i < texts.Length; i++)
            {
                int j = (i * (k + 3)) % texts.Length;
                Assert.Equal(expected[j], tok.Encode(texts[j]));
                Assert.Equal(expected[j].Length, tok.CountTokens(texts[j]));
            }
        }));
        await Task.WhenAll(tasks);
    }

    [Fact]
    public void FromFolder_without_tokenizer_json_says_what_is_missing()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lmwrapper-empty-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var e = Assert.Throws<FileNotFoundException>(() => HuggingFaceTokenizer.FromFolder(dir));
            Assert.Contains("tokenizer.json", e.Message);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }
}

public class DecodeEachTokenTests
{
    [Theory]
    [InlineData("gpt2", "Hello world, 日本語 😀 done")]
    [InlineData("llama2", "Hello world, 日本語 😀 done")]
    [InlineData("llama2-meta", "  two spaces\n and \U0001F999.cpp")]
    [InlineData("llama3", "Hello world, 日本語 😀 done")]
    [InlineData("qwen3", "<|im_start|>user\nnaïve 😶‍🌫️<|im_end|>")]
    public void Pieces_concatenate_to_the_decoded_text(string name, string text)
    {
        var tok = Fixtures.Tokenizer(name);
        var ids = tok.Encode(text, addSpecialTokens: true);
        var pieces = tok.DecodeEachToken(ids);
        Assert.Equal(ids.Length, pieces.Length);
        Assert.Equal(tok.Decode(ids), string.Concat(pieces));
        Assert.Equal(tok.Decode(ids, skipSpecialTokens: true), string.Concat(tok.DecodeEachToken(ids, skipSpecialTokens: true)));
    }

    [Fact]
    public void A_character_split_over_tokens_lands_on_the_token_that_completes_it()
    {
        var gpt2 = Fixtures.Tokenizer("gpt2");
        var ids = gpt2.Encode("a\U0001F600"); // 😀 is 4 bytes: several byte-level tokens
        var pieces = gpt2.DecodeEachToken(ids);
        Assert.Equal("a", pieces[0]);
        Assert.Equal("\U0001F600", pieces[^1]);
        Assert.All(pieces[1..^1], p => Assert.Equal("", p));

        // Cut mid-character, the rest is a replacement char, as Decode gives it.
        var cut = ids[..^1];
        Assert.Equal(gpt2.Decode(cut), string.Concat(gpt2.DecodeEachToken(cut)));
    }
}
