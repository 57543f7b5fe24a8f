using LmWrapper.HuggingFace.ChatTemplates;

namespace LmWrapper.HuggingFace.Tests.ChatTemplates;

public class ChatTemplateTests
{
    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }

    private static string Render(string template, Dictionary<string, object?>? vars = null) =>
        ChatTemplate.Parse(template).RenderVariables(vars ?? []);

    [Fact]
    public void SyntaxErrorReportsLineAndColumn()
    {
        var ex = Assert.Throws<ChatTemplateSyntaxException>(() => ChatTemplate.Parse("line one\n{% if x %}\n  {{ x + }}\n{% endif %}"));
        Assert.Equal(3, ex.Line);
        Assert.Equal(10, ex.Column);
        Assert.Contains("line 3, column 10", ex.Message);
    }

    [Fact]
    public void UnknownFilterIsNamed()
    {
        var ex = Assert.Throws<ChatTemplateSyntaxException>(() => ChatTemplate.Parse("{{ messages | frobnicate }}"));
        Assert.Contains("No filter named 'frobnicate'", ex.Message);
        Assert.Equal(1, ex.Line);
        Assert.Equal(15, ex.Column);
    }

    [Fact]
    public void UnknownTestIsNamed()
    {
        var ex = Assert.Throws<ChatTemplateSyntaxException>(() => ChatTemplate.Parse("{% if x is shiny %}{% endif %}"));
        Assert.Contains("No test named 'shiny'", ex.Message);
    }

    [Fact]
    public void UnclosedBlockSaysWhatWasExpected()
    {
        var ex = Assert.Throws<ChatTemplateSyntaxException>(() => ChatTemplate.Parse("{% for m in messages %}{{ m }}"));
        Assert.Contains("'endfor' or 'else'", ex.Message);
    }

    [Theory]
    [InlineData("{% frob %}", "Encountered unknown tag 'frob'")]
    [InlineData("{{ 'abc }}", "Unterminated string literal")]
    [InlineData("{{ x ", "missing '}}'")]
    [InlineData("{% if x %}{% endfor %}", "Encountered unknown tag 'endfor'")]
    [InlineData("{# comment", "Missing end of comment tag")]
    [InlineData("{% break %}", "'break' outside loop")]
    [InlineData("{% for x in y %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}", "'continue' not properly in loop")]
    [InlineData("{% for x in y %}{% else %}{% break %}{% endfor %}", "'break' outside loop")]
    public void OtherSyntaxErrors(string template, string expected)
    {
        var ex = Assert.Throws<ChatTemplateSyntaxException>(() => ChatTemplate.Parse(template));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void RaiseExceptionIsTypedAndKeepsTheTemplatesMessage()
    {
        const string template = "{% for m in messages %}{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
            + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% endfor %}";
        var t = ChatTemplate.Parse(template);
        Assert.Equal("", t.Render([LmChatTurn.User("a"), LmChatTurn.Assistant("b")]));
        var ex = Assert.Throws<ChatTemplateRaisedException>(() => t.Render([LmChatTurn.User("a"), LmChatTurn.User("b")]));
        Assert.Equal("Conversation roles must alternate user/assistant/user/assistant/...", ex.Message);
    }

    [Fact]
    public void RuntimeErrorNamesTheLine()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render("ok\n{{ 'a' + 1 }}"));
        Assert.Equal(2, ex.Line);
        Assert.Contains("can only concatenate str", ex.Message);
    }

    [Fact]
    public void MessagesCarryRoleContentAndName()
    {
        var t = ChatTemplate.Parse("{% for m in messages %}{{ m.role }}:{{ m.content }}{% if m.name is defined %}({{ m.name }}){% endif %};{% endfor %}{{ add_generation_prompt }}");
        string s = t.Render([LmChatTurn.System("s"), LmChatTurn.User("u", "ann"), LmChatTurn.Assistant("a"), LmChatTurn.Tool("t", "calc")], addGenerationPrompt: false);
        Assert.Equal("system:s;user:u(ann);assistant:a;tool:t(calc);False", s);
    }

    [Fact]
    public void BosAndEosAndExtrasAreVariables()
    {
        var t = ChatTemplate.Parse("{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{{ tools is none }}|{{ documents is none }}|{{ enable_thinking }}|{{ custom.k[1] }}");
        var extras = new Dictionary<string, object?>
        {
            ["pad_token"] = "<pad>",
            ["enable_thinking"] = false,
            ["custom"] = new Dictionary<string, object?> { ["k"] = new[] { 1, 2 } },
        };
        Assert.Equal("<s>|</s>|<pad>|True|True|False|2", t.Render([], true, "<s>", "</s>", extras));
    }

    [Fact]
    public void MissingBosTokenIsUndefinedLikeTransformers()
    {
        var t = ChatTemplate.Parse("[{{ bos_token }}]{{ bos_token is defined }}");
        Assert.Equal("[]False", t.Render([]));
    }

    [Fact]
    public void ToolsFromPlainObjectsRenderAsJson()
    {
        var t = ChatTemplate.Parse("{{ tools | tojson }}");
        var tools = new[] { new { type = "function", function = new { name = "f", parameters = new { x = 1.5 } } } };
        Assert.Equal("[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"x\": 1.5}}}]",
            t.Render([], extraVariables: new Dictionary<string, object?> { ["tools"] = tools }));
    }

    [Fact]
    public void StrftimeNowUsesTheGivenClock()
    {
        var t = ChatTemplate.Parse("{{ strftime_now('%d %b %Y') }} {{ strftime_now('%A %B %-d %H:%M') }}",
            new FixedTime(new DateTimeOffset(2024, 7, 26, 9, 5, 0, TimeSpan.Zero)));
        Assert.Equal("26 Jul 2024 Friday July 26 09:05", t.Render([]));
    }

    [Fact]
    public void FromTokenizerConfigReadsAStringTemplate()
    {
        var t = ChatTemplate.FromTokenizerConfig(HfFormatsFixtures.Path("tokenizers", "qwen3", "tokenizer_config.json"));
        Assert.NotNull(t);
        Assert.StartsWith("{%- if tools %}", t.Source);
    }

    [Fact]
    public void FromTokenizerConfigChoosesNamedTemplates()
    {
        string dir = Directory.CreateTempSubdirectory("lmw-ct-").FullName;
        try
        {
            string path = Path.Combine(dir, "tokenizer_config.json");
            File.WriteAllText(path, """{"chat_template": [{"name": "default", "template": "D{{ messages|length }}"}, {"name": "tool_use", "template": "T{{ tools is none }}"}]}""");
            Assert.Equal("D1", ChatTemplate.FromTokenizerConfig(path)!.Render([LmChatTurn.User("x")]));
            Assert.Equal("TTrue", ChatTemplate.FromTokenizerConfig(path, "tool_use")!.Render([]));
            var missing = Assert.Throws<ChatTemplateException>(() => ChatTemplate.FromTokenizerConfig(path, "rag"));
            Assert.Contains("default, tool_use", missing.Message);

            File.WriteAllText(path, """{"chat_template": [{"name": "tool_use", "template": "T"}]}""");
            Assert.Contains("none is named 'default'", Assert.Throws<ChatTemplateException>(() => ChatTemplate.FromTokenizerConfig(path)).Message);

            File.WriteAllText(path, """{"eos_token": "</s>"}""");
            Assert.Null(ChatTemplate.FromTokenizerConfig(path));

            File.WriteAllText(path, """{"chat_template": """);
            Assert.Contains("not valid JSON", Assert.Throws<ChatTemplateException>(() => ChatTemplate.FromTokenizerConfig(path)).Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void FromModelFolderPrefersChatTemplateJinja()
    {
        string dir = Directory.CreateTempSubdirectory("lmw-ct-").FullName;
        try
        {
            Assert.Null(ChatTemplate.FromModelFolder(dir));
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"chat_template": "config"}""");
            Assert.Equal("config", ChatTemplate.FromModelFolder(dir)!.Render([]));
            File.WriteAllText(Path.Combine(dir, "chat_template.jinja"), "jinja file\n");
            Assert.Equal("jinja file", ChatTemplate.FromModelFolder(dir)!.Render([]));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void NamespaceAssignmentOnOtherObjectsFails()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{% set d = {} %}{% set d.x = 1 %}"));
        Assert.Contains("non-namespace", ex.Message);
    }

    [Fact]
    public void UndefinedUsedInArithmeticFailsButRendersEmpty()
    {
        Assert.Equal("[]", Render("[{{ missing }}]"));
        Assert.Equal("", Render("{% for x in missing %}x{% endfor %}"));
        Assert.Equal("0", Render("{{ missing | length }}"));
        Assert.Contains("'missing' is undefined", Assert.Throws<ChatTemplateException>(() => Render("{{ missing + 1 }}")).Message);
        Assert.Contains("'missing' is undefined", Assert.Throws<ChatTemplateException>(() => Render("{{ missing.attr }}")).Message);
    }

    [Fact]
    public void ReadSpecialTokensAcceptsStringsAndAddedTokens()
    {
        using var dir = new TempDir();
        string path = dir.File("tokenizer_config.json");
        File.WriteAllText(path, """
            {"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false}, "eos_token": "</s>", "pad_token": null,
             "unk_token": "<unk>", "additional_special_tokens": ["<a>", {"content": "<b>"}], "model_max_length": 10}
            """);
        var t = ChatTemplate.ReadSpecialTokens(path);
        Assert.Equal("<s>", t["bos_token"]);
        Assert.Equal("</s>", t["eos_token"]);
        Assert.Equal("<unk>", t["unk_token"]);
        Assert.False(t.ContainsKey("pad_token"));
        Assert.Equal(new List<object?> { "<a>", "<b>" }, t["additional_special_tokens"]);
        Assert.False(t.ContainsKey("model_max_length"));
        Assert.Equal("<s>|<a>,<b>", ChatTemplate.Parse("{{ bos_token }}|{{ additional_special_tokens|join(',') }}").Render([], extraVariables: t));
    }

    [Fact]
    public void GenerationTagRendersItsBody() =>
        Assert.Equal("<a>x</a>", Render("{% for m in messages %}<a>{% generation %}{{ m }}{% endgeneration %}</a>{% endfor %}",
            new() { ["messages"] = new[] { "x" } }));
}
