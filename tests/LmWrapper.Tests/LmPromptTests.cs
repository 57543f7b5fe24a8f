namespace LmWrapper.Tests;

public class LmPromptTests
{
    [Fact]
    public void DefaultsFollowThePythonOriginal()
    {
        var p = new LmPrompt("hi");
        Assert.Equal("hi", p.Text);
        Assert.False(p.IsChat);
        Assert.Null(p.MaxTokens);
        Assert.Equal(1, p.Logprobs);
        Assert.Equal(1.0, p.Temperature);
        Assert.Equal(1.0, p.TopP);
        Assert.Equal(0.0, p.PresencePenalty);
        Assert.Equal(0.0, p.FrequencyPenalty);
        Assert.Equal(1, p.NumCompletions);
        Assert.Null(p.Cache);
        Assert.False(p.Echo);
        Assert.Null(p.Seed);
        p.Validate();
    }

    [Fact]
    public void PlainStringsAlternateUserAndAssistantStartingWithUser()
    {
        var p = new LmPrompt(["What is 2+2?", "4", "What is 4+4?"]);
        Assert.True(p.IsChat);
        Assert.Null(p.Text);
        Assert.Equal([LmChatRole.User, LmChatRole.Assistant, LmChatRole.User], p.Chat!.Select(t => t.Role));
        Assert.Equal("user: What is 2+2?\nassistant: 4\nuser: What is 4+4?\nassistant:", p.GetTextAsStringDefaultForm());
    }

    [Fact]
    public void ChatTurnsKeepTheirRoles()
    {
        var p = new LmPrompt([LmChatTurn.System("Be a pirate"), LmChatTurn.User("Hi")]);
        Assert.Equal("system: Be a pirate\nuser: Hi\nassistant:", p.GetTextAsStringDefaultForm());
        Assert.Equal(p.Chat, p.GetTextAsChat());
        Assert.Equal([LmChatTurn.User("plain")], new LmPrompt("plain").GetTextAsChat());
    }

    [Fact]
    public void TheDialogIsCopiedSoLaterChangesToTheCallersListDoNotLeakIn()
    {
        var turns = new List<LmChatTurn> { LmChatTurn.User("a") };
        var p = new LmPrompt(turns);
        turns.Add(LmChatTurn.Assistant("b"));
        Assert.Single(p.Chat!);
    }

    public static TheoryData<string, Func<LmPrompt>> InvalidPrompts => new()
    {
        { "Text", () => new LmPrompt("") },
        { "Chat", () => new LmPrompt(Array.Empty<LmChatTurn>()) },
        { "Chat", () => new LmPrompt([LmChatTurn.User("a"), LmChatTurn.Assistant("")]) },
        { "Chat", () => new LmPrompt([LmChatTurn.User("a"), LmChatTurn.System("late system")]) },
        { "MaxTokens", () => new LmPrompt("a") { MaxTokens = 0 } },
        { "MaxTokens", () => new LmPrompt("a") { MaxTokens = -5 } },
        { "Temperature", () => new LmPrompt("a") { Temperature = -0.1 } },
        { "Temperature", () => new LmPrompt("a") { Temperature = 2.01 } },
        { "Temperature", () => new LmPrompt("a") { Temperature = double.NaN } },
        { "TopP", () => new LmPrompt("a") { TopP = -0.01 } },
        { "TopP", () => new LmPrompt("a") { TopP = 1.5 } },
        { "PresencePenalty", () => new LmPrompt("a") { PresencePenalty = 2.5 } },
        { "FrequencyPenalty", () => new LmPrompt("a") { FrequencyPenalty = -3 } },
        { "NumCompletions", () => new LmPrompt("a") { NumCompletions = 0 } },
        { "Logprobs", () => new LmPrompt("a") { Logprobs = -1 } },
        { "Stop", () => new LmPrompt("a") { Stop = ["ok", ""] } },
    };

    [Fact]
    public void TopPZeroIsValidAndMeansGreedyAsInThePythonOriginal()
    {
        var p = new LmPrompt("a") { TopP = 0, Temperature = 0.8 };
        p.Validate();
        Assert.True(p.IsDeterministicSampling);
        Assert.True(new LmPrompt("a") { Temperature = 0 }.IsDeterministicSampling);
        Assert.False(new LmPrompt("a") { TopP = 0.01 }.IsDeterministicSampling);
        Assert.False(new LmPrompt("a").IsDeterministicSampling);
    }

    [Theory]
    [MemberData(nameof(InvalidPrompts))]
    public void InvalidFieldsThrowAPromptExceptionNamingTheField(string field, Func<LmPrompt> make)
    {
        var e = Assert.Throws<LmPromptException>(() => make().Validate());
        Assert.Equal(field, e.FieldName);
        if (field is not ("Text" or "Chat"))
        {
            Assert.Contains(field, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void BoundaryValuesAreValid()
    {
        new LmPrompt("a") { Temperature = 0, TopP = 1, PresencePenalty = -2, FrequencyPenalty = 2, Logprobs = 0, MaxTokens = 1 }.Validate();
        new LmPrompt("a") { Temperature = 2, TopP = 0.001 }.Validate();
        new LmPrompt([LmChatTurn.System("s"), LmChatTurn.User("u"), LmChatTurn.Tool("t", "calc")]).Validate();
    }

    [Fact]
    public void EqualityComparesContentNotListReferences()
    {
        var a = new LmPrompt(["x", "y"]) { Stop = ["\n"], MaxTokens = 3 };
        var b = new LmPrompt(["x", "y"]) { Stop = ["\n"], MaxTokens = 3 };
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, b with { Stop = ["."] });
        Assert.NotEqual(a, b with { Temperature = 0 });
        Assert.NotEqual(a, new LmPrompt(["x", "z"]) { Stop = ["\n"], MaxTokens = 3 });
    }

    [Fact]
    public void SettingAFieldOnACopyNeverChangesTheOriginal()
    {
        // The rarely-set fields share one immutable holder between copies; setting one must replace it, not change it.
        var original = new LmPrompt("a") { TopP = 0.5, Stop = ["x"], Metadata = "m" };
        var copy = original with { TopP = 0.25, PresencePenalty = 1, FrequencyPenalty = -1, Cache = false, Echo = true, AddBosToken = true, AddSpecialTokens = false, Seed = 9, Stop = ["y"], Metadata = "n" };
        Assert.Equal(0.5, original.TopP);
        Assert.Equal(0, original.PresencePenalty);
        Assert.Equal(0, original.FrequencyPenalty);
        Assert.Null(original.Cache);
        Assert.False(original.Echo);
        Assert.Null(original.AddBosToken);
        Assert.Null(original.AddSpecialTokens);
        Assert.Null(original.Seed);
        Assert.Equal(["x"], original.Stop!);
        Assert.Equal("m", original.Metadata);

        Assert.Equal((0.25, 1.0, -1.0, (bool?)false, true, (bool?)true, (bool?)false, (int?)9, "y", (object?)"n"),
            (copy.TopP, copy.PresencePenalty, copy.FrequencyPenalty, copy.Cache, copy.Echo, copy.AddBosToken, copy.AddSpecialTokens, copy.Seed, copy.Stop![0], copy.Metadata));
        Assert.Equal(original, copy with { TopP = 0.5, PresencePenalty = 0, FrequencyPenalty = 0, Cache = null, Echo = false, AddBosToken = null, AddSpecialTokens = null, Seed = null, Stop = ["x"], Metadata = "m" });
        Assert.Equal(new LmPrompt("a"), new LmPrompt("a") with { TopP = 1 });
    }

    // Built in code: an attribute's string argument is stored as UTF-8, which turns a lone surrogate into U+FFFD.
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ALoneSurrogateIsRefusedNamingTheFieldAndIndex(int which)
    {
        string text = which switch
        {
            0 => "abc" + '\uD800',
            1 => '\uDC00' + "abc",
            2 => "a" + '\uDBFF' + '\uDBFF' + "b",
            _ => "a" + '\uDC00' + '\uD800' + "b",
        };
        var e = Assert.Throws<LmPromptException>(() => new LmPrompt(text).Validate());
        Assert.Equal(nameof(LmPrompt.Text), e.FieldName);
        Assert.Contains("surrogate", e.Message, StringComparison.Ordinal);

        var chat = Assert.Throws<LmPromptException>(() => new LmPrompt(new[] { LmChatTurn.User("ok"), LmChatTurn.Assistant(text) }).Validate());
        Assert.Equal(nameof(LmPrompt.Chat), chat.FieldName);
        Assert.Contains("turn 1", chat.Message, StringComparison.Ordinal);

        var stop = Assert.Throws<LmPromptException>(() => new LmPrompt("ok") { Stop = ["fine", text] }.Validate());
        Assert.Equal(nameof(LmPrompt.Stop), stop.FieldName);
    }

    [Fact]
    public void PairedSurrogatesAndReplacementCharactersAreFine()
    {
        new LmPrompt("emoji \uD83D\uDE00 and \uFFFD").Validate();
        new LmPrompt("\uD83D\uDE00").Validate();
        new LmPrompt(new[] { LmChatTurn.User("\uD83D\uDE00\uD83D\uDE00") }).Validate();
    }

    [Fact]
    public void ALoneSurrogateNeverGetsTheCachedAnswerOfTheReplacementCharacterPrompt()
    {
        using var cache = Caching.LmCache.OpenInMemory();
        int calls = 0;
        var lm = new MockLm(p => { calls++; return "answer to " + p.Text; }, "m", new LanguageModelOptions { Cache = cache, CacheByDefault = true });
        Assert.False(lm.Predict("x\uFFFD").HasErrors);
        Assert.Throws<LmPromptException>(() => lm.Predict("x\uD800"));
        Assert.Equal(1, calls);
        Assert.Equal(1, cache.GetStats().Entries);
    }
}
