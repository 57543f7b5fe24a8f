namespace LmWrapper.Anthropic.Tests;

/// <summary>Whatever Claude cannot take is an LmPromptException before any request.</summary>
public sealed class ClaudeValidationTests : ClaudeTestBase
{
    public static TheoryData<string, LmPrompt> Rejected => new()
    {
        { "Temperature", new LmPrompt("q") { Temperature = 1.5 } },
        { "Temperature", new LmPrompt("q") { Temperature = 2 } },
        { "Logprobs", new LmPrompt("q") { Logprobs = 2 } },
        { "Echo", new LmPrompt("q") { Echo = true } },
        { "PresencePenalty", new LmPrompt("q") { PresencePenalty = 0.5 } },
        { "FrequencyPenalty", new LmPrompt("q") { FrequencyPenalty = -0.1 } },
        { "Seed", new LmPrompt("q") { Seed = 42 } },
        { "AddBosToken", new LmPrompt("q") { AddBosToken = true } },
        { "AddSpecialTokens", new LmPrompt("q") { AddSpecialTokens = false } },
        { "MaxTokens", new LmPrompt("q") { MaxTokens = 8193 } },
        { "Chat", new LmPrompt([LmChatTurn.User("a"), LmChatTurn.User("b")]) },
        { "Chat", new LmPrompt([LmChatTurn.User("a"), LmChatTurn.Assistant("b"), LmChatTurn.Assistant("c")]) },
        { "Chat", new LmPrompt([LmChatTurn.Assistant("I start")]) },
        { "Chat", new LmPrompt([LmChatTurn.System("sys"), LmChatTurn.Assistant("I start")]) },
        { "Chat", new LmPrompt([LmChatTurn.System("only a system turn")]) },
        { "Chat", new LmPrompt([LmChatTurn.User("a"), LmChatTurn.Tool("tool output", "calc")]) },
        { "Chat", new LmPrompt([LmChatTurn.User("a", name: "alice")]) },
        { "Chat", new LmPrompt([LmChatTurn.User("a"), LmChatTurn.Assistant("prefill ends with a space ")]) },
        { "Chat", new LmPrompt([LmChatTurn.User("   ")]) },
        { "Chat", new LmPrompt([LmChatTurn.User("a"), LmChatTurn.System("late system")]) },
        { "Text", new LmPrompt(" \n ") },
        { "Text", new LmPrompt(string.Empty) },
        { "TopP", new LmPrompt("q") { TopP = 1.2 } },
    };

    [Theory]
    [MemberData(nameof(Rejected))]
    public void RejectedBeforeAnyRequest(string field, LmPrompt prompt)
    {
        using var lm = Model();
        var e = Assert.Throws<LmPromptException>(() => lm.Predict(prompt));
        Assert.Equal(field, e.FieldName);
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public void TemperatureAndTopPTogetherAreRejectedOnlyWhereTheModelRefusesBoth()
    {
        var both = new LmPrompt("q") { Temperature = 0.5, TopP = 0.9 };
        using var sonnet45 = Model(ClaudeModelNames.ClaudeSonnet45);
        var e = Assert.Throws<LmPromptException>(() => sonnet45.Predict(both));
        Assert.Equal("TopP", e.FieldName);
        Assert.Contains("not both", e.Message, StringComparison.Ordinal);
        Assert.Empty(Server.Requests);

        using var haiku35 = Model(ClaudeModelNames.Claude35Haiku);
        Assert.False(haiku35.Predict(both).HasErrors);
        Assert.Single(Server.Requests);
    }

    [Fact]
    public void MessagesExplainWhatToDo()
    {
        using var lm = Model();
        var e = Assert.Throws<LmPromptException>(() => lm.Predict(new LmPrompt("q") { Temperature = 1.5 }));
        Assert.Contains("[0, 1]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<LmPromptException>(() => lm.Predict(new LmPrompt([LmChatTurn.User("a"), LmChatTurn.User("b")])));
        Assert.Contains("alternate", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<LmPromptException>(() => lm.Predict(new LmPrompt("q") { Logprobs = 5 }));
        Assert.Contains("no log probabilities", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PredictManyValidatesEveryPromptBeforeSendingAny()
    {
        using var lm = Model();
        var prompts = new[] { new LmPrompt("fine"), new LmPrompt("also fine"), new LmPrompt("bad") { Seed = 1 } };
        var e = Assert.Throws<LmPromptException>(() => lm.PredictMany(prompts).ToList());
        Assert.StartsWith("Prompt 2:", e.Message, StringComparison.Ordinal);
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public void DefaultsAreAccepted()
    {
        using var lm = Model();
        var p = lm.Predict(new LmPrompt("q") { Temperature = 1, TopP = 1, Logprobs = 1 });
        Assert.False(p.HasErrors);
        Assert.Equal(1.0, LastBody["temperature"]!.GetValue<double>());
    }

    [Fact]
    public void EstimatingCostValidatesToo()
    {
        using var lm = Model();
        Assert.Throws<LmPromptException>(() => lm.EstimateCost(new LmPrompt("q") { Echo = true }));
        Assert.Empty(Server.Requests);
    }
}
