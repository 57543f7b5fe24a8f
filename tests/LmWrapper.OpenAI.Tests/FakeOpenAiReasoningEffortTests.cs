using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

/// <summary>The fake OpenAI server takes reasoning_effort as the real API does.</summary>
public sealed class FakeOpenAiReasoningEffortTests : IAsyncLifetime
{
    private readonly FakeOpenAiServer _server = new();
    private readonly HttpClient _http = new();

    public Task InitializeAsync() => _server.StartAsync();

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [Theory]
    [InlineData("gpt-4o-mini", "low", "unsupported_parameter")]
    [InlineData("o1-mini", "low", "unsupported_parameter")]
    [InlineData("o3", "minimal", "unsupported_value")]
    [InlineData("gpt-5", "none", "unsupported_value")]
    [InlineData("gpt-5.1", "minimal", "unsupported_value")]
    [InlineData("gpt-5", "extreme", "invalid_value")]
    public async Task AnEffortTheModelDoesNotTakeIsA400(string model, string effort, string code)
    {
        var (status, json) = await PostAsync($$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hi"}],"reasoning_effort":"{{effort}}"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = json.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal("reasoning_effort", error.GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("o3", "low", 8)]
    [InlineData("o3", null, 16)]
    [InlineData("gpt-5", "minimal", 4)]
    [InlineData("gpt-5.1", null, 0)]
    [InlineData("gpt-5.1", "high", 32)]
    public async Task ReasoningTokensFollowTheEffort(string model, string? effort, int reasoning)
    {
        string extra = effort is null ? "" : $",\"reasoning_effort\":\"{effort}\"";
        var (status, json) = await PostAsync($$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hi"}]{{extra}}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var usage = json.GetProperty("usage");
        Assert.Equal(reasoning, usage.GetProperty("completion_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        Assert.True(usage.GetProperty("completion_tokens").GetInt32() >= reasoning);
    }

    private async Task<(HttpStatusCode Status, JsonElement Json)> PostAsync(string json)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, _server.BaseUrl + "/chat/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
        using var resp = await _http.SendAsync(req);
        return (resp.StatusCode, JsonDocument.Parse(await resp.Content.ReadAsStringAsync()).RootElement.Clone());
    }
}
