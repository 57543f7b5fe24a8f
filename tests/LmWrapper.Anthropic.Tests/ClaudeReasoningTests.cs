using System.Text.Json.Nodes;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

/// <summary>Claude's extended thinking: validated per model, sent, its signed blocks kept, cached and sent back on replies.</summary>
public sealed class ClaudeReasoningTests : ClaudeBatchTestBase
{
    private static readonly LmPrompt Thinking = new("What is 2+2?") { MaxTokens = 4000, ThinkingBudgetTokens = 2048 };

    private ClaudeLm Sonnet(bool batch = false) => Model(
        ClaudeModelNames.ClaudeSonnet4,
        options: Options() with { ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache, Batch = batch ? FastBatches : null } });

    [Fact]
    public async Task ThinkingIsSentAndItsSignedBlockComesBackOnThePredictionApartFromTheAnswer()
    {
        using var lm = Sonnet();
        var p = await lm.PredictAsync(Thinking);
        Assert.False(p.HasErrors, p.ErrorMessage);
        var thinking = LastBody["thinking"]!.AsObject();
        Assert.Equal("enabled", thinking["type"]!.GetValue<string>());
        Assert.Equal(2048, thinking["budget_tokens"]!.GetValue<int>());
        Assert.False(LastBody.ContainsKey("temperature")); // thinking takes only temperature 1: left out

        Assert.Equal("Echo: What is 2+2?", p.CompletionText);
        var block = Assert.Single(p.ReasoningBlocks!);
        Assert.False(block.IsRedacted);
        Assert.Equal("Let me think about: What is 2+2?", block.Text);
        Assert.False(string.IsNullOrEmpty(block.Signature));
        Assert.Equal(block.Text, p.Reasoning);

        // Claude bills its thinking as output tokens, once: they are inside output_tokens.
        int thinkingWords = FakeAnthropicServer.CountTokens(block.Text);
        Assert.Equal(thinkingWords + FakeAnthropicServer.CountTokens(p.CompletionText), p.Usage!.OutputTokens);
        Assert.Equal(lm.ModelInfo.Prices!.CostOf(p.Usage), lm.CostOf(p));
    }

    [Fact]
    public async Task AReplySendsTheThinkingBackUnchangedAndTheServerChecksItsSignature()
    {
        using var lm = Sonnet();
        var first = await lm.PredictAsync(Thinking);
        var reply = first.MakeReplyPrompt("And 3+3?");
        Assert.Equal(first.ReasoningBlocks, reply.Chat![1].ReasoningBlocks);
        int sentBack = -1;
        Server.Responder = r =>
        {
            sentBack = r.ThinkingBlocksSentBack;
            return FakeAnthropicServer.DefaultResponder(r);
        };
        var second = await lm.PredictAsync(reply);
        Assert.False(second.HasErrors, second.ErrorMessage);
        Assert.Equal(1, sentBack);
        var content = LastBody["messages"]![1]!["content"]!.AsArray();
        Assert.Equal("thinking", content[0]!["type"]!.GetValue<string>());
        Assert.Equal(first.ReasoningBlocks![0].Signature, content[0]!["signature"]!.GetValue<string>());
        Assert.Equal(first.ReasoningBlocks[0].Text, content[0]!["thinking"]!.GetValue<string>());
        Assert.Equal(first.CompletionText, content[1]!["text"]!.GetValue<string>());

        // A block whose text was changed no longer matches its signature: the API refuses it.
        var tampered = reply.Chat.ToList();
        tampered[1] = tampered[1] with { ReasoningBlocks = [first.ReasoningBlocks[0] with { Text = "I changed my mind." }] };
        var refused = await lm.PredictAsync(new LmPrompt(tampered) { MaxTokens = 4000, ThinkingBudgetTokens = 2048 });
        Assert.True(refused.HasErrors);
        Assert.Equal(LmErrorKind.InvalidRequest, refused.Error!.Kind);
        Assert.Contains("signature", refused.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RedactedThinkingIsKeptOpaqueAndSentBackToo()
    {
        using var lm = Sonnet();
        Server.Responder = r => new FakeAnthropicReply("Four.") { Thinking = "Two and two.", RedactedThinking = true };
        var p = await lm.PredictAsync(Thinking);
        Assert.Equal(2, p.ReasoningBlocks!.Count);
        Assert.True(p.ReasoningBlocks[1].IsRedacted);
        Assert.Null(p.ReasoningBlocks[1].Text);
        Assert.Equal("Two and two.", p.Reasoning);

        Server.Responder = FakeAnthropicServer.DefaultResponder;
        var second = await lm.PredictAsync(p.MakeReplyPrompt("Sure?"));
        Assert.False(second.HasErrors, second.ErrorMessage);
        var content = LastBody["messages"]![1]!["content"]!.AsArray();
        Assert.Equal("redacted_thinking", content[1]!["type"]!.GetValue<string>());
        Assert.Equal(p.ReasoningBlocks[1].RedactedData, content[1]!["data"]!.GetValue<string>());
    }

    [Fact]
    public async Task AStreamedAnswerKeepsItsThinkingAndStreamsOnlyTheAnswerText()
    {
        using var lm = Sonnet();
        Server.Responder = r => new FakeAnthropicReply("The answer is four.") { Thinking = "Two and two make four.", RedactedThinking = true };
        var prompt = Thinking with { Cache = false };
        var texts = new List<string>();
        LmPrediction? streamed = null;
        await foreach (var update in lm.PredictStreamingAsync(prompt))
        {
            if (update.Prediction is { } p)
            {
                streamed = p;
            }
            else
            {
                texts.Add(update.Text);
            }
        }

        var whole = await lm.PredictAsync(prompt);
        Assert.NotNull(streamed);
        Assert.False(streamed!.HasErrors, streamed.ErrorMessage);
        Assert.Equal("The answer is four.", string.Concat(texts)); // thinking is not streamed as answer text
        Assert.Equal(whole.CompletionText, streamed.CompletionText);
        Assert.Equal(whole.ReasoningBlocks![0], streamed.ReasoningBlocks![0]); // the redacted data differs per message
        Assert.Equal("Two and two make four.", streamed.Reasoning);
        Assert.False(string.IsNullOrEmpty(streamed.ReasoningBlocks![0].Signature));
        Assert.True(streamed.ReasoningBlocks[1].IsRedacted);
        Assert.Equal(whole.Usage, streamed.Usage);

        // The signature put together from the stream is the one the server signed: a reply with it is accepted.
        Server.Responder = FakeAnthropicServer.DefaultResponder;
        var reply = await lm.PredictAsync(streamed.MakeReplyPrompt("Sure?") with { Cache = false });
        Assert.False(reply.HasErrors, reply.ErrorMessage);
    }

    [Fact]
    public async Task ThinkingBlocksSurviveTheCacheAndTheBudgetIsInTheKey()
    {
        using var lm = Sonnet();
        var fresh = await lm.PredictAsync(Thinking);
        var cached = await lm.PredictAsync(Thinking);
        Assert.True(cached.WasCached);
        Assert.Equal(fresh.ReasoningBlocks, cached.ReasoningBlocks);
        Assert.Equal(fresh.Usage, cached.Usage);
        Assert.Equal(fresh.ReasoningBlocks, LmPrediction.FromJson(cached.ToJson()).ReasoningBlocks);

        // The cached blocks still carry a valid signature for the reply.
        var reply = await lm.PredictAsync(cached.MakeReplyPrompt("Thanks"));
        Assert.False(reply.HasErrors, reply.ErrorMessage);
        var replyAgain = await lm.PredictAsync(cached.MakeReplyPrompt("Thanks"));
        Assert.True(replyAgain.WasCached);

        var bigger = await lm.PredictAsync(Thinking with { ThinkingBudgetTokens = 3000 });
        Assert.False(bigger.WasCached);
        var without = await lm.PredictAsync(Thinking with { ThinkingBudgetTokens = null });
        Assert.False(without.WasCached);
        Assert.Null(without.ReasoningBlocks);
        Assert.Equal(4, MessageRequests.Count);
    }

    public static TheoryData<string, string, string> Refusals => new()
    {
        { "no thinking", nameof(LmPrompt.ThinkingBudgetTokens), "has no extended thinking" },
        { "small budget", nameof(LmPrompt.ThinkingBudgetTokens), "at least 1024" },
        { "budget at max tokens", nameof(LmPrompt.ThinkingBudgetTokens), "less than max_tokens (4000)" },
        { "budget over the default max tokens", nameof(LmPrompt.ThinkingBudgetTokens), "the model's default" },
        { "temperature", nameof(LmPrompt.Temperature), "only temperature 1" },
        { "greedy", nameof(LmPrompt.Temperature), "only temperature 1" },
        { "top p", nameof(LmPrompt.TopP), "from 0.95 to 1" },
        { "prefill", nameof(LmPrompt.Chat), "prefill" },
        { "effort", nameof(LmPrompt.ReasoningEffort), "ThinkingBudgetTokens" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task WhatClaudeRefusesWithThinkingIsRefusedBeforeAnythingIsSent(string what, string field, string says)
    {
        var model = what == "no thinking" ? ClaudeModelNames.Claude35Haiku : ClaudeModelNames.ClaudeSonnet4;
        var prompt = what switch
        {
            "no thinking" => Thinking,
            "small budget" => Thinking with { ThinkingBudgetTokens = 1000 },
            "budget at max tokens" => Thinking with { ThinkingBudgetTokens = 4000 },
            "budget over the default max tokens" => Thinking with { MaxTokens = null, ThinkingBudgetTokens = 5000 },
            "temperature" => Thinking with { Temperature = 0.5 },
            "greedy" => Thinking with { Temperature = 0 },
            "top p" => Thinking with { TopP = 0.9 },
            "prefill" => new LmPrompt([LmChatTurn.User("Hi"), LmChatTurn.Assistant("Well,")]) { MaxTokens = 4000, ThinkingBudgetTokens = 2048 },
            "effort" => new LmPrompt("Hi") { ReasoningEffort = LmReasoningEffort.High },
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };
        using var lm = Model(model);
        var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(prompt));
        Assert.Equal(field, e.FieldName);
        Assert.Contains(says, e.Message, StringComparison.Ordinal);
        Assert.Empty(MessageRequests);
    }

    [Fact]
    public async Task TopPFrom095AndAThinkingBlockWithoutSignatureAreHandledAsClaudeDoes()
    {
        using var lm = Sonnet();
        var p = await lm.PredictAsync(Thinking with { TopP = 0.96 });
        Assert.False(p.HasErrors, p.ErrorMessage);
        Assert.Equal(0.96, LastBody["top_p"]!.GetValue<double>());

        var unsigned = new LmPrompt([LmChatTurn.User("Hi"), LmChatTurn.Assistant("Hello") with { ReasoningBlocks = [LmReasoningBlock.Thinking("hm")] }, LmChatTurn.User("Bye")]);
        var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(unsigned));
        Assert.Contains("signature", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ModelInfoSaysWhichModelsThink()
    {
        using var sonnet = Model(ClaudeModelNames.ClaudeSonnet4);
        using var haiku = Model(ClaudeModelNames.Claude35Haiku);
        Assert.True(sonnet.ModelInfo.Has(LmCapabilities.ThinkingBudget));
        Assert.False(haiku.ModelInfo.Has(LmCapabilities.ThinkingBudget));
        Assert.False(sonnet.ModelInfo.Has(LmCapabilities.ReasoningEffort));
        Assert.All(
            new[] { ClaudeModelNames.Claude37Sonnet, ClaudeModelNames.ClaudeOpus4, ClaudeModelNames.ClaudeOpus41, ClaudeModelNames.ClaudeSonnet45, ClaudeModelNames.ClaudeHaiku45, ClaudeModelNames.ClaudeOpus45 },
            m => Assert.True(m.SupportsExtendedThinking, m.Name));
        Assert.All(new[] { ClaudeModelNames.Claude3Haiku, ClaudeModelNames.Claude35Sonnet }, m => Assert.False(m.SupportsExtendedThinking, m.Name));
    }

    [Fact]
    public void BatchRequestsCarryTheThinkingAndTheirResultsItsBlocks()
    {
        using var lm = Sonnet(batch: true);
        var results = lm.PredictMany([Thinking, new LmPrompt("Plain") { MaxTokens = 20 }], CompletionWindow.BatchAny).ToList();
        Assert.All(results, r => Assert.False(r.HasErrors, r.ErrorMessage));
        var parameters = ParamsOf(Assert.Single(CreateRequests)).Values.Select(p => JsonNode.Parse(p)!.AsObject()).ToList();
        var withThinking = Assert.Single(parameters, p => p.ContainsKey("thinking"));
        Assert.Equal(2048, withThinking["thinking"]!["budget_tokens"]!.GetValue<int>());
        Assert.Equal("Let me think about: What is 2+2?", results[0].Reasoning);
        Assert.NotNull(results[0].ReasoningBlocks![0].Signature);
        Assert.Null(results[1].ReasoningBlocks);
    }
}
