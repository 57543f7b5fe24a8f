using System.Collections.Concurrent;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

/// <summary>The base class's caching, NumCompletions and PredictMany, through Claude.</summary>
public sealed class ClaudeCachingTests : ClaudeTestBase
{
    private int _counter;

    private void NumberEachAnswer() =>
        Server.Responder = r => new FakeAnthropicReply($"answer {Interlocked.Increment(ref _counter)} to {r.Messages[^1].Text}");

    [Fact]
    public void ASecondCallIsAnsweredFromTheCacheWithEverythingKept()
    {
        Server.Responder = _ => new FakeAnthropicReply("cached words here") { CacheReadInputTokens = 1 };
        using var lm = Model();
        var prompt = new LmPrompt("q") { MaxTokens = 50, Stop = ["zzz"] };
        var live = lm.Predict(prompt);
        var again = lm.Predict(prompt);
        Assert.Single(MessageRequests);
        Assert.False(live.WasCached);
        Assert.True(again.WasCached);
        Assert.Equal(live.CompletionText, again.CompletionText);
        Assert.Equal(live.FinishReason, again.FinishReason);
        Assert.Equal(live.Usage, again.Usage);
        Assert.Equal(live.ProviderData, again.ProviderData);
    }

    [Fact]
    public void AnyFieldChangeIsANewRequestAndCacheFalseBypasses()
    {
        using var lm = Model();
        lm.Predict(new LmPrompt("q") { Temperature = 0 });
        lm.Predict(new LmPrompt("q") { Temperature = 0.5 });
        lm.Predict(new LmPrompt("q") { Temperature = 0, Stop = ["x"] });
        Assert.Equal(3, MessageRequests.Count);
        lm.Predict(new LmPrompt("q") { Temperature = 0, Cache = false });
        Assert.Equal(4, MessageRequests.Count);
    }

    [Fact]
    public void AnotherModelDoesNotShareTheCache()
    {
        using var haiku = Model(ClaudeModelNames.Claude35Haiku);
        using var sonnet = Model(ClaudeModelNames.ClaudeSonnet4);
        haiku.Predict(new LmPrompt("q"));
        sonnet.Predict(new LmPrompt("q"));
        Assert.Equal(2, MessageRequests.Count);
        Assert.Equal("claude-sonnet-4-20250514", LastBody["model"]!.GetValue<string>());
    }

    [Fact]
    public void NumCompletionsSendsOneRequestPerSampleAndCachesEachOnItsOwn()
    {
        NumberEachAnswer();
        using var lm = Model();
        var three = lm.Predict(new LmPrompt("s") { NumCompletions = 3 });
        Assert.Equal(3, MessageRequests.Count);
        Assert.Equal(3, three.Completions.Count);
        Assert.Equal(3, three.Completions.Select(c => c.CompletionText).Distinct().Count());
        Assert.All(MessageRequests, r => Assert.Null(r.Json!["n"])); // Claude has no n: separate requests

        var five = lm.Predict(new LmPrompt("s") { NumCompletions = 5 });
        Assert.Equal(5, MessageRequests.Count); // only 2 new samples
        Assert.Equal([true, true, true, false, false], five.Completions.Select(c => c.WasCached));
        Assert.Equal(three.Completions.Select(c => c.CompletionText), five.Completions.Take(3).Select(c => c.CompletionText));
    }

    [Fact]
    public void NumCompletionsRequestsRunAtMostMaxConcurrencyAtOnce()
    {
        int inFlight = 0;
        int peak = 0;
        Server.Responder = _ =>
        {
            int now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref peak, now);
            Thread.Sleep(20);
            Interlocked.Decrement(ref inFlight);
            return new FakeAnthropicReply("x");
        };
        var options = Options() with { ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache, MaxConcurrency = 2 } };
        using var lm = Model(options: options);
        var p = lm.Predict(new LmPrompt("s") { NumCompletions = 6 });
        Assert.Equal(6, p.Completions.Count);
        Assert.Equal(6, MessageRequests.Count);
        Assert.InRange(peak, 1, 2);
    }

    [Fact]
    public void PredictManyKeepsOrderSendsDuplicatesOnceAndUsesTheCache()
    {
        using var lm = Model();
        lm.Predict(new LmPrompt("p1"));
        var prompts = new[] { new LmPrompt("p0"), new LmPrompt("p1"), new LmPrompt("p2"), new LmPrompt("p0"), new LmPrompt("p3") };
        var results = lm.PredictMany(prompts).ToList();
        Assert.Equal(["Echo: p0", "Echo: p1", "Echo: p2", "Echo: p0", "Echo: p3"], results.Select(r => r.CompletionText));
        Assert.True(results[1].WasCached);
        Assert.Equal(4, MessageRequests.Count); // p1 earlier, then p0, p2, p3
    }

    [Fact]
    public async Task AsapRunsConcurrentRequestsUpToMaxConcurrency()
    {
        var inFlight = 0;
        var peak = 0;
        var seen = new ConcurrentBag<string>();
        Server.Responder = r =>
        {
            int now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref peak, now);
            Thread.Sleep(50);
            Interlocked.Decrement(ref inFlight);
            seen.Add(r.Messages[^1].Text);
            return new FakeAnthropicReply("done " + r.Messages[^1].Text);
        };
        var options = Options() with { ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache, MaxConcurrency = 4 } };
        using var lm = Model(options: options);
        var prompts = Enumerable.Range(0, 12).Select(i => new LmPrompt($"item{i}")).ToList();
        var results = new List<LmPrediction>();
        await foreach (var p in lm.PredictManyAsync(prompts, CompletionWindow.Asap))
        {
            results.Add(p);
        }

        Assert.Equal(prompts.Select(p => "done " + p.Text), results.Select(r => r.CompletionText));
        Assert.Equal(12, MessageRequests.Count);
        Assert.Empty(Server.RequestsTo("/v1/messages/batches"));
        Assert.InRange(peak, 2, 4);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
