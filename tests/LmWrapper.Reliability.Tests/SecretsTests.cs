using LmWrapper.Reliability;
using Xunit.Abstractions;

namespace LmWrapper.Reliability.Tests;

/// <summary>No injected key appears in any artifact; cache and batch files are owner-only.</summary>
public sealed class SecretsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task NoKeyInTheCacheBatchFilesJournalsLogsExceptionsOrToString()
    {
        var r = await SecretsProbe.RunAsync();
        output.WriteLine($"{r.ArtifactsSearched} artifacts searched, {r.SecretsFound} secrets found, {r.RequestFilesSeen} request files seen on disk");
        Assert.True(r.SecretsFound == 0, string.Join("\n", r.Where));
        Assert.True(r.ArtifactsSearched > 100, $"{r.ArtifactsSearched} artifacts");
        Assert.True(r.RequestFilesSeen >= 2, "a request file of each provider should have been caught on disk");
        Assert.True(r.FilesNotOwnerOnly.Count == 0, string.Join(", ", r.FilesNotOwnerOnly));
    }
}
