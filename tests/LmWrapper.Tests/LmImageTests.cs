using System.Buffers.Binary;
using LmWrapper.TestSupport;

namespace LmWrapper.Tests;

/// <summary>LmImage: every source, media type sniffing, header sizes, clear errors, and equality by content.</summary>
public sealed class LmImageTests
{
    [Theory]
    [InlineData(TestImages.Png, "image/png", 3, 2)]
    [InlineData(TestImages.Jpeg, "image/jpeg", 40, 30)]
    [InlineData(TestImages.Gif, "image/gif", 5, 4)]
    [InlineData(TestImages.WebP, "image/webp", 7, 6)]
    [InlineData(TestImages.WebPExtended, "image/webp", 9, 8)]
    public void FromFile_SniffsTheMediaTypeAndReadsTheSize(string file, string mediaType, int width, int height)
    {
        var image = LmImage.FromFile(TestImages.PathOf(file));
        Assert.Equal(mediaType, image.MediaType);
        Assert.Equal(width, image.Width);
        Assert.Equal(height, image.Height);
        Assert.False(image.IsUrl);
        Assert.Equal(TestImages.Bytes(file), image.Data.ToArray());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(TestImages.Bytes(file))), image.Sha256);
    }

    [Fact]
    public void LossyWebP_SizeComesFromTheVp8FrameHeader()
    {
        // RIFF, WEBP, a "VP8 " chunk: frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height.
        var bytes = new byte[40];
        "RIFF"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 32);
        "WEBPVP8 "u8.CopyTo(bytes.AsSpan(8));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), 20);
        bytes[23] = 0x9D;
        bytes[24] = 0x01;
        bytes[25] = 0x2A;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(26), 1000 | (1 << 14)); // the top 2 bits are a scale, not size
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(28), 750);
        var image = LmImage.FromBytes(bytes);
        Assert.Equal(("image/webp", 1000, 750), (image.MediaType, image.Width!.Value, image.Height!.Value));
    }

    [Theory]
    [InlineData("BM\x36\0\0\0\0\0", "BMP")]
    [InlineData("%PDF-1.7", "PDF")]
    [InlineData("II*\0\x08\0\0\0", "TIFF")]
    [InlineData("hello world", "unknown format")]
    public void UnsupportedBytes_AreATypedErrorNamingWhatWasFound(string content, string named)
    {
        var bytes = content.Select(c => (byte)c).ToArray();
        var e = Assert.Throws<LmImageException>(() => LmImage.FromBytes(bytes));
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
        Assert.Contains("PNG, JPEG, GIF or WebP", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<LmPromptException>(e);
    }

    [Fact]
    public void EmptyOrCutShortImages_AreRefused()
    {
        Assert.Contains("empty", Assert.Throws<LmImageException>(() => LmImage.FromBytes([])).Message, StringComparison.Ordinal);
        var png = TestImages.Bytes(TestImages.Png);
        Assert.Contains("cut short", Assert.Throws<LmImageException>(() => LmImage.FromBytes(png.AsSpan(0, 20))).Message, StringComparison.Ordinal);
        var jpeg = TestImages.Bytes(TestImages.Jpeg);
        Assert.Contains("JPEG", Assert.Throws<LmImageException>(() => LmImage.FromBytes(jpeg.AsSpan(0, 74))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromFile_NamesTheFileOfABadImage()
    {
        using var dir = new TempDir();
        string path = dir.File("notes.png");
        File.WriteAllText(path, "not an image");
        var e = Assert.Throws<LmImageException>(() => LmImage.FromFile(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromBytes_ChecksAGivenMediaType()
    {
        var png = TestImages.Bytes(TestImages.Png);
        Assert.Equal("image/png", LmImage.FromBytes(png, "image/png").MediaType);
        var e = Assert.Throws<LmImageException>(() => LmImage.FromBytes(png, "image/jpeg"));
        Assert.Contains("image/jpeg", e.Message, StringComparison.Ordinal);
        Assert.Contains("image/png", e.Message, StringComparison.Ordinal);
        Assert.Equal("image/jpeg", LmImage.FromBytes(TestImages.Bytes(TestImages.Jpeg), "image/jpg").MediaType);
    }

    [Fact]
    public void FromBytes_CopiesTheBytes()
    {
        var png = TestImages.Bytes(TestImages.Png);
        var image = LmImage.FromBytes(png);
        png[^1] ^= 0xFF;
        Assert.Equal(TestImages.Bytes(TestImages.Png), image.Data.ToArray());
    }

    [Fact]
    public async Task FromStream_AndItsAsyncTwin_ReadToTheEnd()
    {
        var gif = TestImages.Bytes(TestImages.Gif);
        using var s1 = new MemoryStream(gif);
        using var s2 = new MemoryStream(gif);
        var a = LmImage.FromStream(s1);
        var b = await LmImage.FromStreamAsync(s2, CancellationToken.None);
        Assert.Equal("image/gif", a.MediaType);
        Assert.Equal(a, b);
        Assert.True(s1.CanRead); // left open
        using var s3 = new MemoryStream(gif);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => LmImage.FromStreamAsync(s3, cts.Token));
    }

    [Fact]
    public void AnAnimatedGif_IsToldFromAStillOne()
    {
        var animated = LmImage.FromFile(TestImages.PathOf(TestImages.AnimatedGif));
        Assert.Equal(("image/gif", 5, 4), (animated.MediaType, animated.Width!.Value, animated.Height!.Value));
        Assert.True(animated.IsAnimated);
        Assert.False(LmImage.FromFile(TestImages.PathOf(TestImages.Gif)).IsAnimated);
        Assert.False(LmImage.FromFile(TestImages.PathOf(TestImages.Png)).IsAnimated);
        Assert.False(LmImage.FromUrl(new Uri("https://example.com/a.gif")).IsAnimated);
    }

    [Fact]
    public void DataUri_RoundTripsAndIsChecked()
    {
        var jpeg = LmImage.FromFile(TestImages.PathOf(TestImages.Jpeg));
        string uri = jpeg.ToDataUri();
        Assert.StartsWith("data:image/jpeg;base64,", uri, StringComparison.Ordinal);
        Assert.Equal(jpeg, LmImage.FromDataUri(uri));
        Assert.Equal(jpeg, LmImage.FromUrl(new Uri(uri)));

        Assert.Contains("base64", Assert.Throws<LmImageException>(() => LmImage.FromDataUri("data:image/png;base64,@@not base64@@")).Message, StringComparison.Ordinal);
        Assert.Contains("image/png", Assert.Throws<LmImageException>(() => LmImage.FromDataUri(uri.Replace("image/jpeg", "image/png", StringComparison.Ordinal))).Message, StringComparison.Ordinal);
        Assert.Throws<LmImageException>(() => LmImage.FromDataUri("https://example.com/cat.png"));
    }

    [Fact]
    public void FromUrl_TakesAbsoluteHttpUrlsOnly_AndDownloadsNothing()
    {
        var image = LmImage.FromUrl(new Uri("https://example.com/cat.png"));
        Assert.True(image.IsUrl);
        Assert.Null(image.MediaType);
        Assert.Null(image.Width);
        Assert.Equal(0, image.ByteCount);
        Assert.Equal("https://example.com/cat.png", image.ToDataUri());
        Assert.Throws<LmImageException>(() => LmImage.FromUrl(new Uri("ftp://example.com/cat.png")));
        Assert.Throws<LmImageException>(() => LmImage.FromUrl(new Uri("cat.png", UriKind.Relative)));
    }

    [Fact]
    public void Equality_IsByContent_NotBySource()
    {
        using var dir = new TempDir();
        string copy = dir.File("same.png");
        File.Copy(TestImages.PathOf(TestImages.Png), copy);
        var a = LmImage.FromFile(TestImages.PathOf(TestImages.Png));
        var b = LmImage.FromFile(copy);
        var c = LmImage.FromBytes(TestImages.Bytes(TestImages.Png));
        Assert.Equal(a, b);
        Assert.Equal(a, c);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, LmImage.FromFile(TestImages.PathOf(TestImages.Gif)));
        Assert.Equal(LmImage.FromUrl(new Uri("https://example.com/a.png")), LmImage.FromUrl(new Uri("https://example.com/a.png")));
        Assert.NotEqual(LmImage.FromUrl(new Uri("https://example.com/a.png")), LmImage.FromUrl(new Uri("https://example.com/b.png")));
        Assert.NotEqual(a, LmImage.FromUrl(new Uri("https://example.com/a.png")));
    }

    [Fact]
    public void ToString_DescribesTheImage()
    {
        var image = LmImage.FromFile(TestImages.PathOf(TestImages.Png));
        Assert.Equal($"[image/png 3x2, {image.ByteCount} bytes, sha256 {image.Sha256![..12]}…]", image.ToString());
        Assert.Equal("[image https://example.com/a.png]", LmImage.FromUrl(new Uri("https://example.com/a.png")).ToString());
    }
}
