using System.Text.Json;
using LmWrapper.Testing.Anthropic;
using static LmWrapper.TestSupport.StreamCollector;

namespace LmWrapper.Anthropic.Tests;

/// <summary>PredictStreamingAsync over the fake's Messages API events.</summary>
public sealed class ClaudeStreamingTests : ClaudeTestBase
{
    private static readonly string LongAnswer = string.Join(' ', Enumerable.Range(0, 60).Select(i => "word" + i));

    [Fact]
    public async Task StreamEqualsTheWholeMessageWithBlocksStopSequencesAndSamples()
    {
        Server.Responder = _ => new FakeAnthropicReply(["First block of text, ", "then a second one that ends here STOP and not this."]) { CacheReadInputTokens = 2 };
        using var lm = Model();
        var prompt = new LmPrompt("Tell me two things.") { MaxTokens = 50, Stop = ["STOP"], NumCompletions = 2, Cache = false };
        var (updates, streamed) = await CollectAsync(lm, prompt);
        Assert.True(LastBody["stream"]!.GetValue<bool>());
        var whole = await lm.PredictAsync(prompt);
        Assert.Equal("First block of text, then a second one that ends here ", streamed.CompletionText);
        Assert.Equal("stop_sequence", streamed.FinishReason);
        Assert.Equal(Essence(whole), Essence(streamed));
        Assert.NotNull(streamed.Usage);
        Assert.Equal(2, streamed.Usage!.CachedInputTokens);
        for (int s = 0; s < 2; s++)
        {
            var mine = updates.Where(u => !u.IsFinal && u.SampleIndex == s).ToList();
            Assert.True(mine.Count > 5); // word by word
            Assert.Equal(streamed.Completions[s].CompletionText, string.Concat(mine.Select(u => u.Text)));
        }
    }

    [Fact]
    public async Task CachedPromptStreamsAtOnceWithoutARequest()
    {
        using var lm = Model();
        var prompt = new LmPrompt("Hello there") { MaxTokens = 20 };
        var (_, first) = await CollectAsync(lm, prompt);
        int requests = MessageRequests.Count;
        var (updates, again) = await CollectAsync(lm, prompt);
        Assert.Equal(requests, MessageRequests.Count);
        Assert.True(again.WasCached);
        Assert.Equal(2, updates.Count);
        Assert.True(updates[0].WasCached);
        Assert.Equal(first.CompletionText, updates[0].Text);
        Assert.Equal(Essence(first), Essence(again));
    }

    [Fact]
    public async Task CancellingMidStreamClosesTheConnection()
    {
        Server.Responder = _ => new FakeAnthropicReply(LongAnswer);
        Server.StreamEventDelay = TimeSpan.FromMilliseconds(30);
        using var lm = Model();
        using var cts = new CancellationTokenSource();
        var updates = lm.PredictStreamingAsync(new LmPrompt("Talk") { MaxTokens = 100 }, cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await updates.MoveNextAsync());
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await updates.MoveNextAsync());
        await updates.DisposeAsync();
        for (int i = 0; i < 500 && Server.AbortedStreams == 0; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal(1, Server.AbortedStreams);
        Assert.Equal(0, Cache.GetStats().Entries);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task FaultAfterTextIsATypedErrorAndNothingIsCached(bool errorEvent)
    {
        Server.Responder = _ => new FakeAnthropicReply(LongAnswer);
        Server.InjectFault(errorEvent ? FakeAnthropicFault.StreamError(afterEvents: 6) : FakeAnthropicFault.StreamCut(afterEvents: 6));
        using var lm = Model();
        var seen = new List<LmStreamingUpdate>();
        var e = await Assert.ThrowsAsync<LmProviderException>(async () =>
        {
            await foreach (var u in lm.PredictStreamingAsync(new LmPrompt("Talk") { MaxTokens = 100 }))
            {
                seen.Add(u);
            }
        });
        Assert.Equal(errorEvent ? LmErrorKind.Server : LmErrorKind.Transport, e.Error.Kind);
        if (errorEvent)
        {
            Assert.Contains("overloaded_error", e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(3, seen.Count); // events 4, 5 and 6 were text deltas
        Assert.Single(MessageRequests);
        Assert.Equal(0, Cache.GetStats().Entries);
    }

    [Fact]
    public async Task FaultsBeforeAnyTextAreRetried()
    {
        Server.InjectFault(FakeAnthropicFault.StreamError(afterEvents: 1)); // message_start, then overloaded
        Server.InjectFault(FakeAnthropicFault.StreamCut(afterEvents: 3)); // up to the ping
        Server.InjectFault(FakeAnthropicFault.Overloaded());
        using var lm = Model();
        var (_, streamed) = await CollectAsync(lm, new LmPrompt("Hello") { MaxTokens = 20 });
        Assert.Equal("Echo: Hello", streamed.CompletionText);
        Assert.Equal(4, MessageRequests.Count);
    }

    [Fact]
    public async Task RejectedRequestEndsWithAFailedPrediction()
    {
        Server.MaxOutputTokens = new Dictionary<string, int> { [ClaudeModelNames.Claude35Haiku.Name] = 10 };
        using var lm = Model();
        var prompt = new LmPrompt("Hello") { MaxTokens = 20, Cache = false };
        var (updates, streamed) = await CollectAsync(lm, prompt);
        Assert.Single(updates);
        Assert.True(streamed.HasErrors);
        Assert.Equal((await lm.PredictAsync(prompt)).Error!.Kind, streamed.Error!.Kind);
    }

    [Fact]
    public async Task FakeSendsTheMessagesApiEvents()
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Server.BaseUrl, "v1/messages"))
        {
            Content = new StringContent(
                """{"model":"claude-3-5-haiku-20241022","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"Hi you"}]}""",
                System.Text.Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Add("x-api-key", FakeAnthropicServer.DefaultApiKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('\n'))
            .Select(lines => (Name: lines[0]["event: ".Length..], Data: JsonDocument.Parse(lines[1]["data: ".Length..]).RootElement))
            .ToList();
        Assert.Equal(
            ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"],
            events.Select(e => e.Name));
        Assert.All(events, e => Assert.Equal(e.Name, e.Data.GetProperty("type").GetString()));
        var start = events[0].Data.GetProperty("message");
        Assert.Empty(start.GetProperty("content").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, start.GetProperty("stop_reason").ValueKind);
        Assert.Equal("Echo: Hi you", string.Concat(events.Where(e => e.Name == "content_block_delta").Select(e => e.Data.GetProperty("delta").GetProperty("text").GetString())));
        Assert.Equal("text_delta", events[3].Data.GetProperty("delta").GetProperty("type").GetString());
        Assert.Equal("end_turn", events[^2].Data.GetProperty("delta").GetProperty("stop_reason").GetString());
        Assert.Equal(3, events[^2].Data.GetProperty("usage").GetProperty("output_tokens").GetInt32());
    }

    private static string Essence(LmPrediction p) => string.Join("\n", p.Completions.Select(c => JsonSerializer.Serialize(new
    {
        c.CompletionText,
        c.FinishReason,
        c.Usage,
        Error = c.Error?.Kind,
        Data = c.ProviderData?.Where(kv => kv.Key is not ("id" or "request_id")).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList(),
    })));
}
