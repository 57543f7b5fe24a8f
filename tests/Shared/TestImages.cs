namespace LmWrapper.TestSupport;

/// <summary>The tiny real images in tests/fixtures/images (made by make_images.py there), copied next to the test assembly.</summary>
internal static class TestImages
{
    public const string Png = "red-3x2.png";
    public const string Jpeg = "gray-40x30.jpg";
    public const string Gif = "green-5x4.gif";
    public const string AnimatedGif = "green-5x4-animated.gif";
    public const string WebP = "blue-7x6.webp";
    public const string WebPExtended = "blue-9x8-extended.webp";

    /// <summary>The full path of a fixture image.</summary>
    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "images", name);

    /// <summary>The bytes of a fixture image.</summary>
    public static byte[] Bytes(string name) => File.ReadAllBytes(PathOf(name));
}
