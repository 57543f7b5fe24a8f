using LmWrapper.Extensions.AI;
using LmWrapper.TestSupport;
using Microsoft.Extensions.AI;

namespace LmWrapper.Extensions.Tests;

/// <summary>Images through the Microsoft.Extensions.AI bridge, both ways: DataContent/UriContent images become LmImage parts, and back.</summary>
public sealed class ChatClientImageTests
{
    private static byte[] PngBytes => TestImages.Bytes(TestImages.Png);

    [Fact]
    public async Task AsChatClient_MapsDataAndUriImagesToContentParts()
    {
        using var lm = new MockLm(isChatModel: true);
        var client = lm.AsChatClient();
        var gif = new DataContent(TestImages.Bytes(TestImages.Gif), "image/gif") { AdditionalProperties = new() { ["detail"] = "low" } };
        var prompt = client.ToPrompt([new ChatMessage(ChatRole.User, [new TextContent("Compare"), new DataContent(PngBytes, "image/png"), gif, new UriContent(new Uri("https://example.com/c.jpg"), "image/jpeg")])]);
        var turn = Assert.Single(prompt.Chat!);
        Assert.Equal("Compare", turn.Content);
        Assert.Equal(4, turn.Parts!.Count);
        Assert.Equal(LmImage.FromBytes(PngBytes), turn.Parts[1].Image);
        Assert.Equal(("image/gif", LmImageDetail.Low), (turn.Parts[2].Image!.MediaType, turn.Parts[2].Detail));
        Assert.Equal(new Uri("https://example.com/c.jpg"), turn.Parts[3].Image!.Url);

        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, [new TextContent("What is this?"), new DataContent(PngBytes, "image/png")])]);
        Assert.Contains("image/png 3x2", response.Text, StringComparison.Ordinal);
        Assert.Equal(1, lm.CallCount);
    }

    [Fact]
    public async Task AsChatClient_RefusesBadImagesAndImagesOnANonUserTurn_BeforeAnythingRuns()
    {
        using var lm = new MockLm(isChatModel: true);
        var client = lm.AsChatClient();
        var e = await Assert.ThrowsAsync<LmImageException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1, 2, 3 }, "image/png")])]));
        Assert.Contains("PNG, JPEG, GIF or WebP", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<LmImageException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, [new DataContent(PngBytes, "image/jpeg")])]));
        await Assert.ThrowsAnyAsync<LmPromptException>(() => client.GetResponseAsync(
            [new ChatMessage(ChatRole.User, "hi"), new ChatMessage(ChatRole.Assistant, [new DataContent(PngBytes, "image/png")])]));
        Assert.Equal(0, lm.CallCount);
    }

    [Fact]
    public async Task AsLanguageModel_SendsImagesAsDataAndUriContent_OnlyWhenTheClientSaysVision()
    {
        var client = new RecordingChatClient();
        var prompt = new LmPrompt([LmChatTurn.User([LmContentPart.FromText("What is this?"), LmContentPart.FromImage(LmImage.FromBytes(PngBytes), LmImageDetail.High), LmContentPart.FromImage(LmImage.FromUrl(new Uri("https://example.com/a.png")))])]);

        using (var plain = client.AsLanguageModel())
        {
            Assert.False(plain.ModelInfo.Has(LmCapabilities.Vision));
            await Assert.ThrowsAsync<LmPromptException>(() => plain.PredictAsync(prompt));
            Assert.Empty(client.Calls);
        }

        using var vision = client.AsLanguageModel(new ChatClientLanguageModelOptions { Capabilities = LmCapabilities.Vision });
        Assert.True(vision.ModelInfo.Has(LmCapabilities.Vision));
        Assert.True(vision.EstimateTokensInPrompt(prompt) >= 3200);
        await vision.PredictAsync(prompt);
        var (messages, _) = Assert.Single(client.Calls);
        var contents = Assert.Single(messages).Contents;
        Assert.Equal("What is this?", Assert.IsType<TextContent>(contents[0]).Text);
        var data = Assert.IsType<DataContent>(contents[1]);
        Assert.Equal("image/png", data.MediaType);
        Assert.Equal(PngBytes, data.Data.ToArray());
        Assert.Equal("high", data.AdditionalProperties!["detail"]);
        Assert.Equal(new Uri("https://example.com/a.png"), Assert.IsType<UriContent>(contents[2]).Uri);
    }

    [Fact]
    public async Task ARoundTrip_KeepsTheWrappedModelsVision()
    {
        using var mock = new MockLm(isChatModel: true);
        using var back = mock.AsChatClient().AsLanguageModel();
        Assert.True(back.ModelInfo.Has(LmCapabilities.Vision));
        var p = await back.PredictAsync(new LmPrompt([LmChatTurn.User("Look:", LmImage.FromBytes(PngBytes))]));
        Assert.Contains("image/png 3x2", p.CompletionText, StringComparison.Ordinal);
    }
}
