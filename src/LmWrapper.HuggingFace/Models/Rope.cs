namespace LmWrapper.HuggingFace.Models;

/// <summary>
/// Rotary position embeddings as transformers computes them (float32, the rotate-half layout): the inverse frequencies
/// with the config's scaling (default, linear, dynamic NTK, llama3), and the rotation of one head's vector.
/// </summary>
internal static class Rope
{
    /// <summary>The inverse frequencies for sequences of length <paramref name="seqLen"/> (only dynamic NTK depends on it).</summary>
    public static float[] InverseFrequencies(ModelConfig c, int seqLen)
    {
        int half = c.HeadDim / 2;
        double theta = c.RopeTheta;
        if (c.RopeScaling == RopeScalingType.Dynamic && seqLen > c.MaxPositions)
        {
            double f = c.RopeFactor;
            theta *= Math.Pow((f * seqLen / c.MaxPositions) - (f - 1), c.HeadDim / (double)(c.HeadDim - 2));
        }

        var inv = new float[half];
        for (int j = 0; j < half; j++)
        {
            inv[j] = 1f / MathF.Pow((float)theta, 2 * j / (float)c.HeadDim);
        }

        if (c.RopeScaling == RopeScalingType.Linear)
        {
            for (int j = 0; j < half; j++)
            {
                inv[j] /= (float)c.RopeFactor;
            }
        }
        else if (c.RopeScaling == RopeScalingType.Llama3)
        {
            float factor = (float)c.RopeFactor, low = (float)c.RopeLowFreqFactor, high = (float)c.RopeHighFreqFactor;
            float oldContext = c.RopeOriginalMaxPositions;
            float lowWavelen = oldContext / low, highWavelen = oldContext / high;
            for (int j = 0; j < half; j++)
            {
                float wavelen = 2 * MathF.PI / inv[j];
                if (wavelen > lowWavelen)
                {
                    inv[j] /= factor;
                }
                else if (!(wavelen < highWavelen))
                {
                    float smooth = ((oldContext / wavelen) - low) / (high - low);
                    inv[j] = ((1 - smooth) * inv[j] / factor) + (smooth * inv[j]);
                }
            }
        }

        return inv;
    }

    /// <summary>cos and sin of position × each inverse frequency.</summary>
    public static void Angles(float[] invFreq, int position, Span<float> cos, Span<float> sin)
    {
        for (int j = 0; j < invFreq.Length; j++)
        {
            float a = position * invFreq[j];
            cos[j] = MathF.Cos(a);
            sin[j] = MathF.Sin(a);
        }
    }

    /// <summary>x·cos + rotate_half(x)·sin, where rotate_half(x) = [-x₂, x₁] over the two halves.</summary>
    public static void Rotate(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = cos.Length;
        for (int j = 0; j < half; j++)
        {
            float a = x[j], b = x[j + half];
            x[j] = (a * cos[j]) - (b * sin[j]);
            x[j + half] = (b * cos[j]) + (a * sin[j]);
        }
    }
}
