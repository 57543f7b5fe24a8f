using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LmWrapper.HuggingFace.Safetensors;

/// <summary>Fast conversions between float32 and the 16-bit float formats, vectorized where the hardware allows.</summary>
internal static class HalfConversion
{
    /// <summary>bfloat16 → float32: the 16 bits become the upper half of the float.</summary>
    public static void Bf16ToFloat(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        var d = MemoryMarshal.Cast<float, uint>(dst);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + Vector256<ushort>.Count <= src.Length; i += Vector256<ushort>.Count)
            {
                var v = Vector256.Create(src.Slice(i, Vector256<ushort>.Count));
                var (lo, hi) = Vector256.Widen(v);
                (lo << 16).CopyTo(d.Slice(i));
                (hi << 16).CopyTo(d.Slice(i + Vector256<uint>.Count));
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (; i + Vector128<ushort>.Count <= src.Length; i += Vector128<ushort>.Count)
            {
                var v = Vector128.Create(src.Slice(i, Vector128<ushort>.Count));
                var (lo, hi) = Vector128.Widen(v);
                (lo << 16).CopyTo(d.Slice(i));
                (hi << 16).CopyTo(d.Slice(i + Vector128<uint>.Count));
            }
        }
        for (; i < src.Length; i++) d[i] = (uint)src[i] << 16;
    }

    /// <summary>IEEE half → float32, exact for every value (normals, subnormals, infinities, NaNs).</summary>
    public static void F16ToFloat(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var d = MemoryMarshal.Cast<float, uint>(dst);
            for (; i + Vector256<ushort>.Count <= src.Length; i += Vector256<ushort>.Count)
            {
                var v = Vector256.Create(src.Slice(i, Vector256<ushort>.Count));
                var (lo, hi) = Vector256.Widen(v);
                Convert8(lo).CopyTo(d.Slice(i));
                Convert8(hi).CopyTo(d.Slice(i + Vector256<uint>.Count));
            }
        }
        for (; i < src.Length; i++) dst[i] = (float)BitConverter.UInt16BitsToHalf(src[i]);
    }

    // The classic exponent-rebias conversion: shift exponent and mantissa into place, rebias the exponent,
    // fix up infinities/NaNs (exponent all ones) and renormalize subnormals with one float subtraction.
    private static Vector256<uint> Convert8(Vector256<uint> h)
    {
        var shiftedExp = Vector256.Create(0x7C00u << 13);
        var o = (h & Vector256.Create(0x7FFFu)) << 13;
        var exp = o & shiftedExp;
        o += Vector256.Create((127u - 15u) << 23);
        var isInfNan = Vector256.Equals(exp, shiftedExp);
        o += isInfNan & Vector256.Create((128u - 16u) << 23);
        var isSub = Vector256.Equals(exp, Vector256<uint>.Zero);
        var sub = (o + Vector256.Create(1u << 23)).AsSingle() - Vector256.Create(113u << 23).AsSingle();
        o = Vector256.ConditionalSelect(isSub, sub.AsUInt32(), o);
        return o | ((h & Vector256.Create(0x8000u)) << 16);
    }

    /// <summary>float32 → bfloat16 with round-to-nearest-even (NaN stays NaN), as PyTorch does.</summary>
    public static ushort FloatToBf16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>float32 → IEEE half with round-to-nearest-even.</summary>
    public static ushort FloatToF16(float f) => BitConverter.HalfToUInt16Bits((Half)f);
}
