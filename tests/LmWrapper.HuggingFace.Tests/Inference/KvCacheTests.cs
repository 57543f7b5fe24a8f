using LmWrapper.HuggingFace.Generation;
using LmWrapper.HuggingFace.Models;

namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>The native key/value cache: growth, copies, freeing, and the generator freeing every cache it made.</summary>
public sealed class KvCacheTests
{
    private static void Fill(KvCache cache, int tokens, int width, float salt)
    {
        for (int l = 0; l < 3; l++)
        {
            for (int i = 0; i < tokens * width; i++)
            {
                cache.Keys(l)[i] = salt + (l * 1000) + i;
                cache.Values(l)[i] = -salt - (l * 1000) - i;
            }
        }

        cache.Length = tokens;
    }

    private static void AssertHolds(KvCache cache, int tokens, int width, float salt)
    {
        for (int l = 0; l < 3; l++)
        {
            for (int i = 0; i < tokens * width; i++)
            {
                Assert.Equal(salt + (l * 1000) + i, cache.Keys(l)[i]);
                Assert.Equal(-salt - (l * 1000) - i, cache.Values(l)[i]);
            }
        }
    }

    [Fact]
    public void LayersAndKeysAndValuesAreSeparateBlocks()
    {
        using var cache = new KvCache(3, 5, 4);
        Assert.Equal(20, cache.Keys(0).Length);
        Fill(cache, 4, 5, 0.5f);
        AssertHolds(cache, 4, 5, 0.5f);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Keys(3));
    }

    [Fact]
    public void GrowingKeepsTheStoredTokensOfEveryLayer()
    {
        using var cache = new KvCache(3, 5, 2);
        Fill(cache, 2, 5, 7);
        cache.EnsureCapacity(3);
        Assert.Equal(4, cache.Capacity); // doubles at least
        AssertHolds(cache, 2, 5, 7);
        cache.EnsureCapacity(11);
        Assert.Equal(11, cache.Capacity);
        Assert.Equal(55, cache.Values(2).Length);
        AssertHolds(cache, 2, 5, 7);
    }

    [Fact]
    public void ACloneIsAnIndependentCopy()
    {
        using var cache = new KvCache(3, 5, 6);
        Fill(cache, 4, 5, 3);
        using var clone = cache.Clone();
        Assert.Equal(4, clone.Length);
        Assert.Equal(6, clone.Capacity);
        AssertHolds(clone, 4, 5, 3);
        clone.Keys(1)[0] = 12345;
        clone.Length = 5;
        Assert.Equal(3 + 1000, cache.Keys(1)[0]);
        Assert.Equal(4, cache.Length);
    }

    [Fact]
    public void ADisposedCacheRefusesUse()
    {
        var cache = new KvCache(3, 5, 2);
        cache.Dispose();
        cache.Dispose();
        Assert.True(cache.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => cache.Keys(0));
        Assert.Throws<ObjectDisposedException>(() => cache.Values(0));
        Assert.Throws<ObjectDisposedException>(() => cache.EnsureCapacity(10));
    }

    [Fact]
    public void AGenerationFreesEveryCacheItMadeIncludingTheSamplesCopies()
    {
        using var engine = Engine.Load(RandomModels.Folder("llama"));
        var made = new List<KvCache>();
        KvCache.Made.Value = made;
        try
        {
            var results = engine.Generator.Run(
            [
                new GenerationRequest { PromptIds = [1, 450, 4996], MaxNewTokens = 4, NumSamples = 3, Temperature = 1, Seed = 5 },
                new GenerationRequest { PromptIds = [1, 17354], MaxNewTokens = 3, NumSamples = 1 },
            ], CancellationToken.None);
            Assert.Equal(4, results[0].Samples[0].Tokens.Count);
        }
        finally
        {
            KvCache.Made.Value = null;
        }

        Assert.Equal(4, made.Count); // one per prompt, plus a copy for each further sample
        Assert.All(made, c => Assert.True(c.IsDisposed));
    }

    [Fact]
    public void AGenerationCancelledMidwayFreesItsCachesToo()
    {
        using var engine = Engine.Load(RandomModels.Folder("llama"));
        using var cts = new CancellationTokenSource();
        int steps = 0;
        var generator = new Generator(engine.Model, (_, _) =>
        {
            if (++steps == 3)
            {
                cts.Cancel();
            }

            return "x";
        }, []);
        var made = new List<KvCache>();
        KvCache.Made.Value = made;
        try
        {
            Assert.ThrowsAny<OperationCanceledException>(() => generator.Run(
                [new GenerationRequest { PromptIds = [1, 450], MaxNewTokens = 50, NumSamples = 2, Temperature = 1, Seed = 1 }], cts.Token));
        }
        finally
        {
            KvCache.Made.Value = null;
        }

        Assert.InRange(steps, 3, 4); // the step that cancelled finishes its other sample, then the run stops
        Assert.Equal(2, made.Count);
        Assert.All(made, c => Assert.True(c.IsDisposed));
    }
}
