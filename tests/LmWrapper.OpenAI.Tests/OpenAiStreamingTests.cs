using System.Text.Json;
using LmWrapper.Caching;
using LmWrapper.Testing;
using static LmWrapper.TestSupport.StreamCollector;

namespace LmWrapper.OpenAI.Tests;

/// <summary>PredictStreamingAsync over the fake's server-sent events: chat and legacy completions.</summary>
public sealed class OpenAiStreamingTests : OpenAiTestBase
{
    [Fact]
    public async Task ChatStreamEqualsTheWholeAnswerWithLogprobsAndSeveralSamples()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var prompt = new LmPrompt("Tell me something about streams.") { MaxTokens = 30, Logprobs = 3, NumCompletions = 3, Temperature = 1, Seed = 7 };
        var (updates, streamed) = await CollectAsync(lm, prompt);
        var body = JsonDocument.Parse(LastRequest.Body).RootElement;
        Assert.True(body.GetProperty("stream").GetBoolean());
        Assert.True(body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());

        var whole = await lm.PredictAsync(prompt);
        Assert.Equal(Essence(whole), Essence(streamed));
        Assert.NotNull(streamed.Usage);
        AssertDeltasBuildTheSamples(updates, streamed);
        Assert.Equal(3, updates.Where(u => !u.IsFinal).Select(u => u.SampleIndex).Distinct().Count());
    }

    [Fact]
    public async Task LegacyCompletionStreamEqualsTheWholeAnswerWithEcho()
    {
        using var lm = Lm(OpenAiModelNames.Davinci002);
        var prompt = new LmPrompt("Once upon a") { MaxTokens = 10, Logprobs = 2, Echo = true, Temperature = 0 };
        var (updates, streamed) = await CollectAsync(lm, prompt);
        var whole = await lm.PredictAsync(prompt);
        Assert.Equal(" time, there were three of us.", streamed.CompletionText);
        Assert.Equal(Essence(whole), Essence(streamed));
        Assert.Equal(whole.PromptTokens, streamed.PromptTokens);
        AssertDeltasBuildTheSamples(updates, streamed);
    }

    [Fact]
    public async Task CachedPromptStreamsItsAnswerAtOnceWithoutARequest()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, cache);
        var prompt = new LmPrompt("What is 2+2?") { MaxTokens = 20, Logprobs = 1, Temperature = 0 };
        var (_, first) = await CollectAsync(lm, prompt);
        Assert.False(first.WasCached);
        int requests = Server.Requests.Count;

        var (updates, again) = await CollectAsync(lm, prompt);
        Assert.Equal(requests, Server.Requests.Count);
        Assert.True(again.WasCached);
        Assert.All(updates, u => Assert.True(u.WasCached));
        Assert.Equal(2, updates.Count); // the whole cached text, then the final update
        Assert.Equal(first.CompletionLogprobs, updates[0].Logprobs);
        Assert.Equal(Essence(first), Essence(again));
        Assert.Equal(Essence(first), Essence(await lm.PredictAsync(prompt)));
    }

    [Fact]
    public async Task CancellingMidStreamClosesTheConnectionAndCachesNothing()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, cache);
        Server.StreamEventDelay = TimeSpan.FromMilliseconds(30);
        var prompt = new LmPrompt("Please talk for a while.") { MaxTokens = 40 };
        using var cts = new CancellationTokenSource();
        var updates = lm.PredictStreamingAsync(prompt, cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await updates.MoveNextAsync());
        Assert.False(updates.Current.IsFinal);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await updates.MoveNextAsync());
        await updates.DisposeAsync();

        await WaitUntilAsync(() => Server.AbortedStreams == 1);
        Assert.Equal(0, cache.GetStats().Entries);
    }

    [Fact]
    public async Task LeavingTheLoopEarlyClosesTheConnection()
    {
        using var lm = Lm(OpenAiModelNames.Davinci002);
        Server.StreamEventDelay = TimeSpan.FromMilliseconds(30);
        await foreach (var update in lm.PredictStreamingAsync(new LmPrompt("Please talk for a while.") { MaxTokens = 40 }))
        {
            Assert.False(update.IsFinal);
            break;
        }

        await WaitUntilAsync(() => Server.AbortedStreams == 1);
    }

    [Fact]
    public async Task CutAfterTextIsATransportErrorAndNothingIsCached()
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, cache);
        Server.EnqueueFault(FakeOpenAiFault.StreamCut(afterEvents: 4));
        var seen = new List<LmStreamingUpdate>();
        var e = await Assert.ThrowsAsync<LmProviderException>(async () =>
        {
            await foreach (var u in lm.PredictStreamingAsync(new LmPrompt("Please talk for a while.") { MaxTokens = 40 }))
            {
                seen.Add(u);
            }

        });
        Assert.Equal(LmErrorKind.Transport, e.Error.Kind);
        Assert.NotEmpty(seen);
        Assert.DoesNotContain(seen, u => u.IsFinal);
        Assert.Single(Server.Requests); // no retry once text was given
        Assert.Equal(0, cache.GetStats().Entries);
    }

    [Fact]
    public async Task ErrorEventAfterTextIsATypedServerError()
    {
        using var lm = Lm(OpenAiModelNames.Gpt35TurboInstruct);
        Server.EnqueueFault(FakeOpenAiFault.StreamError(afterEvents: 3) with { Message = "The model crashed mid-answer." });
        var e = await Assert.ThrowsAsync<LmProviderException>(async () =>
        {
            await foreach (var u in lm.PredictStreamingAsync(new LmPrompt("Please talk for a while.") { MaxTokens = 40 }))
            {
            }
        });
        Assert.Equal(LmErrorKind.Server, e.Error.Kind);
        Assert.Contains("The model crashed mid-answer.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FailuresBeforeAnyTextAreRetried()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var prompt = new LmPrompt("What is 3+4?") { MaxTokens = 20, Temperature = 0 };
        Server.EnqueueFault(FakeOpenAiFault.StreamCut(afterEvents: 1)); // only the role chunk, which has no text
        Server.EnqueueFault(FakeOpenAiFault.StreamError(afterEvents: 0));
        Server.EnqueueFault(FakeOpenAiFault.ServerError(503));
        var (_, streamed) = await CollectAsync(lm, prompt);
        Assert.Equal("3+4 is equal to 7.", streamed.CompletionText);
        Assert.Equal(4, Server.Requests.Count);
    }

    [Fact]
    public async Task AStreamThatGoesQuietIsATransportErrorAfterTheRetries()
    {
        // Each attempt's first event (the role chunk) comes at once and the next not for a minute: far past the timeout.
        Server.StreamEventDelay = TimeSpan.FromMinutes(1);
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options() with { RequestTimeout = TimeSpan.FromMilliseconds(200) });
        var (updates, failed) = await CollectAsync(lm, new LmPrompt("Hello") { MaxTokens = 5 });
        Assert.Single(updates);
        Assert.Equal(LmErrorKind.Transport, failed.Error!.Kind);
        Assert.Contains("no event within 0.2 s", failed.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(1 + FastRetries.MaxRetries, Server.Requests.Count);
    }

    [Fact]
    public async Task RejectedRequestEndsWithTheSameFailedPredictionAsPredictAsync()
    {
        Server.AddModel(new FakeOpenAiModel("tiny-ctx", IsChat: true, ContextWindow: 40, MaxOutputTokens: 30));
        using var lm = OpenAiLm.Get(new OpenAiModelInfo("tiny-ctx", 40, 30, "cl100k_base", true, null), FakeOpenAiServer.DefaultApiKey, options: Options());
        var prompt = new LmPrompt(string.Join(' ', Enumerable.Repeat("word", 30))) { MaxTokens = 30 };
        var (updates, streamed) = await CollectAsync(lm, prompt);
        Assert.Single(updates);
        Assert.True(streamed.HasErrors);
        Assert.Equal(LmErrorKind.ContextLength, streamed.Error!.Kind);
        Assert.True(streamed.IsErrorPermanent);
        Assert.Equal((await lm.PredictAsync(prompt)).Error!.Kind, streamed.Error.Kind);
    }

    [Fact]
    public async Task BadKeyAndInvalidPromptAreThrown()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, apiKey: "sk-wrong-key-000000");
        await Assert.ThrowsAsync<LmAuthenticationException>(async () =>
        {
            await foreach (var u in lm.PredictStreamingAsync(new LmPrompt("hi") { MaxTokens = 5 }))
            {
            }
        });

        int requests = Server.Requests.Count;
        Assert.Throws<LmPromptException>(() => lm.PredictStreamingAsync(new LmPrompt("hi") { MaxTokens = 5, Echo = true }));
        Assert.Equal(requests, Server.Requests.Count);
    }

    [Fact]
    public async Task FakeStreamsTheChunkShapesOfTheApi()
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, Server.BaseUrl + "/chat/completions")
        {
            Content = new StringContent(
                """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is 1+1?"}],"temperature":0,"stream":true,"stream_options":{"include_usage":true}}""",
                System.Text.Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Authorization = new("Bearer", FakeOpenAiServer.DefaultApiKey);
        using var response = await http.SendAsync(request);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        string[] events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        Assert.Empty(chunks[^1].GetProperty("choices").EnumerateArray());
        Assert.True(chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 0);
        Assert.Equal("stop", chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        string text = string.Concat(chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray())
            .Select(c => c.GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : null));
        Assert.Equal("1+1 is equal to 2.", text);
    }

    [Fact]
    public async Task FakeRefusesStreamOptionsWithoutStream()
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, Server.BaseUrl + "/chat/completions")
        {
            Content = new StringContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", FakeOpenAiServer.DefaultApiKey);
        using var response = await http.SendAsync(request);
        Assert.Equal(400, (int)response.StatusCode);
        Assert.Contains("stream_options", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    internal static void AssertDeltasBuildTheSamples(List<LmStreamingUpdate> updates, LmPrediction final)
    {
        for (int s = 0; s < final.Completions.Count; s++)
        {
            var sample = final.Completions[s];
            var mine = updates.Where(u => !u.IsFinal && u.SampleIndex == s).ToList();
            Assert.Equal(sample.CompletionText, string.Concat(mine.Select(u => u.Text)));
            if (sample.HasCompletionLogprobs)
            {
                Assert.Equal(sample.CompletionTokens, mine.SelectMany(u => u.Tokens ?? []));
                Assert.Equal(sample.CompletionLogprobs, mine.SelectMany(u => u.Logprobs ?? []));
            }
        }
    }

    /// <summary>Everything a prediction says but the ids of the request that made it.</summary>
    internal static string Essence(LmPrediction p) => string.Join("\n", p.Completions.Select(c => JsonSerializer.Serialize(new
    {
        c.CompletionText,
        c.FinishReason,
        Tokens = c.HasCompletionTokens ? c.CompletionTokens : null,
        Offsets = c.HasCompletionTokenOffsets ? c.CompletionTokenOffsets : null,
        Logprobs = c.HasCompletionLogprobs ? c.CompletionLogprobs : null,
        Top = c.HasTopTokenLogprobs ? c.TopTokenLogprobs : null,
        PromptLogprobs = c.HasPromptLogprobs ? c.PromptLogprobs : null,
        c.Usage,
        Error = c.Error?.Kind,
        Data = c.ProviderData?.Where(kv => kv.Key is not ("id" or "request_id")).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList(),
    })));

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(20);
        }

        Assert.True(condition());
    }
}
