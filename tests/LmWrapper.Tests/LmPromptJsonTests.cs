using System.Reflection;
using System.Text.Json;
using LmWrapper.Internals;

namespace LmWrapper.Tests;

public class LmPromptJsonTests
{
    private static readonly LmPrompt EverySetting = new([LmChatTurn.System("be brief"), LmChatTurn.User("hi", name: "ann"), LmChatTurn.Assistant("yo") with { ReasoningBlocks = [LmReasoningBlock.Thinking("hmm", "sig"), LmReasoningBlock.Redacted("enc")] }])
    {
        MaxTokens = 7,
        Stop = ["\n", "END"],
        Logprobs = 3,
        Temperature = 0.25,
        TopP = 0.5,
        PresencePenalty = 1.5,
        FrequencyPenalty = -0.5,
        NumCompletions = 4,
        Cache = false,
        Echo = true,
        AddBosToken = false,
        AddSpecialTokens = true,
        Seed = 42,
        ReasoningEffort = LmReasoningEffort.Minimal,
        ThinkingBudgetTokens = 2048,
        Internals = new ModelInternalsRequest { HiddenStates = true, Attentions = true, Layers = [0, -1], Positions = LmInternalsPositions.Generated },
        Tools = [LmToolDefinition.FromJson("f", "does f", """{"type":"object","properties":{"a":{"type":"string"}}}""")],
        ToolChoice = LmToolChoice.Named("f"),
        ResponseFormat = LmResponseFormat.JsonObject,
        Metadata = "not serialized",
    };

    [Fact]
    public void EveryFieldButMetadataRoundTrips()
    {
        var back = LmPrompt.FromJson(EverySetting.ToJson());
        Assert.Null(back.Metadata);
        Assert.Equal(EverySetting with { Metadata = null }, back);
        Assert.Equal(EverySetting.Internals, back.Internals);
        Assert.Equal("ann", back.Chat![1].Name);

        // The test covers every settable field: each one differs from a default prompt's, so a field the JSON forgot fails above.
        var defaults = new LmPrompt("x");
        var settable = typeof(LmPrompt).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.Name != nameof(LmPrompt.Metadata));
        Assert.All(settable, p => Assert.False(Equals(p.GetValue(defaults), p.GetValue(EverySetting)), p.Name));
    }

    [Fact]
    public void TextPromptsAndDefaultsRoundTripCompactly()
    {
        var text = new LmPrompt("Once upon a") { MaxTokens = 10 };
        string json = text.ToJson();
        Assert.Equal(text, LmPrompt.FromJson(json));
        using var doc = JsonDocument.Parse(json);
        Assert.Equal("Once upon a", doc.RootElement.GetProperty("text").GetString());
        Assert.Equal(10, doc.RootElement.GetProperty("max_tokens").GetInt32());
        Assert.False(doc.RootElement.TryGetProperty("chat", out _));
        Assert.False(doc.RootElement.TryGetProperty("internals", out _));

        // Fields left out take their defaults; the prompt of a serialized prediction reads as a prompt too.
        Assert.Equal(new LmPrompt("a"), LmPrompt.FromJson("""{"text":"a"}"""));
        var prediction = new LmPrediction { CompletionText = "b", Prompt = text };
        var inner = JsonDocument.Parse(prediction.ToJson()).RootElement.GetProperty("prompt").GetRawText();
        Assert.Equal(text, LmPrompt.FromJson(inner));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("null")]
    [InlineData("{}")]
    [InlineData("""{"chat":[{"role":"wizard","content":"x"}]}""")]
    [InlineData("""{"text":"a","internals":{"positions":"sideways"}}""")]
    public void FromJsonRejectsWhatIsNotAPrompt(string json) => Assert.Throws<FormatException>(() => LmPrompt.FromJson(json));
}
