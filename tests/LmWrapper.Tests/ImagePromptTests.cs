using LmWrapper.Caching;
using LmWrapper.TestSupport;

namespace LmWrapper.Tests;

/// <summary>Content parts on chat turns: factories, validation, equality, cache keys over image bytes, JSON, MockLm and the refusal on models without vision.</summary>
public sealed class ImagePromptTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static LmImage Png => LmImage.FromFile(TestImages.PathOf(TestImages.Png));

    private static LmImage Gif => LmImage.FromFile(TestImages.PathOf(TestImages.Gif));

    [Fact]
    public void UserFactory_KeepsTheTextInContent_AndThePartsInOrder()
    {
        var turn = LmChatTurn.User("What is in this picture?", Png, Gif);
        Assert.Equal(LmChatRole.User, turn.Role);
        Assert.Equal("What is in this picture?", turn.Content);
        Assert.True(turn.HasImages);
        Assert.Equal(3, turn.Parts!.Count);
        Assert.Equal("What is in this picture?", turn.Parts[0].Text);
        Assert.Equal(Png, turn.Parts[1].Image);
        Assert.Equal(Gif, turn.Parts[2].Image);
        Assert.Equal(LmImageDetail.Auto, turn.Parts[1].Detail);

        var interleaved = LmChatTurn.User([LmContentPart.FromText("first"), LmContentPart.FromImage(Png, LmImageDetail.Low), LmContentPart.FromText("second")]);
        Assert.Equal("first\nsecond", interleaved.Content);
        Assert.Equal(LmImageDetail.Low, interleaved.Parts![1].Detail);

        var imageOnly = LmChatTurn.User("", Png);
        Assert.Equal(string.Empty, imageOnly.Content);
        new LmPrompt([imageOnly]).Validate();

        var plain = LmChatTurn.User("no images");
        Assert.Null(plain.Parts);
        Assert.False(plain.HasImages);
        Assert.False(new LmPrompt([plain]).HasImages);
        Assert.True(new LmPrompt([plain, LmChatTurn.Assistant("ok"), imageOnly]).HasImages);
    }

    [Fact]
    public void Equality_ComparesPartsByValue()
    {
        Assert.Equal(LmChatTurn.User("look", Png), LmChatTurn.User("look", LmImage.FromBytes(TestImages.Bytes(TestImages.Png))));
        Assert.NotEqual(LmChatTurn.User("look", Png), LmChatTurn.User("look", Gif));
        Assert.NotEqual(LmChatTurn.User("look", Png), LmChatTurn.User("look"));
        Assert.Equal(LmChatTurn.User("look", Png).GetHashCode(), LmChatTurn.User("look", LmImage.FromBytes(TestImages.Bytes(TestImages.Png))).GetHashCode());
        Assert.NotEqual(
            LmChatTurn.User([LmContentPart.FromImage(Png, LmImageDetail.Low)]),
            LmChatTurn.User([LmContentPart.FromImage(Png, LmImageDetail.High)]));
        Assert.Equal(new LmPrompt([LmChatTurn.User("look", Png)]), new LmPrompt([LmChatTurn.User("look", Png)]));
    }

    [Fact]
    public void Validation_RefusesImagesOutsideUserTurns_AndContentThatDisagreesWithParts()
    {
        var onAssistant = new LmChatTurn(LmChatRole.Assistant, "") { Parts = [LmContentPart.FromImage(Png)] };
        var e = Assert.Throws<LmPromptException>(() => new LmPrompt([LmChatTurn.User("hi"), onAssistant]).Validate());
        Assert.Contains("user turns only", e.Message, StringComparison.Ordinal);
        Assert.Equal(nameof(LmPrompt.Chat), e.FieldName);

        var changed = LmChatTurn.User("look", Png) with { Content = "something else" };
        e = Assert.Throws<LmPromptException>(() => new LmPrompt([changed]).Validate());
        Assert.Contains("Content", e.Message, StringComparison.Ordinal);

        var badDetail = LmChatTurn.User([LmContentPart.FromImage(Png, (LmImageDetail)7)]);
        Assert.Contains("detail", Assert.Throws<LmPromptException>(() => new LmPrompt([badDetail]).Validate()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TextOnlyParts_ThatMatchContent_ReadAsAPlainTurn()
    {
        var turn = new LmChatTurn(LmChatRole.User, "a\nb") { Parts = [LmContentPart.FromText("a"), LmContentPart.FromText("b")] };
        Assert.Null(turn.Parts);
        Assert.Equal(LmChatTurn.User("a\nb"), turn);
    }

    [Fact]
    public void CacheKey_HashesTheImageBytes_NotThePath()
    {
        string a = _dir.File("a.png"), b = _dir.File("b.png");
        File.Copy(TestImages.PathOf(TestImages.Png), a);
        File.Copy(TestImages.PathOf(TestImages.Png), b);
        CacheKey Key(string path) => CacheKey.Compute("m", new LmPrompt([LmChatTurn.User("what?", LmImage.FromFile(path))]));

        Assert.Equal(Key(a), Key(b));                          // two files, same bytes: same entry

        File.Copy(TestImages.PathOf(TestImages.Gif), a, overwrite: true);
        Assert.NotEqual(Key(a), Key(b));                       // a changed file misses

        var text = CacheKey.Compute("m", new LmPrompt([LmChatTurn.User("what?")]));
        Assert.NotEqual(text, Key(b));                         // an image changes the key
        Assert.NotEqual(
            CacheKey.Compute("m", new LmPrompt([LmChatTurn.User([LmContentPart.FromImage(Png, LmImageDetail.Low)])])),
            CacheKey.Compute("m", new LmPrompt([LmChatTurn.User([LmContentPart.FromImage(Png, LmImageDetail.High)])])));
        Assert.NotEqual(
            CacheKey.Compute("m", new LmPrompt([LmChatTurn.User([LmContentPart.FromText("x"), LmContentPart.FromImage(Png)])])),
            CacheKey.Compute("m", new LmPrompt([LmChatTurn.User([LmContentPart.FromImage(Png), LmContentPart.FromText("x")])])));
        Assert.NotEqual(
            CacheKey.Compute("m", new LmPrompt([LmChatTurn.User("x", LmImage.FromUrl(new Uri("https://example.com/a.png")))])),
            CacheKey.Compute("m", new LmPrompt([LmChatTurn.User("x", LmImage.FromUrl(new Uri("https://example.com/b.png")))])));
    }

    [Fact]
    public void PromptJson_RoundTripsImages()
    {
        var prompt = new LmPrompt(
        [
            LmChatTurn.System("Be brief."),
            LmChatTurn.User([LmContentPart.FromText("Compare"), LmContentPart.FromImage(Png, LmImageDetail.High), LmContentPart.FromImage(LmImage.FromUrl(new Uri("https://example.com/x.jpg")), LmImageDetail.Low)]),
        ]) { MaxTokens = 5 };
        string json = prompt.ToJson();
        Assert.Contains("\"parts\"", json, StringComparison.Ordinal);
        Assert.Contains("data:image/png;base64,", json, StringComparison.Ordinal);
        var back = LmPrompt.FromJson(json);
        Assert.Equal(prompt, back);
        Assert.Equal(CacheKey.Compute("m", prompt), CacheKey.Compute("m", back));
    }

    [Fact]
    public async Task MockLm_TakesImages_AndEchoesWhatItSaw_ThroughTheCache()
    {
        using var cache = LmCache.Open(_dir.File("cache.sqlite3"));
        using var lm = new MockLm(options: new LanguageModelOptions { Cache = cache, CacheByDefault = true }, isChatModel: true);
        Assert.True(lm.ModelInfo.Has(LmCapabilities.Vision));
        var prompt = new LmPrompt([LmChatTurn.User("What is this?", Png)]);
        var p = await lm.PredictAsync(prompt, CancellationToken.None);
        Assert.Equal($"What is this? {Png}", p.CompletionText);
        Assert.Contains("image/png 3x2", p.CompletionText, StringComparison.Ordinal);

        string copy = _dir.File("copy.png");
        File.Copy(TestImages.PathOf(TestImages.Png), copy);
        var again = await lm.PredictAsync(new LmPrompt([LmChatTurn.User("What is this?", LmImage.FromFile(copy))]), CancellationToken.None);
        Assert.True(again.WasCached);
        Assert.Equal(1, lm.CallCount);

        var other = await lm.PredictAsync(new LmPrompt([LmChatTurn.User("What is this?", Gif)]), CancellationToken.None);
        Assert.False(other.WasCached);
        Assert.Contains("image/gif 5x4", other.CompletionText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AModelWithoutVision_RefusesImages_BeforeAnyCall()
    {
        var lm = new CountingLm(new LanguageModelOptions { CacheByDefault = false });
        Assert.False(lm.ModelInfo.Has(LmCapabilities.Vision));
        var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(new LmPrompt([LmChatTurn.User("What is this?", Png)]), CancellationToken.None));
        Assert.Contains("does not take images", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, lm.CallCount);
        Assert.Throws<LmPromptException>(() => lm.EstimateCost(new LmPrompt([LmChatTurn.User("What is this?", Png)])));
    }
}
