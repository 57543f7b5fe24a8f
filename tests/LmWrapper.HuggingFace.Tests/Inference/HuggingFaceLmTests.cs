using LmWrapper.Caching;
using LmWrapper.HuggingFace.Generation;
using LmWrapper.Internals;

namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>HuggingFaceLm as a LanguageModel: prompts, sampling, logprobs, echo, stops, internals, batching and the cache.</summary>
public sealed class HuggingFaceLmTests
{
    private static string Stories => HfFormatsFixtures.Path("models", "stories260K");

    [Fact]
    public void SamplingWithASeedReproducesAndDifferentSeedsDiffer()
    {
        using var lm = RandomModels.Load(Stories);
        var prompt = new LmPrompt("Once upon a time") { MaxTokens = 30, Temperature = 1.0, Seed = 7 };
        var a = lm.Predict(prompt);
        var b = lm.Predict(prompt);
        Assert.Equal(a.CompletionText, b.CompletionText);
        Assert.Equal(a.CompletionLogprobs, b.CompletionLogprobs);
        var c = lm.Predict(prompt with { Seed = 8 });
        Assert.NotEqual(a.CompletionText, c.CompletionText);
        var greedy = lm.Predict(prompt with { Temperature = 0, Seed = null });
        Assert.NotEqual(greedy.CompletionText, a.CompletionText);

        // No seed: fresh samples each time.
        var unseeded = Enumerable.Range(0, 3).Select(_ => lm.Predict(prompt with { Seed = null }).CompletionText).ToHashSet();
        Assert.True(unseeded.Count > 1);
    }

    [Fact]
    public void SeveralCompletionsShareThePromptAndAreSeparateSamples()
    {
        using var lm = RandomModels.Load(Stories);
        var p = lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 20, Temperature = 1.6, Seed = 3, NumCompletions = 3 });
        Assert.Equal(3, p.Completions.Count);
        Assert.Equal(3, p.Completions.Select(c => c.CompletionText).Distinct().Count());
        var again = lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 20, Temperature = 1.6, Seed = 3, NumCompletions = 3 });
        Assert.Equal(p.Completions.Select(c => c.CompletionText), again.Completions.Select(c => c.CompletionText));
    }

    [Fact]
    public void TopPAndTopKNarrowSampling()
    {
        using var lm = RandomModels.Load(Stories);
        var greedy = lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 25, Temperature = 0 });

        // Top-p that keeps only the most likely token is greedy, whatever the seed.
        var tiny = lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 25, Temperature = 1.0, TopP = 1e-6, Seed = 99 });
        Assert.Equal(greedy.CompletionText, tiny.CompletionText);

        // Top-p 0 is greedy (as in the Python original), whatever the temperature and seed.
        var zero = lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 25, Temperature = 1.5, TopP = 0, Seed = 7 });
        Assert.Equal(greedy.CompletionText, zero.CompletionText);

        using var topOne = HuggingFaceLm.Get(Stories, new HuggingFaceLmOptions { TopK = 1, ModelOptions = new LanguageModelOptions { CacheByDefault = false } });
        Assert.Equal(greedy.CompletionText, topOne.Predict(new LmPrompt("Once upon a time") { MaxTokens = 25, Temperature = 1.5, Seed = 5 }).CompletionText);
        Assert.NotEqual(lm.ModelIdentity, topOne.ModelIdentity);
    }

    [Fact]
    public void TopLogprobsAreTheLogSoftmaxOfTheLogits()
    {
        using var lm = RandomModels.Load(Stories);
        var prompt = new LmPrompt("Once upon a time") { MaxTokens = 4, Temperature = 0, Logprobs = 5 };
        var p = lm.Predict(prompt);
        int[] ids = lm.Encode(prompt).Ids;
        var item = new LmWrapper.HuggingFace.Models.ForwardItem { Cache = lm.Transformer.NewCache(8), Tokens = ids };
        lm.Transformer.Forward([item]);
        double lse = Sampler.LogSumExp(item.Logits);
        var expected = Enumerable.Range(0, item.Logits.Length).Select(i => (Id: i, Lp: item.Logits[i] - lse)).OrderByDescending(x => x.Lp).Take(5).ToList();
        var top = p.TopTokenLogprobs[0];
        Assert.Equal(5, top.Count);
        Assert.Equal(expected.Select(e => e.Lp), top.Values.OrderByDescending(v => v), new Tolerance(1e-9));
        Assert.Equal(expected[0].Lp, p.CompletionLogprobs[0], 1e-9);
        Assert.Equal(top.Values.Max(), p.CompletionLogprobs[0], 1e-9); // greedy picks the most likely
        Assert.Equal(4, p.TopTokenLogprobs.Count);
        Assert.All(p.CompletionLogprobs, lp => Assert.True(lp < 0));
    }

    [Fact]
    public void ALongPromptRunsInPiecesWithTheNumbersOfOnePass()
    {
        // A prompt longer than two prompt-pass pieces (Generator.MaxPrefillRows), batched with a short one: its prompt
        // logprobs and its first generated token equal those of one forward pass over the whole prompt.
        using var lm = RandomModels.Load(Stories);
        string text = string.Concat(Enumerable.Repeat("Once upon a time, there was a little girl who liked to play. ", 15));
        var prompt = new LmPrompt(text) { MaxTokens = 2, Temperature = 0, Echo = true, Cache = false };
        int[] ids = lm.Encode(prompt).Ids;
        Assert.InRange(ids.Length, (2 * LmWrapper.HuggingFace.Generation.Generator.MaxPrefillRows) + 1, lm.Transformer.Config.MaxPositions - 4);
        var predictions = lm.PredictMany([new LmPrompt("Once upon") { MaxTokens = 2, Temperature = 0, Cache = false }, prompt]).ToList();
        var p = predictions[1];

        var item = new LmWrapper.HuggingFace.Models.ForwardItem { Cache = lm.Transformer.NewCache(ids.Length), Tokens = ids, AllLogits = true };
        lm.Transformer.Forward([item]);
        int v = lm.Transformer.Config.VocabSize;
        Assert.Equal(ids.Length - 1, p.PromptLogprobs.Count);
        for (int i = 1; i < ids.Length; i++)
        {
            var row = item.Logits.AsSpan((i - 1) * v, v);
            Assert.Equal(row[ids[i]] - Sampler.LogSumExp(row), p.PromptLogprobs[i - 1]!.Value, 1e-9);
        }

        var last = item.Logits.AsSpan((ids.Length - 1) * v, v);
        int best = 0;
        for (int i = 1; i < v; i++)
        {
            best = last[i] > last[best] ? i : best;
        }

        Assert.Equal(last[best] - Sampler.LogSumExp(last), p.CompletionLogprobs[0], 1e-9);
    }

    [Fact]
    public void EchoGivesThePromptTokensAndTheirLogprobs()
    {
        using var lm = RandomModels.Load(Stories);
        var prompt = new LmPrompt("Once upon a time") { MaxTokens = 3, Temperature = 0, Echo = true };
        var p = lm.Predict(prompt);
        int[] ids = lm.Encode(prompt).Ids;
        Assert.Equal(1, ids[0]); // BOS, not shown
        Assert.Equal(ids.Length - 1, p.PromptTokens.Count);
        Assert.Equal("Once upon a time", string.Concat(p.PromptTokens));
        Assert.Equal([0, 4, 9, 11], p.PromptTokenOffsets);
        var item = new LmWrapper.HuggingFace.Models.ForwardItem { Cache = lm.Transformer.NewCache(8), Tokens = ids, AllLogits = true };
        lm.Transformer.Forward([item]);
        int v = lm.Transformer.Config.VocabSize;
        for (int i = 1; i < ids.Length; i++)
        {
            var row = item.Logits.AsSpan((i - 1) * v, v);
            Assert.Equal(row[ids[i]] - Sampler.LogSumExp(row), p.PromptLogprobs[i - 1]!.Value, 1e-9);
        }

        Assert.Equal(p.PromptLogprobs.Count + 3, p.FullLogprobs.Count);

        // Without BOS the first prompt token has no logprob.
        var noBos = lm.Predict(prompt with { AddBosToken = false });
        Assert.Null(noBos.PromptLogprobs[0]);
        Assert.Equal(4, noBos.PromptTokens.Count);
        Assert.False(lm.Predict(prompt with { Echo = false }).HasPromptLogprobs);
    }

    [Fact]
    public void AnEmptyPromptGeneratesFromBosAlone()
    {
        using var lm = RandomModels.Load(Stories);
        Assert.Equal([1], lm.Encode(new LmPrompt("")).Ids);
        Assert.StartsWith("Once upon a time", lm.Predict(new LmPrompt("") { MaxTokens = 8, Temperature = 0 }).CompletionText, StringComparison.Ordinal);
        var e = Assert.Throws<LmPromptException>(() => lm.Predict(new LmPrompt("") { AddBosToken = false }));
        Assert.Contains("no tokens", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StopSequencesCutAsThePythonOriginalDoes()
    {
        using var lm = RandomModels.Load(Stories);
        var baseline = lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 30, Temperature = 0 });
        string text = baseline.CompletionText; // ", there was a little girl named Lily. She loved to play ..."
        var tokens = baseline.CompletionTokens;
        var offsets = baseline.CompletionTokenOffsets;

        // A stop that starts exactly where a token starts drops that token.
        int k = Enumerable.Range(1, tokens.Count - 2).First(i => tokens[i].Length >= 3 && offsets[i] > 5);
        string atStart = tokens[k] + tokens[k + 1];
        var p = lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 30, Temperature = 0, Stop = [atStart] });
        Assert.Equal(text[..text.IndexOf(atStart, StringComparison.Ordinal)], p.CompletionText);
        Assert.Equal("stop", p.FinishReason);
        int kept = offsets.Count(o => o < text.IndexOf(atStart, StringComparison.Ordinal));
        Assert.Equal(kept, p.CompletionTokens.Count);
        Assert.Equal(baseline.CompletionLogprobs.Take(kept), p.CompletionLogprobs);

        // One that starts inside a token keeps that token (and its logprob), though the text is cut inside it.
        string inside = tokens[k][1..] + tokens[k + 1];
        var q = lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 30, Temperature = 0, Stop = [inside] });
        int at = text.IndexOf(inside, StringComparison.Ordinal);
        Assert.Equal(text[..at], q.CompletionText);
        Assert.Equal(offsets.Count(o => o < at), q.CompletionTokens.Count);
        Assert.Equal(tokens[q.CompletionTokens.Count - 1], q.CompletionTokens[^1]);

        // Generation ends at the first stop that appears (here the earlier one; the later never gets generated).
        string early = text.Substring(3, 3);
        string later = text.Substring(text.Length - 8, 6);
        var r = lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 30, Temperature = 0, Stop = [later, early] });
        Assert.Equal(text[..text.IndexOf(early, StringComparison.Ordinal)], r.CompletionText);
        Assert.True(r.CompletionTokens.Count < tokens.Count);

        // A stop found only in the prompt is not matched there.
        var s = lm.Predict(new LmPrompt("Once upon a time") { MaxTokens = 30, Temperature = 0, Stop = ["Once"] });
        Assert.Equal(text, s.CompletionText);
        Assert.Equal("length", s.FinishReason);
    }

    [Fact]
    public void StopCutFollowsTheOriginalsTokenRule()
    {
        // " is the city Paris": tokens " is", " the", " city", " Paris" at 0, 3, 7, 12 (the Python lmwrapper's test cases).
        string text = " is the city Paris";
        int[] offsets = [0, 3, 7, 12];
        Assert.Equal((12, 3), PredictionBuilder.Cut(text, offsets, [" Paris"]));
        Assert.Equal((12, 3), PredictionBuilder.Cut(text, offsets, [" Pa"]));
        Assert.Equal((14, 4), PredictionBuilder.Cut(text, offsets, ["ari"]));
        Assert.Equal((15, 4), PredictionBuilder.Cut(text, offsets, ["ris"]));
        Assert.Equal((9, 3), PredictionBuilder.Cut(text, offsets, ["ity Paris"]));
        Assert.Equal((9, 3), PredictionBuilder.Cut(text, offsets, ["ty P", "ity Par"]));
        Assert.Equal((9, 3), PredictionBuilder.Cut(text, offsets, ["ity Par", "ty P"]));
        Assert.Null(PredictionBuilder.Cut(text, offsets, ["London"]));
    }

    [Fact]
    public void PredictManyBatchesAndGivesWhatEachPromptGetsAlone()
    {
        string folder = RandomModels.Folder("llama");
        using var lm = RandomModels.Load(folder);
        var prompts = new[]
        {
            new LmPrompt("The quick brown fox") { MaxTokens = 6, Temperature = 0, Logprobs = 3 },
            new LmPrompt("Hello") { MaxTokens = 9, Temperature = 0.8, Seed = 4, NumCompletions = 2 },
            new LmPrompt("A somewhat longer prompt that has more tokens in it") { MaxTokens = 5, Temperature = 0, Echo = true },
            new LmPrompt("Hello") { MaxTokens = 9, Temperature = 0.8, Seed = 4, NumCompletions = 2 },
            new LmPrompt("x") { MaxTokens = 12, Temperature = 1.2, Seed = 9, Stop = ["a"] },
        };
        var many = lm.PredictMany(prompts).ToList();
        Assert.Equal(prompts.Length, many.Count);
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = lm.Predict(prompts[i]);
            Assert.Equal(alone.Completions.Select(c => c.CompletionText), many[i].Completions.Select(c => c.CompletionText));
            Assert.Equal(alone.CompletionLogprobs, many[i].CompletionLogprobs);
            if (prompts[i].Echo)
            {
                Assert.Equal(alone.PromptLogprobs, many[i].PromptLogprobs);
            }
        }

        using var small = HuggingFaceLm.Get(folder, new HuggingFaceLmOptions { MaxBatchSize = 1, ModelOptions = new LanguageModelOptions { CacheByDefault = false } });
        Assert.Equal(many.Select(p => p.CompletionText), small.PredictMany(prompts).Select(p => p.CompletionText));
        Assert.Equal(many.Select(p => p.CompletionText), lm.PredictMany(prompts, CompletionWindow.BatchAny).Select(p => p.CompletionText));
    }

    [Fact]
    public void InternalsHaveTheShapesAskedForAndBypassTheCache()
    {
        using var dir = new TempDir();
        using var cache = LmCache.Open(dir.File("cache.sqlite3"));
        using var lm = RandomModels.Load(Stories, new LanguageModelOptions { Cache = cache, CacheByDefault = true });
        var prompt = new LmPrompt("Once upon a time") { MaxTokens = 3, Temperature = 0, Internals = new ModelInternalsRequest { HiddenStates = true, Attentions = true } };
        var p = lm.Predict(prompt);
        var i = p.Internals!;
        int promptLength = 5; // BOS + 4
        Assert.True(i.HasBos);
        Assert.Equal(5, i.NumLayers);
        Assert.Equal(Enumerable.Range(0, promptLength + 2), i.Positions); // the last generated token is never fed
        Assert.Equal(6, i.HiddenStates.Count);
        Assert.All(i.HiddenStates, h => Assert.Equal([promptLength + 2, 64], h.Shape));
        Assert.Equal(5, i.Attentions.Count);
        Assert.All(i.Attentions, a => Assert.Equal([8, promptLength + 2, promptLength + 2], a.Shape));
        var a0 = i.Attentions[0];
        Assert.Equal(1f, a0[0, 0, 0]);
        Assert.Equal(0f, a0[0, 0, 1]);
        for (int q = 0; q < promptLength + 2; q++)
        {
            float sum = 0;
            for (int k = 0; k < promptLength + 2; k++)
            {
                sum += a0[3, q, k];
            }

            Assert.Equal(1f, sum, 1e-5f);
        }

        Assert.False(p.WasCached);
        Assert.Equal(0, cache.GetStats().Entries);
        Assert.NotNull(lm.Predict(prompt).Internals);

        // The same prompt without internals is cached as usual; its text equals the one with internals.
        var plain = lm.Predict(prompt with { Internals = null });
        Assert.Equal(p.CompletionText, plain.CompletionText);
        Assert.True(lm.Predict(prompt with { Internals = null }).WasCached);
    }

    [Fact]
    public void InternalsSelectLayersAndPositions()
    {
        using var lm = RandomModels.Load(Stories);
        var prompt = new LmPrompt("Once upon a time") { MaxTokens = 4, Temperature = 0 };
        var full = lm.Predict(prompt with { Internals = new ModelInternalsRequest { HiddenStates = true } }).Internals!;
        var some = lm.Predict(prompt with { Internals = new ModelInternalsRequest { HiddenStates = true, Layers = [0, -1, 2] } }).Internals!;
        Assert.Equal([0, 5, 2], some.HiddenStateLayers);
        Assert.Equal(full.HiddenStates[5].ToArray(), some.HiddenStates[1].ToArray());
        var fractions = lm.Predict(prompt with { Internals = new ModelInternalsRequest { HiddenStates = true, Attentions = true, LayerFractions = [0, 0.5, 1] } }).Internals!;
        Assert.Equal([0, 2, 5], fractions.HiddenStateLayers); // round(5 × 0.5) = 2 (half to even)
        Assert.Equal([0, 2, 4], fractions.AttentionLayers);
        var generated = lm.Predict(prompt with { Internals = new ModelInternalsRequest { HiddenStates = true, Positions = LmInternalsPositions.Generated } }).Internals!;
        Assert.Equal([5, 6, 7], generated.Positions);
        Assert.Equal(full.HiddenStates[3].Row(6).ToArray(), generated.HiddenStates[3].Row(1).ToArray());
        var promptOnly = lm.Predict(prompt with { Internals = new ModelInternalsRequest { Attentions = true, Positions = LmInternalsPositions.Prompt } }).Internals!;
        Assert.Equal([8, 5, 5], promptOnly.Attentions[0].Shape);

        Assert.Equal("Internals", Assert.Throws<LmPromptException>(() => lm.Predict(prompt with { Internals = new ModelInternalsRequest { HiddenStates = true, Layers = [6] } })).FieldName);
        Assert.Equal("Internals", Assert.Throws<LmPromptException>(() => lm.Predict(prompt with { Internals = new ModelInternalsRequest() })).FieldName);
        Assert.Equal("Internals", Assert.Throws<LmPromptException>(() => lm.Predict(prompt with { Internals = new ModelInternalsRequest { HiddenStates = true, LayerFractions = [1.5] } })).FieldName);
    }

    [Fact]
    public void ModelsThatCannotReturnInternalsRejectTheRequest()
    {
        using var mock = new MockLm();
        var e = Assert.Throws<LmPromptException>(() => mock.Predict(new LmPrompt("hi") { Internals = new ModelInternalsRequest { HiddenStates = true } }));
        Assert.Equal("Internals", e.FieldName);
    }

    [Fact]
    public void CachedRerunsKeepEverythingButInternals()
    {
        using var dir = new TempDir();
        using var cache = LmCache.Open(dir.File("cache.sqlite3"));
        using var lm = RandomModels.Load(Stories, new LanguageModelOptions { Cache = cache, CacheByDefault = true });
        var prompt = new LmPrompt("Once upon a time") { MaxTokens = 6, Temperature = 0, Echo = true, Logprobs = 3 };
        var first = lm.Predict(prompt);
        var again = lm.Predict(prompt);
        Assert.False(first.WasCached);
        Assert.True(again.WasCached);
        Assert.Equal(first.CompletionText, again.CompletionText);
        Assert.Equal(first.CompletionTokens, again.CompletionTokens);
        Assert.Equal(first.CompletionTokenOffsets, again.CompletionTokenOffsets);
        Assert.Equal(first.CompletionLogprobs, again.CompletionLogprobs);
        Assert.Equal(first.PromptLogprobs, again.PromptLogprobs);
        Assert.Equal(first.PromptTokenOffsets, again.PromptTokenOffsets);
        Assert.Equal(first.TopTokenLogprobs[2], again.TopTokenLogprobs[2]);
        Assert.Equal(first.Usage, again.Usage);
        Assert.Equal(first.FinishReason, again.FinishReason);
    }

    [Fact]
    public void TheIdentityChangesWithTheWeights()
    {
        var spec = RandomModels.Specs["llama"];
        string a = RandomModels.Folder("identity-a", spec with { Seed = 100 });
        string b = RandomModels.Folder("identity-b", spec with { Seed = 101 });
        using var la = RandomModels.Load(a);
        using var lb = RandomModels.Load(b);
        using var la2 = RandomModels.Load(a);
        Assert.NotEqual(la.ModelIdentity, lb.ModelIdentity);
        Assert.Equal(la.ModelIdentity, la2.ModelIdentity);
        Assert.StartsWith("hf/identity-a#", la.ModelIdentity, StringComparison.Ordinal);
    }

    [Fact]
    public void TokenCountingAndLimitsFollowTheModel()
    {
        using var lm = RandomModels.Load(Stories);
        Assert.Equal(512, lm.TokenLimit);
        Assert.Equal(5, lm.EstimateTokensInPrompt(new LmPrompt("Once upon a time")));
        Assert.Equal(32, lm.DefaultTokensGenerated);
        Assert.False(lm.IsChatModel);
        string longText = string.Join(" ", Enumerable.Repeat("Once upon a time", 200));
        var e = Assert.Throws<LmPromptException>(() => lm.Predict(new LmPrompt(longText) { MaxTokens = 5 }));
        Assert.Contains("context", e.Message, StringComparison.Ordinal);

        // A prompt that fits, with room for fewer tokens than asked: generation stops at the context's end.
        var nearlyFull = new LmPrompt(string.Join(" ", Enumerable.Repeat("time", 505))) { MaxTokens = 50, Temperature = 0 };
        int length = lm.EstimateTokensInPrompt(nearlyFull);
        Assert.InRange(length, 500, 511);
        var p = lm.Predict(nearlyFull);
        Assert.Equal(512 - length, p.CompletionTokens.Count);
        Assert.Equal("length", p.FinishReason);
    }

    [Fact]
    public void AChatPromptNeedsAChatTemplate()
    {
        using var lm = RandomModels.Load(Stories);
        var e = Assert.Throws<LmPromptException>(() => lm.Predict(new LmPrompt([LmChatTurn.User("Hi")])));
        Assert.Contains("chat template", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ChatPromptsGoThroughTheTemplateAndATrailingAssistantTurnIsContinued()
    {
        var spec = RandomModels.Specs["qwen3"] with { VocabSize = 151669, HiddenSize = 16, NumHeads = 2, NumKvHeads = 1, HeadDim = 8, IntermediateSize = 16, TokenizerFolder = HfFormatsFixtures.Path("tokenizers", "qwen3"), BosTokenId = null, EosTokenId = 151645 };
        string folder = RandomModels.Folder("qwen3-chat", spec);
        using var lm = RandomModels.Load(folder);
        Assert.True(lm.IsChatModel);
        var chat = new LmPrompt([LmChatTurn.System("Be brief."), LmChatTurn.User("Hi!")]) { MaxTokens = 3, Temperature = 0 };
        string rendered = lm.Tokenizer.ApplyChatTemplate(chat.Chat!);
        Assert.EndsWith("<|im_start|>assistant\n", rendered, StringComparison.Ordinal);
        Assert.Equal(lm.Tokenizer.Encode(rendered), lm.Encode(chat).Ids);
        var answer = lm.Predict(chat);
        Assert.InRange(answer.CompletionTokens.Count, 0, 3);
        Assert.Equal(lm.Encode(chat).Ids.Length, answer.Usage!.InputTokens);

        // A text prompt on a chat model is one user turn.
        Assert.Equal(lm.Encode(new LmPrompt([LmChatTurn.User("Hi!")])).Ids, lm.Encode(new LmPrompt("Hi!")).Ids);

        // A trailing assistant turn is continued: the rendering ends with its text, not with the end-of-turn marker.
        var prefill = new LmPrompt([LmChatTurn.User("Hi!"), LmChatTurn.Assistant("Hello, I am")]);
        string text = lm.Tokenizer.Decode(lm.Encode(prefill).Ids);
        Assert.EndsWith("Hello, I am", text, StringComparison.Ordinal);
        Assert.Contains("<|im_start|>assistant\n", text[text.LastIndexOf("Hi!", StringComparison.Ordinal)..], StringComparison.Ordinal);

        // UseChatMode = false completes plain text as it is.
        using var plain = HuggingFaceLm.Get(folder, new HuggingFaceLmOptions { UseChatMode = false, ModelOptions = new LanguageModelOptions { CacheByDefault = false } });
        Assert.False(plain.IsChatModel);
        Assert.Equal(lm.Tokenizer.Encode("Hi!"), plain.Encode(new LmPrompt("Hi!")).Ids);
        Assert.NotEqual(lm.ModelIdentity, plain.ModelIdentity);
    }

    [Fact]
    public void UsageCountsThePromptAndTheGeneratedTokens()
    {
        using var lm = RandomModels.Load(Stories);
        var p = lm.Predict(new LmPrompt("Once") { MaxTokens = 2, Temperature = 0 });
        Assert.Equal(new LmUsage(2, 2), p.Usage);
    }

    [Fact]
    public async Task CancellationStopsGeneration()
    {
        using var lm = RandomModels.Load(Stories);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lm.PredictAsync(new LmPrompt("Once") { MaxTokens = 100 }, cts.Token));
    }

    private sealed class Tolerance(double epsilon) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= epsilon;

        public int GetHashCode(double obj) => 0;
    }
}
