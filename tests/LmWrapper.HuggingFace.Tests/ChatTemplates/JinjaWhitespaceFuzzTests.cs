using System.Text.Json;
using LmWrapper.HuggingFace.ChatTemplates;

namespace LmWrapper.HuggingFace.Tests.ChatTemplates;

/// <summary>
/// Seeded random templates of text, newlines, indentation and tags with random <c>-</c>/<c>+</c> modifiers, rendered by
/// real jinja2 as transformers configures it (tests/fixtures/chat_templates/generate_jinja_ws_fuzz.py).
/// </summary>
public class JinjaWhitespaceFuzzTests
{
    private static readonly Lazy<List<(string Template, string Rendered)>> Rows = new(() =>
        File.ReadLines(HfFormatsFixtures.Path("chat_templates", "jinja_ws_fuzz_cases.jsonl")).Where(l => l.Trim().Length > 0)
            .Select(l =>
            {
                using var d = JsonDocument.Parse(l);
                return (d.RootElement.GetProperty("template").GetString()!, d.RootElement.GetProperty("rendered").GetString()!);
            }).ToList());

    public static TheoryData<int> Indexes()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Rows.Value.Count; i++) data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(Indexes))]
    public void WhitespaceMatchesJinja2(int row)
    {
        var (template, rendered) = Rows.Value[row];
        string actual = ChatTemplate.Parse(template).RenderVariables(new Dictionary<string, object?> { ["n"] = 5, ["i"] = 0 });
        Assert.True(rendered == actual, $"template: {JsonSerializer.Serialize(template)}\n expected: {JsonSerializer.Serialize(rendered)}\n actual:   {JsonSerializer.Serialize(actual)}");
    }
}
