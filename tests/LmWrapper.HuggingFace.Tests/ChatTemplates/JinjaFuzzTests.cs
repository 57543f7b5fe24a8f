using System.Text.Json;
using LmWrapper.HuggingFace.ChatTemplates;

namespace LmWrapper.HuggingFace.Tests.ChatTemplates;

/// <summary>
/// Seeded random expressions (tests/fixtures/chat_templates/generate_jinja_fuzz.py) and template programs — set, for,
/// if/elif/else, macros, namespaces — (generate_jinja_program_fuzz.py) rendered by real jinja2: we must render the same
/// text, or fail with a <see cref="ChatTemplateException"/> where jinja2 failed.
/// </summary>
public class JinjaFuzzTests
{
    private static readonly string[] Files = ["jinja_fuzz_cases.jsonl", "jinja_program_fuzz_cases.jsonl"];

    private static readonly Dictionary<string, Lazy<(Dictionary<string, object?> Vars, List<JsonElement> Rows)>> Data =
        Files.ToDictionary(f => f, f => new Lazy<(Dictionary<string, object?>, List<JsonElement>)>(() => Load(f)));

    public static TheoryData<string, int> Rows()
    {
        var data = new TheoryData<string, int>();
        foreach (var file in Files)
        {
            for (int i = 0; i < Data[file].Value.Rows.Count; i++) data.Add(file, i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public void MatchesJinja2(string file, int row)
    {
        var (vars, rows) = Data[file].Value;
        var r = rows[row];
        string template = r.GetProperty("template").GetString()!;
        var parsed = ChatTemplate.Parse(template);
        if (r.TryGetProperty("error", out _))
        {
            Assert.ThrowsAny<ChatTemplateException>(() => parsed.RenderVariables(vars));
            return;
        }
        string actual;
        try
        {
            actual = parsed.RenderVariables(vars);
        }
        catch (ChatTemplateException ex)
        {
            throw new Xunit.Sdk.XunitException($"{template} failed: {ex.Message}; jinja2 rendered {r.GetProperty("rendered").GetString()}");
        }
        Assert.True(r.GetProperty("rendered").GetString() == actual, $"{template}\n expected: {r.GetProperty("rendered").GetString()}\n actual:   {actual}");
    }

    private static (Dictionary<string, object?>, List<JsonElement>) Load(string file)
    {
        var lines = File.ReadLines(HfFormatsFixtures.Path("chat_templates", file)).Where(l => l.Trim().Length > 0).ToList();
        var vars = JsonDocument.Parse(lines[0]).RootElement.GetProperty("variables").EnumerateObject()
            .ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
        return (vars, lines.Skip(1).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList());
    }
}
