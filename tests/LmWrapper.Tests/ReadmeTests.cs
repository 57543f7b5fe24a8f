using System.Diagnostics;
using LmWrapper.Caching;
using LmWrapper.Tests.Readme;

namespace LmWrapper.Tests;

/// <summary>Every C# example in README.md compiles (it is part of this assembly) and runs without throwing.</summary>
[Collection(nameof(ReadmeTests))]
[CollectionDefinition(nameof(ReadmeTests), DisableParallelization = true)]
public sealed class ReadmeTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string? _previousCacheDir = Environment.GetEnvironmentVariable(LmCache.DirectoryEnvironmentVariable);

    public ReadmeTests() =>
        // README examples use the default per-project cache; point it at a scratch folder for the test run.
        Environment.SetEnvironmentVariable(LmCache.DirectoryEnvironmentVariable, _dir.Path);

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(LmCache.DirectoryEnvironmentVariable, _previousCacheDir);
        _dir.Dispose();
    }

    public static TheoryData<string> Snippets => [.. ReadmeSnippets.All.Select(s => s.Name)];

    [Fact]
    public void TheReadmeHasExamples() => Assert.True(ReadmeSnippets.All.Count(s => s.Run) >= 4);

    [Theory]
    [MemberData(nameof(Snippets))]
    public async Task ReadmeExampleRuns(string name)
    {
        var snippet = ReadmeSnippets.All.Single(s => s.Name == name);
        if (snippet.Run)
        {
            await snippet.Body();
        }
    }

    [Fact]
    public void TheReadmesRunCommandWorks()
    {
        // README's run command is `dotnet run --project samples/LmWrapper.Quickstart`; run the same program (built with
        // these tests) twice against one cache file: the second run must be served from the cache.
        string cacheFile = _dir.File("quickstart.sqlite3");
        string first = RunQuickstart(cacheFile);
        Assert.Contains("Predict(\"What is 2+2?\") -> \"4\" (cached: False)", first, StringComparison.Ordinal);
        Assert.Contains("Again                  -> \"4\" (cached: True)", first, StringComparison.Ordinal);
        string second = RunQuickstart(cacheFile);
        Assert.Contains("Predict(\"What is 2+2?\") -> \"4\" (cached: True)", second, StringComparison.Ordinal);
    }

    private static string RunQuickstart(string cacheFile)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "LmWrapper.Quickstart.dll"));
        psi.ArgumentList.Add(cacheFile);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "the quickstart hung");
        Assert.True(p.ExitCode == 0, output + err.Result);
        return output;
    }
}
