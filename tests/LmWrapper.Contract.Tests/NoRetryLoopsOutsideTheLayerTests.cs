using System.Text.RegularExpressions;

namespace LmWrapper.Contract.Tests;

/// <summary>Every retry goes through the core's resilience layer (src/LmWrapper/Http): no hand-written retry loop elsewhere.</summary>
public sealed partial class NoRetryLoopsOutsideTheLayerTests
{
    [Fact]
    public void NoSourceFileOutsideTheLayerHasARetryLoop()
    {
        string src = Path.Combine(RepositoryRoot(), "src");
        string layer = Path.Combine(src, "LmWrapper", "Http") + Path.DirectorySeparatorChar;
        var offenders = new List<string>();
        int read = 0;
        foreach (string file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            if (file.StartsWith(layer, StringComparison.Ordinal) || file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            {
                continue;
            }

            read++;
            string text = File.ReadAllText(file);
            foreach (Match m in RetryLoop().Matches(text))
            {
                offenders.Add($"{Path.GetRelativePath(src, file)}: {m.Value.Trim()}");
            }
        }

        Assert.True(read > 50, $"only {read} source files were read");
        Assert.Empty(offenders);
    }

    [Fact]
    public void ThePatternFindsALoopWhenThereIsOne()
    {
        Assert.Matches(RetryLoop(), "for (int attempt = 0; ; attempt++)");
        Assert.Matches(RetryLoop(), "var delay = _retry.GetDelay(attempt + 1, hint, waited);");
        Assert.Matches(RetryLoop(), "await Task.Delay(Backoff(attempt), ct);");
        Assert.DoesNotMatch(RetryLoop(), "for (int hop = 0; hop < 5; hop++)");
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LmWrapper.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("The repository root (LmWrapper.slnx) was not found above " + AppContext.BaseDirectory);
    }

    // A loop over attempts or retries, a policy's delay asked for outside the layer, or a hand-made backoff.
    [GeneratedRegex(@"(for|while)\s*\([^)]*\b(attempt|retry|retries)\b[^)]*\)|\.GetDelay\s*\(|\bBackoff\s*\(")]
    private static partial Regex RetryLoop();
}
