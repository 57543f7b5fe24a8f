using System.Text.Json;
using LmWrapper.Batching;
using LmWrapper.Caching;
using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

/// <summary>Batch API tests: fast polling, a private working folder and cache, helpers to read what the fake received.</summary>
public abstract class OpenAiBatchTestBase : OpenAiTestBase, IDisposable
{
    protected OpenAiBatchTestBase() => FastBatches = new BatchOptions
    {
        PollInterval = TimeSpan.FromMilliseconds(1),
        MaxPollInterval = TimeSpan.FromMilliseconds(5),
        WorkingDirectory = WorkDirectory,
    };

    protected string WorkDirectory { get; } = Path.Combine(Path.GetTempPath(), "lmwrapper-openai-batch-tests-" + Guid.NewGuid().ToString("N"));

    protected LmCache Cache { get; } = LmCache.OpenInMemory();

    protected BatchOptions FastBatches { get; }

    /// <summary>Each stage of a batch lasts one look at it, so a run sees every stage.</summary>
    protected override FakeOpenAiServerOptions? ServerOptions => new() { BatchStagePolls = 1 };

    public void Dispose()
    {
        Cache.Dispose();
        if (Directory.Exists(WorkDirectory))
        {
            Directory.Delete(WorkDirectory, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>A model over the fake with this test's cache (so a second instance is a "rerun").</summary>
    protected OpenAiLm BatchLm(string model = OpenAiModelNames.Gpt4oMini, BatchOptions? batch = null, LmCache? cache = null) =>
        OpenAiLm.Get(model, FakeOpenAiServer.DefaultApiKey, options: Options(cache ?? Cache) with
        {
            ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = cache ?? Cache, Batch = batch ?? FastBatches },
        });

    protected static List<LmPrompt> Prompts(params string[] texts) => [.. texts.Select(t => new LmPrompt(t) { MaxTokens = 20, Temperature = 0 })];

    protected static List<LmPrompt> Sums(int count, int from = 0) =>
        [.. Enumerable.Range(from, count).Select(i => new LmPrompt($"What is {i}+1?") { MaxTokens = 20, Temperature = 0 })];

    protected static void AssertSums(IReadOnlyList<LmPrediction> predictions, int from = 0)
    {
        for (int i = 0; i < predictions.Count; i++)
        {
            Assert.False(predictions[i].HasErrors, predictions[i].ErrorMessage);
            Assert.Equal($"{i + from}+1 is equal to {i + from + 1}.", predictions[i].CompletionText);
        }
    }

    /// <summary>The batch create calls the fake received.</summary>
    protected IReadOnlyList<FakeOpenAiRecordedRequest> CreateRequests => [.. Server.Requests.Where(r => r.Method == "POST" && r.Path == "/v1/batches")];

    /// <summary>The request lines of every uploaded batch file, in upload order (read from the recorded multipart bodies).</summary>
    protected List<List<JsonElement>> UploadedLines() =>
        [.. Server.Requests.Where(r => r.Method == "POST" && r.Path == "/v1/files").Select(r =>
            r.Body.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("{\"custom_id\"", StringComparison.Ordinal))
                .Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList())];

    /// <summary>Asserts that no request went into two batches (by the fake's record of every batch's custom ids).</summary>
    protected void AssertNothingSubmittedTwice()
    {
        var all = Server.Batches.SelectMany(b => b.CustomIds).ToList();
        Assert.Equal(all.Count, all.Distinct(StringComparer.Ordinal).Count());
    }

    /// <summary>Runs until the fake has created <paramref name="batches"/> batches, then cancels, as a user pressing Ctrl+C would.</summary>
    protected async Task CancelOnceSubmittedAsync(OpenAiLm lm, IReadOnlyList<LmPrompt> prompts, int batches = 1)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var run = Task.Run(async () =>
        {
            await foreach (var _ in lm.PredictManyAsync(prompts, CompletionWindow.BatchAny, cts.Token))
            {
            }
        });
        while (Server.Batches.Count < batches && !run.IsCompleted)
        {
            await Task.Delay(5);
        }

        await Task.Delay(20);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }
}
