using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LmWrapper.Testing;
using LmWrapper.TestSupport;

namespace LmWrapper.OpenAI.Tests;

/// <summary>The fake OpenAI server takes valid image_url parts and rejects malformed ones as the real API does.</summary>
public sealed class FakeOpenAiImageTests : IAsyncLifetime
{
    private readonly FakeOpenAiServer _server = new();
    private readonly HttpClient _http = new();

    public Task InitializeAsync() => _server.StartAsync();

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private static string PngDataUrl => "data:image/png;base64," + Convert.ToBase64String(TestImages.Bytes(TestImages.Png));

    private static string Body(string model, string part, string role = "user") =>
        $$"""{"model":"{{model}}","messages":[{"role":"{{role}}","content":[{"type":"text","text":"What is this?"},{{part}}]}]}""";

    private static string ImagePart(string url, string? detail = null) =>
        detail is null
            ? "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + url + "\"}}"
            : "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + url + "\",\"detail\":\"" + detail + "\"}}";

    [Fact]
    public async Task AValidImage_IsAnsweredAndCountedByTheTileRule()
    {
        var (status, json) = await PostAsync(Body("gpt-4o", ImagePart(PngDataUrl, "high")));
        Assert.Equal(HttpStatusCode.OK, status);
        var (_, textOnly) = await PostAsync("""{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"}]}]}""");
        int difference = json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() - textOnly.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        Assert.Equal(85 + 170, difference); // 3x2 px: one tile

        var (_, low) = await PostAsync(Body("gpt-4o", ImagePart(PngDataUrl, "low")));
        Assert.Equal(85, low.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() - textOnly.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        var (urlStatus, _) = await PostAsync(Body("gpt-4o", ImagePart("https://example.com/cat.jpg")));
        Assert.Equal(HttpStatusCode.OK, urlStatus);
    }

    [Theory]
    [InlineData("gpt-4o", "data:image/png;base64,%%%notbase64%%%", null, "user", "messages[0].content[1].image_url.url", "invalid_value", "not valid base64")]
    [InlineData("gpt-4o", "data:image/bmp;base64,Qk0=", null, "user", "messages[0].content[1].image_url.url", "invalid_value", "unsupported MIME type 'image/bmp'")]
    [InlineData("gpt-4o", "data:image/png;base64,aGVsbG8gd29ybGQ=", null, "user", null, "invalid_image_format", "unsupported image")]
    [InlineData("gpt-4o", "PNG", "medium", "user", "messages[0].content[1].image_url.detail", "invalid_value", "'auto', 'low', and 'high'")]
    [InlineData("gpt-3.5-turbo", "PNG", null, "user", "messages[0].content[1].type", null, "image_url is only supported by certain models")]
    [InlineData("gpt-4", "PNG", null, "user", "messages[0].content[1].type", null, "image_url is only supported by certain models")]
    [InlineData("gpt-4o", "PNG", null, "system", "messages[0].content[1].type", "invalid_value", "Supported values are: 'text'.")]
    [InlineData("gpt-4o", "not a url", null, "user", "messages[0].content[1].image_url.url", "invalid_value", "valid URL")]
    public async Task AMalformedImagePart_IsA400LikeTheRealApi(string model, string url, string? detail, string role, string? param, string? code, string says)
    {
        var (status, json) = await PostAsync(Body(model, ImagePart(url == "PNG" ? PngDataUrl : url, detail), role));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = json.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains(says, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(param, error.GetProperty("param").ValueKind == JsonValueKind.Null ? null : error.GetProperty("param").GetString());
        Assert.Equal(code, error.GetProperty("code").ValueKind == JsonValueKind.Null ? null : error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task AnImageUrlThatIsNotAnObject_OrIsMissing_IsA400()
    {
        var (status, json) = await PostAsync(Body("gpt-4o", "{\"type\":\"image_url\",\"image_url\":\"" + PngDataUrl + "\"}"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("messages[0].content[1].image_url", json.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains("expected an object", json.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        (status, json) = await PostAsync(Body("gpt-4o", "{\"type\":\"image_url\"}"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("missing_required_parameter", json.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task AnUnknownPartType_IsA400()
    {
        var (status, json) = await PostAsync(Body("gpt-4o", """{"type":"picture","url":"x"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("messages[0].content[1].type", json.GetProperty("error").GetProperty("param").GetString());
    }

    private async Task<(HttpStatusCode Status, JsonElement Json)> PostAsync(string json)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, _server.BaseUrl + "/chat/completions") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
        using var resp = await _http.SendAsync(req);
        return (resp.StatusCode, JsonDocument.Parse(await resp.Content.ReadAsStringAsync()).RootElement.Clone());
    }
}
