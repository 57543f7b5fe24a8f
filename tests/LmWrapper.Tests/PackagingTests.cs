using System.Xml.Linq;
using Xunit;

namespace LmWrapper.Tests;

/// <summary>
/// Every library under src/ is a package a user would trust: its own README packed at the root, a description, and the
/// shared metadata (license, repository, symbols, validation) from Directory.Build.props. `dotnet pack` in .ci/run
/// builds them; these tests catch a library added without the pieces before CI does.
/// </summary>
public class PackagingTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LmWrapper.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("LmWrapper.slnx not found above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string> SourceProjects()
    {
        var data = new TheoryData<string>();
        foreach (var csproj in Directory.GetFiles(Path.Combine(RepoRoot(), "src"), "*.csproj", SearchOption.AllDirectories).Order())
        {
            data.Add(Path.GetRelativePath(RepoRoot(), csproj).Replace('\\', '/'));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SourceProjects))]
    public void EachLibraryHasItsOwnReadmeAndADescription(string project)
    {
        var path = Path.Combine(RepoRoot(), project);
        var readme = Path.Combine(Path.GetDirectoryName(path)!, "README.md");
        Assert.True(File.Exists(readme), $"{project} has no README.md next to it (packed as the package's readme)");
        Assert.StartsWith("# ", File.ReadAllText(readme));
        var description = XDocument.Load(path).Descendants("Description").SingleOrDefault()?.Value;
        Assert.False(string.IsNullOrWhiteSpace(description), $"{project} has no <Description>");
    }

    [Fact]
    public void SharedPackageMetadataIsSetOnce()
    {
        var props = XDocument.Load(Path.Combine(RepoRoot(), "Directory.Build.props"));
        string? Get(string name) => props.Descendants(name).FirstOrDefault()?.Value;
        Assert.Equal("MIT", Get("PackageLicenseExpression"));
        Assert.Matches(@"^\d+\.\d+\.\d+$", Get("VersionPrefix") ?? "");
        Assert.StartsWith("https://", Get("RepositoryUrl"));
        Assert.Equal("snupkg", Get("SymbolPackageFormat"));
        Assert.Equal("true", Get("EnablePackageValidation"));
        foreach (var csproj in Directory.GetFiles(Path.Combine(RepoRoot(), "src"), "*.csproj", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain("<Version>", File.ReadAllText(csproj), StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(SourceProjects))]
    public void EachLibraryTracksItsPublicApi(string project)
    {
        // Microsoft.CodeAnalysis.PublicApiAnalyzers (Directory.Build.props) fails the build on a public symbol missing from
        // these files (RS0016) or listed but gone (RS0017), so a breaking change cannot ship unnoticed.
        var dir = Path.GetDirectoryName(Path.Combine(RepoRoot(), project))!;
        foreach (var name in new[] { "PublicAPI.Shipped.txt", "PublicAPI.Unshipped.txt" })
        {
            var file = Path.Combine(dir, name);
            Assert.True(File.Exists(file), $"{project} has no {name}; run eng/update-public-api.sh");
            Assert.StartsWith("#nullable enable", File.ReadAllText(file));
        }
    }

    [Fact]
    public void ThePublicApiAnalyzerRunsOnEverySourceProject()
    {
        var props = File.ReadAllText(Path.Combine(RepoRoot(), "Directory.Build.props"));
        Assert.Contains("<PackageReference Include=\"Microsoft.CodeAnalysis.PublicApiAnalyzers\"", props, StringComparison.Ordinal);
        Assert.Contains("PublicAPI.Unshipped.txt", props, StringComparison.Ordinal);
        var core = File.ReadAllLines(Path.Combine(RepoRoot(), "src", "LmWrapper", "PublicAPI.Unshipped.txt"));
        Assert.Contains(core, l => l.StartsWith("LmWrapper.LmPrompt.MaxTokens.get -> int?", StringComparison.Ordinal));
    }
}
