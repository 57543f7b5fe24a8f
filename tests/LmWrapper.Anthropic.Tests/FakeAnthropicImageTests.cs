using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LmWrapper.Testing.Anthropic;
using LmWrapper.TestSupport;

namespace LmWrapper.Anthropic.Tests;

/// <summary>The fake Anthropic server takes valid image blocks and rejects malformed ones with the real API's messages.</summary>
public sealed class FakeAnthropicImageTests : IAsyncLifetime
{
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

    private static string Png64 => Convert.ToBase64String(TestImages.Bytes(TestImages.Png));

    private static string Body(string source) =>
        "{\"model\":\"claude-3-5-haiku-20241022\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":"
        + source + "},{\"type\":\"text\",\"text\":\"What is this?\"}]}]}";

    private static string Base64Source(string mediaType, string data) => $"{{\"type\":\"base64\",\"media_type\":\"{mediaType}\",\"data\":\"{data}\"}}";

    [Fact]
    public async Task AValidImage_IsAnsweredAndCounted()
    {
        var (status, json) = await PostAsync("/v1/messages", Body(Base64Source("image/png", Png64)));
        Assert.Equal(HttpStatusCode.OK, status);
        var (_, text) = await PostAsync("/v1/messages", "{\"model\":\"claude-3-5-haiku-20241022\",\"max_tokens\":50,\"messages\":[{\"role\":\"user\",\"content\":\"What is this?\"}]}");
        Assert.Equal(1, json!["usage"]!["input_tokens"]!.GetValue<int>() - text!["usage"]!["input_tokens"]!.GetValue<int>()); // 3 x 2 / 750, rounded up

        var (count, counted) = await PostAsync("/v1/messages/count_tokens", Body(Base64Source("image/png", Png64)).Replace("\"max_tokens\":50,", "", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, count);
        Assert.Equal(json["usage"]!["input_tokens"]!.GetValue<int>(), counted!["input_tokens"]!.GetValue<int>());

        var (urlStatus, _) = await PostAsync("/v1/messages", Body("{\"type\":\"url\",\"url\":\"https://example.com/a.png\"}"));
        Assert.Equal(HttpStatusCode.OK, urlStatus);
    }

    [Theory]
    [InlineData("image/jpeg", "PNG", "messages.0.content.0.image.source.base64.data: Image does not match the provided media type image/jpeg")]
    [InlineData("image/bmp", "PNG", "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")]
    [InlineData("image/png", "%%%", "messages.0.content.0.image.source.base64.data: Invalid base64 data")]
    [InlineData("image/png", "aGVsbG8gd29ybGQ=", "messages.0.content.0.image.source.base64.data: Could not process image")]
    public async Task AMalformedImageBlock_IsA400WithTheRealMessage(string mediaType, string data, string message)
    {
        var (status, json) = await PostAsync("/v1/messages", Body(Base64Source(mediaType, data == "PNG" ? Png64 : data)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", json!["error"]!["type"]!.GetValue<string>());
        Assert.Equal(message, json["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnUnknownSourceType_IsA400()
    {
        var (status, json) = await PostAsync("/v1/messages", Body("{\"type\":\"ftp\",\"url\":\"x\"}"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("'base64', 'file', 'url'", json!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private async Task<(HttpStatusCode Status, JsonNode? Json)> PostAsync(string path, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-api-key", FakeAnthropicServer.DefaultApiKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await _http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(text));
    }
}
