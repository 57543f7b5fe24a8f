using System.Net;
using System.Net.Sockets;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

/// <summary>Token counting: the count-tokens endpoint (remembered), and the labelled offline estimate.</summary>
public sealed class ClaudeTokenTests : ClaudeTestBase
{
    private static readonly LmPrompt Dialog = new([LmChatTurn.System("be short"), LmChatTurn.User("how many tokens is this")]);

    [Fact]
    public async Task CountTokensAsksTheEndpointOnceAndSendsTheDialog()
    {
        using var lm = Model();
        var count = await lm.CountTokensAsync(Dialog);
        Assert.False(count.IsEstimate);
        Assert.Equal(2 + 3 + 5, count.InputTokens); // the fake: words of system + messages, plus 3 per message

        var requests = Server.RequestsTo("/v1/messages/count_tokens");
        Assert.Single(requests);
        var body = requests[0].Json!;
        Assert.Equal("claude-3-5-haiku-20241022", body["model"]!.GetValue<string>());
        Assert.Equal("be short", body["system"]!.GetValue<string>());
        Assert.Null(body["max_tokens"]);

        Assert.Equal(count, await lm.CountTokensAsync(Dialog with { MaxTokens = 7, Temperature = 0 })); // same dialog: remembered
        Assert.Equal(ClaudeLm.EstimateTokensOffline(Dialog).InputTokens, lm.EstimateTokensInPrompt(Dialog)); // offline: no request
        Assert.Single(Server.RequestsTo("/v1/messages/count_tokens"));

        await lm.CountTokensAsync(new LmPrompt("another prompt"));
        Assert.Equal(2, Server.RequestsTo("/v1/messages/count_tokens").Count);
    }

    [Fact]
    public async Task WhenTheEndpointIsUnreachableTheEstimateComesBackLabelled()
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
        var count = await lm.CountTokensAsync(Dialog);
        Assert.True(count.IsEstimate);
        Assert.Equal(ClaudeLm.EstimateTokensOffline(Dialog), count);
        Assert.Equal(count.InputTokens, lm.EstimateTokensInPrompt(Dialog)); // does not throw offline
        Assert.False(lm.CouldCompletionGoOverTokenLimit(Dialog));
    }

    [Fact]
    public async Task AnOverloadedEndpointGivesTheEstimateWithoutRetrying()
    {
        Server.InjectFault(FakeAnthropicFault.Overloaded() with { PathPrefix = "/v1/messages/count_tokens" });
        using var lm = Model();
        var first = await lm.CountTokensAsync(Dialog);
        Assert.True(first.IsEstimate);
        Assert.Single(Server.Requests);
        var second = await lm.CountTokensAsync(Dialog); // the estimate was not remembered
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
    public void EstimateTokensSendsNothing()
    {
        using var lm = Model();
        Assert.Equal(ClaudeLm.EstimateTokensOffline(Dialog).InputTokens, lm.EstimateTokensInPrompt(Dialog));
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public void CouldCompletionGoOverTokenLimitUsesTheCountAndMaxTokens()
    {
        var tiny = ClaudeModelNames.Register(new ClaudeModelInfo("claude-test-tiny-window", 20, 10, 1m, 1m));
        using var lm = Model(tiny);
        Assert.False(lm.CouldCompletionGoOverTokenLimit(new LmPrompt("one two") { MaxTokens = 5 })); // offline: 3 + 4 + 2 = 9 tokens, + 5
        Assert.True(lm.CouldCompletionGoOverTokenLimit(new LmPrompt("one two three four five six seven eight") { MaxTokens = 10 })); // offline: 3 + 4 + 12 = 19 tokens, + 10
    }

    [Fact]
    public void WithATokensPerMinuteLimitPacingCountsOfflineAndSendsNoCountRequest()
    {
        var options = Options() with { ModelOptions = new LanguageModelOptions { CacheByDefault = true, Cache = Cache, TokensPerMinute = 1_000_000 } };
        using var lm = Model(options: options);
        lm.Predict(new LmPrompt("paced prompt") { Temperature = 0 });
        lm.Predict(new LmPrompt("paced prompt") { Temperature = 0.5 });
        Assert.Equal(["/v1/messages", "/v1/messages"], Server.Requests.Select(r => r.Path));
    }

    [Fact]
    public async Task ARejectedKeyWhileCountingIsAnAuthenticationError()
    {
        using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "wrong-key", Options());
        await Assert.ThrowsAsync<LmAuthenticationException>(() => lm.CountTokensAsync(Dialog));
    }
}
