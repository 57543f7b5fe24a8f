using System.Runtime.Intrinsics;

namespace LmWrapper.HuggingFace.Kernels;

/// <summary>bfloat16 → float32, vectorized: a bfloat16 is the upper half of a float32.</summary>
internal static class Bf16
{
    public static void ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 32 <= source.Length; i += 32)
            {
                var v = Vector512.Create(source.Slice(i, 32));
                var (lo, hi) = Vector512.Widen(v);
                (lo << 16).AsSingle().CopyTo(destination.Slice(i, 16));
                (hi << 16).AsSingle().CopyTo(destination.Slice(i + 16, 16));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= source.Length; i += 16)
            {
                var v = Vector256.Create(source.Slice(i, 16));
                var (lo, hi) = Vector256.Widen(v);
                (lo << 16).AsSingle().CopyTo(destination.Slice(i, 8));
                (hi << 16).AsSingle().CopyTo(destination.Slice(i + 8, 8));
            }
        }

        for (; i < source.Length; i++)
        {
            destination[i] = BitConverter.Int32BitsToSingle(source[i] << 16);
        }
    }
}
