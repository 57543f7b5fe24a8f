using System.Buffers.Binary;
using System.Text.Json.Nodes;
using LmWrapper.Testing.Anthropic;
using LmWrapper.TestSupport;

namespace LmWrapper.Anthropic.Tests;

/// <summary>Images on Claude: image blocks in ordinary, batch and streaming requests, count tokens, estimates, usage and limits.</summary>
public sealed class ClaudeImageTests : ClaudeBatchTestBase
{
    private static LmImage Png => LmImage.FromFile(TestImages.PathOf(TestImages.Png));

    private static LmImage Jpeg => LmImage.FromFile(TestImages.PathOf(TestImages.Jpeg));

    /// <summary>A PNG whose header says <paramref name="width"/> x <paramref name="height"/> (only the header is read, by both sides).</summary>
    private static LmImage PngOfSize(int width, int height, int extraBytes = 0)
    {
        var real = TestImages.Bytes(TestImages.Png);
        var bytes = new byte[real.Length + extraBytes];
        real.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), height);
        return LmImage.FromBytes(bytes);
    }

    private static LmPrompt Ask(LmImage image, string text = "What is in this picture?") =>
        new([LmChatTurn.User(text, image)]) { MaxTokens = 20, Temperature = 0 };

    [Fact]
    public async Task TheImageIsSentAsABase64ImageBlock_AndTheFakeSeesIt()
    {
        FakeAnthropicMessageRequest? seen = null;
        Server.Responder = r =>
        {
            seen = r;
            return FakeAnthropicServer.DefaultResponder(r);
        };
        using var lm = Model();
        Assert.True(lm.ModelInfo.Has(LmCapabilities.Vision));
        var p = await lm.PredictAsync(new LmPrompt([LmChatTurn.User([LmContentPart.FromImage(Jpeg), LmContentPart.FromText("Describe it.")])]) { MaxTokens = 20 });
        Assert.False(p.HasErrors, p.ErrorMessage);

        var content = LastBody["messages"]![0]!["content"]!.AsArray();
        Assert.Equal("image", content[0]!["type"]!.GetValue<string>());
        var source = content[0]!["source"]!;
        Assert.Equal("base64", source["type"]!.GetValue<string>());
        Assert.Equal("image/jpeg", source["media_type"]!.GetValue<string>());
        Assert.Equal(Jpeg.ToBase64(), source["data"]!.GetValue<string>());
        Assert.Equal("text", content[1]!["type"]!.GetValue<string>());
        Assert.Equal("Describe it.", content[1]!["text"]!.GetValue<string>());

        var image = Assert.Single(seen!.Images);
        Assert.Equal(("image/jpeg", 40, 30, 2), (image.MediaType!, image.Width!.Value, image.Height!.Value, image.Tokens)); // 1200 / 750
    }

    [Fact]
    public async Task AUrlImageIsSentAsAUrlSource()
    {
        using var lm = Model();
        await lm.PredictAsync(Ask(LmImage.FromUrl(new Uri("https://example.com/ant.jpg"))));
        var source = LastBody["messages"]![0]!["content"]![1]!["source"]!;
        Assert.Equal("url", source["type"]!.GetValue<string>());
        Assert.Equal("https://example.com/ant.jpg", source["url"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(200, 200, 54)]
    [InlineData(1000, 1000, 1334)]
    [InlineData(1092, 1092, 1590)]
    [InlineData(4000, 3000, 1600)]
    public async Task ImageTokens_FollowWidthTimesHeightOver750_InTheEstimate_CountTokens_AndUsage(int w, int h, int tokens)
    {
        using var lm = Model();
        var withImage = Ask(PngOfSize(w, h));
        var textOnly = new LmPrompt([LmChatTurn.User("What is in this picture?")]) { MaxTokens = 20, Temperature = 0 };
        Assert.Equal(tokens, lm.EstimateImageTokens(PngOfSize(w, h)));
        Assert.Equal(tokens, lm.EstimateTokensInPrompt(withImage) - lm.EstimateTokensInPrompt(textOnly));
        Assert.Equal(tokens, ClaudeLm.EstimateTokensOffline(withImage).InputTokens - ClaudeLm.EstimateTokensOffline(textOnly).InputTokens);

        var counted = await lm.CountTokensAsync(withImage);
        var countedText = await lm.CountTokensAsync(textOnly);
        Assert.False(counted.IsEstimate);
        Assert.Equal(tokens, counted.InputTokens - countedText.InputTokens);

        var a = await lm.PredictAsync(withImage);
        var b = await lm.PredictAsync(textOnly);
        Assert.Equal(tokens, a.Usage!.InputTokens - b.Usage!.InputTokens);
        Assert.True(lm.EstimateCost(withImage).InputCost > lm.EstimateCost(textOnly).InputCost);
    }

    [Fact]
    public async Task AStreamedAnswer_SendsTheImageBlock_AndReportsTheSameUsage()
    {
        using var lm = Model();
        var prompt = Ask(Png) with { Cache = false };
        var (_, streamed) = await StreamCollector.CollectAsync(lm, prompt);
        Assert.True(LastBody["stream"]!.GetValue<bool>());
        Assert.Equal("image", LastBody["messages"]![0]!["content"]![1]!["type"]!.GetValue<string>());
        var whole = await lm.PredictAsync(prompt);
        Assert.Equal(whole.CompletionText, streamed.CompletionText);
        Assert.Equal(whole.Usage, streamed.Usage);
    }

    [Fact]
    public void BatchRequests_CarryTheImageBlocks_AndCacheByImageBytes()
    {
        using var lm = BatchModel();
        var gif = LmImage.FromFile(TestImages.PathOf(TestImages.Gif));
        var results = lm.PredictMany([Ask(Png), Ask(gif)], CompletionWindow.BatchAny).ToList();
        Assert.All(results, r => Assert.False(r.HasErrors, r.ErrorMessage));
        var parameters = ParamsOf(Assert.Single(CreateRequests)).Values.Select(p => JsonNode.Parse(p)!.AsObject()).ToList();
        var media = parameters.Select(p => p["messages"]![0]!["content"]![1]!["source"]!["media_type"]!.GetValue<string>()).Order().ToList();
        Assert.Equal(["image/gif", "image/png"], media);

        int before = Server.Requests.Count;
        var again = lm.Predict(Ask(LmImage.FromBytes(TestImages.Bytes(TestImages.Png))));
        Assert.True(again.WasCached);
        Assert.Equal(before, Server.Requests.Count);
    }

    [Fact]
    public async Task ClaudesLimits_AreCheckedBeforeSending()
    {
        using var lm = Model();
        var e = await Assert.ThrowsAsync<LmImageException>(() => lm.PredictAsync(Ask(PngOfSize(8001, 100))));
        Assert.Contains("8000x8000", e.Message, StringComparison.Ordinal);

        var manyParts = Enumerable.Range(0, 21).Select(_ => LmContentPart.FromImage(PngOfSize(2001, 100))).ToList();
        e = await Assert.ThrowsAsync<LmImageException>(() => lm.PredictAsync(new LmPrompt([LmChatTurn.User(manyParts)]) { MaxTokens = 5 }));
        Assert.Contains("2000x2000", e.Message, StringComparison.Ordinal);

        var tooMany = Enumerable.Range(0, 101).Select(_ => LmContentPart.FromImage(Png)).ToList();
        e = await Assert.ThrowsAsync<LmImageException>(() => lm.PredictAsync(new LmPrompt([LmChatTurn.User(tooMany)]) { MaxTokens = 5 }));
        Assert.Contains("100", e.Message, StringComparison.Ordinal);

        e = await Assert.ThrowsAsync<LmImageException>(() => lm.PredictAsync(Ask(PngOfSize(100, 100, extraBytes: 4 * 1024 * 1024))));
        Assert.Contains("5 MB", e.Message, StringComparison.Ordinal);
        Assert.Empty(MessageRequests);
    }

    [Fact]
    public async Task WhitespaceTextNextToAnImage_IsRefusedAsClaudeWould()
    {
        using var lm = Model();
        var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(new LmPrompt([LmChatTurn.User([LmContentPart.FromText("  "), LmContentPart.FromImage(Png)])]) { MaxTokens = 5 }));
        Assert.Contains("whitespace", e.Message, StringComparison.Ordinal);
        var imageOnly = await lm.PredictAsync(new LmPrompt([LmChatTurn.User("", Png)]) { MaxTokens = 5 });
        Assert.False(imageOnly.HasErrors, imageOnly.ErrorMessage);
    }
}
