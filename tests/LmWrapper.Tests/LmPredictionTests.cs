namespace LmWrapper.Tests;

public class LmPredictionTests
{
    private static LmPrediction Full(LmPrompt? prompt = null) => new()
    {
        CompletionText = " time, there",
        Prompt = prompt ?? new LmPrompt("Once upon a") { MaxTokens = 2, Logprobs = 2, Echo = true, Stop = ["\n"], Seed = 3 },
        FinishReason = "length",
        CompletionTokens = [" time", ",", " there"],
        CompletionTokenOffsets = [0, 5, 6],
        CompletionLogprobs = [-0.5, -1.5, -1.0],
        TopTokenLogprobs = [new Dictionary<string, double> { [" time"] = -0.5, [" day"] = -2 }],
        PromptTokens = ["Once", " upon", " a"],
        PromptLogprobs = [null, -3.0, -0.25],
        Usage = new LmUsage(3, 3, 1),
        ProviderData = new Dictionary<string, string> { ["system_fingerprint"] = "fp_1" },
    };

    [Fact]
    public void MissingDataThrowsAClearExceptionInsteadOfAnEmptyList()
    {
        var p = new LmPrediction { CompletionText = "x", Prompt = new LmPrompt("a") };
        Assert.False(p.HasCompletionLogprobs);
        var e = Assert.Throws<LmPredictionDataUnavailableException>(() => p.CompletionLogprobs);
        Assert.Contains("CompletionLogprobs", e.Message, StringComparison.Ordinal);
        Assert.Contains("did not provide", e.Message, StringComparison.Ordinal);
        Assert.Contains("Echo", Assert.Throws<LmPredictionDataUnavailableException>(() => p.PromptLogprobs).Message, StringComparison.Ordinal);
        Assert.Contains("did not provide", Assert.Throws<LmPredictionDataUnavailableException>(() => p.TopTokenLogprobs).Message, StringComparison.Ordinal);
        var none = new LmPrediction { CompletionText = "x", Prompt = new LmPrompt("a") { Logprobs = 0 } };
        Assert.Contains("Logprobs is 0", Assert.Throws<LmPredictionDataUnavailableException>(() => none.CompletionLogprobs).Message, StringComparison.Ordinal);
        Assert.Throws<LmPredictionDataUnavailableException>(() => p.CompletionTokens);
        Assert.Throws<LmPredictionDataUnavailableException>(() => p.CompletionMeanLogprob());
    }

    [Fact]
    public void DerivedValues()
    {
        var p = Full();
        Assert.Equal(-1.0, p.CompletionMeanLogprob(), 12);
        Assert.Equal([null, -3.0, -0.25, -0.5, -1.5, -1.0], p.FullLogprobs);
        Assert.Equal("Once upon a time, there", p.GetFullText());
        Assert.Equal(6, p.Usage!.TotalTokens);
        Assert.Same(p, Assert.Single(p.Completions));
        Assert.False(p.HasErrors);
    }

    [Fact]
    public void JsonRoundTripsEveryField()
    {
        var original = Full();
        string json = original.ToJson();
        var back = LmPrediction.FromJson(json);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(original.Prompt, back.Prompt with { });
        Assert.Equal(original.CompletionTokens, back.CompletionTokens);
        Assert.Equal(original.CompletionTokenOffsets, back.CompletionTokenOffsets);
        Assert.Equal(original.CompletionLogprobs, back.CompletionLogprobs);
        Assert.Equal(original.TopTokenLogprobs[0], back.TopTokenLogprobs[0]);
        Assert.Equal(original.PromptLogprobs, back.PromptLogprobs);
        Assert.Equal(original.Usage, back.Usage);
        Assert.Equal("fp_1", back.ProviderData!["system_fingerprint"]);
        Assert.Equal("length", back.FinishReason);
        Assert.Contains("\"completion_text\":\" time, there\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void JsonRoundTripsChatPromptsErrorsAndSeveralCompletions()
    {
        var prompt = new LmPrompt([LmChatTurn.System("s"), LmChatTurn.User("u", "ann")]) { NumCompletions = 2, Temperature = 0, Logprobs = 0, Cache = false };
        var a = new LmPrediction { CompletionText = "one", Prompt = prompt };
        var b = new LmPrediction { CompletionText = "two", Prompt = prompt };
        var multi = LmPrediction.FromJson(new LmPrediction { CompletionText = "one", Prompt = prompt, Completions = [a, b] }.ToJson());
        Assert.Equal(prompt, multi.Prompt);
        Assert.Equal(["one", "two"], multi.Completions.Select(c => c.CompletionText));
        Assert.Equal("ann", multi.Prompt.Chat![1].Name);

        var err = LmPrediction.FromJson(LmPrediction.FromError(new LmPrompt("x"), new LmError(LmErrorKind.ContextLength, "too long", 400, "context_length_exceeded", "req_1")).ToJson());
        Assert.True(err.HasErrors);
        Assert.True(err.IsErrorPermanent);
        Assert.Equal("too long", err.ErrorMessage);
        Assert.Equal(new LmError(LmErrorKind.ContextLength, "too long", 400, "context_length_exceeded", "req_1"), err.Error);
        Assert.Contains("failed", Assert.Throws<LmPredictionDataUnavailableException>(() => err.CompletionTokens).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"completion_text\":\"x\"}")]
    [InlineData("{\"completion_text\":\"x\",\"prompt\":{}}")]
    public void FromJsonRejectsOtherJson(string json) => Assert.Throws<FormatException>(() => LmPrediction.FromJson(json));

    [Fact]
    public void MakeReplyPromptContinuesTheConversationKeepingSettings()
    {
        var first = new LmPrediction
        {
            CompletionText = "4",
            Prompt = new LmPrompt([LmChatTurn.System("math"), LmChatTurn.User("2+2?")]) { MaxTokens = 5, Temperature = 0, Metadata = "m" },
        };
        var next = first.MakeReplyPrompt("and 3+3?");
        Assert.Equal(["math", "2+2?", "4", "and 3+3?"], next.Chat!.Select(t => t.Content));
        Assert.Equal([LmChatRole.System, LmChatRole.User, LmChatRole.Assistant, LmChatRole.User], next.Chat!.Select(t => t.Role));
        Assert.Equal(5, next.MaxTokens);
        Assert.Equal(0, next.Temperature);
        Assert.Equal("m", next.Metadata); // kept, as in the Python original
        next.Validate();

        // Overrides change the continued prompt's settings (the Python original's **override_prompt_params).
        var hotter = first.MakeReplyPrompt("and 4+4?", p => p with { Temperature = 0.5, MaxTokens = 9 });
        Assert.Equal(["math", "2+2?", "4", "and 4+4?"], hotter.Chat!.Select(t => t.Content));
        Assert.Equal(0.5, hotter.Temperature);
        Assert.Equal(9, hotter.MaxTokens);
        Assert.Equal("m", hotter.Metadata);
        var twoTurns = first.MakeReplyPrompt([LmChatTurn.User("a"), LmChatTurn.Assistant("b")], p => p with { Metadata = "n" });
        Assert.Equal(["math", "2+2?", "4", "a", "b"], twoTurns.Chat!.Select(t => t.Content));
        Assert.Equal("n", twoTurns.Metadata);

        var fromText = new LmPrediction { CompletionText = " Paris", Prompt = new LmPrompt("Capital of France?") }.MakeReplyPrompt(LmChatTurn.User("Germany?"));
        Assert.Equal("user: Capital of France?\nassistant:  Paris\nuser: Germany?\nassistant:", fromText.GetTextAsStringDefaultForm());
        Assert.Throws<InvalidOperationException>(() => LmPrediction.FromError(new LmPrompt("x"), new LmError(LmErrorKind.Server, "boom")).MakeReplyPrompt("y"));
    }

    [Fact]
    public void AnErrorStoredBeforeErrorsWereTypedReadsAsAPermanentInvalidRequest()
    {
        const string old = """{"completion_text":"","error":"prompt is too long","error_permanent":true}""";
        var p = Serialization.PredictionJson.DeserializePayload(System.Text.Encoding.UTF8.GetBytes(old), new LmPrompt("x"), wasCached: true);
        Assert.Equal(LmErrorKind.InvalidRequest, p.Error!.Kind);
        Assert.Equal("prompt is too long", p.ErrorMessage);
        Assert.True(p.IsErrorPermanent);
    }

    [Theory]
    [InlineData(LmErrorKind.InvalidRequest, 400, true)]
    [InlineData(LmErrorKind.InvalidRequest, 422, true)]
    [InlineData(LmErrorKind.InvalidRequest, 405, false)]
    [InlineData(LmErrorKind.ContextLength, 400, true)]
    [InlineData(LmErrorKind.ContentFilter, null, true)]
    [InlineData(LmErrorKind.NotFound, 404, false)]
    [InlineData(LmErrorKind.RateLimitExhausted, 429, false)]
    [InlineData(LmErrorKind.Server, 500, false)]
    [InlineData(LmErrorKind.Transport, null, false)]
    [InlineData(LmErrorKind.MalformedResponse, 200, false)]
    public void ThePermanenceTable(LmErrorKind kind, int? status, bool permanent) =>
        Assert.Equal(permanent, new LmError(kind, "m", status).IsPermanent);
}
