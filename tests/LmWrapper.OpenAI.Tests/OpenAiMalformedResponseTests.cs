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
