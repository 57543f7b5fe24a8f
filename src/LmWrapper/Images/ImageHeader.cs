using System.Buffers.Binary;
using System.Globalization;

namespace LmWrapper.Images;

/// <summary>What an image's first bytes say: its media type and its size in pixels.</summary>
/// <param name="MediaType">"image/png", "image/jpeg", "image/gif" or "image/webp".</param>
/// <param name="Width">The width in pixels.</param>
/// <param name="Height">The height in pixels.</param>
internal readonly record struct ImageHeader(string MediaType, int Width, int Height)
{
    /// <summary>The media types LmWrapper (and both APIs) take.</summary>
    public static readonly string[] SupportedMediaTypes = ["image/png", "image/jpeg", "image/gif", "image/webp"];

    /// <summary>Reads the media type and size from the magic bytes and the format's header.</summary>
    /// <param name="data">The whole image.</param>
    /// <exception cref="LmImageException">Not one of the four formats, or its header is cut short or has no size.</exception>
    public static ImageHeader Read(ReadOnlySpan<byte> data)
    {
        if (data.Length >= 8 && data[..8].SequenceEqual(PngMagic))
        {
            return ReadPng(data);
        }

        if (data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        {
            return ReadJpeg(data);
        }

        if (data.Length >= 6 && (data[..6].SequenceEqual("GIF87a"u8) || data[..6].SequenceEqual("GIF89a"u8)))
        {
            if (data.Length < 10)
            {
                throw Truncated("GIF");
            }

            return Checked(new("image/gif", BinaryPrimitives.ReadUInt16LittleEndian(data[6..]), BinaryPrimitives.ReadUInt16LittleEndian(data[8..])));
        }

        if (data.Length >= 12 && data[..4].SequenceEqual("RIFF"u8) && data[8..12].SequenceEqual("WEBP"u8))
        {
            return ReadWebP(data);
        }

        throw new LmImageException(
            $"The image is {Describe(data)}, not a PNG, JPEG, GIF or WebP image (the formats the providers take). Convert it to PNG or JPEG first.",
            nameof(LmPrompt.Chat));
    }

    /// <summary>
    /// Whether a GIF has more than one frame (an animation; OpenAI takes only non-animated GIFs). Walks the GIF's blocks:
    /// extensions and image descriptors with their data sub-blocks. False for any other format, or a GIF cut short.
    /// </summary>
    public static bool IsAnimatedGif(ReadOnlySpan<byte> d)
    {
        if (d.Length < 13 || !d.StartsWith("GIF"u8))
        {
            return false;
        }

        int i = 13;
        if ((d[10] & 0x80) != 0)
        {
            i += 3 * (1 << ((d[10] & 0x07) + 1)); // the global color table
        }

        int frames = 0;
        while (i < d.Length)
        {
            switch (d[i])
            {
                case 0x21: // an extension: its label, then data sub-blocks
                    i = SkipSubBlocks(d, i + 2);
                    break;
                case 0x2C: // an image descriptor (10 bytes), a local color table, the LZW code size, then data sub-blocks
                    if (++frames > 1)
                    {
                        return true;
                    }

                    if (i + 10 > d.Length)
                    {
                        return false;
                    }

                    byte flags = d[i + 9];
                    i += 10 + ((flags & 0x80) != 0 ? 3 * (1 << ((flags & 0x07) + 1)) : 0) + 1;
                    i = SkipSubBlocks(d, i);
                    break;
                default: // the trailer (0x3B), or bytes that are not a block
                    return false;
            }
        }

        return false;
    }

    private static int SkipSubBlocks(ReadOnlySpan<byte> d, int i)
    {
        while (i < d.Length && d[i] != 0)
        {
            i += d[i] + 1;
        }

        return i + 1;
    }

    private static readonly byte[] PngMagic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static ImageHeader ReadPng(ReadOnlySpan<byte> data)
    {
        // The signature, then the IHDR chunk: length (4), "IHDR", width (4, big-endian), height (4).
        if (data.Length < 24 || !data[12..16].SequenceEqual("IHDR"u8))
        {
            throw Truncated("PNG");
        }

        return Checked(new("image/png", BinaryPrimitives.ReadInt32BigEndian(data[16..]), BinaryPrimitives.ReadInt32BigEndian(data[20..])));
    }

    private static ImageHeader ReadJpeg(ReadOnlySpan<byte> data)
    {
        int i = 2;
        while (i + 1 < data.Length)
        {
            if (data[i] != 0xFF)
            {
                throw new LmImageException("The JPEG image is malformed: a segment does not start with a 0xFF marker before its size (SOF) segment.", nameof(LmPrompt.Chat));
            }

            while (i < data.Length && data[i] == 0xFF)
            {
                i++; // fill bytes
            }

            if (i >= data.Length)
            {
                break;
            }

            byte marker = data[i++];
            if (marker is 0x01 or (>= 0xD0 and <= 0xD8))
            {
                continue; // markers without a length
            }

            if (marker is 0xD9 or 0xDA)
            {
                break; // end of image or start of scan before any frame header
            }

            if (i + 2 > data.Length)
            {
                break;
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
            bool isFrame = marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC;
            if (isFrame)
            {
                // length (2), precision (1), height (2), width (2)
                if (i + 7 > data.Length)
                {
                    break;
                }

                return Checked(new("image/jpeg", BinaryPrimitives.ReadUInt16BigEndian(data[(i + 5)..]), BinaryPrimitives.ReadUInt16BigEndian(data[(i + 3)..])));
            }

            if (length < 2)
            {
                break;
            }

            i += length;
        }

        throw Truncated("JPEG");
    }

    private static ImageHeader ReadWebP(ReadOnlySpan<byte> data)
    {
        if (data.Length < 30)
        {
            throw Truncated("WebP");
        }

        var chunk = data[12..16];
        if (chunk.SequenceEqual("VP8 "u8))
        {
            // Lossy: a 3-byte frame tag, the start code 9D 01 2A, then 14-bit width and height.
            if (data[23] != 0x9D || data[24] != 0x01 || data[25] != 0x2A)
            {
                throw Truncated("WebP (VP8)");
            }

            return Checked(new("image/webp", BinaryPrimitives.ReadUInt16LittleEndian(data[26..]) & 0x3FFF, BinaryPrimitives.ReadUInt16LittleEndian(data[28..]) & 0x3FFF));
        }

        if (chunk.SequenceEqual("VP8L"u8))
        {
            // Lossless: the signature 0x2F, then 14 bits of width - 1 and 14 bits of height - 1.
            if (data[20] != 0x2F)
            {
                throw Truncated("WebP (VP8L)");
            }

            uint bits = BinaryPrimitives.ReadUInt32LittleEndian(data[21..]);
            return Checked(new("image/webp", (int)(bits & 0x3FFF) + 1, (int)((bits >> 14) & 0x3FFF) + 1));
        }

        if (chunk.SequenceEqual("VP8X"u8))
        {
            // Extended: flags (4), then 24-bit canvas width - 1 and height - 1.
            int w = data[24] | (data[25] << 8) | (data[26] << 16);
            int h = data[27] | (data[28] << 8) | (data[29] << 16);
            return Checked(new("image/webp", w + 1, h + 1));
        }

        throw new LmImageException($"The WebP image has an unknown first chunk \"{Ascii(chunk)}\" (expected VP8, VP8L or VP8X).", nameof(LmPrompt.Chat));
    }

    private static ImageHeader Checked(ImageHeader h) =>
        h.Width > 0 && h.Height > 0
            ? h
            : throw new LmImageException(
                string.Create(CultureInfo.InvariantCulture, $"The {h.MediaType} image's header gives a size of {h.Width}x{h.Height} pixels; an image must be at least 1x1."),
                nameof(LmPrompt.Chat));

    private static LmImageException Truncated(string format) =>
        new($"The {format} image is cut short or malformed: its header does not give its width and height.", nameof(LmPrompt.Chat));

    /// <summary>Names what the bytes look like, for the error message.</summary>
    private static string Describe(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return "empty (0 bytes)";
        }

        string? kind =
            data.StartsWith("%PDF"u8) ? "a PDF document"
            : data.StartsWith("BM"u8) ? "a BMP image"
            : data.StartsWith("II*\0"u8) || data.StartsWith("MM\0*"u8) ? "a TIFF image"
            : data.Length >= 12 && data[4..8].SequenceEqual("ftyp"u8) ? $"an ISO media file (brand \"{Ascii(data[8..12])}\", such as HEIC or AVIF)"
            : data.StartsWith("<svg"u8) || data.StartsWith("<?xml"u8) ? "an SVG/XML document"
            : data.StartsWith("\0\0\x01\0"u8) ? "an ICO icon"
            : data.StartsWith("RIFF"u8) ? "a RIFF file that is not WebP"
            : data.StartsWith("GIF"u8) ? "a GIF with an unknown version"
            : null;
        string first = Convert.ToHexString(data[..Math.Min(8, data.Length)]);
        return kind is null ? $"of an unknown format (first bytes {first})" : $"{kind} (first bytes {first})";
    }

    private static string Ascii(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[i] = bytes[i] is >= 0x20 and < 0x7F ? (char)bytes[i] : '?';
        }

        return new string(chars);
    }
}
