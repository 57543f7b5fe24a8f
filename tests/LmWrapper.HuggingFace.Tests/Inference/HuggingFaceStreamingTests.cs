using System.Text.Json;
using LmWrapper.Caching;
using LmWrapper.HuggingFace.Generation;
using static LmWrapper.TestSupport.StreamCollector;

namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>PredictStreamingAsync on local models: token by token, stop sequences held back, equal to PredictAsync.</summary>
public sealed class HuggingFaceStreamingTests
{
    private static string Stories => HfFormatsFixtures.Path("models", "stories260K");

    [Fact]
    public async Task GreedyStreamEqualsPredictTokenByToken()
    {
        using var lm = RandomModels.Load(Stories);
        var prompt = new LmPrompt("Once upon a time") { MaxTokens = 20, Temperature = 0, Logprobs = 3 };
        var (updates, streamed) = await CollectAsync(lm, prompt);
        var whole = await lm.PredictAsync(prompt);
        Assert.Equal(Essence(whole), Essence(streamed));
        Assert.Equal(whole.CompletionTokens.Count, updates.Count(u => !u.IsFinal && u.Tokens is { Count: 1 }));
        Assert.Equal(streamed.CompletionText, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(streamed.CompletionTokens, updates.SelectMany(u => u.Tokens ?? []));
        Assert.Equal(streamed.CompletionLogprobs, updates.SelectMany(u => u.Logprobs ?? []));
    }

    [Fact]
    public async Task SeededSamplesStreamAsPredictMakesThem()
    {
        using var lm = RandomModels.Load(RandomModels.Folder("llama"));
        var prompt = new LmPrompt("x y") { MaxTokens = 10, Temperature = 1.1, Seed = 5, NumCompletions = 3 };
        var (updates, streamed) = await CollectAsync(lm, prompt);
        var whole = await lm.PredictAsync(prompt);
        Assert.Equal(Essence(whole), Essence(streamed));
        for (int s = 0; s < 3; s++)
        {
            Assert.Equal(streamed.Completions[s].CompletionText, string.Concat(updates.Where(u => u.SampleIndex == s && !u.IsFinal).Select(u => u.Text)));
        }
    }

    [Fact]
    public async Task StopSequencesNeverLeakTextThatIsCut()
    {
        using var lm = RandomModels.Load(Stories);
        var baseline = await lm.PredictAsync(new LmPrompt("Once upon a time") { MaxTokens = 30, Temperature = 0 });
        string text = baseline.CompletionText;
        var tokens = baseline.CompletionTokens;
        var offsets = baseline.CompletionTokenOffsets;
        int k = Enumerable.Range(1, tokens.Count - 2).First(i => tokens[i].Length >= 3 && offsets[i] > 5);

        // A stop that begins inside a token and ends in the next: the text up to it streams, nothing of it does.
        foreach (string stop in (string[])[tokens[k][1..] + tokens[k + 1], tokens[k] + tokens[k + 1], "never appears here"])
        {
            var prompt = new LmPrompt("Once upon a time") { MaxTokens = 30, Temperature = 0, Stop = [stop] };
            var (updates, streamed) = await CollectAsync(lm, prompt);
            var whole = await lm.PredictAsync(prompt);
            Assert.Equal(Essence(whole), Essence(streamed));
            string sent = string.Concat(updates.Select(u => u.Text));
            Assert.Equal(streamed.CompletionText, sent);
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            Assert.Equal(at < 0 ? text : text[..at], sent);
            Assert.Equal(streamed.CompletionTokens, updates.SelectMany(u => u.Tokens ?? []));
        }
    }

    [Fact]
    public void HoldBackReleasesOnlyWhatCannotBecomeAStop()
    {
        // " is the city Paris" in tokens, with a stop that begins inside " city" (the Python lmwrapper's example).
        var hold = new StreamHoldBack(0, ["ity Par"], withLogprobs: true);
        Assert.Equal(" is", hold.Add(" is", -1)!.Text);
        Assert.Equal(" the", hold.Add(" the", -2)!.Text);
        var city = hold.Add(" city", -3)!;
        Assert.Equal(" c", city.Text); // "ity" could start the stop
        Assert.Null(city.Tokens); // " city" is not complete yet
        Assert.Null(hold.Add(" Paris", -4)); // the stop is there: nothing more, ever
        var final = new LmPrediction
        {
            CompletionText = " is the c",
            Prompt = new LmPrompt("x"),
            CompletionTokens = [" is", " the", " city"],
            CompletionLogprobs = [-1, -2, -3],
        };
        var last = hold.Finish(final);
        Assert.Equal(string.Empty, last.Text);
        Assert.Equal([" city"], last.Tokens!);
        Assert.Equal([-3.0], last.Logprobs!);
        Assert.Same(final, last.Prediction);

        var free = new StreamHoldBack(0, ["xyz"], withLogprobs: false);
        var all = free.Add(" Paris", -1)!;
        Assert.Equal(" Paris", all.Text);
        Assert.Null(all.Logprobs);
        Assert.Equal(" Par", new StreamHoldBack(0, ["is!"], false).Add(" Paris", -1)!.Text);
    }

    [Fact]
    public async Task CachedPromptStreamsAtOnceAndCancellationStopsGeneration()
    {
        using var dir = new TempDir();
        using var cache = LmCache.Open(dir.File("cache.sqlite3"));
        using var lm = RandomModels.Load(Stories, new LanguageModelOptions { Cache = cache, CacheByDefault = true });
        var prompt = new LmPrompt("Once upon a time") { MaxTokens = 12, Temperature = 0 };
        var (_, first) = await CollectAsync(lm, prompt);
        var (updates, again) = await CollectAsync(lm, prompt);
        Assert.True(again.WasCached);
        Assert.Equal(2, updates.Count);
        Assert.Equal(first.CompletionText, updates[0].Text);
        Assert.Equal(Essence(first), Essence(again));

        using var cts = new CancellationTokenSource();
        var stream = lm.PredictStreamingAsync(new LmPrompt("Once upon a time there") { MaxTokens = 200, Temperature = 0 }, cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await stream.MoveNextAsync());
        Assert.False(stream.Current.IsFinal);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            while (await stream.MoveNextAsync())
            {
            }
        });
        await stream.DisposeAsync();
        Assert.Equal(1, cache.GetStats().Entries); // only the first prompt's answer
    }

    private static string Essence(LmPrediction p) => string.Join("\n", p.Completions.Select(c => JsonSerializer.Serialize(new
    {
        c.CompletionText,
        c.FinishReason,
        c.CompletionTokens,
        c.CompletionTokenOffsets,
        Logprobs = c.HasCompletionLogprobs ? c.CompletionLogprobs : null,
        Top = c.HasTopTokenLogprobs ? c.TopTokenLogprobs : null,
        c.Usage,
    })));
}
