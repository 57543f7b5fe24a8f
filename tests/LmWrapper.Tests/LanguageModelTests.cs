using LmWrapper.Caching;

namespace LmWrapper.Tests;

public sealed class LanguageModelTests : IDisposable
{
    private readonly LmCache _cache = LmCache.OpenInMemory();

    public void Dispose() => _cache.Dispose();

    private CountingLm Model(string name = "counting") => new(new LanguageModelOptions { CacheByDefault = true, Cache = _cache }, name);

    [Fact]
    public void PredictOnAStringMeansMaxTokens100()
    {
        var lm = Model();
        var p = lm.Predict("hello");
        Assert.Equal(100, p.Prompt.MaxTokens);
        Assert.Equal("hello|s0", p.CompletionText);
    }

    [Fact]
    public void ACacheHitSkipsTheModelAndKeepsEveryField()
    {
        var lm = Model();
        var prompt = new LmPrompt("q") { MaxTokens = 3, Metadata = "first" };
        var live = lm.Predict(prompt);
        var again = lm.Predict(prompt with { Metadata = "second" });
        Assert.Equal(1, lm.CallCount);
        Assert.False(live.WasCached);
        Assert.True(again.WasCached);
        Assert.Equal(live.CompletionText, again.CompletionText);
        Assert.Equal(live.CompletionTokens, again.CompletionTokens);
        Assert.Equal(live.CompletionTokenOffsets, again.CompletionTokenOffsets);
        Assert.Equal(live.CompletionLogprobs, again.CompletionLogprobs);
        Assert.Equal(live.Usage, again.Usage);
        Assert.Equal(live.FinishReason, again.FinishReason);
        Assert.Equal("second", again.Metadata);
        Assert.Equal(1, _cache.GetStats().Hits);
    }

    [Fact]
    public void ADifferentFieldIsADifferentEntryAndCacheFalseBypassesTheCache()
    {
        var lm = Model();
        lm.Predict(new LmPrompt("q") { Temperature = 0 });
        lm.Predict(new LmPrompt("q") { Temperature = 0.5 });
        Assert.Equal(2, lm.CallCount);
        var bypass = lm.Predict(new LmPrompt("q") { Temperature = 0, Cache = false });
        Assert.Equal(3, lm.CallCount);
        Assert.False(bypass.WasCached);
        Assert.Equal("q|s2", bypass.CompletionText);
    }

    [Fact]
    public void CacheByDefaultFalseMeansOnlyPromptsThatAskAreCached()
    {
        var lm = new CountingLm(new LanguageModelOptions { Cache = _cache, CacheByDefault = false });
        lm.Predict(new LmPrompt("a"));
        lm.Predict(new LmPrompt("a"));
        Assert.Equal(2, lm.CallCount);
        lm.Predict(new LmPrompt("b") { Cache = true });
        Assert.True(lm.Predict(new LmPrompt("b") { Cache = true }).WasCached);
        Assert.Equal(3, lm.CallCount);
    }

    [Fact]
    public void SamplesAreStoredIndividuallyAndReused()
    {
        var lm = Model();
        var three = lm.Predict(new LmPrompt("s") { NumCompletions = 3, MaxTokens = 5 });
        Assert.Equal(["s|s0", "s|s1", "s|s2"], three.Completions.Select(c => c.CompletionText));
        Assert.Equal("s|s0", three.CompletionText);

        // 3 cached + ask for 5 = 2 new samples, in one call.
        var five = lm.Predict(new LmPrompt("s") { NumCompletions = 5, MaxTokens = 5 });
        Assert.Equal(["s|s0", "s|s1", "s|s2", "s|s3", "s|s4"], five.Completions.Select(c => c.CompletionText));
        Assert.Equal([true, true, true, false, false], five.Completions.Select(c => c.WasCached));
        Assert.Equal([("s", 3), ("s", 2)], lm.Calls);

        // Cached samples + ask for 1 returns the first.
        var one = lm.Predict(new LmPrompt("s") { MaxTokens = 5 });
        Assert.Equal("s|s0", one.CompletionText);
        Assert.True(one.WasCached);
        Assert.Single(one.Completions);
        Assert.Equal(2, lm.CallCount);
        Assert.Equal(5, _cache.GetStats().Entries);
    }

    [Fact]
    public void PredictManyReturnsInputOrderSendsDuplicatesOnceAndMixesCachedAndUncached()
    {
        var lm = Model();
        lm.Predict(new LmPrompt("b") { MaxTokens = 1 });
        lm.Predict(new LmPrompt("d") { MaxTokens = 1 });
        string[] texts = ["a", "b", "c", "a", "d", "e", "c", "a"];
        var results = lm.PredictMany(texts.Select(t => new LmPrompt(t) { MaxTokens = 1, Metadata = t })).ToList();
        Assert.Equal(texts.Select(t => t + "|s0"), results.Select(r => r.CompletionText));
        Assert.Equal(texts, results.Select(r => (string)r.Metadata!));
        Assert.Equal([false, true, false, false, true, false, false, false], results.Select(r => r.WasCached));
        Assert.Equal(5, lm.CallCount); // b, d before; then a, c, e once each
        Assert.Equal(["a", "c", "e"], lm.Calls.Skip(2).Select(c => c.Text).Order());
    }

    [Fact]
    public void DuplicatesWithDifferentNumCompletionsShareSamples()
    {
        var lm = Model();
        var results = lm.PredictMany([new LmPrompt("x") { NumCompletions = 1 }, new LmPrompt("x") { NumCompletions = 3 }]).ToList();
        Assert.Equal([("x", 3)], lm.Calls);
        Assert.Equal("x|s0", results[0].CompletionText);
        Assert.Single(results[0].Completions);
        Assert.Equal(["x|s0", "x|s1", "x|s2"], results[1].Completions.Select(c => c.CompletionText));
    }

    [Theory]
    [InlineData(CompletionWindow.Asap)]
    [InlineData(CompletionWindow.BatchAny)]
    public void ABigMixedRunGivesEachPromptWhatItWouldGetAlone(CompletionWindow window)
    {
        // More prompts than the parallel planning threshold: repeated keys with different sample counts, keys with
        // some samples cached before, and prompts that bypass the cache, interleaved at random.
        var lm = Model();
        const int Keys = 400;
        for (int k = 0; k < Keys; k++)
        {
            if (k % 3 > 0)
            {
                lm.Predict(new LmPrompt($"k{k}") { MaxTokens = 2, NumCompletions = k % 3 });
            }
        }

        int callsBefore = lm.CallCount;
        var rng = new Random(7);
        var prompts = new List<LmPrompt>();
        var width = new int[Keys];
        for (int i = 0; i < 6000; i++)
        {
            if (i % 10 == 0)
            {
                prompts.Add(new LmPrompt($"u{i}") { MaxTokens = 2, Cache = false, Metadata = i });
                continue;
            }

            int k = rng.Next(Keys);
            int n = 1 + rng.Next(4);
            width[k] = Math.Max(width[k], n);
            prompts.Add(new LmPrompt($"k{k}") { MaxTokens = 2, NumCompletions = n, Metadata = i });
        }

        var results = lm.PredictMany(prompts, window).ToList();

        Assert.Equal(prompts.Count, results.Count);
        for (int i = 0; i < prompts.Count; i++)
        {
            var p = results[i];
            Assert.Same(prompts[i], p.Prompt);
            Assert.Equal(i, p.Metadata);
            string text = prompts[i].Text!;
            int cached = text[0] == 'u' ? 0 : int.Parse(text[1..], System.Globalization.CultureInfo.InvariantCulture) % 3;
            Assert.Equal(Enumerable.Range(0, prompts[i].NumCompletions).Select(s => $"{text}|s{s}"), p.Completions.Select(c => c.CompletionText));
            Assert.Equal(Enumerable.Range(0, prompts[i].NumCompletions).Select(s => s < cached), p.Completions.Select(c => c.WasCached));
            Assert.All(p.Completions, c => Assert.Same(prompts[i], c.Prompt));
        }

        var expectedCalls = Enumerable.Range(0, Keys)
            .Where(k => width[k] > k % 3)
            .Select(k => ($"k{k}", width[k] - (k % 3)))
            .Concat(prompts.Where(p => p.Cache == false).Select(p => (p.Text!, 1)))
            .Order();
        Assert.Equal(expectedCalls, lm.Calls.Skip(callsBefore).Order());
    }

    [Fact]
    public async Task CachedAnswersAreDecodedOnlyAWindowAheadOfTheCaller()
    {
        // A rerun of a big script must not hold every cached prediction at once: they are read as the caller nears them.
        var lm = Model();
        const int N = PredictManyRun.DecodeAheadGroups * 3;
        var prompts = Enumerable.Range(0, N).Select(i => new LmPrompt($"c{i}") { MaxTokens = 1 }).ToArray();
        Assert.Equal(N, lm.PredictMany(prompts).Count());

        var run = new PredictManyRun(prompts, lm.ModelIdentity, _ => true, () => _cache);
        Assert.Empty(run);
        Assert.True(run.HasCachedSamples);
        Assert.False(run.IsReady(0));
        var signal = new DoneSignal();
        var decoder = Task.Run(() => run.DecodeCachedAsync(_cache, signal, CancellationToken.None));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (run.DecodedGroups < PredictManyRun.DecodeAheadGroups && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        await Task.Delay(200); // time to run past its bound, if it had none
        Assert.InRange(run.DecodedGroups, PredictManyRun.DecodeAheadGroups, PredictManyRun.DecodeAheadGroups + 2048);
        Assert.False(run.IsReady(N - 1));

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        for (int i = 0; i < N; i++)
        {
            int at = i;
            await signal.WaitUntilAsync(() => run.IsReady(at), timeout.Token);

            var p = run.Assemble(i);
            Assert.True(p.WasCached);
            Assert.Equal($"c{i}|s0", p.CompletionText);
            Assert.Same(prompts[i], p.Prompt);
        }

        await decoder.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(N, run.DecodedGroups);
        Assert.Equal(N, lm.CallCount);
    }

    [Fact]
    public void PerPromptErrorsComeBackWithoutLosingOthersAndTransientOnesAreNotCached()
    {
        var lm = Model();
        int boom = 0;
        lm.Intercept = p => p.Text switch
        {
            "throws" when Interlocked.Increment(ref boom) == 1 => throw new LmProviderException(new LmError(LmErrorKind.Transport, "connection reset")),
            "rejected" => LmPrediction.FromError(p, new LmError(LmErrorKind.ContextLength, "prompt is too long", 400)),
            "transient" => LmPrediction.FromError(p, new LmError(LmErrorKind.Server, "server overloaded", 503)),
            _ => null,
        };
        string[] texts = ["ok1", "throws", "rejected", "transient", "ok2"];
        var first = lm.PredictMany(texts.Select(t => new LmPrompt(t))).ToList();
        Assert.Equal(["ok1|s0", "", "", "", "ok2|s0"], first.Select(r => r.CompletionText));
        Assert.Equal([false, true, true, true, false], first.Select(r => r.HasErrors));
        Assert.Contains("connection reset", first[1].ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(LmErrorKind.Transport, first[1].Error!.Kind);
        Assert.Equal("prompt is too long", first[2].ErrorMessage);

        int before = lm.CallCount;
        var second = lm.PredictMany(texts.Select(t => new LmPrompt(t))).ToList();
        // Only the two transient failures are asked again; the permanent rejection is served from the cache.
        Assert.Equal(before + 2, lm.CallCount);
        Assert.Equal("throws|s0", second[1].CompletionText);
        Assert.True(second[2].HasErrors);
        Assert.True(second[2].WasCached);
        Assert.True(second[3].HasErrors);
    }

    [Fact]
    public async Task OnlyProviderErrorsBecomeDataAProgrammingErrorPropagates()
    {
        var lm = Model();
        lm.Intercept = p => p.Text switch
        {
            "bug" => throw new NullReferenceException("a provider bug"),
            "refused" => throw new LmProviderException(new LmError(LmErrorKind.InvalidRequest, "bad", 400)),
            _ => null,
        };
        var refused = await lm.PredictAsync(new LmPrompt("refused"));
        Assert.Equal(LmErrorKind.InvalidRequest, refused.Error!.Kind);
        await Assert.ThrowsAsync<NullReferenceException>(() => lm.PredictAsync(new LmPrompt("bug")));
        Assert.Throws<NullReferenceException>(() => lm.PredictMany([new LmPrompt("ok"), new LmPrompt("bug")]).ToList());
    }

    [Fact]
    public void AnInvalidPromptAnywhereStopsEverythingBeforeAnyCall()
    {
        var lm = Model();
        var e = Assert.Throws<LmPromptException>(() =>
            lm.PredictMany([new LmPrompt("fine"), new LmPrompt("bad") { Temperature = 3 }]));
        Assert.StartsWith("Prompt 1:", e.Message, StringComparison.Ordinal);
        Assert.Equal("Temperature", e.FieldName);
        Assert.Throws<LmPromptException>(() => lm.Predict(new LmPrompt("x") { Echo = true }));
        Assert.Equal(0, lm.CallCount);
        Assert.Equal(0, _cache.GetStats().Entries);
    }

    [Fact]
    public async Task PredictManyRunsConcurrentlyWithinTheBoundAndYieldsInOrder()
    {
        var lm = new CountingLm(new LanguageModelOptions { CacheByDefault = true, Cache = _cache, MaxConcurrency = 3 }) { Delay = TimeSpan.FromMilliseconds(30) };
        var prompts = Enumerable.Range(0, 12).Select(i => new LmPrompt($"p{i}")).ToList();
        var seen = new List<string>();
        await foreach (var p in lm.PredictManyAsync(prompts, CompletionWindow.Asap, CancellationToken.None))
        {
            seen.Add(p.CompletionText);
        }

        Assert.Equal(prompts.Select(p => p.Text + "|s0"), seen);
        Assert.InRange(lm.MaxInFlight, 2, 3);
    }

    [Fact]
    public async Task BreakingOutEarlyCancelsTheRestAndKeepsWhatFinished()
    {
        var lm = new CountingLm(new LanguageModelOptions { CacheByDefault = true, Cache = _cache, MaxConcurrency = 1 }) { Delay = TimeSpan.FromMilliseconds(20) };
        var prompts = Enumerable.Range(0, 50).Select(i => new LmPrompt($"p{i}")).ToList();
        await foreach (var p in lm.PredictManyAsync(prompts, CompletionWindow.Asap, CancellationToken.None))
        {
            Assert.Equal("p0|s0", p.CompletionText);
            break;
        }

        int calls = lm.CallCount;
        Assert.InRange(calls, 1, 5);
        await Task.Delay(100, CancellationToken.None);
        Assert.Equal(calls, lm.CallCount);
        Assert.True(lm.Predict(new LmPrompt("p0")).WasCached);
    }

    [Fact]
    public async Task CancellationStopsTheRun()
    {
        var lm = new CountingLm(new LanguageModelOptions { CacheByDefault = true, Cache = _cache, MaxConcurrency = 2 }) { Delay = TimeSpan.FromSeconds(5) };
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in lm.PredictManyAsync([new LmPrompt("a"), new LmPrompt("b")], CompletionWindow.Asap, cts.Token))
            {
            }
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lm.PredictAsync(new LmPrompt("c"), new CancellationTokenSource(50).Token));
    }

    [Fact]
    public void AFatalErrorStopsPredictManyWithThatException()
    {
        var lm = Model();
        lm.Intercept = _ => throw new LmAuthenticationException("no key found in OPENAI_API_KEY or ~/oai_key.txt");
        var e = Assert.Throws<LmAuthenticationException>(() => lm.PredictMany([new LmPrompt("a"), new LmPrompt("b")]).ToList());
        Assert.Contains("OPENAI_API_KEY", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BatchAnyRunsOnModelsWithoutABatchApi()
    {
        var lm = Model();
        var r = lm.PredictMany([new LmPrompt("a"), new LmPrompt("b")], CompletionWindow.BatchAny).ToList();
        Assert.Equal(["a|s0", "b|s0"], r.Select(x => x.CompletionText));
    }

    [Fact]
    public void RemovePromptFromCacheForgetsAllSamples()
    {
        var lm = Model();
        var prompt = new LmPrompt("r") { NumCompletions = 2 };
        lm.Predict(prompt);
        Assert.True(lm.RemovePromptFromCache(prompt));
        Assert.False(lm.RemovePromptFromCache(prompt));
        Assert.False(lm.Predict(prompt).WasCached);
        Assert.Equal(2, lm.CallCount);
    }

    [Fact]
    public void ModelsWithDifferentIdentitiesDoNotShareAnswers()
    {
        var a = Model("a");
        var b = Model("b");
        a.Predict(new LmPrompt("q"));
        Assert.False(b.Predict(new LmPrompt("q")).WasCached);
        Assert.True(a.Predict(new LmPrompt("q")).WasCached);
    }

    [Fact]
    public void TokenLimitHelpers()
    {
        var lm = Model(); // TokenLimit 1600, one "token" per character
        Assert.Equal(100, lm.DefaultTokensGenerated);
        Assert.False(lm.CouldCompletionGoOverTokenLimit(new LmPrompt("abc") { MaxTokens = 1597 }));
        Assert.True(lm.CouldCompletionGoOverTokenLimit(new LmPrompt("abc") { MaxTokens = 1598 }));
        Assert.True(lm.CouldCompletionGoOverTokenLimit(new LmPrompt(new string('x', 1501))));
    }

    [Fact]
    public void MockLmEchoesHonoursStopAndMaxTokensAndCounts()
    {
        using var mock = new MockLm();
        Assert.Equal("one two three", mock.Predict("one two three").CompletionText);
        var cut = mock.Predict(new LmPrompt("one two three. four") { Stop = ["."], MaxTokens = 2 });
        Assert.Equal("one two", cut.CompletionText);
        Assert.Equal("length", cut.FinishReason);
        Assert.Equal(["one", " two"], cut.CompletionTokens);
        Assert.Equal([0, 3], cut.CompletionTokenOffsets);
        Assert.Equal("last", mock.Predict(new LmPrompt(["first", "answer", "last"])).CompletionText);
        Assert.Equal(3, mock.CallCount);
        Assert.False(mock.Predict("one two three").WasCached); // no cache by default
        Assert.Throws<LmPredictionDataUnavailableException>(() => cut.CompletionLogprobs);

        using var custom = new MockLm(p => p.Text!.ToUpperInvariant(), name: "upper", options: new LanguageModelOptions { CacheByDefault = true, Cache = _cache });
        Assert.Equal("HI", custom.Predict("hi").CompletionText);
        Assert.True(custom.Predict("hi").WasCached);
        Assert.Equal(1, custom.CallCount);
        Assert.Equal(3, custom.EstimateTokensInPrompt(new LmPrompt("a b  c")));
    }
}
