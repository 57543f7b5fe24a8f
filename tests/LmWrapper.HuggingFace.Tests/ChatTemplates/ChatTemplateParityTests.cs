using System.Text.Json;
using LmWrapper.HuggingFace.ChatTemplates;

namespace LmWrapper.HuggingFace.Tests.ChatTemplates;

/// <summary>Every row of chat_templates.jsonl (rendered by Hugging Face's own Jinja) renders byte for byte.</summary>
public class ChatTemplateParityTests
{
    public static TheoryData<int> Rows()
    {
        var data = new TheoryData<int>();
        int n = File.ReadLines(HfFormatsFixtures.Path("tokenizers", "chat_templates.jsonl")).Count(l => l.Trim().Length > 0);
        for (int i = 0; i < n; i++) data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void RendersFixtureRowExactly(int row)
    {
        string line = File.ReadLines(HfFormatsFixtures.Path("tokenizers", "chat_templates.jsonl")).Where(l => l.Trim().Length > 0).ElementAt(row);
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        string tokenizer = r.GetProperty("tokenizer").GetString()!;
        string configPath = HfFormatsFixtures.Path("tokenizers", tokenizer, "tokenizer_config.json");
        var template = ChatTemplate.FromTokenizerConfig(configPath);
        Assert.NotNull(template);

        // As transformers: every special token of the tokenizer is a template variable.
        var specials = ChatTemplate.ReadSpecialTokens(configPath);
        string? Token(string name) => specials.TryGetValue(name, out var t) ? t as string : null;

        var turns = r.GetProperty("messages").EnumerateArray().Select(m =>
        {
            var role = Enum.Parse<LmChatRole>(m.GetProperty("role").GetString()!, ignoreCase: true);
            return new LmChatTurn(role, m.GetProperty("content").GetString()!);
        }).ToList();
        var extra = specials.Where(kv => kv.Key is not ("bos_token" or "eos_token")).ToDictionary(kv => kv.Key, kv => kv.Value);

        string rendered = template.Render(turns, r.GetProperty("add_generation_prompt").GetBoolean(), Token("bos_token"), Token("eos_token"), extra);
        Assert.Equal(r.GetProperty("rendered").GetString(), rendered);
    }
}
