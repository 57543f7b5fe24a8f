using System.Text.Json;
using LmWrapper.HuggingFace.ChatTemplates;

namespace LmWrapper.HuggingFace.Tests.ChatTemplates;

/// <summary>
/// Language-feature cases whose expected output came from real jinja2 3.1.6 configured as transformers configures it
/// (see tests/fixtures/chat_templates/generate_jinja_cases.py).
/// </summary>
public class JinjaOracleTests
{
    private static List<JsonElement> Load(string file) =>
        File.ReadLines(HfFormatsFixtures.Path("chat_templates", file)).Where(l => l.Trim().Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Load("jinja_cases.jsonl")) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    public static TheoryData<string> ErrorCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Load("jinja_error_cases.jsonl")) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    private static Dictionary<string, object?> Variables(JsonElement c) =>
        c.GetProperty("variables").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());

    [Theory]
    [MemberData(nameof(Cases))]
    public void RendersLikeJinja2(string name)
    {
        var c = Load("jinja_cases.jsonl").Single(x => x.GetProperty("name").GetString() == name);
        var template = ChatTemplate.Parse(c.GetProperty("template").GetString()!);
        Assert.Equal(c.GetProperty("rendered").GetString(), template.RenderVariables(Variables(c)));
    }

    [Theory]
    [MemberData(nameof(ErrorCases))]
    public void FailsLikeJinja2(string name)
    {
        var c = Load("jinja_error_cases.jsonl").Single(x => x.GetProperty("name").GetString() == name);
        var template = ChatTemplate.Parse(c.GetProperty("template").GetString()!);
        var ex = Assert.ThrowsAny<ChatTemplateException>(() => template.RenderVariables(Variables(c)));
        Assert.Equal(c.GetProperty("message").GetString(), ex.TemplateMessage);
        if (c.GetProperty("error_type").GetString() == "TemplateError") Assert.IsType<ChatTemplateRaisedException>(ex);
    }
}
