using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

/// <summary>ReasoningEffort on OpenAI's reasoning models: validated per model family, sent, reported and billed once.</summary>
public sealed class OpenAiReasoningTests : OpenAiBatchTestBase
{
    private static LmPrompt Question(LmReasoningEffort? effort) => new("What is 2+2?") { MaxTokens = 200, ReasoningEffort = effort };

    [Fact]
    public async Task TheEffortIsSentAndMoreEffortReportsMoreReasoningTokensInsideTheOutputTokens()
    {
        using var lm = Lm(OpenAiModelNames.Gpt5);
        var low = await lm.PredictAsync(Question(LmReasoningEffort.Low));
        Assert.Equal("low", LastRequest.Json.GetProperty("reasoning_effort").GetString());
        var high = await lm.PredictAsync(Question(LmReasoningEffort.High));
        Assert.Equal("high", LastRequest.Json.GetProperty("reasoning_effort").GetString());
        var unset = await lm.PredictAsync(Question(null));
        Assert.False(LastRequest.Json.TryGetProperty("reasoning_effort", out _));

        Assert.False(low.HasErrors, low.ErrorMessage);
        Assert.True(low.Usage!.ReasoningTokens > 0);
        Assert.True(high.Usage!.ReasoningTokens > unset.Usage!.ReasoningTokens);
        Assert.True(unset.Usage.ReasoningTokens > low.Usage.ReasoningTokens);
        Assert.Equal(high.CompletionText, low.CompletionText);
        Assert.Equal(high.Usage.OutputTokens - high.Usage.ReasoningTokens, low.Usage.OutputTokens - low.Usage.ReasoningTokens);
        Assert.Equal(high.Usage.ReasoningTokens.ToString(System.Globalization.CultureInfo.InvariantCulture), high.ProviderData!["reasoning_tokens"]);
        Assert.Null(high.Reasoning); // OpenAI does not return its reasoning, only its size

        // Billed once: the reasoning tokens are inside the output tokens, at the output price, never on top.
        var prices = lm.ModelInfo.Prices!;
        decimal expected = (high.Usage.InputTokens * prices.InputPerMillion + high.Usage.OutputTokens * prices.OutputPerMillion) / 1_000_000m;
        Assert.Equal(expected, lm.CostOf(high));
        Assert.Equal(prices.CostOf(high.Usage with { ReasoningTokens = 0 }), lm.CostOf(high));
    }

    [Fact]
    public async Task AStreamedReasoningAnswerReportsTheSameReasoningTokens()
    {
        using var lm = Lm(OpenAiModelNames.Gpt5);
        var prompt = Question(LmReasoningEffort.High) with { Cache = false };
        LmPrediction? streamed = null;
        await foreach (var update in lm.PredictStreamingAsync(prompt))
        {
            streamed = update.Prediction ?? streamed;
        }

        Assert.Equal("high", LastRequest.Json.GetProperty("reasoning_effort").GetString());
        Assert.True(LastRequest.Json.GetProperty("stream").GetBoolean());
        var whole = await lm.PredictAsync(prompt);
        Assert.NotNull(streamed);
        Assert.False(streamed!.HasErrors, streamed.ErrorMessage);
        Assert.True(streamed.Usage!.ReasoningTokens > 0);
        Assert.Equal(whole.Usage, streamed.Usage);
        Assert.Equal(lm.CostOf(whole), lm.CostOf(streamed));
    }

    [Fact]
    public async Task Gpt51TakesNoneAndThenDoesNotReason()
    {
        using var lm = Lm(OpenAiModelNames.Gpt51);
        var none = await lm.PredictAsync(Question(LmReasoningEffort.None));
        Assert.False(none.HasErrors, none.ErrorMessage);
        Assert.Equal("none", LastRequest.Json.GetProperty("reasoning_effort").GetString());
        Assert.Equal(0, none.Usage!.ReasoningTokens);
        var medium = await lm.PredictAsync(Question(LmReasoningEffort.Medium));
        Assert.True(medium.Usage!.ReasoningTokens > 0);
    }

    [Theory]
    [InlineData(OpenAiModelNames.Gpt4oMini, LmReasoningEffort.Low, "not a reasoning model")]
    [InlineData(OpenAiModelNames.Gpt35TurboInstruct, LmReasoningEffort.High, "not a reasoning model")]
    [InlineData(OpenAiModelNames.O4Mini, LmReasoningEffort.Minimal, "Low, Medium, High")]
    [InlineData(OpenAiModelNames.Gpt5, LmReasoningEffort.None, "Minimal, Low, Medium, High")]
    [InlineData(OpenAiModelNames.Gpt51, LmReasoningEffort.Minimal, "None, Low, Medium, High")]
    [InlineData(OpenAiModelNames.Gpt5, LmReasoningEffort.XHigh, "Minimal, Low, Medium, High")]
    [InlineData(OpenAiModelNames.O1Mini, LmReasoningEffort.Low, "takes no reasoning_effort")]
    public async Task AnEffortTheModelDoesNotTakeIsRefusedBeforeAnythingIsSent(string model, LmReasoningEffort effort, string says)
    {
        using var lm = Lm(model);
        var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(Question(effort)));
        Assert.Equal(nameof(LmPrompt.ReasoningEffort), e.FieldName);
        Assert.Contains(model, e.Message, StringComparison.Ordinal);
        Assert.Contains(says, e.Message, StringComparison.Ordinal);
        Assert.Throws<LmPromptException>(() => lm.PredictMany([new LmPrompt("fine"), Question(effort)], CompletionWindow.BatchAny));
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public async Task AThinkingBudgetIsClaudesAndIsRefused()
    {
        using var lm = Lm(OpenAiModelNames.Gpt5);
        var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(new LmPrompt("Hi") { ThinkingBudgetTokens = 2048 }));
        Assert.Equal(nameof(LmPrompt.ThinkingBudgetTokens), e.FieldName);
        Assert.Contains(OpenAiModelNames.Gpt5, e.Message, StringComparison.Ordinal);
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public void ModelInfoSaysWhichModelsTakeAnEffort()
    {
        using var reasoning = Lm(OpenAiModelNames.O3);
        using var chat = Lm(OpenAiModelNames.Gpt4o);
        using var noEffort = Lm(OpenAiModelNames.O1Mini);
        Assert.True(reasoning.ModelInfo.Has(LmCapabilities.ReasoningEffort));
        Assert.False(chat.ModelInfo.Has(LmCapabilities.ReasoningEffort));
        Assert.False(noEffort.ModelInfo.Has(LmCapabilities.ReasoningEffort));
        Assert.False(reasoning.ModelInfo.Has(LmCapabilities.ThinkingBudget));
        Assert.Equal([LmReasoningEffort.Low, LmReasoningEffort.Medium, LmReasoningEffort.High], reasoning.Info.SupportedReasoningEfforts);

        // A registered reasoning model takes the o-series efforts unless told otherwise.
        var custom = new OpenAiModelInfo("my-reasoner", 100_000, 10_000, "o200k_base", IsChatModel: true, Prices: null) { IsReasoningModel = true };
        Assert.Equal([LmReasoningEffort.Low, LmReasoningEffort.Medium, LmReasoningEffort.High], custom.SupportedReasoningEfforts);
        Assert.Empty((custom with { IsReasoningModel = false }).SupportedReasoningEfforts);
    }

    [Fact]
    public async Task TheEffortIsInTheCacheKeyAndReasoningTokensSurviveTheCache()
    {
        using var lm = BatchLm(OpenAiModelNames.Gpt5);
        var fresh = await lm.PredictAsync(Question(LmReasoningEffort.High));
        var cached = await lm.PredictAsync(Question(LmReasoningEffort.High));
        Assert.True(cached.WasCached);
        Assert.Equal(fresh.Usage, cached.Usage);
        Assert.Equal(32, cached.Usage!.ReasoningTokens);

        var other = await lm.PredictAsync(Question(LmReasoningEffort.Low));
        Assert.False(other.WasCached);
        Assert.Equal(2, Server.Requests.Count(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal)));
        Assert.Equal(fresh.Usage, LmPrediction.FromJson(cached.ToJson()).Usage);
    }

    [Fact]
    public async Task BatchLinesCarryTheEffortAndTheirResultsTheReasoningTokens()
    {
        using var lm = BatchLm(OpenAiModelNames.O4Mini);
        var results = lm.PredictMany([Question(LmReasoningEffort.High), Question(null)], CompletionWindow.BatchAny).ToList();
        Assert.All(results, r => Assert.False(r.HasErrors, r.ErrorMessage));
        var lines = UploadedLines().Single();
        Assert.Equal("high", lines[0].GetProperty("body").GetProperty("reasoning_effort").GetString());
        Assert.False(lines[1].GetProperty("body").TryGetProperty("reasoning_effort", out _));
        Assert.Equal(32, results[0].Usage!.ReasoningTokens);
        Assert.Equal(16, results[1].Usage!.ReasoningTokens);
        Assert.Equal(lm.ModelInfo.Prices!.CostOf(results[0].Usage!, batch: true), lm.CostOf(results[0]));
    }

    [Fact]
    public async Task SeveralCompletionsShareTheReasoningTokensLikeTheOutputTokens()
    {
        using var lm = Lm(OpenAiModelNames.Gpt5);
        var p = await lm.PredictAsync(Question(LmReasoningEffort.Low) with { NumCompletions = 3 });
        var sum = p.Completions.Select(c => c.Usage!).Aggregate((a, b) => a + b);
        Assert.Equal(3 * 8, sum.ReasoningTokens);
        Assert.All(p.Completions, c => Assert.InRange(c.Usage!.ReasoningTokens, 1, c.Usage.OutputTokens));
    }

    [Fact]
    public async Task ReasoningContentFromACompatibleServerIsKeptButNotSentBack()
    {
        using var lm = BatchLm(OpenAiModelNames.Gpt5);
        Server.Responder = r => new FakeOpenAiReply("4") { ReasoningContent = "Two and two make four." };
        var p = await lm.PredictAsync(Question(LmReasoningEffort.Low));
        Assert.Equal("Two and two make four.", p.Reasoning);
        Assert.Null(Assert.Single(p.ReasoningBlocks!).Signature);
        Assert.Equal(p.ReasoningBlocks, (await lm.PredictAsync(Question(LmReasoningEffort.Low))).ReasoningBlocks);

        // The Chat Completions API takes no reasoning back: the reply's assistant turn is its text alone.
        await lm.PredictAsync(p.MakeReplyPrompt("Sure?"));
        var assistant = LastRequest.Json.GetProperty("messages")[1];
        Assert.Equal("4", assistant.GetProperty("content").GetString());
        Assert.Equal(2, assistant.EnumerateObject().Count());
    }
}
