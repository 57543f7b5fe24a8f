using System.Diagnostics;
using LmWrapper.Caching;
using LmWrapper.Readme.Tests.Snippets;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;
using LmWrapper.Testing.HuggingFace;

namespace LmWrapper.Readme.Tests;

/// <summary>
/// Every C# example in README.md compiles (it is part of this assembly) and runs without throwing, exactly as written:
/// the examples use the real entry points (OpenAiLm.Get, ClaudeLm.Get, HuggingFaceHub, the default cache), and this
/// fixture points them at fake servers on 127.0.0.1 through the same environment variables a user would set.
/// </summary>
[Collection(nameof(ReadmeTests))]
[CollectionDefinition(nameof(ReadmeTests), DisableParallelization = true)]
public sealed class ReadmeTests : IAsyncLifetime
{
    private static readonly string[] Variables =
    [
        LmCache.DirectoryEnvironmentVariable, "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
        "HF_ENDPOINT", "HF_HUB_CACHE", "HF_HOME", "HF_TOKEN", "HF_HUB_OFFLINE",
    ];

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "lmwrapper-readme", Guid.NewGuid().ToString("N"));
    private readonly Dictionary<string, string?> _saved = [];
    private FakeOpenAiServer _openAi = null!;
    private FakeAnthropicServer _anthropic = null!;
    private FakeHuggingFaceHub _hub = null!;

    public static TheoryData<string> Snippets => [.. ReadmeSnippets.All.Select(s => s.Name)];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _openAi = await FakeOpenAiServer.StartNewAsync();
        _anthropic = new FakeAnthropicServer();
        await _anthropic.StartAsync();
        _hub = await FakeHuggingFaceHub.StartAsync();
        AddModel("openai-community/gpt2", "gpt2", "tiny-gpt2");
        AddModel("Qwen/Qwen3-0.6B", "qwen3", "tiny-random-gpt2");
        foreach (var name in Variables)
        {
            _saved[name] = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, null);
        }

        Environment.SetEnvironmentVariable(LmCache.DirectoryEnvironmentVariable, Path.Combine(_dir, "cache"));
        Environment.SetEnvironmentVariable("OPENAI_API_KEY", FakeOpenAiServer.DefaultApiKey);
        Environment.SetEnvironmentVariable("OPENAI_BASE_URL", _openAi.BaseUrl);
        Environment.SetEnvironmentVariable("ANTHROPIC_API_KEY", FakeAnthropicServer.DefaultApiKey);
        Environment.SetEnvironmentVariable("ANTHROPIC_BASE_URL", _anthropic.BaseUrl.AbsoluteUri);
        Environment.SetEnvironmentVariable("HF_ENDPOINT", _hub.Endpoint.AbsoluteUri.TrimEnd('/'));
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", Path.Combine(_dir, "hf"));
    }

    public async Task DisposeAsync()
    {
        foreach (var (name, value) in _saved)
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        await _openAi.DisposeAsync();
        await _anthropic.DisposeAsync();
        await _hub.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public void TheReadmeHasExamples() => Assert.True(ReadmeSnippets.All.Count(s => s.Run) >= 8);

    [Theory]
    [MemberData(nameof(Snippets))]
    public async Task ReadmeExampleRuns(string name)
    {
        var snippet = ReadmeSnippets.All.Single(s => s.Name == name);
        if (snippet.Run)
        {
            // From the repository root, as a user following the README would (paths like samples/models/… resolve there).
            string saved = Environment.CurrentDirectory;
            Environment.CurrentDirectory = Path.GetFullPath(Path.Combine(Fixture(), "..", ".."));
            try
            {
                await snippet.Body();
            }
            finally
            {
                Environment.CurrentDirectory = saved;
            }
        }
    }

    [Fact]
    public void TheReadmesRunCommandWorks()
    {
        // README's run command, `dotnet run --project samples/LmWrapper.Quickstart` (without rebuilding what the tests
        // built), twice against one cache file: the second run must be served from the cache.
        string cacheFile = Path.Combine(_dir, "quickstart.sqlite3");
        string first = RunQuickstart(cacheFile);
        Assert.Contains("Story:   \"Once upon a time, there was a little girl named Lily.", first, StringComparison.Ordinal);
        Assert.Contains("(cached: False)", first, StringComparison.Ordinal);
        Assert.Contains("Again:   same text: True (cached: True)", first, StringComparison.Ordinal);
        Assert.Equal(3, first.Split('\n').Count(l => l.StartsWith("Many:", StringComparison.Ordinal) && l.EndsWith("(cached: False)", StringComparison.Ordinal)));
        string second = RunQuickstart(cacheFile);
        Assert.Contains("Story:   \"Once upon a time, there was a little girl named Lily.", second, StringComparison.Ordinal);
        Assert.DoesNotContain("(cached: False)", second, StringComparison.Ordinal);
        Assert.Equal(3, second.Split('\n').Count(l => l.StartsWith("Many:", StringComparison.Ordinal) && l.EndsWith("(cached: True)", StringComparison.Ordinal)));
        Assert.Equal(first.Split('\n').Single(l => l.StartsWith("Sampled:", StringComparison.Ordinal)), second.Split('\n').Single(l => l.StartsWith("Sampled:", StringComparison.Ordinal)));
    }

    private static string RunQuickstart(string cacheFile)
    {
        // bin/<Configuration>/net10.0/ → the configuration these tests (and so the sample) were built in.
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "run", "--project", Path.Combine(Fixture(), "..", "..", "samples", "LmWrapper.Quickstart"), "--no-build", "-c", configuration, "--", cacheFile })
        {
            psi.ArgumentList.Add(arg);
        }
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "the quickstart hung");
        Assert.True(p.ExitCode == 0, output + err.Result);
        return output;
    }

    private void AddModel(string repoId, string tokenizerFixture, string modelFixture)
    {
        var repo = _hub.AddRepository(repoId);
        foreach (var file in Directory.GetFiles(Fixture("tokenizers", tokenizerFixture)))
        {
            repo.AddFile(Path.GetFileName(file), File.ReadAllBytes(file));
        }

        repo.AddFile("config.json", File.ReadAllBytes(Fixture("models", modelFixture, "config.json")));
        repo.AddFile("model.safetensors", File.ReadAllBytes(Fixture("models", modelFixture, "model.safetensors")));
        repo.Commit();
    }

    private static string Fixture(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures");
            if (Directory.Exists(candidate))
            {
                return Path.Combine([candidate, .. parts]);
            }
        }

        throw new DirectoryNotFoundException("tests/fixtures not found above " + AppContext.BaseDirectory);
    }
}
