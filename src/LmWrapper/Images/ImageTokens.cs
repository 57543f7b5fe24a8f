namespace LmWrapper.Images;

/// <summary>
/// The providers' published formulas for the input tokens of one image. Sizes unknown here (URL images) cost the most
/// an image can cost, so estimates never fall short.
/// </summary>
internal static class ImageTokens
{
    /// <summary>OpenAI's patch budget: at most 1536 patches of 32x32 px.</summary>
    public const int MaxPatches = 1536;

    /// <summary>Claude's most tokens for one image (it shrinks larger images to about 1,600 tokens).</summary>
    public const int ClaudeMaxTokens = 1600;

    /// <summary>
    /// OpenAI's tile rule (GPT-4o, GPT-4.1, GPT-5, o-series): detail low costs <paramref name="baseTokens"/>; otherwise the
    /// image is scaled to fit 2048x2048, then its shortest side scaled down to 768, and each 512 px tile costs
    /// <paramref name="tileTokens"/>, plus <paramref name="baseTokens"/>. Auto is estimated as high.
    /// </summary>
    public static int OpenAiTiles(int? width, int? height, LmImageDetail detail, int baseTokens, int tileTokens)
    {
        if (detail == LmImageDetail.Low)
        {
            return baseTokens;
        }

        if (width is not { } w0 || height is not { } h0)
        {
            return baseTokens + (tileTokens * 8); // the most tiles: 768x2048 after scaling is 2x4 tiles
        }

        double w = w0, h = h0;
        double fit = Math.Min(1, 2048 / Math.Max(w, h));
        w *= fit;
        h *= fit;
        double shortest = Math.Min(w, h);
        if (shortest > 768)
        {
            double s = 768 / shortest;
            w *= s;
            h *= s;
        }

        long tiles = (long)Math.Ceiling(Math.Round(w, 6) / 512) * (long)Math.Ceiling(Math.Round(h, 6) / 512);
        return checked(baseTokens + (int)(tiles * tileTokens));
    }

    /// <summary>
    /// OpenAI's patch rule (gpt-4.1-mini/nano, gpt-5-mini/nano, o4-mini): 32x32 px patches covering the image, at most
    /// 1536 (a larger image is scaled down to fit, then to a whole number of patches across), times the model's multiplier.
    /// </summary>
    public static int OpenAiPatches(int? width, int? height, double multiplier)
    {
        int patches = PatchCount(width, height);
        return (int)Math.Ceiling(patches * multiplier);
    }

    /// <summary>The 32 px patches the image is cut into, after OpenAI's scaling to the 1536-patch budget.</summary>
    public static int PatchCount(int? width, int? height)
    {
        if (width is not { } w0 || height is not { } h0)
        {
            return MaxPatches;
        }

        long raw = (long)Math.Ceiling(w0 / 32.0) * (long)Math.Ceiling(h0 / 32.0);
        if (raw <= MaxPatches)
        {
            return (int)raw;
        }

        double shrink = Math.Sqrt(MaxPatches * 32.0 * 32.0 / ((double)w0 * h0));
        double w = w0 * shrink, h = h0 * shrink;
        double across = w / 32;
        double adjust = Math.Floor(across) / across;
        w *= adjust;
        h *= adjust;
        long patches = (long)Math.Ceiling(Math.Round(w, 6) / 32) * (long)Math.Ceiling(Math.Round(h, 6) / 32);
        return (int)Math.Min(patches, MaxPatches);
    }

    /// <summary>
    /// Claude's rule: width x height / 750 tokens, after Claude scales an image down (keeping its aspect ratio) to at
    /// most 1568 px on its long edge and about 1,600 tokens.
    /// </summary>
    public static int Claude(int? width, int? height)
    {
        if (width is not { } w0 || height is not { } h0)
        {
            return ClaudeMaxTokens;
        }

        double w = w0, h = h0;
        double s = Math.Min(1, 1568 / Math.Max(w, h));
        w *= s;
        h *= s;
        double maxPixels = ClaudeMaxTokens * 750.0;
        if (w * h > maxPixels)
        {
            double t = Math.Sqrt(maxPixels / (w * h));
            w *= t;
            h *= t;
        }

        return (int)Math.Min(ClaudeMaxTokens, Math.Ceiling(Math.Round(w * h / 750, 6)));
    }
}
