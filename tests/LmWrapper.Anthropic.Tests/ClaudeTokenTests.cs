using System.Net;
using System.Net.Sockets;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

/// <summary>Token counting: the count-tokens endpoint (remembered), and the labelled offline estimate.</summary>
public sealed class ClaudeTokenTests : ClaudeTestBase
{
    private static readonly LmPrompt Dialog = new([LmChatTurn.System("be short"), LmChatTurn.User("how many tokens is this")]);

    [Fact]
    public void CountTokensAsksTheEndpointOnceAndSendsTheDialog()
    {
        using var lm = Model();
        var count = lm.CountTokens(Dialog);
        Assert.False(count.IsEstimate);
        Assert.Equal(2 + 3 + 5, count.InputTokens); // the fake: words of system + messages, plus 3 per message

        var requests = Server.RequestsTo("/v1/messages/count_tokens");
        Assert.Single(requests);
        var body = requests[0].Json!;
        Assert.Equal("claude-3-5-haiku-20241022", body["model"]!.GetValue<string>());
        Assert.Equal("be short", body["system"]!.GetValue<string>());
        Assert.Null(body["max_tokens"]);

        Assert.Equal(count, lm.CountTokens(Dialog with { MaxTokens = 7, Temperature = 0 })); // same dialog: remembered
        Assert.Equal(count.InputTokens, lm.EstimateTokensInPrompt(Dialog));
        Assert.Single(Server.RequestsTo("/v1/messages/count_tokens"));

        lm.CountTokens(new LmPrompt("another prompt"));
        Assert.Equal(2, Server.RequestsTo("/v1/messages/count_tokens").Count);
    }

    [Fact]
    public void WhenTheEndpointIsUnreachableTheEstimateComesBackLabelled()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }

        var options = Options() with { BaseUrl = new Uri($"http://127.0.0.1:{port}/") };
        using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "k", options);
        var count = lm.CountTokens(Dialog);
        Assert.True(count.IsEstimate);
        Assert.Equal(ClaudeLm.EstimateTokensOffline(Dialog), count);
        Assert.Equal(count.InputTokens, lm.EstimateTokensInPrompt(Dialog)); // does not throw offline
        Assert.False(lm.CouldCompletionGoOverTokenLimit(Dialog));
    }

    [Fact]
    public void AnOverloadedEndpointGivesTheEstimateWithoutRetrying()
    {
        Server.InjectFault(FakeAnthropicFault.Overloaded() with { PathPrefix = "/v1/messages/count_tokens" });
        using var lm = Model();
        var first = lm.CountTokens(Dialog);
        Assert.True(first.IsEstimate);
        Assert.Single(Server.Requests);
        var second = lm.CountTokens(Dialog); // the estimate was not remembered
        Assert.False(second.IsEstimate);
    }

    [Fact]
    public void TheOfflineEstimateIsAboutThreeAndAHalfCharactersPerToken()
    {
        var text = new string('a', 350);
        var estimate = ClaudeLm.EstimateTokensOffline(new LmPrompt(text));
        Assert.True(estimate.IsEstimate);
        Assert.InRange(estimate.InputTokens, 100, 110);
        Assert.True(ClaudeLm.EstimateTokensOffline(Dialog).InputTokens < estimate.InputTokens);
    }

    [Fact]
    public void WithOnlineCountingOffEstimateTokensSendsNothing()
    {
        using var lm = Model(options: Options() with { CountTokensOnline = false });
        Assert.Equal(ClaudeLm.EstimateTokensOffline(Dialog).InputTokens, lm.EstimateTokensInPrompt(Dialog));
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public void CouldCompletionGoOverTokenLimitUsesTheCountAndMaxTokens()
    {
        var tiny = ClaudeModelNames.Register(new ClaudeModelInfo("claude-test-tiny-window", 20, 10, 1m, 1m));
        using var lm = Model(tiny);
        Assert.False(lm.CouldCompletionGoOverTokenLimit(new LmPrompt("one two") { MaxTokens = 5 })); // 5 + 5
        Assert.True(lm.CouldCompletionGoOverTokenLimit(new LmPrompt("one two three four five six seven eight") { MaxTokens = 10 })); // 11 + 10
    }

    [Fact]
    public void WithATokensPerMinuteLimitEachNewPromptIsCountedOnceBeforeItIsSent()
    {
        var options = Options() with { ModelOptions = new LanguageModelOptions { Cache = Cache, TokensPerMinute = 1_000_000 } };
        using var lm = Model(options: options);
        lm.Predict(new LmPrompt("paced prompt") { Temperature = 0 });
        lm.Predict(new LmPrompt("paced prompt") { Temperature = 0.5 }); // same dialog: the count is remembered
        Assert.Equal(
            ["/v1/messages/count_tokens", "/v1/messages", "/v1/messages"],
            Server.Requests.Select(r => r.Path));

        using var offline = Model(options: options with { CountTokensOnline = false });
        offline.Predict(new LmPrompt("another paced prompt"));
        Assert.Equal("/v1/messages", Server.Requests[^1].Path);
        Assert.Equal(4, Server.Requests.Count);
    }

    [Fact]
    public void ARejectedKeyWhileCountingIsAnAuthenticationError()
    {
        using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "wrong-key", Options());
        Assert.Throws<LmAuthenticationException>(() => lm.CountTokens(Dialog));
    }
}
