using LmWrapper.HuggingFace.Hub;
using LmWrapper.HuggingFace.Safetensors;
using LmWrapper.Testing.HuggingFace;

namespace LmWrapper.HuggingFace.Tests.Hub;

public class HuggingFaceHubTests
{
    // Every test gets a deadline, so a hang fails instead of blocking the run.
    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    [Fact]
    public async Task DownloadsIntoTheStandardLayoutThenHitsTheCacheWithoutARequest()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        var repo = HubTestKit.AddTinyModel(fake, "org/tiny");
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));

        string snapshot = await hub.ResolveModelAsync("org/tiny", cancellationToken: Ct);

        string repoDir = Path.Combine(cache.Path, "models--org--tiny");
        Assert.Equal(Path.Combine(repoDir, "snapshots", repo.HeadCommit), snapshot);
        Assert.Equal(repo.HeadCommit, HubTestKit.Text(Path.Combine(repoDir, "refs", "main")));
        Assert.Equal(HubTestKit.Config, HubTestKit.Text(Path.Combine(snapshot, "config.json")));
        Assert.Equal(HubTestKit.Weights(), File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(snapshot, "README.md")));

        // Snapshot entries are relative symlinks into blobs/{etag}: sha256 for LFS files, the git blob id otherwise.
        var weightsLink = new FileInfo(Path.Combine(snapshot, "model.safetensors"));
        Assert.NotNull(weightsLink.LinkTarget);
        Assert.StartsWith("../../blobs/", weightsLink.LinkTarget);
        string weightsBlob = Path.GetFileName(weightsLink.LinkTarget);
        Assert.Matches("^[0-9a-f]{64}$", weightsBlob);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(HubTestKit.Weights())), weightsBlob);
        Assert.Matches("^[0-9a-f]{40}$", Path.GetFileName(new FileInfo(Path.Combine(snapshot, "config.json")).LinkTarget!));
        Assert.Empty(Directory.GetFiles(Path.Combine(repoDir, "blobs"), "*.incomplete"));
        // Files the repo lacks are remembered, so the cache alone can answer next time.
        Assert.True(File.Exists(Path.Combine(repoDir, ".no_exist", repo.HeadCommit, "tokenizer.json")));

        var first = fake.Requests;
        Assert.Equal("/api/models/org/tiny/revision/main", first[0].Path);
        Assert.Contains(first, r => r.Method == "HEAD" && r.Path == $"/org/tiny/resolve/{repo.HeadCommit}/config.json");
        Assert.Contains(first, r => r.Method == "GET" && r.Path.StartsWith("/lfs/", StringComparison.Ordinal));
        Assert.All(first, r => Assert.Null(r.Authorization));

        using (var ckpt = SafetensorsCheckpoint.Open(snapshot)) Assert.Equal(60_000, ckpt.ReadAsFloat32("w").Length);

        fake.ClearRequests();
        using var again = new HuggingFaceHub(HubTestKit.Options(fake, cache));
        Assert.Equal(snapshot, await again.ResolveModelAsync("org/tiny", cancellationToken: Ct));
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task ResolvesFromACacheFilledByHandOffline()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        using var cache = new TempDir();
        const string commit = "0123456789abcdef0123456789abcdef01234567";
        string repoDir = Path.Combine(cache.Path, "models--gpt2");
        Directory.CreateDirectory(Path.Combine(repoDir, "refs"));
        File.WriteAllText(Path.Combine(repoDir, "refs", "main"), commit);
        string snap = Path.Combine(repoDir, "snapshots", commit);
        Directory.CreateDirectory(snap);
        File.WriteAllText(Path.Combine(snap, "config.json"), "{}");
        File.WriteAllBytes(Path.Combine(snap, "model.safetensors"), HubTestKit.Weights());

        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache, offline: true));
        Assert.Equal(snap, await hub.ResolveModelAsync("gpt2", cancellationToken: Ct));
        Assert.Equal(snap, await hub.ResolveModelAsync("gpt2", commit, cancellationToken: Ct));
        Assert.Equal(Path.Combine(snap, "config.json"), hub.TryGetCachedFile("gpt2", "config.json"));
        Assert.Null(hub.TryGetCachedFile("gpt2", "tokenizer.json"));
        Assert.Empty(fake.Requests);
    }

    [Theory]
    [InlineData("../../../secret.txt")]
    [InlineData("../main")]
    [InlineData("sub/../../x.txt")]
    [InlineData("/etc/passwd")]
    [InlineData("./config.json")]
    [InlineData("")]
    public void ACachedFileNameThatWouldLeaveTheSnapshotIsRefused(string fileName)
    {
        using var cache = new TempDir();
        const string commit = "0123456789abcdef0123456789abcdef01234567";
        string repoDir = Path.Combine(cache.Path, "models--gpt2");
        Directory.CreateDirectory(Path.Combine(repoDir, "refs"));
        File.WriteAllText(Path.Combine(repoDir, "refs", "main"), commit);
        string snap = Path.Combine(repoDir, "snapshots", commit);
        Directory.CreateDirectory(snap);
        File.WriteAllText(Path.Combine(snap, "config.json"), "{}");
        // Files that the escaping names would reach.
        File.WriteAllText(Path.Combine(cache.Path, "secret.txt"), "secret");
        Directory.CreateDirectory(Path.Combine(snap, "sub"));
        File.WriteAllText(Path.Combine(repoDir, "snapshots", "x.txt"), "x");

        using var hub = new HuggingFaceHub(new HuggingFaceHubOptions { CacheDirectory = cache.Path, Offline = true });
        var e = Assert.Throws<HuggingFaceHubException>(() => hub.TryGetCachedFile("gpt2", fileName));
        Assert.Contains("not a valid file name", e.Message, StringComparison.Ordinal);
        Assert.Throws<HuggingFaceHubException>(() => hub.TryGetCachedFile("../gpt2", "config.json"));
        Assert.Equal(Path.Combine(snap, "config.json"), hub.TryGetCachedFile("gpt2", "config.json"));
    }

    [Fact]
    public async Task OfflineMissSaysWhatToDo()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        HubTestKit.AddTinyModel(fake, "org/tiny");
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache, offline: true));

        var ex = await Assert.ThrowsAsync<HubOfflineException>(() => hub.ResolveModelAsync("org/tiny", cancellationToken: Ct));
        Assert.Contains("HF_HUB_OFFLINE=1", ex.Message);
        Assert.Contains(cache.Path, ex.Message);
        Assert.Equal("org/tiny", ex.RepoId);
        await Assert.ThrowsAsync<HubOfflineException>(() => hub.DownloadFileAsync("org/tiny", "config.json", cancellationToken: Ct));
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task ResumesWithARangeRequestAfterADroppedConnection()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        HubTestKit.AddTinyModel(fake, "org/tiny");
        fake.DropConnectionOnce("model.safetensors", 100_000);
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));

        string snapshot = await hub.ResolveModelAsync("org/tiny", cancellationToken: Ct);

        Assert.Equal(HubTestKit.Weights(), File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        var lfs = fake.Requests.Where(r => r.Path.StartsWith("/lfs/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, lfs.Count);
        Assert.True(lfs[0].Aborted);
        Assert.Null(lfs[0].Range);
        Assert.Equal(206, lfs[1].StatusCode);
        Assert.Matches(@"^bytes=[1-9]\d*-$", lfs[1].Range);
    }

    [Fact]
    public async Task APartialFileFromAnEarlierRunIsResumed()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        HubTestKit.AddTinyModel(fake, "org/tiny");
        fake.DropConnectionOnce("model.safetensors", 100_000);
        using var cache = new TempDir();
        var noRetry = HubTestKit.Options(fake, cache) with { MaxRetries = 0 };
        using (var hub = new HuggingFaceHub(noRetry))
        {
            var ex = await Assert.ThrowsAsync<HuggingFaceHubException>(() => hub.ResolveModelAsync("org/tiny", cancellationToken: Ct));
            Assert.Contains("run again to resume", ex.Message);
        }
        string partial = Assert.Single(Directory.GetFiles(Path.Combine(cache.Path, "models--org--tiny", "blobs"), "*.incomplete"));
        long have = new FileInfo(partial).Length;
        Assert.InRange(have, 1, 100_000);

        fake.ClearRequests();
        using (var hub = new HuggingFaceHub(noRetry))
        {
            string snapshot = await hub.ResolveModelAsync("org/tiny", cancellationToken: Ct);
            Assert.Equal(HubTestKit.Weights(), File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        }
        Assert.Contains(fake.Requests, r => r.Range == $"bytes={have}-" && r.StatusCode == 206);
        Assert.DoesNotContain(fake.Requests, r => r.Path.EndsWith("config.json", StringComparison.Ordinal) && r.Method == "GET");
    }

    [Fact]
    public async Task GatedRepoWithoutATokenSaysToSetHfTokenAndAcceptTheLicence()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        HubTestKit.AddTinyModel(fake, "meta/gated", gated: true);
        using var cache = new TempDir();

        using (var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache)))
        {
            var ex = await Assert.ThrowsAsync<HubGatedRepositoryException>(() => hub.ResolveModelAsync("meta/gated", cancellationToken: Ct));
            Assert.Equal(401, ex.StatusCode);
            Assert.Contains("HF_TOKEN", ex.Message);
            Assert.Contains("licence", ex.Message);
            Assert.Contains($"{fake.Endpoint.ToString().TrimEnd('/')}/meta/gated", ex.Message);
        }
        using (var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache, token: "hf_wrong_secret")))
        {
            var ex = await Assert.ThrowsAsync<HubGatedRepositoryException>(() => hub.ResolveModelAsync("meta/gated", cancellationToken: Ct));
            Assert.Equal(403, ex.StatusCode);
            Assert.Contains("does not have access", ex.Message);
            Assert.DoesNotContain("hf_wrong_secret", ex.Message);
        }
        fake.ClearRequests();
        using (var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache, token: fake.AcceptedToken)))
        {
            string snapshot = await hub.ResolveModelAsync("meta/gated", cancellationToken: Ct);
            Assert.True(File.Exists(Path.Combine(snapshot, "model.safetensors")));
        }
        Assert.All(fake.Requests.Where(r => !r.Path.StartsWith("/lfs/", StringComparison.Ordinal)),
            r => Assert.Equal("Bearer " + fake.AcceptedToken, r.Authorization));
        Assert.All(fake.Requests.Where(r => r.Path.StartsWith("/lfs/", StringComparison.Ordinal)), r => Assert.NotNull(r.Authorization));
    }

    [Fact]
    public async Task MissingAndPrivateReposAreClearErrors()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        HubTestKit.AddTinyModel(fake, "org/secret").Private = true;
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));

        var missing = await Assert.ThrowsAsync<HubRepositoryNotFoundException>(() => hub.ResolveModelAsync("org/none", cancellationToken: Ct));
        Assert.Contains("'org/none' was not found", missing.Message);
        Assert.Contains("set HF_TOKEN", missing.Message);
        var secret = await Assert.ThrowsAsync<HubRepositoryNotFoundException>(() => hub.ResolveModelAsync("org/secret", cancellationToken: Ct));
        Assert.Equal(401, secret.StatusCode);

        using var authed = new HuggingFaceHub(HubTestKit.Options(fake, cache, token: fake.AcceptedToken));
        Assert.True(Directory.Exists(await authed.ResolveModelAsync("org/secret", cancellationToken: Ct)));
    }

    [Fact]
    public async Task RevisionsBranchesTagsAndCommitsResolveToTheirSnapshots()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        var repo = HubTestKit.AddTinyModel(fake, "org/tiny");
        string v1 = repo.HeadCommit;
        repo.SetRevision("v1.0", v1).SetRevision("refs/pr/1", v1);
        string v2 = repo.Commit();
        repo.AddFile("config.json", """{"model_type": "gpt2", "version": 2}""");
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));

        string main = await hub.ResolveModelAsync("org/tiny", cancellationToken: Ct);
        string tag = await hub.ResolveModelAsync("org/tiny", "v1.0", cancellationToken: Ct);
        string pr = await hub.ResolveModelAsync("org/tiny", "refs/pr/1", cancellationToken: Ct);
        string byCommit = await hub.ResolveModelAsync("org/tiny", v1, cancellationToken: Ct);

        string repoDir = Path.Combine(cache.Path, "models--org--tiny");
        Assert.EndsWith(v2, main);
        Assert.EndsWith(v1, tag);
        Assert.Equal(tag, pr);
        Assert.Equal(tag, byCommit);
        Assert.Contains("\"version\": 2", HubTestKit.Text(Path.Combine(main, "config.json")));
        Assert.Equal(HubTestKit.Config, HubTestKit.Text(Path.Combine(tag, "config.json")));
        Assert.Equal(v1, HubTestKit.Text(Path.Combine(repoDir, "refs", "v1.0")));
        Assert.Equal(v1, HubTestKit.Text(Path.Combine(repoDir, "refs", "refs", "pr", "1")));
        // Both commits share the unchanged weights blob.
        Assert.Single(Directory.GetFiles(Path.Combine(repoDir, "blobs")), f => Path.GetFileName(f).Length == 64);
        Assert.Contains(fake.Requests, r => r.Path == "/api/models/org/tiny/revision/refs/pr/1");

        var ex = await Assert.ThrowsAsync<HubEntryNotFoundException>(() => hub.ResolveModelAsync("org/tiny", "nope", cancellationToken: Ct));
        Assert.Contains("Revision 'nope' does not exist", ex.Message);
    }

    [Fact]
    public async Task CheckForUpdatesFollowsAMovedBranch()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        var repo = HubTestKit.AddTinyModel(fake, "org/tiny");
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));
        string first = await hub.ResolveModelAsync("org/tiny", cancellationToken: Ct);
        string moved = repo.Commit();

        Assert.Equal(first, await hub.ResolveModelAsync("org/tiny", cancellationToken: Ct));
        using var checking = new HuggingFaceHub(HubTestKit.Options(fake, cache) with { CheckForUpdates = true });
        Assert.EndsWith(moved, await checking.ResolveModelAsync("org/tiny", cancellationToken: Ct));
    }

    [Fact]
    public async Task RepoWithoutSafetensorsSaysSo()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        fake.AddRepository("org/old").AddFile("config.json", "{}").AddFile("pytorch_model.bin", new byte[100]);
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));
        var ex = await Assert.ThrowsAsync<HubNoWeightsException>(() => hub.ResolveModelAsync("org/old", cancellationToken: Ct));
        Assert.Contains("no safetensors weights", ex.Message);
        Assert.Contains("pytorch_model.bin", ex.Message);
    }

    [Fact]
    public async Task ShardedCheckpointsDownloadEveryShard()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        fake.AddRepository("org/big")
            .AddFile("config.json", "{}")
            .AddFile("model-00001-of-00002.safetensors", new SafetensorsWriter().Add("a", [1f, 2f], [2]).ToArray())
            .AddFile("model-00002-of-00002.safetensors", new SafetensorsWriter().Add("b", [3f], [1]).ToArray())
            .AddFile("model.safetensors.index.json", """{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}""");
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));
        string snapshot = await hub.ResolveModelAsync("org/big", cancellationToken: Ct);
        using var ckpt = SafetensorsCheckpoint.Open(snapshot);
        Assert.Equal([1f, 2f], ckpt.ReadAsFloat32("a"));
        Assert.Equal([3f], ckpt.ReadAsFloat32("b"));

        fake.ClearRequests();
        Assert.Equal(snapshot, await hub.ResolveModelAsync("org/big", cancellationToken: Ct));
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task ServerErrorsAreRetried()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        HubTestKit.AddTinyModel(fake, "org/tiny");
        fake.FailNextRequests(500, 2, "/api/models/");
        fake.FailNextRequests(503, 1, "/lfs/");
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));
        string snapshot = await hub.ResolveModelAsync("org/tiny", cancellationToken: Ct);
        Assert.True(File.Exists(Path.Combine(snapshot, "model.safetensors")));
        Assert.Equal(3, fake.Requests.Count(r => r.StatusCode >= 500));
    }

    [Fact]
    public async Task DownloadFileGetsOneFileAndRemembersMissingOnes()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        var repo = HubTestKit.AddTinyModel(fake, "org/tiny");
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));
        var progress = new ListProgress<HubDownloadProgress>();

        string path = await hub.DownloadFileAsync("org/tiny", "README.md", progress: progress, cancellationToken: Ct);
        Assert.Equal("# tiny", HubTestKit.Text(path));
        Assert.Contains(progress.Items, p => p.FileName == "README.md" && p.Completed && p.BytesDownloaded == 6 && p.TotalBytes == 6);

        var ex = await Assert.ThrowsAsync<HubEntryNotFoundException>(() => hub.DownloadFileAsync("org/tiny", "nope.txt", cancellationToken: Ct));
        Assert.Contains("'nope.txt' does not exist in 'org/tiny'", ex.Message);
        Assert.True(File.Exists(Path.Combine(cache.Path, "models--org--tiny", ".no_exist", repo.HeadCommit, "nope.txt")));
    }

    [Fact]
    public async Task ProgressReportsEveryFile()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        HubTestKit.AddTinyModel(fake, "org/tiny");
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));
        var progress = new ListProgress<HubDownloadProgress>();
        await hub.ResolveModelAsync("org/tiny", progress: progress, cancellationToken: Ct);
        var done = progress.Items.Where(p => p.Completed).Select(p => p.FileName).Order().ToList();
        Assert.Equal(["config.json", "generation_config.json", "model.safetensors", "tokenizer_config.json"], done);
        Assert.Equal(HubTestKit.Weights().Length, progress.Items.Single(p => p.Completed && p.FileName == "model.safetensors").BytesDownloaded);
    }

    [Fact]
    public async Task CancellationStopsASlowDownload()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        HubTestKit.AddTinyModel(fake, "org/tiny");
        fake.ChunkDelay = TimeSpan.FromMilliseconds(200);
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hub.ResolveModelAsync("org/tiny", cancellationToken: cts.Token));
    }

    [Fact]
    public async Task AFolderPathIsUsedAsIsAndBadIdsAreRejected()
    {
        using var hub = new HuggingFaceHub(new HuggingFaceHubOptions { Offline = true, Token = null });
        string folder = HfFormatsFixtures.Path("models", "tiny-random-gpt2");
        Assert.Equal(Path.GetFullPath(folder), await hub.ResolveModelAsync(folder, cancellationToken: Ct));
        var ex = await Assert.ThrowsAsync<HuggingFaceHubException>(() => hub.ResolveModelAsync("/no/such/folder", cancellationToken: Ct));
        Assert.Contains("neither an existing folder nor a hub model id", ex.Message);
        Assert.True(HuggingFaceHub.IsRepoId("openai-community/gpt2"));
        Assert.True(HuggingFaceHub.IsRepoId("gpt2"));
        Assert.False(HuggingFaceHub.IsRepoId("a/b/c"));
        Assert.False(HuggingFaceHub.IsRepoId("org/na--me"));
        Assert.Equal("models--openai-community--gpt2", HuggingFaceHub.RepoFolderName("openai-community/gpt2"));
    }

    [Fact]
    public async Task RevisionsThatCouldLeaveTheCacheAreRejected()
    {
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(new HuggingFaceHubOptions { CacheDirectory = cache.Path, Offline = true, Token = null });
        foreach (string bad in new[] { "../../etc", "/abs", "a\\b", "refs//x" })
            Assert.Contains("not a valid revision", (await Assert.ThrowsAsync<HuggingFaceHubException>(() => hub.ResolveModelAsync("org/m", bad, cancellationToken: Ct))).Message);
        await Assert.ThrowsAsync<HuggingFaceHubException>(() => hub.DownloadFileAsync("org/m", "../secret", cancellationToken: Ct));
    }

    [Fact]
    public async Task ConcurrentResolutionsShareOneDownload()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        HubTestKit.AddTinyModel(fake, "org/tiny");
        using var cache = new TempDir();
        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache));
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => hub.ResolveModelAsync("org/tiny", cancellationToken: Ct)));
        Assert.Single(results.Distinct());
        Assert.Equal(HubTestKit.Weights(), File.ReadAllBytes(Path.Combine(results[0], "model.safetensors")));
        Assert.Single(fake.Requests, r => r.Method == "GET" && r.Path.StartsWith("/lfs/", StringComparison.Ordinal));
        Assert.NotNull(new FileInfo(Path.Combine(results[0], "model.safetensors")).LinkTarget);
    }

    [Fact]
    public async Task OfflineWithAPartialSnapshotNamesWhatIsMissing()
    {
        await using var fake = await FakeHuggingFaceHub.StartAsync(Ct);
        using var cache = new TempDir();
        const string commit = "89abcdef0123456789abcdef0123456789abcdef";
        string repoDir = Path.Combine(cache.Path, "models--org--half");
        Directory.CreateDirectory(Path.Combine(repoDir, "refs"));
        File.WriteAllText(Path.Combine(repoDir, "refs", "main"), commit);
        Directory.CreateDirectory(Path.Combine(repoDir, "snapshots", commit));
        File.WriteAllText(Path.Combine(repoDir, "snapshots", commit, "config.json"), "{}");

        using var hub = new HuggingFaceHub(HubTestKit.Options(fake, cache, offline: true));
        var ex = await Assert.ThrowsAsync<HubOfflineException>(() => hub.ResolveModelAsync("org/half", cancellationToken: Ct));
        Assert.Contains("lacks model.safetensors", ex.Message);
        Assert.Contains(commit, ex.Message);
        Assert.Empty(fake.Requests);
    }
}
