using System.Text.Json;
using LmWrapper.Batching;
using LmWrapper.Caching;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

/// <summary><c>PredictMany(…, CompletionWindow.BatchAny)</c> through the Message Batches API of the fake server, over real HTTP.</summary>
public sealed class ClaudeBatchTests : ClaudeBatchTestBase
{
    private static readonly Dictionary<string, string> Capitals = new(StringComparer.Ordinal)
    {
        ["France"] = "Paris",
        ["United States"] = "Washington, D.C.",
        ["China"] = "Beijing",
        ["Japan"] = "Tokyo",
        ["Brazil"] = "Brasília",
    };

    private static List<LmPrompt> CapitalPrompts(IEnumerable<string> countries) =>
        [.. countries.Select(c => new LmPrompt($"What is the capital of {c}? Answer with just the city name.") { MaxTokens = 10, Temperature = 0 })];

    private void AnswerCapitals() => Server.Responder = r =>
    {
        string question = r.Messages[^1].Text;
        return new FakeAnthropicReply(Capitals.First(c => question.Contains(c.Key, StringComparison.Ordinal)).Value);
    };

    [Fact]
    public void ThePythonReadmesBatchingExampleSendsOnlyTheUncachedPromptsInOneBatch()
    {
        // Python:
        //   predictions = lm.predict_many(prompts, completion_window=CompletionWindow.BATCH_ANY)
        //   for ex, pred in zip(data, predictions): print(f"Country: {ex} --- Capital: {pred.completion_text}")
        AnswerCapitals();
        using var lm = BatchModel();
        string[] countries = ["France", "United States", "China", "Japan", "Brazil"];
        var first = lm.PredictMany(CapitalPrompts(countries[..3]), CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Paris", "Washington, D.C.", "Beijing"], first.Select(p => p.CompletionText));
        Assert.Single(Server.CreatedBatches);

        var all = lm.PredictMany(CapitalPrompts(countries), CompletionWindow.BatchAny).ToList();
        Assert.Equal(countries.Select(c => Capitals[c]), all.Select(p => p.CompletionText));
        Assert.Equal([true, true, true, false, false], all.Select(p => p.WasCached));
        Assert.Equal(2, Server.CreatedBatches.Count);
        Assert.Equal(2, Server.CreatedBatches[1].CustomIds.Count);
        Assert.Empty(MessageRequests); // nothing went through single calls

        // Half price, and it says where it came from.
        var fresh = all[3];
        Assert.Equal(Server.CreatedBatches[1].BatchId, fresh.ProviderData!["batch_id"]);
        Assert.Equal("end_turn", fresh.FinishReason);
        Assert.True(fresh.Usage!.InputTokens > 0);
        Assert.Equal(lm.ModelInfo.Prices!.CostOf(fresh.Usage!, batch: false) / 2, lm.CostOf(fresh));
        Assert.True(lm.CostOf(fresh) > 0);

        // Cleaned up: the batches are deleted at the provider, the journal is empty, no request files are left.
        Assert.Empty(Server.BatchIds);
        Assert.Equal(0, Cache.PendingBatchCount());
        Assert.Empty(Directory.GetFiles(WorkDirectory));

        // A rerun is all cache.
        Assert.All(lm.PredictMany(CapitalPrompts(countries), CompletionWindow.BatchAny), p => Assert.True(p.WasCached));
        Assert.Equal(2, Server.CreatedBatches.Count);
    }

    [Fact]
    public void ABatchRequestsParamsAreTheBodyOfTheSameSingleCall()
    {
        var prompt = new LmPrompt([LmChatTurn.System("You answer like a pirate"), LmChatTurn.User("How does bitcoin work?")])
        {
            MaxTokens = 25,
            Temperature = 0.3,
            Stop = ["\n\n", "Arr"],
        };
        using (var single = Model(options: Options() with { ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = LmCache.OpenInMemory() } }))
        {
            single.Predict(prompt);
        }

        using var lm = BatchModel();
        var result = lm.PredictMany([prompt], CompletionWindow.BatchAny).Single();
        Assert.False(result.HasErrors, result.ErrorMessage);

        string singleBody = MessageRequests.Single().Body;
        var batchParams = ParamsOf(CreateRequests.Single()).Values.Single();
        Assert.Equal(singleBody, batchParams);
        Assert.DoesNotContain(FakeAnthropicServer.DefaultApiKey, CreateRequests.Single().Body, StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicatePromptsGoOnce()
    {
        using var lm = BatchModel();
        var results = lm.PredictMany(Prompts("a", "b", "a", "a", "b"), CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Echo: a", "Echo: b", "Echo: a", "Echo: a", "Echo: b"], results.Select(p => p.CompletionText));
        var batch = Assert.Single(Server.CreatedBatches);
        Assert.Equal(2, batch.CustomIds.Count);
    }

    [Fact]
    public void SeveralCompletionsAreOneRequestPerSampleGatheredBackAndCachedOneByOne()
    {
        int n = 0;
        Server.Responder = r => new FakeAnthropicReply($"sample {Interlocked.Increment(ref n)} of {r.Messages[^1].Text}");
        using var lm = BatchModel();
        var prompt = new LmPrompt("tell me") { MaxTokens = 20, NumCompletions = 3 };
        var results = lm.PredictMany([prompt, .. Prompts("other")], CompletionWindow.BatchAny).ToList();

        Assert.Equal(3, results[0].Completions.Count);
        Assert.Equal(3, results[0].Completions.Select(c => c.CompletionText).Distinct().Count());
        Assert.All(results[0].Completions, c => Assert.EndsWith("of tell me", c.CompletionText, StringComparison.Ordinal));
        Assert.Matches("^sample [1-4] of other$", results[1].CompletionText);

        // One request per sample: "{key}_0", "{key}_1", "{key}_2" for the first prompt, "{key}_0" for the other.
        var ids = SubmittedSampleIds().Single();
        Assert.Equal(4, ids.Count);
        var byPrompt = ids.GroupBy(id => id[..id.LastIndexOf('_')]).OrderByDescending(g => g.Count()).ToList();
        Assert.Equal(["_0", "_1", "_2"], byPrompt[0].Select(id => id[id.LastIndexOf('_')..]).Order());
        Assert.Equal(["_0"], byPrompt[1].Select(id => id[id.LastIndexOf('_')..]));

        // Each sample was cached: asking for five makes only two new requests.
        var five = lm.PredictMany([prompt with { NumCompletions = 5 }], CompletionWindow.BatchAny).Single();
        Assert.Equal(5, five.Completions.Count);
        Assert.Equal(results[0].Completions.Select(c => c.CompletionText), five.Completions.Take(3).Select(c => c.CompletionText));
        Assert.Equal(2, Server.CreatedBatches[1].CustomIds.Count);
        Assert.Equal(0, Cache.PendingBatchCount());
    }

    [Fact]
    public void WhenOneSampleOfSeveralExpiresOnlyThatSampleIsAskedForAgain()
    {
        int n = 0;
        Server.Responder = r => new FakeAnthropicReply($"sample {Interlocked.Increment(ref n)}");

        // "{key}_{sample}_{tag}": the second sample expires in the first batch.
        Server.BatchItemOutcome = id => Server.CreatedBatches.Count == 1 && id.Split('_')[^2] == "1"
            ? FakeAnthropicBatchResultType.Expired
            : FakeAnthropicBatchResultType.Succeeded;
        using var lm = BatchModel();
        var result = lm.PredictMany([new LmPrompt("tell me") { MaxTokens = 20, NumCompletions = 3 }], CompletionWindow.BatchAny).Single();

        Assert.Equal(3, result.Completions.Count);
        Assert.Equal(3, result.Completions.Select(c => c.CompletionText).Distinct().Count());
        Assert.Equal([3, 1], Server.CreatedBatches.Select(b => b.CustomIds.Count));
        Assert.Equal(2, result.Completions.Count(c => c.ProviderData!["batch_id"] == Server.CreatedBatches[0].BatchId));
        Assert.Equal(0, Cache.PendingBatchCount());
        Assert.Equal(3, lm.PredictMany([new LmPrompt("tell me") { MaxTokens = 20, NumCompletions = 3 }], CompletionWindow.BatchAny).Single().Completions.Count(c => c.WasCached));
    }

    [Fact]
    public async Task ARunCancelledWhileWaitingIsResumedWithoutSubmittingAnythingTwice()
    {
        Server.BatchLooksToEnd = 1_000_000; // the batch keeps running while the first run is stopped
        var first = Prompts([.. Enumerable.Range(0, 20).Select(i => $"r{i}")]);
        using (var lm = BatchModel())
        {
            await CancelOnceSubmittedAsync(lm, first);
        }

        Assert.Single(Server.CreatedBatches);
        Assert.Equal(1, Cache.PendingBatchCount());
        Assert.Equal("in_progress", Server.BatchStatus(Server.CreatedBatches[0].BatchId));

        // The rerun asks for the same twenty and ten more: it reattaches to the running batch and submits only the ten.
        Server.BatchLooksToEnd = 2;
        using var rerun = BatchModel();
        var results = rerun.PredictMany(Prompts([.. Enumerable.Range(0, 30).Select(i => $"r{i}")]), CompletionWindow.BatchAny).ToList();

        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"Echo: r{i}"), results.Select(p => p.CompletionText));
        Assert.Equal(2, Server.CreatedBatches.Count);
        Assert.Equal(10, Server.CreatedBatches[1].CustomIds.Count);
        AssertNothingSubmittedTwice();
        Assert.All(results.Take(20), p => Assert.Equal(Server.CreatedBatches[0].BatchId, p.ProviderData!["batch_id"]));
        Assert.Equal(0, Cache.PendingBatchCount());
        Assert.Empty(Server.BatchIds);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DyingAfterTheBatchWasCreatedButBeforeItsIdWasRecordedDoesNotPayTwice(bool stillRunning)
    {
        // The process "dies" (its run is cancelled) the moment Anthropic creates the batch, before the answer arrives.
        Server.BatchLooksToEnd = stillRunning ? 3 : null;
        using var cts = new CancellationTokenSource();
        Server.OnBatchCreated = _ =>
        {
            cts.Cancel();
            Thread.Sleep(50);
        };
        var prompts = Prompts("a", "b", "c");
        using (var lm = BatchModel())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var _ in lm.PredictManyAsync(prompts, CompletionWindow.BatchAny, cts.Token))
                {
                }
            });
        }

        Server.OnBatchCreated = null;
        Assert.Single(Server.CreatedBatches);
        Assert.Equal(1, Cache.PendingBatchCount());
        if (!stillRunning)
        {
            Assert.Equal("ended", Server.BatchStatus(Server.CreatedBatches[0].BatchId)); // its results show whose it is
        }

        using var rerun = BatchModel();
        var results = rerun.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Echo: a", "Echo: b", "Echo: c"], results.Select(p => p.CompletionText));
        Assert.Single(Server.CreatedBatches); // found, not submitted again
        Assert.All(results, p => Assert.Equal(Server.CreatedBatches[0].BatchId, p.ProviderData!["batch_id"]));
        Assert.Equal(0, Cache.PendingBatchCount());
        Assert.Empty(Server.BatchIds);
    }

    [Fact]
    public async Task FindingAnUnrecordedBatchTellsItApartFromSomeoneElsesOfTheSameSizeAndLeavesTheirsAlone()
    {
        using var cts = new CancellationTokenSource();
        Server.OnBatchCreated = _ =>
        {
            cts.Cancel();
            Thread.Sleep(50);
        };
        var prompts = Prompts("a", "b");
        using (var lm = BatchModel())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var _ in lm.PredictManyAsync(prompts, CompletionWindow.BatchAny, cts.Token))
                {
                }
            });
        }

        // Another program of the same organisation creates a batch of the same size just after.
        Server.OnBatchCreated = null;
        string foreign = await CreateForeignBatchAsync("theirs-1", "theirs-2");

        using var rerun = BatchModel();
        var results = rerun.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Echo: a", "Echo: b"], results.Select(p => p.CompletionText));
        Assert.Equal(2, Server.CreatedBatches.Count); // ours and theirs; nothing submitted again
        Assert.Equal([foreign], Server.BatchIds); // ours was deleted, theirs was not touched
    }

    [Fact]
    public async Task WithTwoRunningBatchesOfTheSameSizeItCannotTellWhichIsOursAndSubmitsAgainLeavingBothAlone()
    {
        // The documented limit of finding an unrecorded batch: while both still run, neither can be checked.
        Server.BatchLooksToEnd = 1_000_000;
        using var cts = new CancellationTokenSource();
        Server.OnBatchCreated = _ =>
        {
            cts.Cancel();
            Thread.Sleep(50);
        };
        var prompts = Prompts("a", "b");
        using (var lm = BatchModel())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var _ in lm.PredictManyAsync(prompts, CompletionWindow.BatchAny, cts.Token))
                {
                }
            });
        }

        Server.OnBatchCreated = null;
        string ours = Server.CreatedBatches[0].BatchId;
        string foreign = await CreateForeignBatchAsync("theirs-1", "theirs-2");

        Server.BatchLooksToEnd = 2; // the two candidates, never looked at, keep running; the new batch ends at its second look
        using var rerun = BatchModel();
        var results = rerun.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Echo: a", "Echo: b"], results.Select(p => p.CompletionText));
        Assert.Equal(3, Server.CreatedBatches.Count);
        Assert.Equal([ours, foreign], Server.BatchIds); // the new one was deleted; neither candidate was touched
        Assert.Equal(0, Cache.PendingBatchCount());
    }

    [Fact]
    public async Task ABatchDeletedBySomeoneElseBeforeItWasCollectedIsSubmittedAgain()
    {
        Server.BatchLooksToEnd = 1_000_000;
        var prompts = Prompts("a", "b");
        using (var lm = BatchModel())
        {
            await CancelOnceSubmittedAsync(lm, prompts);
        }

        string first = Server.CreatedBatches[0].BatchId;
        Server.CancelBatch(first);
        Assert.Equal("ended", Server.BatchStatus(first));
        await DeleteFromOutsideAsync(first);

        Server.BatchLooksToEnd = null;
        using var rerun = BatchModel();
        var results = rerun.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Echo: a", "Echo: b"], results.Select(p => p.CompletionText));
        Assert.Equal(2, Server.CreatedBatches.Count);
        Assert.Equal(0, Cache.PendingBatchCount());
        Assert.Empty(Server.BatchIds);
    }

    [Fact]
    public void ACreateWhoseAnswerIsLostIsFoundInsteadOfCreatedTwice()
    {
        Server.BatchLooksToEnd = 2;
        Server.InjectFault(FakeAnthropicFault.DropAfterHandling() with { PathPrefix = "/v1/messages/batches" });
        using var lm = BatchModel();
        var results = lm.PredictMany(Prompts("a", "b", "c"), CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Echo: a", "Echo: b", "Echo: c"], results.Select(p => p.CompletionText));
        Assert.Single(Server.CreatedBatches);
        Assert.Single(CreateRequests); // not sent again...
        Assert.Contains(Server.RequestsTo("/v1/messages/batches"), r => r.Method == "GET"); // ...because it looked first
        Assert.Equal(0, Cache.PendingBatchCount());
        Assert.Empty(Server.BatchIds);
    }

    [Theory]
    [InlineData(FakeAnthropicBatchResultType.Expired)]
    [InlineData(FakeAnthropicBatchResultType.Canceled)]
    [InlineData(FakeAnthropicBatchResultType.Errored)]
    public void RequestsThatExpireAreCanceledOrFailInPassingAreResubmitted(FakeAnthropicBatchResultType outcome)
    {
        int calls = 0;
        Server.BatchItemOutcome = _ => Interlocked.Increment(ref calls) == 1 ? outcome : FakeAnthropicBatchResultType.Succeeded;
        using var lm = BatchModel();
        var results = lm.PredictMany(Prompts("a", "b", "c", "d"), CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Echo: a", "Echo: b", "Echo: c", "Echo: d"], results.Select(p => p.CompletionText));
        Assert.Equal(2, Server.CreatedBatches.Count);
        Assert.Single(Server.CreatedBatches[1].CustomIds);
        Assert.Single(results, p => p.ProviderData!["batch_id"] == Server.CreatedBatches[1].BatchId);
        Assert.Equal(0, Cache.PendingBatchCount());
        Assert.Empty(Server.BatchIds);
    }

    [Fact]
    public void AfterTheLastAttemptAnUnansweredPromptIsAnErrorThatIsNotCached()
    {
        Server.BatchItemOutcome = _ => FakeAnthropicBatchResultType.Expired;
        using var lm = BatchModel(FastBatches with { MaxAttempts = 2 });
        var result = lm.PredictMany(Prompts("never"), CompletionWindow.BatchAny).Single();
        Assert.True(result.HasErrors);
        Assert.Contains("expired", result.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("2 attempt", result.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(2, Server.CreatedBatches.Count);

        Server.BatchItemOutcome = null;
        var again = lm.PredictMany(Prompts("never"), CompletionWindow.BatchAny).Single();
        Assert.False(again.WasCached);
        Assert.Equal("Echo: never", again.CompletionText);
    }

    [Fact]
    public void ARequestTheApiRejectsIsAPermanentErrorThatIsCachedAndNotRetried()
    {
        Server.ContextWindow = 30; // fake tokens: words
        using var lm = BatchModel();
        string longText = string.Join(' ', Enumerable.Repeat("word", 40));
        var results = lm.PredictMany(Prompts("short", longText), CompletionWindow.BatchAny).ToList();
        Assert.False(results[0].HasErrors);
        Assert.True(results[1].HasErrors);
        Assert.True(results[1].IsErrorPermanent);
        Assert.Contains("invalid_request_error", results[1].ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("prompt is too long", results[1].ErrorMessage, StringComparison.Ordinal);
        Assert.Single(Server.CreatedBatches);

        var again = lm.PredictMany(Prompts("short", longText), CompletionWindow.BatchAny).ToList();
        Assert.True(again[1].WasCached);
        Assert.True(again[1].HasErrors);
        Assert.Single(Server.CreatedBatches);
    }

    [Fact]
    public void ABatchCancelledFromOutsideMidRunIsResubmitted()
    {
        Server.BatchLooksToEnd = 3;
        Server.OnBatchCreated = id =>
        {
            if (Server.CreatedBatches.Count == 1)
            {
                Server.CancelBatch(id); // someone cancels it in the Console
            }
        };
        using var lm = BatchModel();
        var results = lm.PredictMany(Prompts("a", "b"), CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Echo: a", "Echo: b"], results.Select(p => p.CompletionText));
        Assert.Equal(2, Server.CreatedBatches.Count);
        Assert.Equal(SubmittedSampleIds()[0], SubmittedSampleIds()[1]);
        Assert.Empty(Server.BatchIds); // the cancelled one is deleted too
    }

    [Fact]
    public void SplitsByRequestCount()
    {
        using var lm = BatchModel(FastBatches with { Limits = new BatchLimits(MaxRequests: 2, MaxFileBytes: 10_000_000) });
        var results = lm.PredictMany(Prompts("a", "b", "c", "d", "e"), CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Echo: a", "Echo: b", "Echo: c", "Echo: d", "Echo: e"], results.Select(p => p.CompletionText));
        Assert.Equal([2, 2, 1], Server.CreatedBatches.Select(b => b.CustomIds.Count));
        AssertNothingSubmittedTwice();
    }

    [Fact]
    public void AFullProcessingQueueMakesItWaitAndSplitWithoutSubmittingAnythingTwice()
    {
        Server.BatchQueueLimit = 4;
        Server.BatchLooksToEnd = 2;
        using var lm = BatchModel(FastBatches with { Limits = new BatchLimits(1000, 10_000_000, MaxEnqueuedTokens: 1000) });
        var results = lm.PredictMany(Prompts([.. Enumerable.Range(0, 10).Select(i => $"q{i}")]), CompletionWindow.BatchAny).ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"Echo: q{i}"), results.Select(p => p.CompletionText));
        Assert.True(Server.CreatedBatches.Count >= 3);
        Assert.All(Server.CreatedBatches, b => Assert.True(b.CustomIds.Count <= 4));
        AssertNothingSubmittedTwice();
        Assert.True(CreateRequests.Count > Server.CreatedBatches.Count, "the fake refused some batches"); // and they were split
    }

    [Fact]
    public void OurQueueLimitKeepsUsUnderTheProvidersWithoutARefusal()
    {
        Server.BatchQueueLimit = 4;
        Server.BatchLooksToEnd = 2;
        using var lm = BatchModel(FastBatches with { Limits = new BatchLimits(1000, 10_000_000, MaxEnqueuedTokens: 4) });
        var results = lm.PredictMany(Prompts([.. Enumerable.Range(0, 10).Select(i => $"q{i}")]), CompletionWindow.BatchAny).ToList();
        Assert.All(results, p => Assert.False(p.HasErrors, p.ErrorMessage));
        Assert.Equal(3, Server.CreatedBatches.Count);
        Assert.Equal(3, CreateRequests.Count); // none refused
    }

    private async Task DeleteFromOutsideAsync(string batchId)
    {
        using var http = new HttpClient { BaseAddress = Server.BaseUrl };
        using var request = new HttpRequestMessage(HttpMethod.Delete, "v1/messages/batches/" + batchId);
        request.Headers.Add("x-api-key", FakeAnthropicServer.DefaultApiKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }

    private async Task<string> CreateForeignBatchAsync(params string[] customIds)
    {
        using var http = new HttpClient { BaseAddress = Server.BaseUrl };
        var requests = string.Join(',', customIds.Select(id =>
            $$$"""{"custom_id":"{{{id}}}","params":{"model":"claude-3-5-haiku-20241022","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}}"""));
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages/batches")
        {
            Content = new StringContent($$"""{"requests":[{{requests}}]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", FakeAnthropicServer.DefaultApiKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("id").GetString()!;
    }

    [Fact]
    public async Task CancelPendingBatchesAsksAnthropicToCancelAndARerunStillAnswersEveryPrompt()
    {
        Server.BatchLooksToEnd = 1000; // stays in progress until cancelled
        var prompts = Prompts("a", "b", "c");
        using (var lm = BatchModel())
        {
            await CancelOnceSubmittedAsync(lm, prompts);
        }

        string id = Assert.Single(Server.CreatedBatches).BatchId;
        using (var lm = BatchModel())
        {
            Assert.Equal([id], await lm.CancelPendingBatchesAsync());
        }

        Assert.Contains(Server.Requests, r => r.Method == "POST" && r.Path.EndsWith("/messages/batches/" + id + "/cancel", StringComparison.Ordinal));
        Assert.Contains(Server.BatchStatus(id), new[] { "canceling", "ended" });

        Server.BatchLooksToEnd = null;
        using var rerun = BatchModel();
        var results = rerun.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        Assert.Equal(["Echo: a", "Echo: b", "Echo: c"], results.Select(p => p.CompletionText));
        Assert.Equal(2, Server.CreatedBatches.Count); // the cancelled one answered nothing, so its prompts went again
        Assert.Equal(0, Cache.PendingBatchCount());
        Assert.Empty(await rerun.CancelPendingBatchesAsync()); // nothing left pending
    }
}
