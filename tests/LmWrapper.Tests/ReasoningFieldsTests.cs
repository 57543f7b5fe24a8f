using System.Text.Json;
using LmWrapper.Caching;
using LmWrapper.Costs;

namespace LmWrapper.Tests;

/// <summary>The reasoning fields in the core: prompt equality, validation, JSON, cache keys, usage, costs and the mock.</summary>
public class ReasoningFieldsTests
{
    private static readonly LmReasoningBlock[] Blocks = [LmReasoningBlock.Thinking("Two and two.", "c2ln"), LmReasoningBlock.Redacted("ZW5j")];

    private static LmPrompt Dialog(IReadOnlyList<LmReasoningBlock>? blocks) =>
        new([LmChatTurn.User("Hi"), LmChatTurn.Assistant("Hello") with { ReasoningBlocks = blocks }, LmChatTurn.User("Bye")]) { MaxTokens = 10 };

    [Fact]
    public void PromptsThatLeaveTheReasoningFieldsUnsetKeepTheirOldCacheKeys()
    {
        // Pinned values computed from the v1 encoding before the reasoning fields existed (the text one is also pinned in
        // CacheKeyTests): a cache written then must still answer now.
        Assert.Equal("764b1721fd150c9144b086c87155ea08", CacheKey.Compute("openai/gpt-4o-mini", new LmPrompt("What is 2+2?") { MaxTokens = 10 }).ToString());
        Assert.Equal("516e07e07c87c43c81eec43607b66a10", CacheKey.Compute("anthropic/claude-sonnet-4-20250514", Dialog(null)).ToString());
        Assert.Equal(CacheKey.Compute("m", Dialog(null)), CacheKey.Compute("m", Dialog([])));
    }

    public static TheoryData<string, LmPrompt> ReasoningChanges => new()
    {
        { "effort", Dialog(null) with { ReasoningEffort = LmReasoningEffort.Low } },
        { "effort none", Dialog(null) with { ReasoningEffort = LmReasoningEffort.None } },
        { "budget", Dialog(null) with { ThinkingBudgetTokens = 1024 } },
        { "blocks", Dialog(Blocks) },
        { "one block", Dialog([Blocks[0]]) },
        { "other signature", Dialog([Blocks[0] with { Signature = "b3RoZXI=" }]) },
        { "other text", Dialog([Blocks[0] with { Text = "Two and three." }]) },
    };

    [Theory]
    [MemberData(nameof(ReasoningChanges))]
    public void EachReasoningFieldChangesTheKeyAndEquality(string what, LmPrompt changed)
    {
        var all = ReasoningChanges.Select(row => (LmPrompt)row[1]).ToList();
        Assert.NotEqual(CacheKey.Compute("m", Dialog(null)), CacheKey.Compute("m", changed));
        Assert.Single(all, p => CacheKey.Compute("m", p) == CacheKey.Compute("m", changed));
        Assert.NotEqual(Dialog(null), changed);
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void TurnsAndPromptsCompareTheirBlocksByValue()
    {
        var a = Dialog([.. Blocks]);
        var b = Dialog([LmReasoningBlock.Thinking("Two and two.", "c2ln"), LmReasoningBlock.Redacted("ZW5j")]);
        Assert.Equal(a.Chat![1], b.Chat![1]);
        Assert.Equal(a.Chat[1].GetHashCode(), b.Chat[1].GetHashCode());
        Assert.Equal(a, b);
        Assert.Equal(CacheKey.Compute("m", a), CacheKey.Compute("m", b));
        Assert.Equal(new LmPrompt("x") { ReasoningEffort = LmReasoningEffort.High, ThinkingBudgetTokens = 2000 }, new LmPrompt("x") { ReasoningEffort = LmReasoningEffort.High, ThinkingBudgetTokens = 2000 });
        Assert.True(Blocks[1].IsRedacted);
        Assert.False(Blocks[0].IsRedacted);
    }

    public static TheoryData<string, LmPrompt, string> Invalid => new()
    {
        { "budget 0", new LmPrompt("x") { ThinkingBudgetTokens = 0 }, nameof(LmPrompt.ThinkingBudgetTokens) },
        { "unknown effort", new LmPrompt("x") { ReasoningEffort = (LmReasoningEffort)42 }, nameof(LmPrompt.ReasoningEffort) },
        { "blocks on a user turn", new LmPrompt([LmChatTurn.User("Hi") with { ReasoningBlocks = Blocks }]), nameof(LmPrompt.Chat) },
        { "a block with neither", Dialog([new LmReasoningBlock(null)]), nameof(LmPrompt.Chat) },
        { "a block with both", Dialog([new LmReasoningBlock("t", "s", "d")]), nameof(LmPrompt.Chat) },
        { "a lone surrogate", Dialog([LmReasoningBlock.Thinking("bad \uD800", "s")]), nameof(LmPrompt.Chat) },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void InvalidReasoningFieldsAreRefusedByName(string what, LmPrompt prompt, string field)
    {
        var e = Assert.Throws<LmPromptException>(prompt.Validate);
        Assert.Equal(field, e.FieldName);
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void TheJsonUsesSnakeCaseNamesAndRoundTrips()
    {
        var prompt = Dialog(Blocks) with { ReasoningEffort = LmReasoningEffort.XHigh, ThinkingBudgetTokens = 2048 };
        using var doc = JsonDocument.Parse(prompt.ToJson());
        var root = doc.RootElement;
        Assert.Equal("xhigh", root.GetProperty("reasoning_effort").GetString());
        Assert.Equal(2048, root.GetProperty("thinking_budget_tokens").GetInt32());
        var blocks = root.GetProperty("chat")[1].GetProperty("reasoning_blocks");
        Assert.Equal("thinking", blocks[0].GetProperty("type").GetString());
        Assert.Equal("c2ln", blocks[0].GetProperty("signature").GetString());
        Assert.Equal("redacted_thinking", blocks[1].GetProperty("type").GetString());
        Assert.Equal("ZW5j", blocks[1].GetProperty("data").GetString());
        Assert.Equal(prompt, LmPrompt.FromJson(prompt.ToJson()));

        // Unset fields are not written, so old JSON and new JSON of the same prompt agree.
        string plain = new LmPrompt("x").ToJson();
        Assert.DoesNotContain("reasoning", plain, StringComparison.Ordinal);
        Assert.DoesNotContain("thinking", plain, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => LmPrompt.FromJson("""{"text":"x","reasoning_effort":"extreme"}"""));
    }

    [Fact]
    public void PredictionsKeepTheirBlocksAndReasoningTokensAndRepliesCarryTheBlocks()
    {
        var prompt = new LmPrompt("What is 2+2?");
        var p = new LmPrediction
        {
            CompletionText = "4",
            Prompt = prompt,
            ReasoningBlocks = [LmReasoningBlock.Thinking("First."), LmReasoningBlock.Redacted("x"), LmReasoningBlock.Thinking("Second.")],
            Usage = new LmUsage(5, 20) { ReasoningTokens = 15 },
        };
        Assert.Equal("First.\n\nSecond.", p.Reasoning);
        var back = LmPrediction.FromJson(p.ToJson());
        Assert.Equal(p.ReasoningBlocks, back.ReasoningBlocks);
        Assert.Equal(15, back.Usage!.ReasoningTokens);
        Assert.Equal(p.Usage, back.Usage);

        var reply = p.MakeReplyPrompt("And 3+3?");
        Assert.Equal(p.ReasoningBlocks, reply.Chat![1].ReasoningBlocks);
        Assert.Null(reply.Chat[0].ReasoningBlocks);
        Assert.Null(new LmPrediction { CompletionText = "4", Prompt = prompt, ReasoningBlocks = [] }.ReasoningBlocks);
        Assert.Null(new LmPrediction { CompletionText = "4", Prompt = prompt }.Reasoning);
    }

    [Fact]
    public void ReasoningTokensAddUpAndAreNeverBilledOnTopOfTheOutputTokens()
    {
        var a = new LmUsage(10, 100) { ReasoningTokens = 80 };
        var b = new LmUsage(5, 10) { ReasoningTokens = 4 };
        Assert.Equal(new LmUsage(15, 110) { ReasoningTokens = 84 }, a + b);
        var prices = new LmTokenPrices(1m, 10m);
        Assert.Equal(prices.CostOf(a with { ReasoningTokens = 0 }), prices.CostOf(a));
        Assert.Equal((10 * 1m + 100 * 10m) / 1_000_000m, prices.CostOf(a));
    }

    [Fact]
    public async Task TheMockAcceptsAndIgnoresTheReasoningFieldsButCachesThemApart()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = new MockLm(options: new LanguageModelOptions { Cache = cache, CacheByDefault = true });
        var plain = await lm.PredictAsync(new LmPrompt("hello"));
        var effort = await lm.PredictAsync(new LmPrompt("hello") { ReasoningEffort = LmReasoningEffort.High });
        var budget = await lm.PredictAsync(new LmPrompt("hello") { ThinkingBudgetTokens = 2048 });
        Assert.All(new[] { plain, effort, budget }, p =>
        {
            Assert.Equal("hello", p.CompletionText);
            Assert.False(p.WasCached);
            Assert.Null(p.ReasoningBlocks);
            Assert.Equal(0, p.Usage!.ReasoningTokens);
        });
        Assert.Equal(3, lm.CallCount);
        Assert.True((await lm.PredictAsync(new LmPrompt("hello") { ReasoningEffort = LmReasoningEffort.High })).WasCached);
    }
}
