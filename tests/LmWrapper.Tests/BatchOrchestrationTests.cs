using LmWrapper.Batching;
using LmWrapper.Caching;

namespace LmWrapper.Tests;

public sealed class BatchOrchestrationTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly LmCache _cache;
    private readonly FakeBatchBackend _backend = new();
    private readonly List<BatchProgress> _progress = [];

    public BatchOrchestrationTests() => _cache = LmCache.Open(_dir.File("batch.sqlite3"));

    public void Dispose()
    {
        _cache.Dispose();
        _dir.Dispose();
    }

    private BatchTestLm Model(BatchLimits? limits = null, int maxAttempts = 3) => new(
        new LanguageModelOptions
        {
            Cache = _cache,
            CacheByDefault = true,
            Batch = new BatchOptions
            {
                PollInterval = TimeSpan.FromMilliseconds(1),
                MaxPollInterval = TimeSpan.FromMilliseconds(5),
                MaxAttempts = maxAttempts,
                Limits = limits,
                WorkingDirectory = _dir.File("work"),
                Progress = new SyncProgress(_progress),
            },
        },
        _backend);

    private static List<LmPrompt> Prompts(params string[] texts) => [.. texts.Select(t => new LmPrompt(t) { MaxTokens = 5 })];

    [Fact]
    public void FiveCountriesThreeCachedFirstOnlyTheRestGoInOneBatch()
    {
        var lm = Model();
        string[] countries = ["France", "Germany", "Spain", "Italy", "Japan"];
        var first3 = lm.PredictMany(Prompts(countries[..3]), CompletionWindow.BatchAny).ToList();
        Assert.Equal(1, _backend.Submissions);

        var all = lm.PredictMany(Prompts(countries), CompletionWindow.BatchAny).ToList();
        Assert.Equal(countries, all.Select(p => p.CompletionText.Split('|')[0]));
        Assert.Equal([true, true, true, false, false], all.Select(p => p.WasCached));
        Assert.Equal(first3.Select(p => p.CompletionText), all.Take(3).Select(p => p.CompletionText));
        Assert.Equal(2, _backend.Submissions);
        Assert.Equal(2, _backend.Batches["batch_2"].Lines.Count);
        Assert.Equal(0, lm.DirectCalls);

        // Everything is cached now: a rerun submits nothing, and the journal and the provider are tidied up.
        Assert.All(lm.PredictMany(Prompts(countries), CompletionWindow.BatchAny), p => Assert.True(p.WasCached));
        Assert.Equal(2, _backend.Submissions);
        Assert.Equal(2, _backend.CleanedUp.Count);
        Assert.Equal(0, _cache.PendingBatchCount());
        Assert.Empty(Directory.GetFiles(_dir.File("work")));
    }

    [Fact]
    public void EachRequestFileIsWrittenJustBeforeItsSubmissionAndStaleOnesAreRemoved()
    {
        string work = _dir.File("work");
        Directory.CreateDirectory(work);
        string stale = Path.Combine(work, "lmw_" + new string('a', 32) + ".jsonl");
        string recent = Path.Combine(work, "lmw_" + new string('b', 32) + ".jsonl");
        string other = Path.Combine(work, "notes.jsonl");
        foreach (var f in (string[])[stale, recent, other])
        {
            File.WriteAllText(f, "{}\n");
            File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddDays(-2));
        }

        File.SetLastWriteTimeUtc(recent, DateTime.UtcNow.AddHours(-1)); // may belong to a run going on now

        var filesAtSubmission = new List<int>();
        _backend.BeforeCreate = _ => filesAtSubmission.Add(Directory.GetFiles(work, "lmw_*.jsonl").Length - 1); // less the recent one
        var lm = Model(new BatchLimits(2, 200_000_000));
        var results = lm.PredictMany(Prompts("a", "b", "c", "d", "e", "f", "g"), CompletionWindow.BatchAny).ToList();

        Assert.All(results, p => Assert.False(p.HasErrors));
        Assert.Equal(4, _backend.Submissions);
        Assert.Equal([1, 1, 1, 1], filesAtSubmission); // only the file being submitted: a crash leaves at most one
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(recent));
        Assert.True(File.Exists(other));
    }

    [Fact]
    public void AsapOnTheSameModelUsesOrdinaryCalls()
    {
        var lm = Model();
        lm.PredictMany(Prompts("a", "b"), CompletionWindow.Asap).ToList();
        Assert.Equal(2, lm.DirectCalls);
        Assert.Equal(0, _backend.Submissions);
    }

    [Fact]
    public void DuplicatesGoOnceAndSeveralCompletionsUseN()
    {
        var lm = Model();
        lm.Predict(new LmPrompt("s") { MaxTokens = 5, NumCompletions = 2 });
        var results = lm.PredictMany(
            [new LmPrompt("s") { MaxTokens = 5, NumCompletions = 3 }, new LmPrompt("t") { MaxTokens = 5 }, new LmPrompt("t") { MaxTokens = 5 }],
            CompletionWindow.BatchAny).ToList();
        var lines = _backend.Batches["batch_1"].Lines;
        Assert.Equal(2, lines.Count);
        Assert.Equal(1, lines.Single(l => l.Text == "s").N); // two samples were cached: one more is asked for
        Assert.Equal(["s|direct", "s|direct", "s|batch_1#0"], results[0].Completions.Select(c => c.CompletionText));
        Assert.Equal(results[1].CompletionText, results[2].CompletionText);
    }

    [Fact]
    public void ALineAnsweredWithFewerSamplesThanAskedHasOnlyTheMissingOnesResubmitted()
    {
        _backend.AnsweredSamples = (batch, line) => batch.Id == "batch_1" ? 1 : line.N;
        var lm = Model();
        var result = lm.PredictMany([new LmPrompt("s") { MaxTokens = 5, NumCompletions = 3 }], CompletionWindow.BatchAny).Single();
        Assert.Equal(["s|batch_1#0", "s|batch_2#0", "s|batch_2#1"], result.Completions.Select(c => c.CompletionText));
        Assert.Equal(2, _backend.Submissions);
        Assert.Equal(2, _backend.Batches["batch_2"].Lines.Single().N);
        Assert.Equal(0, _cache.PendingBatchCount());
    }

    [Fact]
    public void SamplesABatchDeliveredAreNotLostWhenTheRunDiesBeforeTheRestArrive()
    {
        // batch_1 delivers 1 of 3 samples; the run dies while batch_2 (the other 2) runs. batch_1 must stay in the
        // journal and at the provider, so the rerun takes its paid-for sample back instead of asking again.
        _backend.AnsweredSamples = (batch, line) => batch.Id == "batch_1" ? 1 : line.N;
        _backend.OnStatus = id =>
        {
            if (id == "batch_2")
            {
                throw new OperationCanceledException("killed");
            }
        };
        var prompt = new LmPrompt("s") { MaxTokens = 5, NumCompletions = 3 };
        Assert.ThrowsAny<OperationCanceledException>(() => Model().PredictMany([prompt], CompletionWindow.BatchAny).ToList());
        Assert.Equal(2, _backend.Submissions);
        Assert.DoesNotContain("batch_1", _backend.CleanedUp);
        Assert.Equal(2, _cache.PendingBatchCount());

        _backend.OnStatus = null;
        var result = Model().PredictMany([prompt], CompletionWindow.BatchAny).Single();
        Assert.Equal(["s|batch_1#0", "s|batch_2#0", "s|batch_2#1"], result.Completions.Select(c => c.CompletionText).Order());
        Assert.Equal(2, _backend.Submissions);
        Assert.Equal(0, _cache.PendingBatchCount());
    }

    [Fact]
    public void ARunWhoseRequestsDoNotUseTheCacheKeepsNoJournal()
    {
        var lm = Model();
        lm.PredictMany(Prompts("a"), CompletionWindow.BatchAny).ToList();
        var journalAtSubmission = new List<int>();
        _backend.BeforeCreate = _ => journalAtSubmission.Add(_cache.PendingBatchCount());
        var r = lm.PredictMany([new LmPrompt("a") { MaxTokens = 5 }, new LmPrompt("u") { MaxTokens = 5, Cache = false }], CompletionWindow.BatchAny).ToList();
        Assert.Equal([true, false], r.Select(p => p.WasCached));
        Assert.Equal([0], journalAtSubmission); // "a" was cached: the one request sent does not use the cache
    }

    [Fact]
    public void SplitsByRequestCountAndFileSize()
    {
        var lm = Model(new BatchLimits(MaxRequests: 3, MaxFileBytes: 10_000_000));
        var r = lm.PredictMany(Prompts([.. Enumerable.Range(0, 10).Select(i => $"p{i}")]), CompletionWindow.BatchAny).ToList();
        Assert.Equal(4, _backend.Submissions);
        Assert.Equal([3, 3, 3, 1], _backend.Batches.Values.OrderBy(b => b.Id.Length).ThenBy(b => b.Id).Select(b => b.Lines.Count));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"p{i}"), r.Select(p => p.CompletionText.Split('|')[0]));

        var small = new FakeBatchBackend();
        var lm2 = new BatchTestLm(
            new LanguageModelOptions { CacheByDefault = true, Cache = LmCache.OpenInMemory(), Batch = new BatchOptions { PollInterval = TimeSpan.FromMilliseconds(1), Limits = new BatchLimits(1000, MaxFileBytes: 200) } },
            small);
        lm2.PredictMany(Prompts([.. Enumerable.Range(0, 12).Select(i => $"prompt number {i}")]), CompletionWindow.BatchAny).ToList();
        Assert.True(small.Submissions >= 3, $"{small.Submissions} batches");
        Assert.All(small.Batches.Values, b => Assert.True(b.Lines.Count * 70 <= 200 + 70));
    }

    [Fact]
    public void NeverExceedsTheTokenQueueAndSubmitsLaterPartsAsEarlierOnesFinish()
    {
        // 10 tokens per request; our limit 30 tokens in the queue: batches of 3 requests, one running at a time.
        var lm = Model(new BatchLimits(1000, 10_000_000, MaxEnqueuedTokens: 30));
        var r = lm.PredictMany(Prompts([.. Enumerable.Range(0, 8).Select(i => $"q{i}")]), CompletionWindow.BatchAny).ToList();
        Assert.All(r, p => Assert.False(p.HasErrors));
        Assert.Equal(3, _backend.Submissions);
        Assert.True(_backend.MaxEnqueuedSeen <= 30, $"{_backend.MaxEnqueuedSeen} tokens were enqueued at once");
    }

    [Fact]
    public void QueueFullFromTheProviderWaitsThenHalves()
    {
        _backend.ProviderTokenCap = 40; // the provider is stricter than our limits say
        var lm = Model(new BatchLimits(1000, 10_000_000, MaxEnqueuedTokens: 1000));
        var r = lm.PredictMany(Prompts([.. Enumerable.Range(0, 10).Select(i => $"z{i}")]), CompletionWindow.BatchAny).ToList();
        Assert.All(r, p => Assert.False(p.HasErrors, p.ErrorMessage));
        Assert.True(_backend.MaxEnqueuedSeen <= 40);
        Assert.All(_backend.SubmittedCustomIds().Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task ARunThatDiesAfterSubmittingIsResumedWithoutSubmittingAgain()
    {
        await SubmitAndDieAsync(Prompts([.. Enumerable.Range(0, 20).Select(i => $"r{i}")])); // the batch keeps running
        Assert.Equal(1, _backend.Submissions);
        Assert.Equal(1, _cache.PendingBatchCount());

        // The rerun asks for the same prompts and ten more: it reattaches and submits only the new ten.
        var rerun = Model();
        var results = rerun.PredictMany(Prompts([.. Enumerable.Range(0, 30).Select(i => $"r{i}")]), CompletionWindow.BatchAny).ToList();
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"r{i}"), results.Select(p => p.CompletionText.Split('|')[0]));
        Assert.Equal(2, _backend.Submissions);
        Assert.Equal(10, _backend.Batches["batch_2"].Lines.Count);
        Assert.All(_backend.SubmittedCustomIds().Values, n => Assert.Equal(1, n));
        Assert.All(results.Take(20), p => Assert.EndsWith("batch_1#0", p.CompletionText, StringComparison.Ordinal));
        Assert.Equal(0, _cache.PendingBatchCount());
    }

    [Fact]
    public void DyingAfterTheProviderCreatedTheBatchButBeforeItsIdWasRecordedDoesNotPayTwice()
    {
        var lm = Model();
        _backend.AfterCreate = _ => throw new OperationCanceledException("killed");
        Assert.ThrowsAny<OperationCanceledException>(() => lm.PredictMany(Prompts("a", "b", "c"), CompletionWindow.BatchAny).ToList());
        Assert.Equal(1, _backend.Submissions);

        _backend.AfterCreate = null;
        var results = Model().PredictMany(Prompts("a", "b", "c"), CompletionWindow.BatchAny).ToList();
        Assert.Equal(1, _backend.Submissions); // found by its local id and reattached
        Assert.All(results, p => Assert.EndsWith("batch_1#0", p.CompletionText, StringComparison.Ordinal));
    }

    [Fact]
    public void DyingBeforeTheProviderCreatedTheBatchSubmitsItOnRerun()
    {
        var lm = Model();
        _backend.BeforeCreate = _ => throw new OperationCanceledException("killed");
        Assert.ThrowsAny<OperationCanceledException>(() => lm.PredictMany(Prompts("a", "b"), CompletionWindow.BatchAny).ToList());
        Assert.Equal(0, _backend.Submissions);
        Assert.Equal(1, _cache.PendingBatchCount()); // recorded before the upload

        _backend.BeforeCreate = null;
        var results = Model().PredictMany(Prompts("a", "b"), CompletionWindow.BatchAny).ToList();
        Assert.Equal(1, _backend.Submissions);
        Assert.All(results, p => Assert.False(p.HasErrors));
        Assert.Equal(0, _cache.PendingBatchCount());
    }

    [Theory]
    [InlineData(BatchState.Expired)]
    [InlineData(BatchState.Cancelled)]
    [InlineData(BatchState.Failed)]
    public void UnansweredRequestsOfABatchThatEndedEarlyAreResubmitted(BatchState ending)
    {
        _backend.Endings.Enqueue((ending, 0.5));
        var lm = Model();
        var results = lm.PredictMany(Prompts("a", "b", "c", "d"), CompletionWindow.BatchAny).ToList();
        Assert.All(results, p => Assert.False(p.HasErrors, p.ErrorMessage));
        Assert.Equal(2, _backend.Submissions);
        int answeredFirst = ending == BatchState.Failed ? 0 : 2;
        Assert.Equal(4 - answeredFirst, _backend.Batches["batch_2"].Lines.Count);
        Assert.Equal(answeredFirst, results.Count(p => p.CompletionText.EndsWith("batch_1#0", StringComparison.Ordinal)));
    }

    [Fact]
    public void AfterTheLastAttemptUnansweredRequestsComeBackAsErrorsAndAreNotCached()
    {
        for (int i = 0; i < 3; i++)
        {
            _backend.Endings.Enqueue((BatchState.Expired, 0.5));
        }

        var lm = Model(maxAttempts: 2);
        var results = lm.PredictMany(Prompts("a", "b", "c", "d"), CompletionWindow.BatchAny).ToList();
        Assert.Equal(2, _backend.Submissions);
        Assert.Equal(3, results.Count(p => !p.HasErrors)); // 2 from the first batch, 1 of the 2 resubmitted
        var failed = Assert.Single(results, p => p.HasErrors);
        Assert.Contains("expired", failed.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("2 attempt", failed.ErrorMessage, StringComparison.Ordinal);
        Assert.False(lm.PredictMany([failed.Prompt], CompletionWindow.BatchAny).Single().WasCached);
    }

    [Fact]
    public void RejectedLinesAreErrorsThatAreCachedSoARerunDoesNotPayAgain()
    {
        var lm = Model();
        var results = lm.PredictMany(Prompts("fine", "TOO LONG prompt"), CompletionWindow.BatchAny).ToList();
        Assert.False(results[0].HasErrors);
        Assert.True(results[1].HasErrors);
        Assert.Equal("context_length_exceeded", results[1].ErrorMessage);
        var again = lm.PredictMany(Prompts("fine", "TOO LONG prompt"), CompletionWindow.BatchAny).ToList();
        Assert.True(again[1].WasCached);
        Assert.Equal(1, _backend.Submissions);
    }

    [Fact]
    public void ABatchIsForgottenOnlyAfterEveryOneOfItsResultsIsCached()
    {
        var lm = Model(new BatchLimits(MaxRequests: 40, MaxFileBytes: 10_000_000));
        var prompts = Prompts([.. Enumerable.Range(0, 100).Select(i => $"c{i}")]);
        var uncachedAtCleanup = new List<int>();
        _backend.OnCleanup = batch =>
        {
            uncachedAtCleanup.Add(batch.Lines.Count(l => !lm.PredictMany([new LmPrompt(l.Text) { MaxTokens = 5, Cache = true }], CompletionWindow.Asap).Single().WasCached));
        };
        int before = lm.DirectCalls;
        lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        Assert.Equal(3, _backend.CleanedUp.Count);
        Assert.Equal([0, 0, 0], uncachedAtCleanup);
        Assert.Equal(before, lm.DirectCalls);
    }

    [Fact]
    public void ProgressIsReported()
    {
        Model().PredictMany(Prompts("a", "b", "c"), CompletionWindow.BatchAny).ToList();
        Assert.NotEmpty(_progress);
        var last = _progress[^1];
        Assert.Equal(3, last.Requests);
        Assert.Equal(3, last.Completed);
        Assert.Equal(0, last.ActiveBatches);
        Assert.Contains(_progress, p => p.ActiveBatches == 1 && p.Submitted == 3);
    }

    [Fact]
    public void ProgressCountsCachedPromptsAndTheCostSoFar()
    {
        var lm = Model();
        lm.PredictMany(Prompts("a"), CompletionWindow.BatchAny).ToList();
        _progress.Clear();
        lm.PredictMany(Prompts("a", "b", "c", "a"), CompletionWindow.BatchAny).ToList();
        var last = _progress[^1];
        Assert.Equal(2, last.Cached);     // both "a" prompts were answered by the cache
        Assert.Equal(2, last.Completed);
        Assert.Equal(0.010m, last.CostSoFar); // 2 answers × 5 tokens × $0.001 (the fake's prices)
        Assert.Equal(0m, _progress[0].CostSoFar);
    }

    /// <summary>Runs PredictMany until the first batch is submitted, then cancels it, leaving the batch in the journal.</summary>
    private async Task SubmitAndDieAsync(List<LmPrompt> prompts)
    {
        _backend.PollsToFinish = 1000;
        var lm = Model();
        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            var task = Task.Run(async () =>
            {
                await foreach (var _ in lm.PredictManyAsync(prompts, CompletionWindow.BatchAny, cts.Token))
                {
                }
            });
            while (_backend.Submissions == 0)
            {
                await Task.Delay(5);
            }

            await cts.CancelAsync();
            await task;
        });
        _backend.PollsToFinish = 2;
    }

    [Fact]
    public async Task APromptAnsweredByAReattachedBatchIsNotSubmittedAgainWhenItsFileComesLater()
    {
        await SubmitAndDieAsync(Prompts("late"));
        Assert.Equal(1, _cache.PendingBatchCount());

        // One request per file and room for two batches in the queue: the reattached batch and the first new one run
        // while the later files are still to be written, and "late" comes after them.
        var lm = Model(new BatchLimits(1, 10_000_000, MaxEnqueuedTokens: 20));
        var results = lm.PredictMany(Prompts("a", "c", "d", "late"), CompletionWindow.BatchAny).ToList();
        Assert.Equal(["a", "c", "d", "late"], results.Select(p => p.CompletionText.Split('|')[0]));
        Assert.EndsWith("batch_1#0", results[3].CompletionText, StringComparison.Ordinal);
        Assert.All(_backend.SubmittedCustomIds().Values, n => Assert.Equal(1, n)); // "late" is paid for once
        Assert.Equal(4, _backend.Submissions);
    }

    [Fact]
    public async Task SamplesAReattachedBatchDoesNotCoverAreAskedForInTheFirstAttempt()
    {
        // The earlier run asked for 2 samples; this one wants 3 of the same prompt, with a single attempt allowed.
        await SubmitAndDieAsync([new LmPrompt("wide") { MaxTokens = 5, NumCompletions = 2 }]);
        var lm = Model(new BatchLimits(1, 10_000_000, MaxEnqueuedTokens: 30), maxAttempts: 1);
        var results = lm.PredictMany(
            [.. Prompts("a", "c", "d"), new LmPrompt("wide") { MaxTokens = 5, NumCompletions = 3 }], CompletionWindow.BatchAny).ToList();
        Assert.All(results, p => Assert.False(p.HasErrors, p.ErrorMessage));
        Assert.Equal(3, results[3].Completions.Count);
    }

    [Fact]
    public void ARequestFileWaitingForRoomInTheQueueIsNotRemovedAsStaleByAnotherRun()
    {
        // "b" waits (written) while "a" runs; meanwhile a day passes and another run starts in the same directory.
        string work = _dir.File("work");
        bool otherRan = false;
        var lm = new BatchTestLm(
            new LanguageModelOptions
            {
                Cache = _cache,
                CacheByDefault = true,
                Batch = new BatchOptions
                {
                    PollInterval = TimeSpan.FromMilliseconds(1),
                    MaxPollInterval = TimeSpan.FromMilliseconds(5),
                    Limits = new BatchLimits(1, 10_000_000, MaxEnqueuedTokens: 10),
                    WorkingDirectory = work,
                    Progress = new CallbackProgress(p =>
                    {
                        var waiting = Directory.GetFiles(work, "lmw_*.jsonl");
                        if (otherRan || p.ActiveBatches != 1 || waiting.Length != 1)
                        {
                            return;
                        }

                        otherRan = true;
                        File.SetLastWriteTimeUtc(waiting[0], DateTime.UtcNow.AddDays(-1).AddMinutes(-1)); // written a day ago
                        var other = new BatchTestLm(
                            new LanguageModelOptions
                            {
                                Cache = LmCache.OpenInMemory(),
                                CacheByDefault = true,
                                Batch = new BatchOptions { PollInterval = TimeSpan.FromMilliseconds(1), WorkingDirectory = work },
                            },
                            new FakeBatchBackend());
                        Assert.False(other.PredictMany(Prompts("other"), CompletionWindow.BatchAny).Single().HasErrors);
                    }),
                },
            },
            _backend);
        var results = lm.PredictMany(Prompts("a", "b"), CompletionWindow.BatchAny).ToList();
        Assert.True(otherRan);
        Assert.All(results, p => Assert.False(p.HasErrors, p.ErrorMessage));
    }

    private sealed class CallbackProgress(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }

    [Fact]
    public void ASubmissionThatFailsForGoodGivesErrorsForItsPrompts()
    {
        _backend.BeforeCreate = _ => throw new LmProviderException(new LmError(LmErrorKind.InvalidRequest, "400 invalid file", 400));
        var results = Model().PredictMany(Prompts("a", "b"), CompletionWindow.BatchAny).ToList();
        Assert.All(results, p => Assert.Contains("400 invalid file", p.ErrorMessage, StringComparison.Ordinal));
        Assert.Equal(0, _cache.PendingBatchCount());
    }

    private sealed class SyncProgress(List<BatchProgress> sink) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value)
        {
            lock (sink)
            {
                sink.Add(value);
            }
        }
    }
}
