using LmWrapper.Batching;
using LmWrapper.Caching;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace LmWrapper.Tests;

/// <summary>The orchestrator's shape: state per run (one orchestrator, several runs at once) and one clock.</summary>
public sealed class BatchOrchestratorPhaseTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static BatchOptions Fast(string work, TimeProvider? time = null) => new()
    {
        PollInterval = TimeSpan.FromMilliseconds(1),
        MaxPollInterval = TimeSpan.FromMilliseconds(5),
        WorkingDirectory = work,
        TimeProvider = time ?? TimeProvider.System,
    };

    [Fact]
    public async Task OneOrchestratorServesSeveralRunsAtOnceEachWithItsOwnState()
    {
        var backend = new FakeBatchBackend { PollsToFinish = 3 };
        var orchestrator = new BatchOrchestrator(backend, journal: null, "test/batch", Fast(_dir.File("work")), NullLogger.Instance);
        static IUncachedRequestTable Table(string prefix, int count, int numCompletions) => new UncachedRequestList(
            [.. Enumerable.Range(0, count).Select(i => new LmUncachedRequest(i, new LmPrompt($"{prefix}{i}") { MaxTokens = 5 }, numCompletions))], cachedPrompts: 0);

        async Task<List<LmUncachedResult>> Drain(IUncachedRequestTable table)
        {
            var results = new List<LmUncachedResult>();
            await foreach (var r in orchestrator.RunAsync(table, CancellationToken.None))
            {
                results.Add(r);
                r.OnStored?.Invoke();
            }

            return results;
        }

        var runs = await Task.WhenAll(Drain(Table("a", 7, 1)), Drain(Table("b", 4, 2)), Drain(Table("c", 1, 3)));
        Assert.Equal(Enumerable.Range(0, 7), runs[0].Select(r => r.Index).Order());
        Assert.Equal(Enumerable.Range(0, 4), runs[1].Select(r => r.Index).Order());
        Assert.Single(runs[2]);
        Assert.All(runs[0], r => Assert.Equal($"a{r.Index}", r.Predictions.Single().CompletionText.Split('|')[0]));
        Assert.All(runs[1], r => Assert.Equal(2, r.Predictions.Count));
        Assert.All(runs[1], r => Assert.All(r.Predictions, p => Assert.StartsWith($"b{r.Index}|", p.CompletionText, StringComparison.Ordinal)));
        Assert.Equal(3, runs[2][0].Predictions.Count);
        Assert.Equal(3, backend.Submissions); // one batch per run: no run took another's requests
    }

    [Fact]
    public void TheJournalAndStaleRequestFilesGoByTheBatchClock()
    {
        string work = Directory.CreateDirectory(_dir.File("work")).FullName;
        string leftBehind = Path.Combine(work, "lmw_left_behind.jsonl");
        File.WriteAllText(leftBehind, "{}\n"); // written just now by the system clock
        var shift = TimeSpan.FromDays(3);
        using var cache = LmCache.Open(_dir.File("c.sqlite3"));
        var backend = new FakeBatchBackend();
        long? recorded = null;
        backend.BeforeCreate = localId =>
        {
            // The batch is in the journal before the provider hears of it; read its time from the file.
            using var conn = new SqliteConnection($"Data Source={cache.FilePath};Pooling=False");
            conn.Open();
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "SELECT created FROM batch_jobs WHERE local_id = $l";
            cmd.Parameters.AddWithValue("$l", localId);
            recorded = (long)cmd.ExecuteScalar()!;
        };
        var lm = new BatchTestLm(new LanguageModelOptions { Cache = cache, CacheByDefault = true, Batch = Fast(work, new ShiftedClock(shift)) }, backend);

        var answers = lm.PredictMany([new LmPrompt("x") { MaxTokens = 5 }], CompletionWindow.BatchAny).ToList();
        Assert.False(answers[0].HasErrors, answers[0].ErrorMessage);

        // Three days ahead, a file written now is a day old: removed as stale; the journal entry carries that time too.
        Assert.False(File.Exists(leftBehind));
        long expected = (DateTimeOffset.UtcNow + shift).ToUnixTimeSeconds();
        Assert.InRange(recorded!.Value, expected - 60, expected + 1);
    }

    [Fact]
    public void OnTheSystemClockAFreshRequestFileIsLeftAlone()
    {
        string work = Directory.CreateDirectory(_dir.File("work")).FullName;
        string someoneElses = Path.Combine(work, "lmw_being_uploaded.jsonl");
        File.WriteAllText(someoneElses, "{}\n");
        using var cache = LmCache.OpenInMemory();
        var lm = new BatchTestLm(new LanguageModelOptions { Cache = cache, CacheByDefault = true, Batch = Fast(work) }, new FakeBatchBackend());
        Assert.Single(lm.PredictMany([new LmPrompt("x") { MaxTokens = 5 }], CompletionWindow.BatchAny).ToList());
        Assert.True(File.Exists(someoneElses));
    }

    private sealed class ShiftedClock(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + shift;
    }
}
