namespace LmWrapper.OpenAI.Tests;

public sealed class OpenAiMalformedResponseTests : OpenAiTestBase
{
    protected override Testing.FakeOpenAiServerOptions ServerOptions => new()
    {
        Responder = r => r.LastUserText == "boom" ? throw new InvalidOperationException("responder failed") : "ok",
    };

    [Fact]
    public async Task AServerCrashIsRetriedLikeAny500()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, retry: FastRetries with { MaxRetries = 2 });
        var p = await lm.PredictAsync(new LmPrompt("boom") { MaxTokens = 5 });
        Assert.True(p.HasErrors);
        Assert.Contains("500", p.ErrorMessage);
        Assert.Contains("responder failed", p.ErrorMessage);
        Assert.Equal(3, Server.Requests.Count);
    }

    [Fact]
    public async Task ACompleteButUnreadableAnswerIsAnErrorPredictionWithoutRetries()
    {
        using var handler = new StubHandler("""{"object":"chat.completion","choices":[]}""");
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-x", options: Options() with { HttpMessageHandler = handler });
        var p = await lm.PredictAsync(new LmPrompt("hi") { MaxTokens = 5 });
        Assert.True(p.HasErrors);
        Assert.False(p.IsErrorPermanent);
        Assert.Contains("0 usable choices", p.ErrorMessage);
        Assert.Equal(1, handler.Calls);
    }

    [Theory]
    [InlineData("42")]
    [InlineData("{\"text\":\"hi\"}")]
    [InlineData("[\"a\"]")]
    [InlineData("true")]
    public async Task AContentThatIsNotAStringIsAMalformedResponseAndNotCached(string content)
    {
        using var cache = Caching.LmCache.OpenInMemory();
        using var lm = Lm(OpenAiModelNames.Gpt4oMini, cache);
        Server.EnqueueFault(Testing.FakeOpenAiFault.RawBody(
            "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":" + content + "},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}"));
        var p = await lm.PredictAsync(new LmPrompt("hi") { MaxTokens = 5 });
        Assert.True(p.HasErrors);
        Assert.Equal(LmErrorKind.MalformedResponse, p.Error!.Kind);
        Assert.Contains("content", p.ErrorMessage);
        Assert.Equal(0, cache.GetStats().Entries);

        // The next call asks again (nothing was cached) and gets the real answer.
        var again = await lm.PredictAsync(new LmPrompt("hi") { MaxTokens = 5 });
        Assert.False(again.HasErrors, again.ErrorMessage);
        Assert.False(again.WasCached);
        Assert.Equal(2, Server.Requests.Count);
    }

    [Fact]
    public async Task ANullContentIsStillAnEmptyAnswer()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        Server.EnqueueFault(Testing.FakeOpenAiFault.RawBody(
            "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":0,\"total_tokens\":1}}"));
        var p = await lm.PredictAsync(new LmPrompt("hi") { MaxTokens = 5 });
        Assert.False(p.HasErrors, p.ErrorMessage);
        Assert.Equal(string.Empty, p.CompletionText);
    }

    private sealed class StubHandler(string body) : HttpMessageHandler
    {
        public int Calls;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            return Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK) { Content = new StringContent(body) });
        }
    }
}
