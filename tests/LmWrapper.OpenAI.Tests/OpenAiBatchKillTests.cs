using System.Diagnostics;
using System.Text;
using LmWrapper.Caching;
using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

/// <summary>
/// The kill test: a child process running PredictMany(BatchAny) over 2,000 prompts is killed at random points, then
/// rerun until it completes; every prompt must be answered exactly once and no request submitted in two batches.
/// </summary>
public sealed class OpenAiBatchKillTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private const int Prompts = 2_000;
    private const int MaxRequests = 300;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "lmwrapper-openai-kill-" + Guid.NewGuid().ToString("N"));
    private FakeOpenAiServer _server = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStageDuration = TimeSpan.FromMilliseconds(40) });
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task APredictManyKilledAtRandomPointsAndRerunAnswersEveryPromptExactlyOnce()
    {
        string cacheFile = Path.Combine(_dir, "cache.sqlite");
        var random = new Random(20_251_125);
        int kills = 0, runs = 0;
        var log = new StringBuilder();
        bool done = false;
        while (!done)
        {
            Assert.True(runs < 12, "the child never completed:\n" + log);
            runs++;
            bool kill = kills < 5;
            int before = _server.Requests.Count;
            using var child = Process.Start(StartInfo(cacheFile))!;
            var stdout = child.StandardOutput.ReadToEndAsync();
            var stderr = child.StandardError.ReadToEndAsync();
            if (kill)
            {
                // Kill it once the server has seen a random number of its requests (and a few ms more): a point inside
                // its run however fast or slow the machine is, from uploading the first file to deleting the last.
                int threshold = before + random.Next(1, 20);
                var deadline = Stopwatch.StartNew();
                while (_server.Requests.Count < threshold && !child.HasExited && deadline.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(1);
                }

                await Task.Delay(random.Next(0, 15));
                if (!child.HasExited)
                {
                    child.Kill(entireProcessTree: true);
                    kills++;
                }
            }

            if (!child.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                child.Kill(entireProcessTree: true);
                Assert.Fail("the child hung:\n" + log);
            }

            string said = await stdout + await stderr;
            log.AppendLine($"run {runs} (exit {child.ExitCode}, requests {before}→{_server.Requests.Count}, batches {_server.Batches.Count}, answers cached {CountCached(cacheFile)}): {said.Trim().Split('\n').LastOrDefault()}");
            if (child.ExitCode == 0)
            {
                Assert.Contains("done", said, StringComparison.Ordinal);
                done = true;
            }
            else
            {
                Assert.True(kill && kills > 0, $"the child failed on its own:\n{said}\n{log}");
            }
        }

        output.WriteLine(log.ToString());
        Assert.True(kills >= 3, log.ToString());

        // No request was ever submitted in two batches, and every prompt is in exactly one.
        var batches = _server.Batches;
        var submitted = batches.SelectMany(b => b.CustomIds).ToList();
        Assert.Equal(Prompts, submitted.Count);
        Assert.Equal(Prompts, submitted.Distinct(StringComparer.Ordinal).Count());
        Assert.True(batches.Count >= Prompts / MaxRequests, $"{batches.Count} batches");
        Assert.All(batches, b => Assert.True(b.CustomIds.Count <= MaxRequests));
        Assert.All(batches, b => Assert.DoesNotContain(b.InputFileId, _server.FileIds));

        // Every answer is cached and the journal is empty: a further run sends nothing.
        using var cache = LmCache.Open(cacheFile);
        Assert.Equal(0, cache.PendingBatchCount());
        int requests = _server.Requests.Count;
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: new OpenAiOptions
        {
            BaseUrl = new Uri(_server.BaseUrl),
            GetEnvironmentVariable = _ => null,
            HomeDirectory = _dir,
            ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = cache },
        });
        var all = lm.PredictMany(Enumerable.Range(0, Prompts).Select(i => new LmPrompt($"What is {i}+1?") { MaxTokens = 20, Temperature = 0 }), CompletionWindow.BatchAny).ToList();
        Assert.Equal(requests, _server.Requests.Count);
        Assert.All(all, p => Assert.True(p.WasCached));
        Assert.Equal(Enumerable.Range(0, Prompts).Select(i => $"{i}+1 is equal to {i + 1}."), all.Select(p => p.CompletionText));
    }

    private static long CountCached(string cacheFile)
    {
        using var cache = LmCache.Open(cacheFile);
        return cache.GetStats().Entries;
    }

    private ProcessStartInfo StartInfo(string cacheFile)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "LmWrapper.OpenAiBatchChild.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { dll, "run", _server.BaseUrl, FakeOpenAiServer.DefaultApiKey, cacheFile, _dir, Prompts.ToString(System.Globalization.CultureInfo.InvariantCulture), MaxRequests.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }
}
