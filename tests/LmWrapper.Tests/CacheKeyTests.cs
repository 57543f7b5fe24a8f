using LmWrapper.Caching;

namespace LmWrapper.Tests;

public class CacheKeyTests
{
    private static readonly LmPrompt Base = new("What is 2+2?") { MaxTokens = 10 };

    [Fact]
    public void TheKeyIsStableAcrossRunsAndMachines()
    {
        // A fixed value (also computed by a separate Python script from the documented encoding): if it changes, every
        // user's cache is silently invalidated. Change the encoding only on purpose, with a new tag.
        Assert.Equal("764b1721fd150c9144b086c87155ea08", CacheKey.Compute("openai/gpt-4o-mini", Base).ToString());
    }

    public static TheoryData<string, LmPrompt> OutputAffectingChanges => new()
    {
        { "text", new LmPrompt("What is 2+3?") { MaxTokens = 10 } },
        { "chat", new LmPrompt(["What is 2+2?"]) { MaxTokens = 10 } },
        { "max_tokens", Base with { MaxTokens = 11 } },
        { "max_tokens null", Base with { MaxTokens = null } },
        { "stop", Base with { Stop = ["\n"] } },
        { "stop order", Base with { Stop = ["b", "a"] } },
        { "logprobs", Base with { Logprobs = 5 } },
        { "temperature", Base with { Temperature = 0.5 } },
        { "top_p", Base with { TopP = 0.9 } },
        { "presence", Base with { PresencePenalty = 0.1 } },
        { "frequency", Base with { FrequencyPenalty = 0.1 } },
        { "echo", Base with { Echo = true } },
        { "bos", Base with { AddBosToken = true } },
        { "bos false", Base with { AddBosToken = false } },
        { "special", Base with { AddSpecialTokens = false } },
        { "seed", Base with { Seed = 1 } },
    };

    [Theory]
    [MemberData(nameof(OutputAffectingChanges))]
    public void EveryOutputAffectingFieldChangesTheKey(string what, LmPrompt changed)
    {
        var baseKey = CacheKey.Compute("m", Base);
        Assert.NotEqual(baseKey, CacheKey.Compute("m", changed));
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void StopOrderMatters() =>
        Assert.NotEqual(CacheKey.Compute("m", Base with { Stop = ["a", "b"] }), CacheKey.Compute("m", Base with { Stop = ["b", "a"] }));

    [Fact]
    public void ChatRolesNamesAndModelIdentityChangeTheKey()
    {
        var k = CacheKey.Compute("m", new LmPrompt([LmChatTurn.User("x")]));
        Assert.NotEqual(k, CacheKey.Compute("m", new LmPrompt([LmChatTurn.System("x")])));
        Assert.NotEqual(k, CacheKey.Compute("m", new LmPrompt([LmChatTurn.User("x", "bob")])));
        Assert.NotEqual(k, CacheKey.Compute("m2", new LmPrompt([LmChatTurn.User("x")])));
        // Field boundaries are length-prefixed: moving text between turns changes the key.
        Assert.NotEqual(
            CacheKey.Compute("m", new LmPrompt(["ab", "c"])),
            CacheKey.Compute("m", new LmPrompt(["a", "bc"])));
    }

    [Fact]
    public void NumCompletionsCacheFlagAndMetadataDoNotChangeTheKey()
    {
        var k = CacheKey.Compute("m", Base);
        Assert.Equal(k, CacheKey.Compute("m", Base with { NumCompletions = 5 }));
        Assert.Equal(k, CacheKey.Compute("m", Base with { Cache = false }));
        Assert.Equal(k, CacheKey.Compute("m", Base with { Metadata = new object() }));
        Assert.Equal(k, CacheKey.Compute("m", Base with { Temperature = 1.0 }));
    }

    [Fact]
    public void LongPromptsHashFine()
    {
        var big = new string('x', 100_000);
        Assert.NotEqual(CacheKey.Compute("m", new LmPrompt(big)), CacheKey.Compute("m", new LmPrompt(big + "y")));
        var k = CacheKey.Compute("m", new LmPrompt(big));
        Assert.Equal(k, CacheKey.FromBytes(k.ToBytes()));
    }
}
