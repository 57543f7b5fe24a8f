using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

/// <summary>The fake server's <c>thinking</c>, through raw HTTP: the real API's rules, its answer's signed block, and the checks on replies.</summary>
public sealed class FakeAnthropicThinkingTests : IAsyncLifetime
{
    private const string Sonnet = "claude-sonnet-4-20250514";
    private readonly FakeAnthropicServer _server = new();
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        await _server.StartAsync();
        _http = new HttpClient { BaseAddress = _server.BaseUrl };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonNode Json)> PostAsync(string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-api-key", FakeAnthropicServer.DefaultApiKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await _http.SendAsync(request);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private static string Body(string thinking, string extra = "", string model = Sonnet, int maxTokens = 4000, string messages = """[{"role":"user","content":"What is 2+2?"}]""") =>
        $$"""{"model":"{{model}}","max_tokens":{{maxTokens}},"thinking":{{thinking}},"messages":{{messages}}{{extra}}}""";

    private const string Enabled = """{"type":"enabled","budget_tokens":2048}""";

    [Theory]
    [InlineData("""{"type":"enabled","budget_tokens":1000}""", "", Sonnet, 4000, "greater than or equal to 1024")]
    [InlineData("""{"type":"enabled","budget_tokens":4000}""", "", Sonnet, 4000, "`max_tokens` must be greater than `thinking.budget_tokens`")]
    [InlineData("""{"type":"enabled"}""", "", Sonnet, 4000, "budget_tokens: Field required")]
    [InlineData("""{"type":"sometimes","budget_tokens":2048}""", "", Sonnet, 4000, "does not match any of the expected tags")]
    [InlineData(Enabled, "", "claude-3-5-haiku-20241022", 4000, "does not support thinking")]
    [InlineData(Enabled, ""","temperature":0.5""", Sonnet, 4000, "`temperature` may only be set to 1")]
    [InlineData(Enabled, ""","top_p":0.5""", Sonnet, 4000, "`top_p` must be greater than or equal to 0.95")]
    [InlineData(Enabled, ""","top_k":5""", Sonnet, 4000, "`top_k` must be unset")]
    public async Task WhatTheRealApiRefusesIsA400(string thinking, string extra, string model, int maxTokens, string says)
    {
        var (status, json) = await PostAsync(Body(thinking, extra, model, maxTokens));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", json["error"]!["type"]!.GetValue<string>());
        Assert.Contains(says, json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheAnswerStartsWithASignedThinkingBlockCountedInTheOutputTokens()
    {
        var (status, json) = await PostAsync(Body(Enabled, ""","temperature":1"""));
        Assert.Equal(HttpStatusCode.OK, status);
        var content = json["content"]!.AsArray();
        Assert.Equal("thinking", content[0]!["type"]!.GetValue<string>());
        Assert.Equal("text", content[1]!["type"]!.GetValue<string>());
        string thinking = content[0]!["thinking"]!.GetValue<string>();
        Assert.False(string.IsNullOrEmpty(content[0]!["signature"]!.GetValue<string>()));
        int output = json["usage"]!["output_tokens"]!.GetValue<int>();
        Assert.Equal(FakeAnthropicServer.CountTokens(thinking) + FakeAnthropicServer.CountTokens(content[1]!["text"]!.GetValue<string>()), output);

        // Disabled thinking answers with text only.
        var (_, plain) = await PostAsync(Body("""{"type":"disabled"}"""));
        Assert.Equal("text", Assert.Single(plain["content"]!.AsArray())!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task RepliesMustCarryThinkingBlocksBackUnchangedAndOnlyInAssistantTurns()
    {
        var (_, first) = await PostAsync(Body(Enabled));
        var block = first["content"]![0]!.ToJsonString();
        string Reply(string thinkingBlock, string role = "assistant") =>
            $$"""[{"role":"user","content":"What is 2+2?"},{"role":"{{role}}","content":[{{thinkingBlock}},{"type":"text","text":"Four."}]},{"role":"user","content":"Sure?"}]""";

        var (ok, _) = await PostAsync(Body(Enabled, messages: Reply(block)));
        Assert.Equal(HttpStatusCode.OK, ok);

        var changed = first["content"]![0]!.DeepClone().AsObject();
        changed["thinking"] = "Something else entirely.";
        var (bad, json) = await PostAsync(Body(Enabled, messages: Reply(changed.ToJsonString())));
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Contains("Invalid `signature` in `thinking` block", json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var (noSignature, _) = await PostAsync(Body(Enabled, messages: Reply("""{"type":"thinking","thinking":"hm"}""")));
        Assert.Equal(HttpStatusCode.BadRequest, noSignature);
        var (forgedRedacted, _) = await PostAsync(Body(Enabled, messages: Reply("""{"type":"redacted_thinking","data":"bm90IG91cnM="}""")));
        Assert.Equal(HttpStatusCode.BadRequest, forgedRedacted);
        var (inUserTurn, _) = await PostAsync(Body(Enabled, messages: $$"""[{"role":"user","content":[{{block}},{"type":"text","text":"Hi"}]}]"""));
        Assert.Equal(HttpStatusCode.BadRequest, inUserTurn);
    }

    [Fact]
    public async Task APrefillWithThinkingMustStartWithAThinkingBlock()
    {
        var (status, json) = await PostAsync(Body(Enabled, messages: """[{"role":"user","content":"Hi"},{"role":"assistant","content":"Well,"}]"""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("must start with a thinking block", json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
