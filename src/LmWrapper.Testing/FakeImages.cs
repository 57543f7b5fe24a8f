using System.Buffers.Binary;

namespace LmWrapper.Testing;

/// <summary>
/// How the fakes look at images, independently of LmWrapper's own code: the magic bytes and header sizes of PNG, JPEG,
/// GIF and WebP, and the providers' published token formulas.
/// </summary>
internal static class FakeImages
{
    public static readonly string[] MediaTypes = ["image/jpeg", "image/png", "image/gif", "image/webp"];

    /// <summary>Reads the media type and size, or returns false for bytes that are none of the four formats.</summary>
    public static bool TryRead(byte[] d, out string mediaType, out int width, out int height)
    {
        mediaType = string.Empty;
        width = height = 0;
        if (d.Length >= 24 && d[0] == 0x89 && d[1] == 'P' && d[2] == 'N' && d[3] == 'G' && d[12] == 'I' && d[13] == 'H' && d[14] == 'D' && d[15] == 'R')
        {
            (mediaType, width, height) = ("image/png", BinaryPrimitives.ReadInt32BigEndian(d.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(d.AsSpan(20)));
        }
        else if (d.Length >= 10 && d[0] == 'G' && d[1] == 'I' && d[2] == 'F' && d[3] == '8')
        {
            (mediaType, width, height) = ("image/gif", d[6] | (d[7] << 8), d[8] | (d[9] << 8));
        }
        else if (d.Length >= 30 && d[0] == 'R' && d[1] == 'I' && d[2] == 'F' && d[3] == 'F' && d[8] == 'W' && d[9] == 'E' && d[10] == 'B' && d[11] == 'P')
        {
            string chunk = System.Text.Encoding.ASCII.GetString(d, 12, 4);
            mediaType = "image/webp";
            if (chunk == "VP8 ")
            {
                (width, height) = ((d[26] | (d[27] << 8)) & 0x3FFF, (d[28] | (d[29] << 8)) & 0x3FFF);
            }
            else if (chunk == "VP8L")
            {
                uint b = BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(21));
                (width, height) = ((int)(b & 0x3FFF) + 1, (int)((b >> 14) & 0x3FFF) + 1);
            }
            else if (chunk == "VP8X")
            {
                (width, height) = ((d[24] | (d[25] << 8) | (d[26] << 16)) + 1, (d[27] | (d[28] << 8) | (d[29] << 16)) + 1);
            }
        }
        else if (d.Length >= 4 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
        {
            mediaType = "image/jpeg";
            int i = 2;
            while (i + 9 < d.Length && d[i] == 0xFF)
            {
                byte marker = d[i + 1];
                if (marker == 0xFF)
                {
                    i++;
                    continue;
                }

                if (marker is >= 0xD0 and <= 0xD8 or 0x01)
                {
                    i += 2;
                    continue;
                }

                if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
                {
                    (height, width) = ((d[i + 5] << 8) | d[i + 6], (d[i + 7] << 8) | d[i + 8]);
                    break;
                }

                i += 2 + ((d[i + 2] << 8) | d[i + 3]);
            }
        }

        return mediaType.Length > 0 && width > 0 && height > 0;
    }

    /// <summary>Splits a <c>data:&lt;type&gt;;base64,&lt;data&gt;</c> URL; false when it is not one.</summary>
    public static bool TrySplitDataUrl(string url, out string mediaType, out string base64)
    {
        mediaType = base64 = string.Empty;
        int marker = url.IndexOf(";base64,", StringComparison.Ordinal);
        if (!url.StartsWith("data:", StringComparison.Ordinal) || marker < 0)
        {
            return false;
        }

        mediaType = url[5..marker];
        base64 = url[(marker + 8)..];
        return true;
    }

    /// <summary>Decodes base64, or returns null when it is not valid base64.</summary>
    public static byte[]? TryDecode(string base64)
    {
        var buffer = new byte[(base64.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(base64, buffer, out int n) ? buffer[..n] : null;
    }

    /// <summary>OpenAI's tile rule; sizes unknown (a URL) count as the most tiles (8).</summary>
    public static int OpenAiTiles(int? width, int? height, string detail, int baseTokens, int tileTokens)
    {
        if (detail == "low")
        {
            return baseTokens;
        }

        if (width is null || height is null)
        {
            return baseTokens + (8 * tileTokens);
        }

        double w = width.Value, h = height.Value;
        if (Math.Max(w, h) > 2048)
        {
            double s = 2048 / Math.Max(w, h);
            (w, h) = (w * s, h * s);
        }

        if (Math.Min(w, h) > 768)
        {
            double s = 768 / Math.Min(w, h);
            (w, h) = (w * s, h * s);
        }

        return baseTokens + (tileTokens * (int)Math.Ceiling(Math.Round(w, 6) / 512) * (int)Math.Ceiling(Math.Round(h, 6) / 512));
    }

    /// <summary>OpenAI's patch rule (at most 1536 patches of 32 px, times the model's multiplier).</summary>
    public static int OpenAiPatches(int? width, int? height, double multiplier)
    {
        int patches = 1536;
        if (width is { } w0 && height is { } h0)
        {
            patches = (int)Math.Ceiling(w0 / 32.0) * (int)Math.Ceiling(h0 / 32.0);
            if (patches > 1536)
            {
                double shrink = Math.Sqrt(1536.0 * 1024 / ((double)w0 * h0));
                double w = w0 * shrink, h = h0 * shrink;
                double fit = Math.Floor(w / 32) / (w / 32);
                (w, h) = (w * fit, h * fit);
                patches = Math.Min(1536, (int)Math.Ceiling(Math.Round(w, 6) / 32) * (int)Math.Ceiling(Math.Round(h, 6) / 32));
            }
        }

        return (int)Math.Ceiling(patches * multiplier);
    }

    /// <summary>Claude's rule: width x height / 750 after scaling to at most 1568 px on the long edge and about 1,600 tokens.</summary>
    public static int Claude(int? width, int? height)
    {
        if (width is null || height is null)
        {
            return 1600;
        }

        double w = width.Value, h = height.Value;
        if (Math.Max(w, h) > 1568)
        {
            double s = 1568 / Math.Max(w, h);
            (w, h) = (w * s, h * s);
        }

        if (w * h > 1_200_000)
        {
            double s = Math.Sqrt(1_200_000 / (w * h));
            (w, h) = (w * s, h * s);
        }

        return Math.Min(1600, (int)Math.Ceiling(Math.Round(w * h / 750, 6)));
    }
}
