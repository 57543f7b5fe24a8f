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
}
