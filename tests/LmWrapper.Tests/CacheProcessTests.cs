using System.Diagnostics;
using System.Globalization;
using LmWrapper.Caching;

namespace LmWrapper.Tests;

/// <summary>The cache across processes: a writer killed mid-run loses nothing committed, and writers can share a file.</summary>
public sealed class CacheProcessTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AWriterKilledMidRunLeavesASoundCacheWithEveryCommittedAnswer()
    {
        string file = _dir.File("killed.sqlite3");
        var rng = new Random(12345);
        var committed = new HashSet<int>();
        int next = 0;
        for (int round = 0; round < 3; round++)
        {
            int killAfter = rng.Next(20, 150);
            using var child = Process.Start(ChildProcess.StartInfo(["write", file, next.ToString(CultureInfo.InvariantCulture), "100000", "3000"]))!;
            _ = child.StandardError.ReadToEndAsync();
            int seen = 0;
            while (await child.StandardOutput.ReadLineAsync() is { } line)
            {
                Assert.StartsWith("stored ", line, StringComparison.Ordinal);
                committed.Add(int.Parse(line["stored ".Length..], CultureInfo.InvariantCulture));
                if (++seen == killAfter)
                {
                    child.Kill(entireProcessTree: true); // no chance to clean up: like a crash or kill -9
                    break;
                }
            }

            await child.WaitForExitAsync();
            next = committed.Max() + 1;

            using var cache = LmCache.Open(file);
            Assert.Empty(cache.CheckIntegrity());
            var lm = new MockLm(_ => throw new InvalidOperationException("should have been cached"), "stress", new LanguageModelOptions { CacheByDefault = true, Cache = cache });
            var answers = lm.PredictMany(committed.Order().Select(i => new LmPrompt($"p{i}") { MaxTokens = 5 })).ToList();
            Assert.All(answers, a => Assert.True(a.WasCached, a.ErrorMessage));
            Assert.All(answers, a => Assert.StartsWith(a.Prompt.Text!, a.CompletionText, StringComparison.Ordinal));
            Assert.Equal(0, lm.CallCount);
        }

        Assert.True(committed.Count >= 60);
    }

    [Fact]
    public async Task SeveralProcessesWriteOneCacheAtOnce()
    {
        string file = _dir.File("shared.sqlite3");
        LmCache.Open(file).Dispose(); // create it, so the writers race on data rather than on the schema
        var children = new[] { 0, 150, 300 }
            .Select(first => Process.Start(ChildProcess.StartInfo(["write", file, first.ToString(CultureInfo.InvariantCulture), "200", "500"]))!)
            .ToList();
        var outputs = await Task.WhenAll(children.Select(c => c.StandardOutput.ReadToEndAsync()));
        var errors = await Task.WhenAll(children.Select(c => c.StandardError.ReadToEndAsync()));
        foreach (var c in children)
        {
            await c.WaitForExitAsync();
            Assert.True(c.ExitCode == 0, string.Join("\n", errors));
            c.Dispose();
        }

        Assert.All(outputs, o => Assert.EndsWith("done", o.TrimEnd(), StringComparison.Ordinal));
        using var cache = LmCache.Open(file);
        Assert.Empty(cache.CheckIntegrity());
        Assert.Equal(500, cache.GetStats().Entries); // 0..499, overlaps stored once
    }
}
