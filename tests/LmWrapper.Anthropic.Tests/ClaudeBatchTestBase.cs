using System.Text.Json;
using LmWrapper.Batching;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

/// <summary>Message Batches tests: fast polling, a private working folder, helpers to read what the fake received.</summary>
public abstract class ClaudeBatchTestBase : ClaudeTestBase, IDisposable
{
    protected string WorkDirectory { get; } = Path.Combine(Path.GetTempPath(), "lmwrapper-claude-batch-tests-" + Guid.NewGuid().ToString("N"));

    protected BatchOptions FastBatches { get; }

    protected ClaudeBatchTestBase() => FastBatches = new BatchOptions
    {
        PollInterval = TimeSpan.FromMilliseconds(1),
        MaxPollInterval = TimeSpan.FromMilliseconds(5),
        WorkingDirectory = WorkDirectory,
    };

    public void Dispose()
    {
        if (Directory.Exists(WorkDirectory))
        {
            Directory.Delete(WorkDirectory, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>A Claude model over the fake with this test's cache (so a second instance is a "rerun").</summary>
    protected ClaudeLm BatchModel(BatchOptions? batch = null) =>
        Model(options: Options() with { ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache, Batch = batch ?? FastBatches } });

    protected static List<LmPrompt> Prompts(params string[] texts) => [.. texts.Select(t => new LmPrompt(t) { MaxTokens = 20, Temperature = 0 })];

    /// <summary>The <c>POST /v1/messages/batches</c> requests the fake received (including refused ones).</summary>
    protected IReadOnlyList<FakeAnthropicRecordedRequest> CreateRequests =>
        [.. Server.RequestsTo("/v1/messages/batches").Where(r => r.Method == "POST")];

    /// <summary>Each created batch's request ids without their tag ("{customId}_{sample}").</summary>
    protected List<List<string>> SubmittedSampleIds() =>
        [.. Server.CreatedBatches.Select(b => b.CustomIds.Select(id => id[..id.LastIndexOf('_')]).ToList())];

    /// <summary>Asserts that no request (prompt and sample) went into two batches.</summary>
    protected void AssertNothingSubmittedTwice()
    {
        var all = SubmittedSampleIds().SelectMany(ids => ids).ToList();
        Assert.Equal(all.Count, all.Distinct(StringComparer.Ordinal).Count());
    }

    /// <summary>The <c>params</c> of every request of a recorded create call, as raw JSON text, by tagged custom id.</summary>
    protected static Dictionary<string, string> ParamsOf(FakeAnthropicRecordedRequest create)
    {
        using var doc = JsonDocument.Parse(create.Body);
        return doc.RootElement.GetProperty("requests").EnumerateArray()
            .ToDictionary(r => r.GetProperty("custom_id").GetString()!, r => r.GetProperty("params").GetRawText(), StringComparer.Ordinal);
    }

    /// <summary>Runs until the fake has created <paramref name="batches"/> batches, then cancels, as a user pressing Ctrl+C would.</summary>
    protected async Task CancelOnceSubmittedAsync(ClaudeLm lm, IReadOnlyList<LmPrompt> prompts, int batches = 1)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var run = Task.Run(async () =>
        {
            await foreach (var _ in lm.PredictManyAsync(prompts, CompletionWindow.BatchAny, cts.Token))
            {
            }
        });
        while (Server.CreatedBatches.Count < batches && !run.IsCompleted)
        {
            await Task.Delay(5);
        }

        await Task.Delay(20); // let it record the id and wait a little
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }
}
