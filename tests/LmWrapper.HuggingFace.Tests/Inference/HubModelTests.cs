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
