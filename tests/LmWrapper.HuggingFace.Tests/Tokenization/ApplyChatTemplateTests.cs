using System.Text.Json;
using LmWrapper.HuggingFace.ChatTemplates;

namespace LmWrapper.HuggingFace.Tests.Tokenization;

/// <summary>The tokenizer and the chat template together: what transformers' apply_chat_template(tokenize=False) gives.</summary>
public class ApplyChatTemplateTests
{
    public static TheoryData<int> Rows => [.. Enumerable.Range(0, File.ReadAllLines(HfFormatsFixtures.Path("tokenizers", "chat_templates.jsonl")).Length)];

    [Theory]
    [MemberData(nameof(Rows))]
    public void EveryFixtureRowRendersByteForByteThroughTheTokenizer(int row)
    {
        using var doc = JsonDocument.Parse(File.ReadAllLines(HfFormatsFixtures.Path("tokenizers", "chat_templates.jsonl"))[row]);
        var r = doc.RootElement;
        var tokenizer = HuggingFaceTokenizer.FromFolder(HfFormatsFixtures.Path("tokenizers", r.GetProperty("tokenizer").GetString()!));
        var turns = r.GetProperty("messages").EnumerateArray().Select(m => new LmChatTurn(
            m.GetProperty("role").GetString() switch
            {
                "system" => LmChatRole.System,
                "user" => LmChatRole.User,
                "assistant" => LmChatRole.Assistant,
                var other => throw new InvalidOperationException(other),
            },
            m.GetProperty("content").GetString()!)).ToList();
        string rendered = tokenizer.ApplyChatTemplate(turns, r.GetProperty("add_generation_prompt").GetBoolean());
        Assert.Equal(r.GetProperty("rendered").GetString(), rendered);
    }

    [Fact]
    public void TheRenderedPromptEncodesToTheChatTokens()
    {
        var tokenizer = HuggingFaceTokenizer.FromFolder(HfFormatsFixtures.Path("tokenizers", "llama3"));
        string text = tokenizer.ApplyChatTemplate([LmChatTurn.User("Hi")]);
        int[] ids = tokenizer.Encode(text);
        Assert.Equal(tokenizer.BosTokenId, ids[0]); // <|begin_of_text|> comes from the template, as a special token
        Assert.Equal(tokenizer.TokenToId("<|start_header_id|>"), ids[1]);
        Assert.Equal(text, tokenizer.Decode(ids));
    }

    [Fact]
    public void ATokenizerWithoutATemplateSaysSo()
    {
        var tokenizer = HuggingFaceTokenizer.FromFolder(HfFormatsFixtures.Path("tokenizers", "gpt2"));
        Assert.Null(tokenizer.ChatTemplate);
        var e = Assert.Throws<InvalidOperationException>(() => tokenizer.ApplyChatTemplate([LmChatTurn.User("Hi")]));
        Assert.Contains("no chat template", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ATemplateThatRejectsTheDialogRaisesItsOwnMessage()
    {
        var tokenizer = HuggingFaceTokenizer.FromFolder(HfFormatsFixtures.Path("tokenizers", "qwen3"));
        Assert.NotNull(tokenizer.ChatTemplate);
        Assert.ThrowsAny<ChatTemplateException>(() => tokenizer.ApplyChatTemplate([]));
    }
}
