using System.Globalization;
using System.Security.Cryptography;
using LmWrapper.Images;

namespace LmWrapper;

/// <summary>
/// An image for a chat turn (see <see cref="LmContentPart"/> and <see cref="LmChatTurn.User(string, LmImage[])"/>): its
/// bytes, with the media type and size read from them, or a remote URL the provider fetches itself. Immutable.
/// </summary>
/// <remarks>
/// The bytes are read once, when the image is made; the media type is sniffed from the magic bytes (PNG, JPEG, GIF,
/// WebP; anything else is an <see cref="LmImageException"/>) and the width and height from the format's header (they
/// drive the token estimates). Two images are equal when their bytes are (SHA-256), wherever they came from; URL images
/// are equal when their URLs are. The cache key hashes the bytes, never a file path.
/// </remarks>
public sealed class LmImage : IEquatable<LmImage>
{
    private readonly byte[]? _data;
    private readonly byte[]? _sha256;

    private LmImage(byte[] data, ImageHeader header)
    {
        _data = data;
        _sha256 = SHA256.HashData(data);
        MediaType = header.MediaType;
        Width = header.Width;
        Height = header.Height;
    }

    private LmImage(Uri url) => Url = url;

    /// <summary>Whether the image is an animated GIF (more than one frame). OpenAI takes only non-animated GIFs and refuses these before sending.</summary>
    public bool IsAnimated => _data is not null && MediaType == "image/gif" && ImageHeader.IsAnimatedGif(_data);

    /// <summary>The remote URL of an image made with <see cref="FromUrl"/>; null for an image that holds its bytes.</summary>
    public Uri? Url { get; }

    /// <summary>Whether this is a remote URL (no bytes here; the provider downloads it).</summary>
    public bool IsUrl => Url is not null;

    /// <summary>"image/png", "image/jpeg", "image/gif" or "image/webp"; null for a URL image (not downloaded).</summary>
    public string? MediaType { get; }

    /// <summary>The width in pixels (from the header); null for a URL image.</summary>
    public int? Width { get; }

    /// <summary>The height in pixels (from the header); null for a URL image.</summary>
    public int? Height { get; }

    /// <summary>The image's bytes (empty for a URL image).</summary>
    public ReadOnlyMemory<byte> Data => _data;

    /// <summary>How many bytes the image is (0 for a URL image).</summary>
    public int ByteCount => _data?.Length ?? 0;

    /// <summary>The SHA-256 of the bytes as 64 lower-case hex digits (what equality and the cache key use); null for a URL image.</summary>
    public string? Sha256 => _sha256 is null ? null : Convert.ToHexStringLower(_sha256);

    /// <summary>The bytes in base64 (as the APIs take them); null for a URL image.</summary>
    public string? ToBase64() => _data is null ? null : Convert.ToBase64String(_data);

    /// <summary>The image as a <c>data:</c> URI (<c>data:image/png;base64,…</c>), or the URL of a URL image.</summary>
    public string ToDataUri() => Url?.AbsoluteUri ?? $"data:{MediaType};base64,{ToBase64()}";

    /// <summary>Reads an image file now (later changes to the file do not change this image).</summary>
    /// <param name="path">The file's path.</param>
    /// <exception cref="LmImageException">The file is not a PNG, JPEG, GIF or WebP image.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static LmImage FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return FromOwnedBytes(File.ReadAllBytes(path), null, $"The file {path}");
    }

    /// <summary>An image from its bytes (copied).</summary>
    /// <param name="bytes">The encoded image (PNG, JPEG, GIF or WebP).</param>
    /// <param name="mediaType">The media type you expect, checked against the bytes; null to take what the bytes are.</param>
    /// <exception cref="LmImageException">The bytes are not one of the four formats, or not the <paramref name="mediaType"/> given.</exception>
    public static LmImage FromBytes(ReadOnlySpan<byte> bytes, string? mediaType = null) => FromOwnedBytes(bytes.ToArray(), mediaType, null);

    /// <summary>
    /// An image read from a stream (to its end; the stream is left open). Blocks the calling thread until the stream
    /// ends; <see cref="FromStreamAsync"/> does not, and takes a cancellation token.
    /// </summary>
    /// <param name="stream">The stream.</param>
    /// <exception cref="LmImageException">The bytes are not a PNG, JPEG, GIF or WebP image.</exception>
    public static LmImage FromStream(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return FromOwnedBytes(buffer.ToArray(), null, null);
    }

    /// <summary>An image read from a stream asynchronously (to its end; the stream is left open).</summary>
    /// <param name="stream">The stream.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="LmImageException">The bytes are not a PNG, JPEG, GIF or WebP image.</exception>
    public static async Task<LmImage> FromStreamAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return FromOwnedBytes(buffer.ToArray(), null, null);
    }

    /// <summary>
    /// A remote image, passed to the provider as its URL (nothing is downloaded here, so its media type and size are
    /// unknown and token estimates assume the largest an image can cost). A <c>data:</c> URI is read as <see cref="FromDataUri"/>.
    /// </summary>
    /// <param name="url">An absolute http or https URL.</param>
    /// <exception cref="LmImageException">The URL is not absolute http(s) (or a malformed data URI).</exception>
    public static LmImage FromUrl(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (url.IsAbsoluteUri && url.Scheme == "data")
        {
            return FromDataUri(url.OriginalString);
        }

        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
        {
            throw new LmImageException($"An image URL must be an absolute http or https URL, but was \"{url.OriginalString}\".", nameof(LmPrompt.Chat));
        }

        return new LmImage(url);
    }

    /// <summary>An image from a <c>data:</c> URI such as <c>data:image/png;base64,iVBORw0…</c>.</summary>
    /// <param name="dataUri">The URI; its media type must match the bytes.</param>
    /// <exception cref="LmImageException">Not a base64 data URI, bad base64, or bytes that are not the declared format.</exception>
    public static LmImage FromDataUri(string dataUri)
    {
        ArgumentNullException.ThrowIfNull(dataUri);
        const string Marker = ";base64,";
        int comma = dataUri.IndexOf(Marker, StringComparison.OrdinalIgnoreCase);
        if (!dataUri.StartsWith("data:", StringComparison.OrdinalIgnoreCase) || comma < 0)
        {
            string start = dataUri.Length > 40 ? dataUri[..40] + "…" : dataUri;
            throw new LmImageException($"Not a base64 data URI (expected data:<media type>;base64,<data>): \"{start}\".", nameof(LmPrompt.Chat));
        }

        string declared = dataUri[5..comma];
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(dataUri[(comma + Marker.Length)..]);
        }
        catch (FormatException)
        {
            throw new LmImageException("The data URI's base64 data is not valid base64.", nameof(LmPrompt.Chat));
        }

        return FromOwnedBytes(bytes, declared.Length == 0 ? null : declared, "The data URI");
    }

    private static LmImage FromOwnedBytes(byte[] bytes, string? mediaType, string? source)
    {
        ImageHeader header;
        try
        {
            header = ImageHeader.Read(bytes);
        }
        catch (LmImageException e) when (source is not null)
        {
            throw new LmImageException($"{source}: {e.Message}", e.FieldName);
        }

        if (mediaType is not null && !string.Equals(NormalizeMediaType(mediaType), header.MediaType, StringComparison.Ordinal))
        {
            throw new LmImageException(
                $"{source ?? "The image"} is declared as \"{mediaType}\", but its bytes are a {header.MediaType} image. Give the right media type or none.",
                nameof(LmPrompt.Chat));
        }

        return new LmImage(bytes, header);
    }

    private static string NormalizeMediaType(string mediaType)
    {
        string m = mediaType.Trim().ToLowerInvariant();
        return m == "image/jpg" ? "image/jpeg" : m;
    }

    /// <summary>Equal when both hold the same bytes (by SHA-256), or both are the same URL.</summary>
    /// <param name="other">The image to compare with.</param>
    public bool Equals(LmImage? other) =>
        other is not null
        && (ReferenceEquals(this, other)
            || (_sha256 is not null ? other._sha256 is not null && _sha256.AsSpan().SequenceEqual(other._sha256) : Url == other.Url && Url!.OriginalString == other.Url!.OriginalString));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as LmImage);

    /// <inheritdoc/>
    public override int GetHashCode() =>
        _sha256 is not null ? BitConverter.ToInt32(_sha256, 0) : StringComparer.Ordinal.GetHashCode(Url!.OriginalString);

    /// <summary>A short description, such as <c>[image/png 640x480, 12345 bytes, sha256 1f2e3d4c…]</c> or <c>[image https://…]</c>.</summary>
    public override string ToString() =>
        Url is not null
            ? $"[image {Url.OriginalString}]"
            : string.Create(CultureInfo.InvariantCulture, $"[{MediaType} {Width}x{Height}, {ByteCount} bytes, sha256 {Sha256![..12]}…]");

    /// <summary>The SHA-256 of the bytes (32 bytes), or null for a URL image.</summary>
    internal ReadOnlySpan<byte> Sha256Bytes => _sha256;
}
