using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

public sealed class OpenAiHttpInjectionTests : OpenAiTestBase
{
    private sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler())
    {
        public int Count;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Count);
            return base.SendAsync(request, cancellationToken);
        }
    }

    [Fact]
    public async Task AnInjectedHandlerCarriesTheRequestsAndIsNotDisposedByTheModel()
    {
        using var handler = new CountingHandler();
        using (var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options() with { HttpMessageHandler = handler }))
        {
            await lm.PredictAsync(new LmPrompt("hi") { MaxTokens = 3 });
        }

        Assert.Equal(1, handler.Count);
        using var again = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: Options() with { HttpMessageHandler = handler });
        await again.PredictAsync(new LmPrompt("hi") { MaxTokens = 3 });
        Assert.Equal(2, handler.Count);
    }

    [Fact]
    public async Task AnInjectedHttpClientIsUsedAndLeftOpen()
    {
        using var handler = new CountingHandler();
        using var client = new HttpClient(handler);
        using (var lm = OpenAiLm.Get(OpenAiModelNames.Gpt35TurboInstruct, FakeOpenAiServer.DefaultApiKey, options: Options() with { HttpClient = client }))
        {
            var p = await lm.PredictAsync(new LmPrompt("What is 3+3?") { MaxTokens = 10 });
            Assert.Equal(" 3+3 is equal to 6.", p.CompletionText);
        }

        Assert.Equal(1, handler.Count);
        using var response = await client.GetAsync(Server.BaseUrl + "/models");
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task TheTestingReadmeExampleWorksWithTheDefaultRetryPolicy()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync();
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey,
            options: new OpenAiOptions { BaseUrl = new Uri(server.BaseUrl), ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Caching.LmCache.OpenInMemory() } });
        server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(20)));
        Assert.Equal("2+2 is equal to 4.", lm.Predict("What is 2+2?").CompletionText);
        Assert.Equal(100, server.Requests[^1].Json.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal(2, server.Requests.Count);
    }
}
