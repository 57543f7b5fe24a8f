using System.Text.Json;
using LmWrapper.HuggingFace.ChatTemplates;

namespace LmWrapper.HuggingFace.Tests.ChatTemplates;

/// <summary>
/// Seeded random template programs (set, for, if/elif/else, macros, namespaces) rendered by real jinja2 (tests/fixtures/chat_templates/generate_jinja_program_fuzz.py):
/// we must render the same text, or fail with a <see cref="ChatTemplateException"/> where jinja2 failed.
/// </summary>
public class JinjaProgramFuzzTests
{
    private static readonly Lazy<(Dictionary<string, object?> Vars, List<JsonElement> Rows)> Data = new(() =>
    {
        var lines = File.ReadLines(HfFormatsFixtures.Path("chat_templates", "jinja_program_fuzz_cases.jsonl")).Where(l => l.Trim().Length > 0).ToList();
        var vars = JsonDocument.Parse(lines[0]).RootElement.GetProperty("variables").EnumerateObject()
            .ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        return (vars, lines.Skip(1).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList());
    });

    public static TheoryData<int> Rows()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Data.Value.Rows.Count; i++) data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void MatchesJinja2(int row)
    {
        var r = Data.Value.Rows[row];
        string template = r.GetProperty("template").GetString()!;
        var parsed = ChatTemplate.Parse(template);
        if (r.TryGetProperty("error", out _))
        {
            Assert.ThrowsAny<ChatTemplateException>(() => parsed.RenderVariables(Data.Value.Vars));
            return;
        }
        string actual;
        try
        {
            actual = parsed.RenderVariables(Data.Value.Vars);
        }
        catch (ChatTemplateException ex)
        {
            throw new Xunit.Sdk.XunitException($"{template} failed: {ex.Message}; jinja2 rendered {r.GetProperty("rendered").GetString()}");
        }
        Assert.True(r.GetProperty("rendered").GetString() == actual, $"{template}\n expected: {r.GetProperty("rendered").GetString()}\n actual:   {actual}");
    }
}
