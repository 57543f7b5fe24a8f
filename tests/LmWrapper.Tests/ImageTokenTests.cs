using LmWrapper.Images;

namespace LmWrapper.Tests;

/// <summary>The providers' image token formulas against their published worked examples.</summary>
public sealed class ImageTokenTests
{
    [Theory]
    [InlineData(1024, 1024, LmImageDetail.High, 765)]   // OpenAI: scaled to 768x768, 4 tiles: 170 * 4 + 85
    [InlineData(2048, 4096, LmImageDetail.High, 1105)]  // OpenAI: 1024x2048, then 768x1536, 6 tiles: 170 * 6 + 85
    [InlineData(4096, 8192, LmImageDetail.Low, 85)]     // OpenAI: low detail is a fixed 85
    [InlineData(2048, 4096, LmImageDetail.Auto, 1105)]  // auto is estimated as high
    [InlineData(500, 500, LmImageDetail.High, 255)]     // one tile, no scaling
    [InlineData(513, 500, LmImageDetail.High, 425)]     // two tiles
    public void OpenAiTileRule_MatchesTheWorkedExamples(int w, int h, LmImageDetail detail, int tokens) =>
        Assert.Equal(tokens, ImageTokens.OpenAiTiles(w, h, detail, 85, 170));

    [Fact]
    public void OpenAiTileRule_UsesTheModelsConstants()
    {
        Assert.Equal(2833 + (4 * 5667), ImageTokens.OpenAiTiles(1024, 1024, LmImageDetail.High, 2833, 5667)); // gpt-4o-mini
        Assert.Equal(2833, ImageTokens.OpenAiTiles(1024, 1024, LmImageDetail.Low, 2833, 5667));
        Assert.Equal(85 + (8 * 170), ImageTokens.OpenAiTiles(null, null, LmImageDetail.High, 85, 170));      // a URL: the most tiles
    }

    [Theory]
    [InlineData(1024, 1024, 1024)]  // OpenAI: 32 x 32 patches, under the 1536 cap
    [InlineData(1800, 2400, 1452)]  // OpenAI: shrunk by 0.603, then to 33 patches across: 33 x 44
    public void OpenAiPatchRule_MatchesTheWorkedExamples(int w, int h, int patches)
    {
        Assert.Equal(patches, ImageTokens.PatchCount(w, h));
        Assert.Equal(patches, ImageTokens.OpenAiPatches(w, h, 1.0));
        Assert.Equal((int)Math.Ceiling(patches * 1.62), ImageTokens.OpenAiPatches(w, h, 1.62)); // gpt-4.1-mini
    }

    [Theory]
    [InlineData(200, 200, 54)]      // Claude: ~54 tokens
    [InlineData(1000, 1000, 1334)]  // Claude: ~1334 tokens
    [InlineData(1092, 1092, 1590)]  // Claude: the largest 1:1 image not resized, ~1590 tokens
    [InlineData(3000, 2000, 1600)]  // resized to the ~1,600 token cap
    [InlineData(5000, 100, 66)]     // long edge to 1568: 1568 x 31.36 / 750 = 65.6
    public void ClaudeRule_MatchesTheWorkedExamples(int w, int h, int tokens) =>
        Assert.Equal(tokens, ImageTokens.Claude(w, h));
}
