using System.Text.Json;

namespace LmWrapper.HuggingFace.Tests.Tokenization;

/// <summary>Every row of the reference cases (produced by independent implementations) must match exactly.</summary>
public class ParityTests
{
    public static TheoryData<string, int> CaseRows()
    {
        var data = new TheoryData<string, int>();
        int i = 0;
        foreach (var row in Fixtures.Cases())
        {
            data.Add(row.GetProperty("tokenizer").GetString()!, i++);
        }

        return data;
    }

    private static JsonElement Row(int index) => Fixtures.Cases().ElementAt(index);

    [Theory]
    [MemberData(nameof(CaseRows))]
    public void Encode_matches_reference_ids(string tokenizer, int row)
    {
        var c = Row(row);
        var tok = Fixtures.Tokenizer(tokenizer);
        string text = c.GetProperty("text").GetString()!;
        Assert.Equal(Fixtures.Ints(c.GetProperty("ids")), tok.Encode(text));
    }

    [Theory]
    [MemberData(nameof(CaseRows))]
    public void Encode_with_special_tokens_matches_reference(string tokenizer, int row)
    {
        var c = Row(row);
        var tok = Fixtures.Tokenizer(tokenizer);
        string text = c.GetProperty("text").GetString()!;
        Assert.Equal(Fixtures.Ints(c.GetProperty("ids_with_special_tokens")), tok.Encode(text, addSpecialTokens: true));
    }

    [Theory]
    [MemberData(nameof(CaseRows))]
    public void Decode_matches_reference_text(string tokenizer, int row)
    {
        var c = Row(row);
        var tok = Fixtures.Tokenizer(tokenizer);
        Assert.Equal(c.GetProperty("decoded").GetString(), tok.Decode(Fixtures.Ints(c.GetProperty("ids"))));
    }

    [Theory]
    [MemberData(nameof(CaseRows))]
    public void Offsets_cover_the_text_each_token_came_from(string tokenizer, int row)
    {
        var c = Row(row);
        var tok = Fixtures.Tokenizer(tokenizer);
        string text = c.GetProperty("text").GetString()!;
        var e = tok.EncodeWithOffsets(text);
        Assert.Equal(tok.Encode(text), e.Ids);
        Assert.Equal(e.Ids.Count, e.Offsets.Count);
        int previousEnd = 0;
        foreach (var (start, end) in e.Offsets)
        {
            Assert.InRange(start, 0, text.Length);
            Assert.InRange(end, start, text.Length);
            Assert.True(end >= previousEnd || start >= previousEnd - 4, $"offsets go backwards at ({start},{end})");
            previousEnd = Math.Max(previousEnd, end);
        }
    }

    public static TheoryData<string, string, int> LlamaCppRows()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var (vectors, tokenizer) in new[] { ("gpt-2", "gpt2"), ("llama-spm", "llama2-meta") })
        {
            int n = Fixtures.LlamaCppVectors(vectors).Count;
            for (int i = 0; i < n; i++)
            {
                data.Add(vectors, tokenizer, i);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LlamaCppRows))]
    public void Encode_matches_llama_cpp_vectors(string vectors, string tokenizer, int index)
    {
        var (text, ids) = Fixtures.LlamaCppVectors(vectors)[index];
        var tok = Fixtures.Tokenizer(tokenizer);
        Assert.Equal(ids, tok.Encode(text));
    }

    [Theory]
    [MemberData(nameof(LlamaCppRows))]
    public void Decode_round_trips_llama_cpp_vectors(string vectors, string tokenizer, int index)
    {
        var (text, ids) = Fixtures.LlamaCppVectors(vectors)[index];
        var tok = Fixtures.Tokenizer(tokenizer);
        Assert.Equal(text, tok.Decode(ids));
    }
}
