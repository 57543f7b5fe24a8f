namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>ReasoningEffort on local models: Qwen3's enable_thinking switch, refused where a template has none.</summary>
public sealed class HuggingFaceReasoningTests
{
    private static string Qwen3ChatFolder()
    {
        // The same tiny Qwen3 with the real Qwen3 tokenizer and chat template as HuggingFaceLmTests' chat test.
        var spec = RandomModels.Specs["qwen3"] with { VocabSize = 151669, HiddenSize = 16, NumHeads = 2, NumKvHeads = 1, HeadDim = 8, IntermediateSize = 16, TokenizerFolder = HfFormatsFixtures.Path("tokenizers", "qwen3"), BosTokenId = null, EosTokenId = 151645 };
        return RandomModels.Folder("qwen3-chat", spec);
    }

    [Fact]
    public void NoneSwitchesQwen3ThinkingOffAndAnyOtherEffortLeavesItOn()
    {
        using var lm = RandomModels.Load(Qwen3ChatFolder());
        Assert.True(lm.Tokenizer.ChatTemplateHasThinkingSwitch);
        Assert.True(lm.ModelInfo.Has(LmCapabilities.ReasoningEffort));
        Assert.False(lm.ModelInfo.Has(LmCapabilities.ThinkingBudget));
        var question = new LmPrompt([LmChatTurn.User("Hi!")]) { MaxTokens = 2, Temperature = 0 };
        string Rendered(LmPrompt p) => lm.Tokenizer.Decode(lm.Encode(p).Ids);

        string off = Rendered(question with { ReasoningEffort = LmReasoningEffort.None });
        Assert.EndsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n", off, StringComparison.Ordinal);
        string on = Rendered(question with { ReasoningEffort = LmReasoningEffort.High });
        Assert.EndsWith("<|im_start|>assistant\n", on, StringComparison.Ordinal);
        Assert.Equal(on, Rendered(question with { ReasoningEffort = LmReasoningEffort.Low }));
        Assert.Equal(Rendered(question), on); // unset: the template's default (thinking on)
        Assert.Equal(lm.Tokenizer.ApplyChatTemplate(question.Chat!, enableThinking: false), off);

        var answer = lm.Predict(question with { ReasoningEffort = LmReasoningEffort.None });
        Assert.False(answer.HasErrors, answer.ErrorMessage);
        Assert.Equal(lm.Encode(question with { ReasoningEffort = LmReasoningEffort.None }).Ids.Length, answer.Usage!.InputTokens);
    }

    [Fact]
    public void AnAssistantTurnsReasoningIsRenderedAsReasoningContent()
    {
        using var lm = RandomModels.Load(Qwen3ChatFolder());
        var prefill = new LmPrompt([LmChatTurn.User("Hi!"), LmChatTurn.Assistant("Hello") with { ReasoningBlocks = [LmReasoningBlock.Thinking("Greet back.")] }]);
        string text = lm.Tokenizer.Decode(lm.Encode(prefill).Ids);
        Assert.EndsWith("<think>\nGreet back.\n</think>\n\nHello", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ModelsWithoutTheSwitchRefuseAnEffortAndEveryLocalModelRefusesAThinkingBudget()
    {
        using var noTemplate = RandomModels.Load(HfFormatsFixtures.Path("models", "stories260K"));
        var e = Assert.Throws<LmPromptException>(() => noTemplate.Predict(new LmPrompt("Once") { ReasoningEffort = LmReasoningEffort.High, MaxTokens = 2 }));
        Assert.Equal(nameof(LmPrompt.ReasoningEffort), e.FieldName);
        Assert.Contains("without a chat template", e.Message, StringComparison.Ordinal);
        Assert.False(noTemplate.ModelInfo.Has(LmCapabilities.ReasoningEffort));

        var spec = RandomModels.Specs["llama"] with { TokenizerFolder = HfFormatsFixtures.Path("tokenizers", "llama3"), VocabSize = 128256, HiddenSize = 16, NumHeads = 2, NumKvHeads = 1, IntermediateSize = 16 };
        using var llama3 = RandomModels.Load(RandomModels.Folder("llama3-chat-reasoning", spec));
        Assert.True(llama3.IsChatModel);
        Assert.False(llama3.Tokenizer.ChatTemplateHasThinkingSwitch);
        e = Assert.Throws<LmPromptException>(() => llama3.Predict(new LmPrompt([LmChatTurn.User("Hi")]) { ReasoningEffort = LmReasoningEffort.None, MaxTokens = 2 }));
        Assert.Equal(nameof(LmPrompt.ReasoningEffort), e.FieldName);
        Assert.Contains("enable_thinking", e.Message, StringComparison.Ordinal);

        using var qwen3 = RandomModels.Load(Qwen3ChatFolder());
        e = Assert.Throws<LmPromptException>(() => qwen3.Predict(new LmPrompt("Hi") { ThinkingBudgetTokens = 2048, MaxTokens = 2 }));
        Assert.Equal(nameof(LmPrompt.ThinkingBudgetTokens), e.FieldName);
    }
}
