using System.Text.Json;
using LmWrapper.Batching;
using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

/// <summary>PredictMany with CompletionWindow.BatchAny through OpenAI's Batch API (the fake's), end to end over HTTP.</summary>
public sealed class OpenAiBatchTests : OpenAiBatchTestBase
{
    private static readonly Dictionary<string, string> Capitals = new()
    {
        ["France"] = "Paris", ["United States"] = "Washington, D.C.", ["China"] = "Beijing", ["Japan"] = "Tokyo", ["Mexico"] = "Mexico City",
    };

    private static List<LmPrompt> CapitalPrompts(IEnumerable<string> countries) =>
        [.. countries.Select(c => new LmPrompt($"What is the capital of {c}? Answer with just the city name.") { MaxTokens = 10, Temperature = 0, Cache = true })];

    [Fact]
    public async Task TheReadmeBatchingExampleAnswersInOrderAndSubmitsOnlyWhatIsNotCached()
    {
        Server.Responder = r => Capitals.First(c => r.LastUserText.Contains(c.Key, StringComparison.Ordinal)).Value;
        string[] data = ["France", "United States", "China"];
        using var lm = BatchLm(OpenAiModelNames.Gpt35Turbo);
        var first = lm.PredictMany(CapitalPrompts(data), CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Paris", "Washington, D.C.", "Beijing"], first.Select(p => p.CompletionText));
        Assert.Single(Server.Batches);

        string[] more = ["France", "United States", "China", "Japan", "Mexico"];
        var second = lm.PredictMany(CapitalPrompts(more), CompletionWindow.BatchAny).ToList();
        Assert.Equal(more.Select(c => Capitals[c]), second.Select(p => p.CompletionText));
        Assert.Equal(2, Server.Batches.Count);
        Assert.Equal(2, Server.Batches[1].CustomIds.Count);
        Assert.Equal([true, true, true, false, false], second.Select(p => p.WasCached));
        Assert.All(second, p => Assert.StartsWith("batch_", p.ProviderData!["batch_id"]));
        Assert.Equal(Server.Batches[1].Id, second[4].ProviderData!["batch_id"]);

        // Billed at the batch discount: half the price of the same tokens bought one by one.
        Assert.Equal(lm.ModelInfo.Prices!.CostOf(second[4].Usage!, batch: false) / 2, lm.CostOf(second[4]));
        Assert.True(lm.CostOf(second[4]) > 0);
    }

    [Theory]
    [InlineData(OpenAiModelNames.Gpt4oMini, "/v1/chat/completions")]
    [InlineData(OpenAiModelNames.Davinci002, "/v1/completions")]
    public async Task EachRequestLineCarriesExactlyTheBodyOfTheSingleCall(string model, string url)
    {
        var prompt = new LmPrompt("Tell me about ducks.") { MaxTokens = 33, Temperature = 0.7, TopP = 0.9, Stop = ["\n\n"], Seed = 7, Logprobs = 2, NumCompletions = 2, Cache = false };
        using (var single = Lm(model))
        {
            Assert.False((await single.PredictAsync(prompt)).HasErrors);
        }

        string singleBody = Server.Requests.Single(r => r.Path == url).Body;
        using var lm = BatchLm(model);
        var batched = lm.PredictMany([prompt], CompletionWindow.BatchAny).Single();
        Assert.False(batched.HasErrors, batched.ErrorMessage);
        Assert.Equal(2, batched.Completions.Count);
        var line = Assert.Single(Assert.Single(UploadedLines()));
        Assert.Equal("POST", line.GetProperty("method").GetString());
        Assert.Equal(url, line.GetProperty("url").GetString());
        Assert.Equal(singleBody, line.GetProperty("body").GetRawText());
        Assert.Equal(url, Server.Batches.Single().Endpoint);

        var create = Assert.Single(CreateRequests).Json;
        Assert.Equal("24h", create.GetProperty("completion_window").GetString());
        Assert.Equal(url, create.GetProperty("endpoint").GetString());
        Assert.StartsWith("lmw_", create.GetProperty("metadata").GetProperty("lmwrapper_local_id").GetString());
        var upload = Server.Requests.First(r => r.Path == "/v1/files");
        Assert.Contains("name=purpose", upload.Body, StringComparison.Ordinal);
        Assert.Contains("batch", upload.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(FakeOpenAiServer.DefaultApiKey, upload.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DuplicatePromptsAreSubmittedOnce()
    {
        using var lm = BatchLm();
        var prompts = Sums(3);
        var results = lm.PredictMany([prompts[0], prompts[1], prompts[0], prompts[2], prompts[0]], CompletionWindow.BatchAny).ToList();
        Assert.Equal(["0+1 is equal to 1.", "1+1 is equal to 2.", "0+1 is equal to 1.", "2+1 is equal to 3.", "0+1 is equal to 1."], results.Select(p => p.CompletionText));
        Assert.Equal(3, Assert.Single(Server.Batches).CustomIds.Count);
    }

    [Fact]
    public async Task SeveralSamplesShareOneRequestAndCachedSamplesAreReused()
    {
        using var lm = BatchLm();
        var three = new LmPrompt("Name a bird.") { MaxTokens = 20, Temperature = 1, NumCompletions = 3 };
        var p = lm.PredictMany([three], CompletionWindow.BatchAny).Single();
        Assert.Equal(3, p.Completions.Count);
        Assert.Equal(3, p.Completions.Select(c => c.CompletionText).Distinct().Count());
        Assert.Equal(3, Assert.Single(Assert.Single(UploadedLines())).GetProperty("body").GetProperty("n").GetInt32());

        var five = lm.PredictMany([three with { NumCompletions = 5 }], CompletionWindow.BatchAny).Single();
        Assert.Equal(5, five.Completions.Count);
        Assert.Equal(p.Completions.Select(c => c.CompletionText), five.Completions.Take(3).Select(c => c.CompletionText));
        Assert.Equal(2, UploadedLines()[1].Single().GetProperty("body").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task BatchesAreSplitByRequestCount()
    {
        using var lm = BatchLm(batch: FastBatches with { Limits = new BatchLimits(3, 200_000_000) });
        var results = lm.PredictMany(Sums(10), CompletionWindow.BatchAny).ToList();
        AssertSums(results);
        Assert.Equal([3, 3, 3, 1], Server.Batches.Select(b => b.CustomIds.Count));
        AssertNothingSubmittedTwice();
    }

    [Fact]
    public async Task BatchesAreSplitByFileSize()
    {
        using var lm = BatchLm();
        long lineBytes = System.Text.Encoding.UTF8.GetByteCount(UploadedLineOf(lm, Sums(1)[0])) + 1;
        using var small = BatchLm(batch: FastBatches with { Limits = new BatchLimits(50_000, (lineBytes * 5) + 10) });
        Server.ClearRequests();
        var results = small.PredictMany(Sums(12), CompletionWindow.BatchAny).ToList();
        AssertSums(results);
        Assert.True(Server.Batches.Count >= 3, $"{Server.Batches.Count} batches");
        Assert.All(Server.Requests.Where(r => r.Path == "/v1/files"), r => Assert.True(UploadedBytes(r) <= (lineBytes * 5) + 10, $"{UploadedBytes(r)} bytes"));
        AssertNothingSubmittedTwice();
    }

    [Fact]
    public async Task BatchesAreSplitSoThatTheKnownTokenQueueIsNeverExceeded()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStagePolls = 2, BatchEnqueuedTokenLimit = 200 });
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options(Cache) with
        {
            BaseUrl = new Uri(server.BaseUrl),
            ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache, Batch = FastBatches with { Limits = new BatchLimits(50_000, 200_000_000, 100) } },
        });
        var results = lm.PredictMany(Sums(30), CompletionWindow.BatchAny).ToList();
        AssertSums(results);
        Assert.True(server.Batches.Count >= 3, $"{server.Batches.Count} batches");
        Assert.DoesNotContain(server.Batches, b => b.Status == "failed");
        Assert.All(server.Batches, b => Assert.True(b.EnqueuedTokens <= 200));
    }

    [Fact]
    public async Task WhenOpenAiRefusesABatchForItsTokenQueueItWaitsOrSplitsAndStillAnswersEverythingOnce()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStagePolls = 2, BatchEnqueuedTokenLimit = 150 });
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options(Cache) with
        {
            BaseUrl = new Uri(server.BaseUrl),
            ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache, Batch = FastBatches with { Limits = new BatchLimits(8, 200_000_000, null) } },
        });
        var results = lm.PredictMany(Sums(40), CompletionWindow.BatchAny).ToList();
        AssertSums(results);
        Assert.Contains(server.Batches, b => b.Status == "failed");
        var answered = server.Batches.Where(b => b.Status == "completed").SelectMany(b => b.CustomIds).ToList();
        Assert.Equal(40, answered.Count);
        Assert.Equal(40, answered.Distinct().Count());
        Assert.All(server.Batches.Where(b => b.Status == "completed"), b => Assert.True(b.EnqueuedTokens <= 150));
    }

    [Theory]
    [InlineData(FakeOpenAiBatchEnding.Cancel)]
    [InlineData(FakeOpenAiBatchEnding.Expire)]
    public async Task ACancelledOrExpiredBatchKeepsWhatFinishedAndResubmitsOnlyTheRest(FakeOpenAiBatchEnding ending)
    {
        int created = 0;
        Server.BatchPlanner = _ => Interlocked.Increment(ref created) == 1 ? new FakeOpenAiBatchPlan { Ending = ending, Answered = 4 } : null;
        using var lm = BatchLm();
        var results = lm.PredictMany(Sums(10), CompletionWindow.BatchAny).ToList();
        AssertSums(results);
        Assert.Equal(2, Server.Batches.Count);
        Assert.Equal(ending == FakeOpenAiBatchEnding.Cancel ? "cancelled" : "expired", Server.Batches[0].Status);
        Assert.Equal(Server.Batches[0].CustomIds.Skip(4), Server.Batches[1].CustomIds);
        Assert.Equal(Enumerable.Repeat(Server.Batches[0].Id, 4).Concat(Enumerable.Repeat(Server.Batches[1].Id, 6)), results.Select(p => p.ProviderData!["batch_id"]));
    }

    [Fact]
    public async Task ABatchCancelledFromOutsideIsCollectedAndTheRestResubmitted()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStagePolls = 4 });
        server.BatchPlanner = b =>
        {
            if (server.Batches.Count == 1)
            {
                server.CancelBatch(b.Id, answered: 3); // as if someone pressed "cancel" in the dashboard right away
            }

            return null;
        };
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options(Cache) with
        {
            BaseUrl = new Uri(server.BaseUrl),
            ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache, Batch = FastBatches },
        });
        var results = lm.PredictMany(Sums(8), CompletionWindow.BatchAny).ToList();
        AssertSums(results);
        Assert.Equal(["cancelled", "completed"], server.Batches.Select(b => b.Status));
        Assert.Equal(5, server.Batches[1].CustomIds.Count);
    }

    [Fact]
    public async Task AFailedBatchIsResubmittedAndAfterTheLastAttemptItsPromptsComeBackAsErrors()
    {
        Server.BatchPlanner = _ => Server.Batches.Count <= 1 ? FakeOpenAiBatchPlan.Fail("server_error", "Something broke.") : null;
        using var lm = BatchLm();
        AssertSums(lm.PredictMany(Sums(3), CompletionWindow.BatchAny).ToList());
        Assert.Equal(["failed", "completed"], Server.Batches.Select(b => b.Status));

        Server.BatchPlanner = _ => FakeOpenAiBatchPlan.Fail("server_error", "Something broke.");
        using var once = BatchLm(batch: FastBatches with { MaxAttempts = 2 });
        var failed = once.PredictMany(Sums(2, from: 100), CompletionWindow.BatchAny).ToList();
        Assert.All(failed, p =>
        {
            Assert.True(p.HasErrors);
            Assert.False(p.IsErrorPermanent);
            Assert.Contains("Something broke.", p.ErrorMessage, StringComparison.Ordinal);
        });
        Assert.Equal(4, Server.Batches.Count);

        // Not cached: a later run tries again.
        Server.BatchPlanner = null;
        AssertSums(once.PredictMany(Sums(2, from: 100), CompletionWindow.BatchAny).ToList(), from: 100);
    }

    [Fact]
    public async Task FailedLinesComeBackAsPermanentErrorsAndAreCached()
    {
        var prompts = Sums(4);
        using var lm = BatchLm();
        string failing = LmWrapper.Caching.CacheKey.Compute(lm.ModelIdentity, prompts[1]).ToString();
        Server.BatchPlanner = b => new FakeOpenAiBatchPlan { FailLine = id => id == failing };
        var results = lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        Assert.True(results[1].HasErrors);
        Assert.True(results[1].IsErrorPermanent);
        Assert.Contains("HTTP 400", results[1].ErrorMessage, StringComparison.Ordinal);
        Assert.Equal("3+1 is equal to 4.", results[3].CompletionText);
        Assert.Single(Server.Batches);

        var again = lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        Assert.Single(Server.Batches);
        Assert.True(again[1].HasErrors);
        Assert.True(again[1].WasCached);
    }

    [Fact]
    public async Task ARequestTheEndpointRejectsIsAPermanentErrorWithOpenAisWords()
    {
        using var lm = BatchLm(OpenAiModelNames.Gpt4);
        var tooLong = new LmPrompt("What is 1+1?") { MaxTokens = 8_192 };
        var results = lm.PredictMany([tooLong, .. Sums(1, from: 5)], CompletionWindow.BatchAny).ToList();
        Assert.True(results[0].IsErrorPermanent);
        Assert.Contains("context_length_exceeded", results[0].ErrorMessage, StringComparison.Ordinal);
        Assert.Equal("5+1 is equal to 6.", results[1].CompletionText);
    }

    [Fact]
    public async Task AnUploadErrorFailsThePromptsWithoutCachingThemAndATransientOneIsRetried()
    {
        Server.EnqueueFault(FakeOpenAiFault.ServerError(503) with { PathPrefix = "/v1/files" });
        using var lm = BatchLm();
        AssertSums(lm.PredictMany(Sums(2), CompletionWindow.BatchAny).ToList());

        Server.EnqueueFault(new FakeOpenAiFault { Kind = FakeOpenAiFaultKind.HttpError, StatusCode = 400, ErrorType = "invalid_request_error", Message = "File could not be processed.", PathPrefix = "/v1/files" });
        var failed = lm.PredictMany(Sums(2, from: 10), CompletionWindow.BatchAny).ToList();
        Assert.All(failed, p =>
        {
            Assert.True(p.HasErrors);
            Assert.Contains("File could not be processed.", p.ErrorMessage, StringComparison.Ordinal);
        });
        Assert.Single(Server.Batches);
        AssertSums(lm.PredictMany(Sums(2, from: 10), CompletionWindow.BatchAny).ToList(), from: 10);
    }

    [Fact]
    public async Task ARejectedKeyStopsTheRunWithAnAuthenticationError()
    {
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-wrong-key-000000000000", options: Options(Cache) with
        {
            ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache, Batch = FastBatches },
        });
        var e = Assert.Throws<LmAuthenticationException>(() => lm.PredictMany(Sums(2), CompletionWindow.BatchAny).ToList());
        Assert.DoesNotContain("sk-wrong-key", e.Message, StringComparison.Ordinal);
        Assert.Empty(Server.Batches);
    }

    [Fact]
    public async Task ALostCreateAnswerIsLookedUpInsteadOfCreatingTheBatchTwice()
    {
        Server.EnqueueFault(FakeOpenAiFault.TruncatedBody() with { PathPrefix = "/v1/batches" });
        using var lm = BatchLm();
        AssertSums(lm.PredictMany(Sums(3), CompletionWindow.BatchAny).ToList());
        Assert.Single(Server.Batches);
        Assert.Contains(Server.Requests, r => r.Method == "GET" && r.Path == "/v1/batches");
    }

    [Fact]
    public async Task ARunCancelledWhileWaitingIsResumedWithoutSubmittingAnythingTwice()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStageDuration = TimeSpan.FromMilliseconds(300) });
        OpenAiLm Make() => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options(Cache) with
        {
            BaseUrl = new Uri(server.BaseUrl),
            ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache, Batch = FastBatches with { Limits = new BatchLimits(5, 200_000_000) } },
        });
        using (var first = Make())
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var run = Task.Run(async () =>
            {
                await foreach (var _ in first.PredictManyAsync(Sums(10), CompletionWindow.BatchAny, cts.Token))
                {
                }
            });
            while (server.Batches.Count < 2)
            {
                await Task.Delay(5);
            }

            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }

        Assert.Equal(2, server.Batches.Count);
        Assert.Equal(2, Cache.PendingBatchCount());
        using var second = Make();
        AssertSums(second.PredictMany(Sums(10), CompletionWindow.BatchAny).ToList());
        Assert.Equal(2, server.Batches.Count);
        Assert.Equal(0, Cache.PendingBatchCount());
        Assert.All(second.PredictMany(Sums(10), CompletionWindow.BatchAny), p => Assert.True(p.WasCached));
    }

    [Fact]
    public async Task ProviderFilesAreDeletedOnceResultsAreCachedUnlessToldToKeepThem()
    {
        using var lm = BatchLm();
        string failing = LmWrapper.Caching.CacheKey.Compute(lm.ModelIdentity, Sums(1, from: 1)[0]).ToString();
        Server.BatchPlanner = b => new FakeOpenAiBatchPlan { FailLine = id => id == failing };
        AssertSums(lm.PredictMany(Sums(3, from: 1), CompletionWindow.BatchAny).Skip(1).ToList(), from: 2);
        Assert.Empty(Server.FileIds);
        Assert.Equal(3, Server.Requests.Count(r => r.Method == "DELETE" && r.Path.StartsWith("/v1/files/", StringComparison.Ordinal)));

        using var keep = BatchLm(batch: FastBatches with { DeleteProviderFiles = false });
        AssertSums(keep.PredictMany(Sums(2, from: 50), CompletionWindow.BatchAny).ToList(), from: 50);
        Assert.Equal(2, Server.FileIds.Count); // input and output
    }

    [Fact]
    public async Task ProgressIsReportedUntilEverythingIsAnswered()
    {
        var reports = new List<BatchProgress>();
        var progress = new SyncProgress(reports);
        using var lm = BatchLm(batch: FastBatches with { Progress = progress, Limits = new BatchLimits(4, 200_000_000) });
        var answers = lm.PredictMany(Sums(10), CompletionWindow.BatchAny).ToList();
        AssertSums(answers);
        Assert.NotEmpty(reports);
        Assert.Contains(reports, r => r.ActiveBatches > 0);
        var last = reports[^1];
        // The cost so far is what the answers cost at the batch discount.
        Assert.Equal(new BatchProgress(10, 10, 10, 0, 0, 0, answers.Sum(p => lm.CostOf(p))), last with { Spend = null });
        Assert.True(last.CostSoFar > 0);

        // The run's spend comes with it: every request, paid at the batch price, the discount counted as saved.
        Assert.Equal(10, last.Spend!.Requests);
        Assert.Equal(last.CostSoFar, last.Spend.Cost);
        Assert.Equal(last.CostSoFar, last.Spend.BatchSavings);
    }

    [Fact]
    public async Task TheBackendMapsEveryBatchStatus()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStagePolls = 2 });
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options() with { BaseUrl = new Uri(server.BaseUrl) });
        var backend = lm.Batches;
        string file = Path.Combine(WorkDirectory, "one.jsonl");
        Directory.CreateDirectory(WorkDirectory);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        backend.WriteRequestLine(buffer, "abc", new LmPrompt("What is 2+2?") { MaxTokens = 5 }, 1);
        await File.WriteAllBytesAsync(file, [.. buffer.WrittenSpan, (byte)'\n']);
        string id = await backend.SubmitAsync("lmw_local", file, 1, CancellationToken.None);
        var seen = new List<BatchJobStatus>();
        do
        {
            seen.Add(await backend.GetStatusAsync(id, default));
        }
        while (!seen[^1].IsTerminal);
        Assert.Equal([BatchState.InProgress, BatchState.Finalizing, BatchState.Completed], seen.Select(s => s.State).Distinct());
        var done = seen[^1];
        Assert.Equal(1, done.Completed);
        Assert.Equal(id, await backend.FindAsync(new BatchSubmissionRecord("lmw_local", DateTimeOffset.UtcNow, 1), default));
        Assert.Null(await backend.FindAsync(new BatchSubmissionRecord("lmw_other", DateTimeOffset.UtcNow, 1), default));

        Assert.Equal(BatchState.Failed, (await backend.GetStatusAsync("batch_gone", default)).State);
        Assert.Equal(new BatchLimits(50_000, 200_000_000, 2_000_000), backend.Limits);
    }

    [Fact]
    public async Task FindingAnUnrecordedBatchPagesThroughTheListNewestFirst()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStagePolls = 1, RecordRequests = true });
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options() with { BaseUrl = new Uri(server.BaseUrl) });
        var backend = lm.Batches;
        Directory.CreateDirectory(WorkDirectory);
        string file = Path.Combine(WorkDirectory, "one.jsonl");
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        backend.WriteRequestLine(buffer, "abc", new LmPrompt("What is 2+2?") { MaxTokens = 5 }, 1);
        await File.WriteAllBytesAsync(file, [.. buffer.WrittenSpan, (byte)'\n']);
        var recordedAt = DateTimeOffset.UtcNow;
        string oldest = await backend.SubmitAsync("lmw_oldest", file, 1, CancellationToken.None);
        for (int i = 0; i < 104; i++)
        {
            await backend.SubmitAsync("lmw_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), file, 1, CancellationToken.None);
        }

        server.ClearRequests();
        Assert.Equal(oldest, await backend.FindAsync(new BatchSubmissionRecord("lmw_oldest", recordedAt, 1), default));
        var lists = server.Requests.Where(r => r.Path == "/v1/batches" && r.Method == "GET").ToList();
        Assert.Equal(2, lists.Count);
        Assert.Contains("after=batch_", lists[1].Query, StringComparison.Ordinal);
    }

    private static long UploadedBytes(FakeOpenAiRecordedRequest upload) =>
        upload.Body.Split('\n').Where(l => l.StartsWith("{\"custom_id\"", StringComparison.Ordinal)).Sum(l => System.Text.Encoding.UTF8.GetByteCount(l.TrimEnd('\r')) + 1);

    private static string UploadedLineOf(OpenAiLm lm, LmPrompt prompt)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        lm.Batches.WriteRequestLine(buffer, new string('0', 64), prompt, 1);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private sealed class SyncProgress(List<BatchProgress> reports) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value)
        {
            lock (reports)
            {
                reports.Add(value);
            }
        }
    }
}
