using System.ClientModel;
using System.Collections.Concurrent;
using System.Diagnostics;
using LmWrapper.Extensions.AI;
using LmWrapper.OpenAI;
using LmWrapper.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenAI;

namespace LmWrapper.Extensions.Tests;

/// <summary>
/// LmWrapper → IChatClient → MEAI's own middleware (distributed cache, logging, OpenTelemetry) → back to a LanguageModel,
/// over a mock and over OpenAiLm talking to the fake OpenAI server; and OpenAI's own MEAI client as a LanguageModel.
/// </summary>
public sealed class RoundTripTests : IAsyncLifetime
{
    private FakeOpenAiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeOpenAiServer.StartNewAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ThroughMeaisCacheLoggingAndOpenTelemetryAndBack()
    {
        string sourceName = "lmwrapper-roundtrip-" + Guid.NewGuid().ToString("N");
        var activities = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == sourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activities.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var logs = new CapturingLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        var distributedCache = new MemoryDistributedCache(Options.Create(new MemoryDistributedCacheOptions()));

        using var inner = new MockLm(p => "four, since two and two make four", name: "roundtrip", isChatModel: true);
        IChatClient pipeline = new ChatClientBuilder(inner.AsChatClient())
            .UseDistributedCache(distributedCache)
            .UseLogging(loggerFactory)
            .UseOpenTelemetry(loggerFactory, sourceName)
            .Build();

        using var outer = pipeline.AsLanguageModel();
        Assert.Same(inner, pipeline.GetService<LanguageModel>());        // found through the middleware
        Assert.Equal(inner.TokenLimit, outer.TokenLimit);
        Assert.Equal("mock/roundtrip", outer.ModelInfo.Name);

        var prompt = new LmPrompt([LmChatTurn.System("Answer briefly."), LmChatTurn.User("What is 2+2?")]) { MaxTokens = 20, Temperature = 0 };
        var direct = await inner.PredictAsync(prompt);
        var first = await outer.PredictAsync(prompt);
        Assert.Equal(direct.CompletionText, first.CompletionText);
        Assert.Equal(direct.CompletionTokens, first.CompletionTokens);       // LmWrapper's own data survives the middleware
        Assert.Equal(direct.Usage, first.Usage);
        Assert.Equal("stop", first.FinishReason);
        Assert.Equal(2, inner.CallCount);

        // MEAI's distributed cache answers the same call again: the inner model is not asked, and the tokens come back
        // from the cache's JSON.
        using var again = pipeline.AsLanguageModel();
        var second = await again.PredictAsync(prompt);
        Assert.Equal(2, inner.CallCount);
        Assert.Equal(first.CompletionText, second.CompletionText);
        Assert.Equal(first.CompletionTokens, second.CompletionTokens);
        Assert.Equal(first.Usage, second.Usage);

        // Several samples are kept apart by the cache (each call names its sample).
        var three = await outer.PredictAsync(prompt with { NumCompletions = 3, Temperature = 1 });
        Assert.Equal(3, three.Completions.Count);
        Assert.Equal(5, inner.CallCount);

        // OpenTelemetry: a chat activity per call that reached the OpenTelemetry client (the cache sits before it).
        var chat = activities.Where(a => a.GetTagItem("gen_ai.operation.name") as string == "chat").ToList();
        Assert.Equal(4, chat.Count);
        Assert.All(chat, a => Assert.Equal("mock/roundtrip", a.GetTagItem("gen_ai.request.model")));
        Assert.Contains(chat, a => Equals(a.GetTagItem("gen_ai.usage.output_tokens"), first.Usage!.OutputTokens) || Equals(a.GetTagItem("gen_ai.usage.output_tokens"), (long)first.Usage!.OutputTokens));
        Assert.Contains(chat, a => a.GetTagItem("gen_ai.response.finish_reasons") is not null);

        // Logging: MEAI's logging client logged the calls.
        Assert.Contains(logs.Lines, l => l.Contains("GetResponseAsync", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpenAiLmOverTheFakeServerRoundTripsWithLogprobs()
    {
        using var openAi = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: new OpenAiOptions { BaseUrl = new Uri(_server.BaseUrl) });
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(new CapturingLoggerProvider()));
        IChatClient pipeline = new ChatClientBuilder(openAi.AsChatClient()).UseLogging(loggerFactory).Build();
        using var lm = pipeline.AsLanguageModel();
        Assert.True(lm.ModelInfo.Has(LmCapabilities.Logprobs));             // from the OpenAI model behind the client

        var prompt = new LmPrompt("What is 2+2?") { MaxTokens = 10, Temperature = 0, Logprobs = 3 };
        var direct = await openAi.PredictAsync(prompt);
        var wrapped = await lm.PredictAsync(prompt);
        Assert.Equal("2+2 is equal to 4.", wrapped.CompletionText);
        Assert.Equal(direct.CompletionText, wrapped.CompletionText);
        Assert.Equal(direct.CompletionTokens, wrapped.CompletionTokens);
        Assert.Equal(direct.CompletionLogprobs, wrapped.CompletionLogprobs);
        Assert.Equal(3, wrapped.TopTokenLogprobs[0].Count);
        Assert.Equal(direct.Usage, wrapped.Usage);
        Assert.Equal(2, _server.Requests.Count(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal)));

        // The chat client reports the cost at the OpenAI model's prices.
        var response = await openAi.AsChatClient().GetResponseAsync("What is 2+2?");
        Assert.Equal(openAi.CostOf((LmPrediction)response.RawRepresentation!), response.AdditionalProperties![LmChatPropertyNames.Cost]);
        Assert.True((decimal)response.AdditionalProperties[LmChatPropertyNames.Cost]! > 0);
    }

    [Fact]
    public async Task OpenAisOwnMeaiClientBecomesALanguageModel()
    {
        var client = new OpenAIClient(new ApiKeyCredential(FakeOpenAiServer.DefaultApiKey), new OpenAIClientOptions { Endpoint = new Uri(_server.BaseUrl) });
        using var lm = client.GetChatClient("gpt-4o-mini").AsIChatClient().AsLanguageModel();
        Assert.StartsWith("chatclient/openai/gpt-4o-mini@http://127.0.0.1:", lm.ModelIdentity, StringComparison.Ordinal);

        var prediction = await lm.PredictAsync(new LmPrompt([LmChatTurn.System("You always answer like a pirate"), LmChatTurn.User("How does bitcoin work?")]) { MaxTokens = 60, Temperature = 0 });
        Assert.False(prediction.HasErrors, prediction.ErrorMessage);
        Assert.StartsWith("Arr, me matey!", prediction.CompletionText, StringComparison.Ordinal);
        Assert.True(prediction.Usage!.InputTokens > 0);
        Assert.True(prediction.Usage.OutputTokens > 0);

        var request = _server.Requests.Last(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal)).Json;
        Assert.Equal("gpt-4o-mini", request.GetProperty("model").GetString());
        Assert.Equal(0, request.GetProperty("temperature").GetDouble());
        Assert.Equal("system", request.GetProperty("messages")[0].GetProperty("role").GetString());

        // Several samples: one request each, sample i with the seed Seed + i (so they differ).
        _server.ClearRequests();
        var samples = await lm.PredictAsync(new LmPrompt("Tell me something") { MaxTokens = 30, NumCompletions = 2, Seed = 5 });
        var sent = _server.Requests.Where(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal)).ToList();
        Assert.Equal([5L, 6L], sent.Select(r => r.Json.GetProperty("seed").GetInt64()).Order());
        Assert.Equal(2, samples.Completions.Count);
        Assert.NotEqual(samples.Completions[0].CompletionText, samples.Completions[1].CompletionText);
    }

    [Fact]
    public async Task CancellingAChatClientCallIsThrownAndNothingIsCached()
    {
        using var cache = Caching.LmCache.OpenInMemory();
        var client = new OpenAIClient(new ApiKeyCredential(FakeOpenAiServer.DefaultApiKey), new OpenAIClientOptions { Endpoint = new Uri(_server.BaseUrl) });
        using var lm = client.GetChatClient("gpt-4o-mini").AsIChatClient().AsLanguageModel(new ChatClientLanguageModelOptions
        {
            ModelOptions = new LanguageModelOptions { Cache = cache, CacheByDefault = true },
        });
        _server.EnqueueFault(FakeOpenAiFault.Slow(TimeSpan.FromSeconds(5)));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lm.PredictAsync(new LmPrompt("What is 2+2?") { MaxTokens = 10 }, cts.Token));
        Assert.Equal(0, cache.GetStats().Entries);
    }

    [Fact]
    public async Task ACompletionModelKeepsItsKindThroughTheRoundTrip()
    {
        using var completion = new MockLm(p => p.Text is null ? "a dialog" : "a text", name: "completion", isChatModel: false);
        using var lm = completion.AsChatClient().AsLanguageModel();
        Assert.False(lm.IsChatModel);
        Assert.False(lm.ModelInfo.Has(LmCapabilities.Chat));
        Assert.Equal("a text", (await lm.PredictAsync(new LmPrompt("Once upon a"))).CompletionText);
        Assert.Equal("a dialog", (await lm.PredictAsync(new LmPrompt(["Hi", "Hello", "Once upon a"]))).CompletionText);
    }

    [Fact]
    public async Task OpenAisClientWithARejectedKeyThrowsAnAuthenticationException()
    {
        var client = new OpenAIClient(new ApiKeyCredential("sk-not-the-right-key"), new OpenAIClientOptions { Endpoint = new Uri(_server.BaseUrl) });
        using var lm = client.GetChatClient("gpt-4o-mini").AsIChatClient().AsLanguageModel();
        var e = await Assert.ThrowsAsync<LmAuthenticationException>(() => lm.PredictAsync(new LmPrompt("hi") { MaxTokens = 5 }));
        Assert.DoesNotContain("sk-not-the-right-key", e.Message, StringComparison.Ordinal);
    }
}
