using System.Text;
using LmWrapper.HuggingFace.Generation;

namespace LmWrapper.HuggingFace.Tests.JsonDecoding;

/// <summary>Token bytes of real vocabularies (byte-level BPE and SentencePiece byte fallback), and the trie walk that picks allowed tokens.</summary>
public sealed class JsonVocabularyTests
{
    private static readonly Dictionary<string, (HuggingFaceTokenizer Tokenizer, TokenTrie Trie)> Loaded = [];
    private static readonly Lock Gate = new();

    /// <summary>An object with a required known property and any other members.</summary>
    private const string OpenSchema = """{"type":"object","properties":{"name":{"type":"array","items":{"type":"integer"},"minItems":1}},"required":["name"]}""";

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama2")]
    [InlineData("llama2-meta")]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void TokenBytesJoinToTheDecodedText(string name)
    {
        var (tokenizer, trie) = Load(name);
        foreach (string text in (string[])["{\"name\": \"Zoë 😀\", \"n\": [1, 2.5e-3, true, null]}", "[\"日本語\",\n  {\"k\":\"\\u00e9\"}]", "  x  y"])
        {
            var ids = tokenizer.Encode(text);
            var bytes = ids.SelectMany(id => trie.TokenBytes[id] ?? throw new InvalidOperationException($"no bytes for {id}")).ToArray();
            string joined = Encoding.UTF8.GetString(bytes);
            string decoded = tokenizer.Decode(ids);

            // A SentencePiece decoder drops the space it put before the first word.
            Assert.Equal(decoded, joined.Length == decoded.Length + 1 && joined[0] == ' ' ? joined[1..] : joined);
        }

        if (tokenizer.EosTokenId is int eos)
        {
            Assert.Null(trie.TokenBytes[eos]);
        }
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama2")]
    public void EveryByteIsAOneByteToken(string name)
    {
        // What lets the budget rule count one byte per token when closing a document.
        var (_, trie) = Load(name);
        var single = trie.TokenBytes.Where(b => b is { Length: 1 }).Select(b => b![0]).ToHashSet();
        Assert.Equal(256, single.Count);
    }

    [Theory]
    [InlineData("gpt2", JsonMatcherTests.PersonSchema, "")]
    [InlineData("gpt2", JsonMatcherTests.PersonSchema, "{\"name\":\"Jo")]
    [InlineData("gpt2", JsonMatcherTests.PersonSchema, "{\"name\":\"Jo\", ")]
    [InlineData("gpt2", JsonMatcherTests.TreeSchema, "{\"value\":12")]
    [InlineData("gpt2", JsonMatcherTests.PersonSchema, "{\"")]
    [InlineData("gpt2", JsonMatcherTests.PersonSchema, "{\"age\":1,\"na")]
    [InlineData("gpt2", OpenSchema, "{\"a\":1,\"")]
    [InlineData("llama2", OpenSchema, "{\"")]
    [InlineData("gpt2", JsonMatcherTests.ChoiceSchema, "")]
    [InlineData("llama2", JsonMatcherTests.PersonSchema, "")]
    [InlineData("llama2", JsonMatcherTests.PersonSchema, "{\"name\":\"Jo")]
    [InlineData("llama2", JsonMatcherTests.ChoiceSchema, "[1")]
    [InlineData("llama2", """{"type":"object"}""", "{\"a\":[\"x\\u00")]
    public void TheTrieWalkAllowsExactlyTheTokensThatContinueTheDocument(string name, string schema, string prefix)
    {
        var (_, trie) = Load(name);
        var constraint = new JsonConstraint(JsonMatcherTests.Compile(schema), trie);
        var state = constraint.NewState();
        foreach (byte b in Encoding.UTF8.GetBytes(prefix))
        {
            // Advance byte by byte through one-byte tokens.
            state.Advance(trie.TokenBytes.Select((t, id) => (t, id)).First(x => x.t is { Length: 1 } && x.t[0] == b).id);
        }

        var allowed = new bool[trie.IdCount + 7];
        int n = state.FillAllowed(allowed, int.MaxValue);
        var expected = new List<int>();
        for (int id = 0; id < trie.IdCount; id++)
        {
            if (trie.TokenBytes[id] is { Length: > 0 } bytes && state.Matcher.Advance(bytes) is not null)
            {
                expected.Add(id);
            }
        }

        Assert.NotEmpty(expected);
        Assert.Equal(expected, Enumerable.Range(0, allowed.Length).Where(i => allowed[i]));
        Assert.Equal(expected.Count, n);
    }

    [Theory]
    [InlineData("gpt2", JsonMatcherTests.PersonSchema, "{\"name\":\"Jo", true)]
    [InlineData("gpt2", JsonMatcherTests.PersonSchema, "{\"age\":1,\"", false)]
    [InlineData("gpt2", OpenSchema, "{\"", true)]
    [InlineData("llama2", OpenSchema, "{\"a\":1,\"nam", true)]
    [InlineData("llama2", OpenSchema, "{\"name\":[", true)]
    public void NearTheBudgetOnlyTokensThatStillLetTheDocumentCloseAreAllowed(string name, string schema, string prefix, bool someDoNotFit)
    {
        var (_, trie) = Load(name);
        var constraint = new JsonConstraint(JsonMatcherTests.Compile(schema), trie);
        var state = constraint.NewState();
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(prefix))
        {
            state.Advance(trie.TokenBytes.Select((t, id) => (t, id)).First(x => x.t is { Length: 1 } && x.t[0] == b).id);
        }

        int cost = state.Matcher.CloseCost;
        var roomy = new bool[trie.IdCount];
        int all = state.FillAllowed(roomy, 1000);
        var tight = new bool[trie.IdCount];
        int few = state.FillAllowed(tight, cost);
        Assert.InRange(few, 1, someDoNotFit ? all - 1 : all);
        for (int id = 0; id < trie.IdCount; id++)
        {
            if (tight[id])
            {
                Assert.True(roomy[id]);
                Assert.True(state.Matcher.Advance(trie.TokenBytes[id]!)!.CloseCost <= cost - 1, $"token {id}");
            }
            else if (roomy[id])
            {
                Assert.True(state.Matcher.Advance(trie.TokenBytes[id]!)!.CloseCost > cost - 1, $"token {id}");
            }
        }

        // With too few tokens left to close at all, everything that continues is allowed again (the output is cut by the limit).
        var starved = new bool[trie.IdCount];
        Assert.Equal(all, state.FillAllowed(starved, 2));
    }

    internal static (HuggingFaceTokenizer Tokenizer, TokenTrie Trie) Load(string name)
    {
        lock (Gate)
        {
            if (!Loaded.TryGetValue(name, out var pair))
            {
                var tokenizer = HuggingFaceTokenizer.FromFolder(HfFormatsFixtures.Path("tokenizers", name));
                pair = (tokenizer, new TokenTrie(tokenizer.TokenBytes()));
                Loaded[name] = pair;
            }

            return pair;
        }
    }
}
