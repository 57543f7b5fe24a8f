using System.Text.Json.Nodes;
using static LmWrapper.HuggingFace.Tests.Tokenization.SyntheticTokenizer;

namespace LmWrapper.HuggingFace.Tests.Tokenization;

/// <summary>Each component kind, on small synthetic tokenizers; unknown kinds fail loudly.</summary>
public class ComponentTests
{
    public static TheoryData<string, string, string> UnsupportedComponents() => new()
    {
        { "normalizer", """{"type":"BertNormalizer","clean_text":true}""", "normalizer type 'BertNormalizer'" },
        { "normalizer", """{"type":"Precompiled","precompiled_charsmap":"AAAA"}""", "normalizer type 'Precompiled'" },
        { "pre_tokenizer", """{"type":"UnicodeScripts"}""", "pre_tokenizer type 'UnicodeScripts'" },
        { "pre_tokenizer", """{"type":"Metaspace","replacement":"_","prepend_scheme":"sometimes"}""", "prepend_scheme type 'sometimes'" },
        { "pre_tokenizer", """{"type":"Split","pattern":{"String":"-"},"behavior":"Sideways","invert":false}""", "split behavior type 'Sideways'" },
        { "pre_tokenizer", """{"type":"Sequence","pretokenizers":[{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},{"type":"Digits","individual_digits":true}]}""", "'Digits' after ByteLevel" },
        { "pre_tokenizer", """{"type":"Split","pattern":{"Regex":"[a&&b]"},"behavior":"Isolated","invert":false}""", "Split pre_tokenizer" },
        { "decoder", """{"type":"WordPiece","prefix":"##","cleanup":true}""", "decoder type 'WordPiece'" },
        { "decoder", """{"type":"CTC"}""", "decoder type 'CTC'" },
        { "post_processor", """{"type":"Mystery"}""", "post_processor type 'Mystery'" },
        { "model", """{"type":"WordPiece","unk_token":"[UNK]","vocab":{"a":0}}""", "model type 'WordPiece'" },
        { "model", """{"type":"Unigram","unk_id":0,"vocab":[["a",0.0]]}""", "model type 'Unigram'" },
        { "model", """{"type":"BPE","dropout":0.1,"vocab":{"a":0},"merges":[]}""", "dropout" },
    };

    [Theory]
    [MemberData(nameof(UnsupportedComponents))]
    public void Unsupported_components_throw_NotSupportedException_naming_them(string slot, string json, string expected)
    {
        var node = Json(json);
        var tokenizer = slot switch
        {
            "normalizer" => Build(normalizer: node),
            "pre_tokenizer" => Build(preTokenizer: node),
            "decoder" => Build(decoder: node),
            "post_processor" => Build(postProcessor: node),
            _ => Build(model: (JsonObject)node),
        };
        var e = Assert.Throws<NotSupportedException>(() => Load(tokenizer));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Added_tokens_lstrip_and_rstrip_swallow_neighbouring_spaces()
    {
        var tok = Load(Build(addedTokens: [Added(100, "<x>", lstrip: true), Added(101, "<y>", rstrip: true)]));
        Assert.Equal([Id('a'), 100, Id('b')], tok.Encode("a  <x>b"));
        Assert.Equal([Id('a'), 101, Id('b')], tok.Encode("a<y>   b"));
        Assert.Equal([Id('a'), Id(' '), 101, Id('b')], tok.Encode("a <y> b"));
    }

    [Fact]
    public void Single_word_added_tokens_only_match_whole_words()
    {
        var tok = Load(Build(addedTokens: [Added(102, "cat", singleWord: true)]));
        int[] expected = [102, Id(' '), .. Ids("concat"), Id(' '), 102, Id('.')];
        Assert.Equal(expected, tok.Encode("cat concat cat."));
    }

    [Fact]
    public void Added_tokens_match_leftmost_longest()
    {
        var tok = Load(Build(addedTokens: [Added(100, "<a"), Added(101, "<ab>"), Added(102, "b>")]));
        Assert.Equal([101, Id('c')], tok.Encode("<ab>c"));
        Assert.Equal([100, Id('b')], tok.Encode("<ab"));

        var single = Load(Build(addedTokens: [Added(110, "x"), Added(111, "xy")]));
        Assert.Equal([111, 110, Id('a'), 110], single.Encode("xyxax"));
        Assert.Equal([Id('x'), 102], tok.Encode("xb>"));
    }

    [Fact]
    public void Normalized_added_tokens_match_the_normalized_text()
    {
        var tok = Load(Build(
            normalizer: Json("""{"type":"Lowercase"}"""),
            addedTokens: [Added(104, "HI", normalized: true), Added(105, "<Z>", special: true)]));
        Assert.Equal([.. Ids("say "), 104], tok.Encode("say HI"));
        Assert.Equal([.. Ids("say "), 104], tok.Encode("say hi"));
        // Non-normalized tokens match the raw text only: "<z>" is not "<Z>".
        Assert.Equal([105, .. Ids("<z>")], tok.Encode("<Z><z>"));
    }

    [Fact]
    public void Decode_can_skip_special_tokens()
    {
        var tok = Load(Build(decoder: Json("""{"type":"Fuse"}"""), addedTokens: [Added(103, "<z>", special: true), Added(104, "<w>")]));
        int[] ids = [Id('a'), 103, Id('b'), 104];
        Assert.Equal("a<z>b<w>", tok.Decode(ids));
        Assert.Equal("ab<w>", tok.Decode(ids, skipSpecialTokens: true));
        Assert.True(tok.IsSpecialToken(103));
        Assert.False(tok.IsSpecialToken(104));
    }

    [Fact]
    public void Without_a_decoder_tokens_are_joined_with_spaces()
    {
        var tok = Load(Build());
        Assert.Equal("a b c", tok.Decode(Ids("abc")));
    }

    [Fact]
    public void Decoding_an_unknown_id_throws()
    {
        var tok = Load(Build());
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([Id('a'), 999]));
    }

    [Fact]
    public void Metaspace_pre_tokenizer_and_decoder_round_trip()
    {
        var vocab = new JsonObject();
        string chars = "\u2581abcdefghijklmnopqrstuvwxyz";
        for (int i = 0; i < chars.Length; i++)
        {
            vocab[chars[i].ToString()] = i;
        }

        vocab["\u2581a"] = chars.Length;
        var model = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray("\u2581 a") };
        var tok = Load(Build(
            preTokenizer: Json("""{"type":"Metaspace","replacement":"\u2581","prepend_scheme":"always","split":true}"""),
            decoder: Json("""{"type":"Metaspace","replacement":"\u2581","prepend_scheme":"always","split":true}"""),
            model: model));
        int space = 0, a = chars.Length;
        Assert.Equal([a, chars.IndexOf('b'), a], tok.Encode("ab a"));
        Assert.Equal([space, a], tok.Encode("  a"));
        Assert.Equal("ab a", tok.Decode(tok.Encode("ab a")));
    }

    [Fact]
    public void Digits_and_punctuation_pre_tokenizers_split_as_hugging_face_does()
    {
        var vocab = new JsonObject();
        string chars = " abc123.!";
        for (int i = 0; i < chars.Length; i++)
        {
            vocab[chars[i].ToString()] = i;
        }

        vocab["12"] = 20;
        vocab["23"] = 21;
        vocab["ab"] = 22;
        var model = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray("1 2", "2 3", "a b") };
        var individual = Load(Build(preTokenizer: Json("""{"type":"Digits","individual_digits":true}"""), model: model));
        Assert.Equal([22, 0, 4, 5, 6], individual.Encode("ab 123"));
        var grouped = Load(Build(preTokenizer: Json("""{"type":"Digits","individual_digits":false}"""), model: (JsonObject)model.DeepClone()));
        Assert.Equal([22, 0, 20, 6], grouped.Encode("ab 123"));
        var punct = Load(Build(preTokenizer: Json("""{"type":"Punctuation","behavior":"Isolated"}"""), model: (JsonObject)model.DeepClone()));
        Assert.Equal([22, 7, 22, 8], punct.Encode("ab.ab!"));
    }

    [Fact]
    public void Byte_fallback_and_fused_unknowns()
    {
        var vocab = new JsonObject { ["<unk>"] = 0, ["a"] = 1, ["<0xC3>"] = 2, ["<0xA9>"] = 3 };
        var fallback = Load(Build(
            decoder: Json("""{"type":"Sequence","decoders":[{"type":"ByteFallback"},{"type":"Fuse"}]}"""),
            model: new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray(), ["unk_token"] = "<unk>", ["byte_fallback"] = true, ["fuse_unk"] = true }));
        // é is C3 A9 in UTF-8: both bytes are tokens. ß (C3 9F) is not fully covered: unknown; two unknowns fuse.
        Assert.Equal([1, 2, 3, 1], fallback.Encode("a\u00e9a"));
        Assert.Equal([1, 0, 1], fallback.Encode("a\u00df\u00dfa"));
        Assert.Equal("a\u00e9a", fallback.Decode([1, 2, 3, 1]));
        Assert.Equal("a\ufffd", fallback.Decode([1, 2])); // an incomplete byte sequence decodes to U+FFFD per byte

        var noFuse = Load(Build(model: new JsonObject { ["type"] = "BPE", ["vocab"] = vocab.DeepClone(), ["merges"] = new JsonArray(), ["unk_token"] = "<unk>" }));
        Assert.Equal([1, 0, 0, 1], noFuse.Encode("a\u00df\u00dfa"));
    }

    [Fact]
    public void Template_post_processor_and_tokenizer_config_flags_add_bos_and_eos()
    {
        var template = Json("""
            {"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}}],
             "pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[200],"tokens":["<s>"]},"</s>":{"id":"</s>","ids":[201],"tokens":["</s>"]}}}
            """);
        var added = new JsonArray(Added(200, "<s>", special: true), Added(201, "</s>", special: true));
        var tok = Load(Build(postProcessor: template, addedTokens: added));
        Assert.Equal([200, .. Ids("ab"), 201], tok.Encode("ab", addSpecialTokens: true));
        Assert.Equal(Ids("ab"), tok.Encode("ab"));

        // transformers' LlamaTokenizer rebuilds the template from add_bos_token / add_eos_token.
        var config = new JsonObject { ["tokenizer_class"] = "LlamaTokenizer", ["bos_token"] = "<s>", ["eos_token"] = new JsonObject { ["content"] = "</s>" }, ["add_bos_token"] = false, ["add_eos_token"] = true };
        var flagged = Load(Build(postProcessor: template, addedTokens: (JsonArray)added.DeepClone()), config);
        Assert.Equal([.. Ids("ab"), 201], flagged.Encode("ab", addSpecialTokens: true));
        Assert.Equal("<s>", flagged.BosToken);
        Assert.Equal(201, flagged.EosTokenId);
    }

    [Fact]
    public void Replace_prepend_strip_normalizers_and_strip_decoder()
    {
        var tok = Load(Build(
            normalizer: Json("""{"type":"Sequence","normalizers":[{"type":"Strip","strip_left":true,"strip_right":true},{"type":"Replace","pattern":{"String":"b"},"content":"cc"},{"type":"Prepend","prepend":"|"}]}"""),
            decoder: Json("""{"type":"Sequence","decoders":[{"type":"Fuse"},{"type":"Strip","content":"|","start":1,"stop":0}]}""")));
        Assert.Equal(Ids("|acca"), tok.Encode("  aba \n"));
        Assert.Equal("acca", tok.Decode(Ids("|acca")));
        Assert.Equal("|acca", tok.Decode(Ids("||acca")));
    }
}

public class MoreComponentTests
{
    [Fact]
    public void Lowercase_uses_full_per_char_mappings()
    {
        var n = new LmWrapper.HuggingFace.Tokenization.LowercaseNormalizer();
        // İ lowercases to "i" + combining dot (Rust's char::to_lowercase); Σ is always σ (no final-sigma rule).
        Assert.Equal("i\u0307stanbul \u03c3\u03c3 \U00010428", n.Normalize("\u0130STANBUL \u03a3\u03a3 \U00010400"));
    }

    [Fact]
    public void Metaspace_first_scheme_prepends_only_at_the_start_of_the_input()
    {
        var vocab = new JsonObject();
        string chars = "\u2581ab";
        for (int i = 0; i < chars.Length; i++)
        {
            vocab[chars[i].ToString()] = i;
        }

        var model = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray() };
        var tok = Load(Build(
            preTokenizer: Json("""{"type":"Metaspace","replacement":"\u2581","prepend_scheme":"first","split":false}"""),
            model: model,
            addedTokens: [Added(9, "<z>", special: true)]));
        Assert.Equal([0, 1, 2, 9, 1, 2], tok.Encode("ab<z>ab"));
        Assert.Equal([9, 1, 2], tok.Encode("<z>ab"));
    }

    [Fact]
    public void Roberta_processing_wraps_the_sequence()
    {
        var tok = Load(Build(
            postProcessor: Json("""{"type":"RobertaProcessing","sep":["</s>",201],"cls":["<s>",200],"trim_offsets":true,"add_prefix_space":false}"""),
            addedTokens: [Added(200, "<s>", special: true), Added(201, "</s>", special: true)]));
        Assert.Equal([200, .. Ids("ab"), 201], tok.Encode("ab", addSpecialTokens: true));
        Assert.Equal(Ids("ab"), tok.Encode("ab"));
    }

    [Fact]
    public void Gpt2_family_takes_add_prefix_space_from_tokenizer_config()
    {
        var vocab = new JsonObject();
        foreach (char c in "\u0120ab")
        {
            vocab[c.ToString()] = vocab.Count;
        }

        var model = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray() };
        var json = Build(preTokenizer: Json("""{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}"""), model: model);
        Assert.Equal([1, 2], Load(json).Encode("ab"));
        var config = new JsonObject { ["tokenizer_class"] = "GPT2TokenizerFast", ["add_prefix_space"] = true };
        Assert.Equal([0, 1, 2], Load((JsonObject)json.DeepClone(), config).Encode("ab"));
    }
}

public class LoadingTests
{
    [Fact]
    public void A_byte_order_mark_is_accepted_and_bad_json_is_a_FormatException()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lmwrapper-bom-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "tokenizer.json");
            File.WriteAllText(path, Build().ToJsonString(), new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
            Assert.Equal(Ids("abc"), HuggingFaceTokenizer.FromFile(path).Encode("abc"));

            File.WriteAllText(path, "{ \"model\": ");
            Assert.Throws<FormatException>(() => HuggingFaceTokenizer.FromFile(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
