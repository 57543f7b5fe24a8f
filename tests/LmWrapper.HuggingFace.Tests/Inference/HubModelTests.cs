using LmWrapper.HuggingFace.Hub;
using LmWrapper.HuggingFace.Tests.Hub;
using LmWrapper.Testing.HuggingFace;

namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>HuggingFaceLm.Get with a hub id: downloaded through the hub client, identified by its commit.</summary>
public sealed class HubModelTests
{
    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    [Fact]
    public async Task AHubIdIsDownloadedAndIdentifiedByItsCommit()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        var repo = fake.AddRepository("karpathy/stories260K");
        foreach (var file in Directory.GetFiles(HfFormatsFixtures.Path("models", "stories260K")).Where(f => !f.EndsWith("expected_greedy.json", StringComparison.Ordinal) && !f.EndsWith("expected_prompts.json", StringComparison.Ordinal)))
        {
            repo.AddFile(Path.GetFileName(file), File.ReadAllBytes(file));
        }

        string first = repo.Commit();
        using var cache = new TempDir();
        var options = new HuggingFaceLmOptions { Hub = HubTestKit.Options(fake, cache), ModelOptions = new LanguageModelOptions { CacheByDefault = false } };
        using (var lm = await HuggingFaceLm.GetAsync("karpathy/stories260K", options, Ct))
        {
            Assert.Equal($"hf/karpathy/stories260K@{first}", lm.ModelIdentity);
            Assert.StartsWith(", there was a little girl", lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 8, Temperature = 0 }).CompletionText, StringComparison.Ordinal);
        }

        // A new commit is a new identity (once the hub is asked again), so cached answers of the old weights are not reused.
        repo.AddFile("generation_config.json", """{"eos_token_id": 2}""");
        string second = repo.Commit();
        using var updated = await HuggingFaceLm.GetAsync("karpathy/stories260K", options with { Hub = options.Hub! with { CheckForUpdates = true } }, Ct);
        Assert.Equal($"hf/karpathy/stories260K@{second}", updated.ModelIdentity);
        Assert.NotEqual(first, second);

        // An id that is neither a folder nor on the hub is the hub's typed error.
        await Assert.ThrowsAnyAsync<HuggingFaceHubException>(() => HuggingFaceLm.GetAsync("nobody/nothing", options, Ct));
    }
}

/// <summary>A disposed model refuses work instead of touching unmapped weights.</summary>
public sealed class DisposeTests
{
    [Fact]
    public void ADisposedModelThrowsObjectDisposed()
    {
        var lm = RandomModels.Load(HfFormatsFixtures.Path("models", "stories260K"));
        Assert.NotEmpty(lm.Predict(new LmPrompt("Once") { MaxTokens = 2, Temperature = 0 }).CompletionText);
        lm.Dispose();
        lm.Dispose();
        Assert.Throws<ObjectDisposedException>(() => lm.Predict(new LmPrompt("Once") { MaxTokens = 2, Temperature = 0 }));
    }
}

/// <summary>Fixes found in review: seeded samples after a partial cache hit, an explicit "no BOS", nested parallel runs.</summary>
public sealed class ReviewFindingsTests
{
    [Fact]
    public void SeededSamplesAfterAPartialCacheHitAreTheMissingSamplesNotCopies()
    {
        using var dir = new TempDir();
        using var cache = LmWrapper.Caching.LmCache.Open(dir.File("cache.sqlite3"));
        string folder = HfFormatsFixtures.Path("models", "stories260K");
        using var cached = RandomModels.Load(folder, new LanguageModelOptions { Cache = cache, CacheByDefault = true });
        using var fresh = RandomModels.Load(folder);
        var prompt = new LmPrompt("Once upon a time") { MaxTokens = 12, Temperature = 1.5, Seed = 7 };
        var all = fresh.Predict(prompt with { NumCompletions = 3 }).Completions.Select(c => c.CompletionText).ToList();
        Assert.Equal(3, all.Distinct().Count());
        cached.Predict(prompt with { NumCompletions = 2 });
        var three = cached.Predict(prompt with { NumCompletions = 3 });
        Assert.Equal(all, three.Completions.Select(c => c.CompletionText));
        Assert.True(three.Completions[0].WasCached);
        Assert.False(three.Completions[2].WasCached);

        // The same through PredictMany.
        cached.PredictMany([prompt with { NumCompletions = 4 }]).ToList();
        var four = cached.PredictMany([prompt with { NumCompletions = 4 }]).Single();
        Assert.Equal(all, four.Completions.Take(3).Select(c => c.CompletionText));
        Assert.Equal(fresh.Predict(prompt with { NumCompletions = 4 }).Completions[3].CompletionText, four.Completions[3].CompletionText);
    }

    [Fact]
    public void AnExplicitNullBosTokenMeansNoneEvenWhenTheConfigNamesOne()
    {
        using var dir = new TempDir();
        foreach (var file in Directory.GetFiles(HfFormatsFixtures.Path("models", "stories260K")))
        {
            File.Copy(file, dir.File(Path.GetFileName(file)));
        }

        using (var withBos = RandomModels.Load(dir.Path))
        {
            Assert.Equal(1, withBos.BosTokenId);
            Assert.Equal(2, withBos.EstimateTokensInPrompt(new LmPrompt("Once")));
        }

        File.WriteAllText(dir.File("tokenizer_config.json"), """{"bos_token": null, "eos_token": "</s>"}""");
        using var lm = RandomModels.Load(dir.Path);
        Assert.Null(lm.BosTokenId);
        Assert.Equal(1, lm.EstimateTokensInPrompt(new LmPrompt("Once") { AddSpecialTokens = false })); // nothing added by LmWrapper
        Assert.Equal(2, lm.EstimateTokensInPrompt(new LmPrompt("Once")));                             // the tokenizer's own <s> stays
        Assert.Throws<LmPromptException>(() => lm.Predict(new LmPrompt("") { AddSpecialTokens = false }));
    }

    [Fact]
    public async Task ANestedParallelRunCompletesOnTheCallingThread()
    {
        using var team = new LmWrapper.HuggingFace.Kernels.ThreadTeam(2);
        int inner = 0;
        var run = Task.Run(() => team.For(4, _ => team.For(16, _ => Interlocked.Increment(ref inner))));
        Assert.Same(run, await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20))));
        Assert.Equal(64, inner);
    }
}

/// <summary>Trimming a local model's prompt to a budget of its own tokens.</summary>
public sealed class TrimmingTests
{
    [Fact]
    public void TheTrimmerKeepsTheEndWithinTheModelsTokenBudget()
    {
        using var lm = RandomModels.Load(HfFormatsFixtures.Path("models", "stories260K"));
        var tokenizer = new HuggingFaceTrimmingTokenizer(lm.Tokenizer);
        string text = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
        var pieces = tokenizer.Tokenize(text);
        Assert.Equal(text, string.Concat(pieces));
        Assert.Equal(lm.Tokenizer.CountTokens(text), pieces.Count);
        var trimmer = new LmWrapper.PromptTrimming.TokenPromptTrimmer(10, tokenizer);
        string kept = trimmer.TrimText(text);
        Assert.EndsWith("in the park.", kept, StringComparison.Ordinal);
        Assert.Equal(string.Concat(pieces.Skip(pieces.Count - 10)), kept); // the last 10 of the model's own tokens
        Assert.True(kept.Length < text.Length);
    }
}
