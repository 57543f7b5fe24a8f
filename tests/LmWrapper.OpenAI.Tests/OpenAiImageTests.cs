using System.Buffers.Binary;
using System.Text.Json;
using LmWrapper.Testing;
using LmWrapper.TestSupport;

namespace LmWrapper.OpenAI.Tests;

/// <summary>Images on OpenAI chat models: the content array in ordinary, batch and streaming requests, tokens and cost, limits and refusals.</summary>
public sealed class OpenAiImageTests : OpenAiBatchTestBase
{
    private static LmImage Png => LmImage.FromFile(TestImages.PathOf(TestImages.Png));

    /// <summary>A PNG whose header says <paramref name="width"/> x <paramref name="height"/> (only the header is read, by both sides).</summary>
    internal static LmImage PngOfSize(int width, int height)
    {
        var bytes = TestImages.Bytes(TestImages.Png);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), height);
        return LmImage.FromBytes(bytes);
    }

    private static LmPrompt Ask(params LmContentPart[] parts) => new([LmChatTurn.User(parts)]) { MaxTokens = 10, Temperature = 0 };

    [Fact]
    public async Task TheImageIsSentAsAnImageUrlPart_AndTheFakeSeesIt()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4o);
        var p = await lm.PredictAsync(Ask(LmContentPart.FromText("What is in this picture?"), LmContentPart.FromImage(Png, LmImageDetail.Low)));
        Assert.False(p.HasErrors, p.ErrorMessage);

        var content = LastRequest.Json.GetProperty("messages")[0].GetProperty("content");
        Assert.Equal(JsonValueKind.Array, content.ValueKind);
        Assert.Equal("text", content[0].GetProperty("type").GetString());
        Assert.Equal("What is in this picture?", content[0].GetProperty("text").GetString());
        Assert.Equal("image_url", content[1].GetProperty("type").GetString());
        Assert.Equal(Png.ToDataUri(), content[1].GetProperty("image_url").GetProperty("url").GetString());
        Assert.Equal("low", content[1].GetProperty("image_url").GetProperty("detail").GetString());

        var seen = Assert.Single(LastGeneration!.Messages[0].Images);
        Assert.Equal(("image/png", 3, 2, "low"), (seen.MediaType!, seen.Width!.Value, seen.Height!.Value, seen.Detail));
    }

    [Fact]
    public async Task AutoDetailIsLeftOut_AndAUrlImageIsSentAsItsUrl()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4o);
        await lm.PredictAsync(Ask(LmContentPart.FromImage(LmImage.FromUrl(new Uri("https://example.com/cat.png"))), LmContentPart.FromText("Describe.")));
        var part = LastRequest.Json.GetProperty("messages")[0].GetProperty("content")[0].GetProperty("image_url");
        Assert.Equal("https://example.com/cat.png", part.GetProperty("url").GetString());
        Assert.False(part.TryGetProperty("detail", out _));
    }

    [Theory]
    [InlineData(OpenAiModelNames.Gpt4o, 1024, 1024, LmImageDetail.High, 765)]
    [InlineData(OpenAiModelNames.Gpt4o, 2048, 4096, LmImageDetail.Auto, 1105)]
    [InlineData(OpenAiModelNames.Gpt4o, 4096, 8192, LmImageDetail.Low, 85)]
    [InlineData(OpenAiModelNames.Gpt4oMini, 1024, 1024, LmImageDetail.High, 2833 + (4 * 5667))]
    [InlineData(OpenAiModelNames.Gpt41Mini, 1800, 2400, LmImageDetail.High, 2353)] // 1452 patches x 1.62
    [InlineData(OpenAiModelNames.O3, 1024, 1024, LmImageDetail.High, 75 + (4 * 150))]
    public async Task ImageTokens_AreCountedTheSameByTheEstimateAndTheFakesUsage_AndBilled(string model, int w, int h, LmImageDetail detail, int tokens)
    {
        using var lm = Lm(model);
        var withImage = Ask(LmContentPart.FromText("Describe it."), LmContentPart.FromImage(PngOfSize(w, h), detail)) with { MaxTokens = 50, Temperature = 1 };
        var textOnly = Ask(LmContentPart.FromText("Describe it.")) with { MaxTokens = 50, Temperature = 1 };
        Assert.Equal(tokens, lm.EstimateImageTokens(PngOfSize(w, h), detail));
        Assert.Equal(tokens, lm.EstimateTokensInPrompt(withImage) - lm.EstimateTokensInPrompt(textOnly));

        var a = await lm.PredictAsync(withImage);
        var b = await lm.PredictAsync(textOnly);
        Assert.False(a.HasErrors, a.ErrorMessage);
        Assert.Equal(tokens, a.Usage!.InputTokens - b.Usage!.InputTokens);
        Assert.True(lm.EstimateCost(withImage).InputCost > lm.EstimateCost(textOnly).InputCost);
    }

    [Fact]
    public async Task AStreamedAnswer_SendsTheSameContentArray_AndReportsTheImageTokens()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var prompt = Ask(LmContentPart.FromText("What is this?"), LmContentPart.FromImage(Png)) with { Cache = false };
        var (_, streamed) = await StreamCollector.CollectAsync(lm, prompt);
        var request = LastRequest.Json;
        Assert.True(request.GetProperty("stream").GetBoolean());
        Assert.Equal("image_url", request.GetProperty("messages")[0].GetProperty("content")[1].GetProperty("type").GetString());
        var whole = await lm.PredictAsync(prompt);
        Assert.Equal(whole.CompletionText, streamed.CompletionText);
        Assert.Equal(whole.Usage, streamed.Usage);
        Assert.True(streamed.Usage!.InputTokens > 8500); // 3x2 px is one tile: 2833 + 5667
    }

    [Fact]
    public void BatchLines_CarryTheImages_AndTheAnswersAreCachedByImageBytes()
    {
        using var lm = BatchLm(OpenAiModelNames.Gpt4oMini);
        var gif = LmImage.FromFile(TestImages.PathOf(TestImages.Gif));
        var prompts = new[] { Ask(LmContentPart.FromText("What is this?"), LmContentPart.FromImage(Png)), Ask(LmContentPart.FromText("What is this?"), LmContentPart.FromImage(gif)) };
        var results = lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        Assert.All(results, r => Assert.False(r.HasErrors, r.ErrorMessage));

        var lines = Assert.Single(UploadedLines());
        Assert.Equal(2, lines.Count);
        var urls = lines.Select(l => l.GetProperty("body").GetProperty("messages")[0].GetProperty("content")[1].GetProperty("image_url").GetProperty("url").GetString()).ToList();
        Assert.Contains(Png.ToDataUri(), urls);
        Assert.Contains(gif.ToDataUri(), urls);

        // The same bytes from another source hit the cache; nothing new is sent.
        int before = Server.Requests.Count;
        var again = lm.Predict(Ask(LmContentPart.FromText("What is this?"), LmContentPart.FromImage(LmImage.FromBytes(TestImages.Bytes(TestImages.Png)))));
        Assert.True(again.WasCached);
        Assert.Equal(results[0].CompletionText, again.CompletionText);
        Assert.Equal(before, Server.Requests.Count);
    }

    [Theory]
    [InlineData(OpenAiModelNames.Gpt35Turbo)]
    [InlineData(OpenAiModelNames.Gpt4)]
    [InlineData(OpenAiModelNames.O3Mini)]
    [InlineData(OpenAiModelNames.Davinci002)]
    public async Task AModelWithoutVision_RefusesImagesBeforeSending(string model)
    {
        using var lm = Lm(model);
        Assert.False(lm.ModelInfo.Has(LmCapabilities.Vision));
        var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(Ask(LmContentPart.FromText("What?"), LmContentPart.FromImage(Png))));
        Assert.Contains("does not take images", e.Message, StringComparison.Ordinal);
        Assert.Empty(Server.Requests);
    }

    [Theory]
    [InlineData(OpenAiModelNames.Gpt4o)]
    [InlineData(OpenAiModelNames.Gpt4oMini)]
    [InlineData(OpenAiModelNames.Gpt41Nano)]
    [InlineData(OpenAiModelNames.Gpt5)]
    [InlineData(OpenAiModelNames.O1)]
    [InlineData(OpenAiModelNames.O4Mini)]
    public void VisionModels_SayTheyTakeImages(string model)
    {
        using var lm = Lm(model);
        Assert.True(lm.ModelInfo.Has(LmCapabilities.Vision));
    }

    [Fact]
    public async Task OpenAisLimits_AreCheckedBeforeSending()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4o);
        var header = TestImages.Bytes(TestImages.Png);
        var huge = new byte[(20 * 1024 * 1024) + 1];
        header.CopyTo(huge, 0);
        var e = await Assert.ThrowsAsync<LmImageException>(() => lm.PredictAsync(Ask(LmContentPart.FromImage(LmImage.FromBytes(huge)))));
        Assert.Contains("20 MB", e.Message, StringComparison.Ordinal);

        var many = Enumerable.Range(0, 501).Select(_ => LmContentPart.FromImage(Png)).ToArray();
        e = await Assert.ThrowsAsync<LmImageException>(() => lm.PredictAsync(Ask(many)));
        Assert.Contains("500", e.Message, StringComparison.Ordinal);

        var big = new byte[(15 * 1024 * 1024) + 1];
        header.CopyTo(big, 0);
        var four = Enumerable.Range(0, 4).Select(i => { big[^1] = (byte)i; return LmContentPart.FromImage(LmImage.FromBytes(big)); }).ToArray();
        e = await Assert.ThrowsAsync<LmImageException>(() => lm.PredictAsync(Ask(four)));
        Assert.Contains("50 MB", e.Message, StringComparison.Ordinal);

        e = await Assert.ThrowsAsync<LmImageException>(() => lm.PredictAsync(Ask(LmContentPart.FromImage(LmImage.FromFile(TestImages.PathOf(TestImages.AnimatedGif))))));
        Assert.Contains("animated GIF", e.Message, StringComparison.Ordinal);
        Assert.Empty(Server.Requests);
    }

    private FakeOpenAiGenerationRequest? LastGeneration => _generations.LastOrDefault();

    private readonly List<FakeOpenAiGenerationRequest> _generations = [];

    /// <summary>Records what the responder saw, then answers as the default does.</summary>
    protected override FakeOpenAiServerOptions? ServerOptions => new()
    {
        BatchStagePolls = 1,
        Responder = r =>
        {
            lock (_generations)
            {
                _generations.Add(r);
            }

            return FakeOpenAiServer.DefaultResponder(r);
        },
    };
}
