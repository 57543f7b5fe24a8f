using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LmWrapper.HuggingFace.Kernels;

/// <summary>
/// The matrix-product micro-kernels: <c>y[t, o] = Σₖ w[o, k] · x[t, k] + bias[o]</c> for a range of output rows.
/// With AVX-512, tiles of 4 weight rows × 4 tokens keep 16 Vector512 accumulators in registers (each weight and input
/// vector loaded once per tile); a single token (decoding) streams the rows one after another and widens F16/BF16
/// weights in registers, straight from the mapped file. Every (row, token) result is accumulated in the same order whichever
/// kernel computes it — 16-wide fused multiply-adds, one horizontal sum, then the scalar tail — so a token's numbers do
/// not depend on the batch around it.
/// </summary>
internal static unsafe class Gemm
{
    [ThreadStatic]
    private static float[]? t_rows;

    /// <summary>Whether the tiled AVX-512 kernels run on this CPU.</summary>
    public static bool Accelerated => Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>Rows [o0, o1) of the product for all <paramref name="tokens"/> inputs.</summary>
    public static void Rows(WeightMatrix w, float* x, int tokens, float* bias, float* y, int o0, int o1)
    {
        if (!Accelerated)
        {
            Portable(w, x, tokens, bias, y, o0, o1);
            return;
        }

        int cols = w.Cols, rows = w.Rows;
        int o;
        if (tokens <= StreamTokens && w.Type != WeightType.Q8)
        {
            Stream(w, x, tokens, bias, y, o0, o1);
            return;
        }

        float[]? buffer = null;
        if (w.Type != WeightType.F32)
        {
            buffer = t_rows;
            if (buffer is null || buffer.Length < 4 * cols)
            {
                buffer = t_rows = new float[4 * cols];
            }
        }

        // Blocks of tokens small enough to stay in cache while the range's weight rows stream past each.
        const int TokenBlock = 64;
        fixed (float* converted = buffer)
        {
            for (int t0 = 0; t0 < tokens; t0 += TokenBlock)
            {
                int t1 = Math.Min(tokens, t0 + TokenBlock);
                for (o = o0; o < o1; o += 4)
                {
                    int n = Math.Min(4, o1 - o);
                    float* w0;
                    if (buffer is null)
                    {
                        w0 = (float*)(w.Data + ((long)o * cols * 4));
                    }
                    else
                    {
                        for (int r = 0; r < n; r++)
                        {
                            w.ReadRow(o + r, new Span<float>(converted + (r * cols), cols));
                        }

                        w0 = converted;
                    }

                    if (n == 4)
                    {
                        int t = t0;
                        // The next rows' lines are requested while these 4 rows are in use: spread over the block's first
                        // (up to) 4 token quads, each asking for its share of the 4 rows, so that a short block (a batch of
                        // decoding sequences: 2 quads for 8) keeps memory busy through its later quads too.
                        int share = Math.Min((t1 - t0) / 4, 4);
                        for (; t + 4 <= t1; t += 4)
                        {
                            int q = (t - t0) / 4;
                            int mask = buffer is null && q < 4 ? PrefetchMask(q, share) : 0;
                            Tile4x4(w0, cols, x + ((long)t * cols), o, t, rows, bias, y, (long)PrefetchRows * cols, mask);
                        }

                        for (; t < t1; t++)
                        {
                            Tile4x1(w0, cols, x + ((long)t * cols), o, t, rows, bias, y);
                        }
                    }
                    else
                    {
                        for (int r = 0; r < n; r++)
                        {
                            for (int t = t0; t < t1; t++)
                            {
                                y[((long)t * rows) + o + r] = Row1<F32Format>((byte*)(w0 + (r * cols)), cols, x + ((long)t * cols)) + (bias is null ? 0f : bias[o + r]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>4 rows × 4 tokens; with <paramref name="ahead"/> ≠ 0, each row's cache line that many floats ahead is requested too.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4(float* w, int k, float* x, int o, int t, int ldy, float* bias, float* y, long ahead, int mask)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        float* w1 = w + k, w2 = w + (2 * k), w3 = w + (3 * k);
        float* x1 = x + k, x2 = x + (2 * k), x3 = x + (3 * k);
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            if (mask != 0)
            {
                if ((mask & 1) != 0)
                {
                    Sse.Prefetch0(w + i + ahead);
                }

                if ((mask & 2) != 0)
                {
                    Sse.Prefetch0(w1 + i + ahead);
                }

                if ((mask & 4) != 0)
                {
                    Sse.Prefetch0(w2 + i + ahead);
                }

                if ((mask & 8) != 0)
                {
                    Sse.Prefetch0(w3 + i + ahead);
                }
            }

            var v0 = Vector512.Load(x + i);
            var v1 = Vector512.Load(x1 + i);
            var v2 = Vector512.Load(x2 + i);
            var v3 = Vector512.Load(x3 + i);
            var r = Vector512.Load(w + i);
            a00 = Avx512F.FusedMultiplyAdd(r, v0, a00);
            a01 = Avx512F.FusedMultiplyAdd(r, v1, a01);
            a02 = Avx512F.FusedMultiplyAdd(r, v2, a02);
            a03 = Avx512F.FusedMultiplyAdd(r, v3, a03);
            r = Vector512.Load(w1 + i);
            a10 = Avx512F.FusedMultiplyAdd(r, v0, a10);
            a11 = Avx512F.FusedMultiplyAdd(r, v1, a11);
            a12 = Avx512F.FusedMultiplyAdd(r, v2, a12);
            a13 = Avx512F.FusedMultiplyAdd(r, v3, a13);
            r = Vector512.Load(w2 + i);
            a20 = Avx512F.FusedMultiplyAdd(r, v0, a20);
            a21 = Avx512F.FusedMultiplyAdd(r, v1, a21);
            a22 = Avx512F.FusedMultiplyAdd(r, v2, a22);
            a23 = Avx512F.FusedMultiplyAdd(r, v3, a23);
            r = Vector512.Load(w3 + i);
            a30 = Avx512F.FusedMultiplyAdd(r, v0, a30);
            a31 = Avx512F.FusedMultiplyAdd(r, v1, a31);
            a32 = Avx512F.FusedMultiplyAdd(r, v2, a32);
            a33 = Avx512F.FusedMultiplyAdd(r, v3, a33);
        }

        Store(a00, w, x, i, k, o, t, ldy, bias, y);
        Store(a01, w, x1, i, k, o, t + 1, ldy, bias, y);
        Store(a02, w, x2, i, k, o, t + 2, ldy, bias, y);
        Store(a03, w, x3, i, k, o, t + 3, ldy, bias, y);
        Store(a10, w1, x, i, k, o + 1, t, ldy, bias, y);
        Store(a11, w1, x1, i, k, o + 1, t + 1, ldy, bias, y);
        Store(a12, w1, x2, i, k, o + 1, t + 2, ldy, bias, y);
        Store(a13, w1, x3, i, k, o + 1, t + 3, ldy, bias, y);
        Store(a20, w2, x, i, k, o + 2, t, ldy, bias, y);
        Store(a21, w2, x1, i, k, o + 2, t + 1, ldy, bias, y);
        Store(a22, w2, x2, i, k, o + 2, t + 2, ldy, bias, y);
        Store(a23, w2, x3, i, k, o + 2, t + 3, ldy, bias, y);
        Store(a30, w3, x, i, k, o + 3, t, ldy, bias, y);
        Store(a31, w3, x1, i, k, o + 3, t + 1, ldy, bias, y);
        Store(a32, w3, x2, i, k, o + 3, t + 2, ldy, bias, y);
        Store(a33, w3, x3, i, k, o + 3, t + 3, ldy, bias, y);
    }

    /// <summary>The rows (bits 0-3) whose lines <see cref="PrefetchRows"/> ahead token quad <paramref name="q"/> of <paramref name="share"/> (1-4) requests.</summary>
    private static int PrefetchMask(int q, int share) => share switch
    {
        1 => 0b1111,
        2 => q == 0 ? 0b0101 : 0b1010,
        3 => q == 0 ? 0b0011 : q == 1 ? 0b0100 : 0b1000,
        _ => 1 << q,
    };

    /// <summary>4 rows × 1 token, float32 weights.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1(float* w, int k, float* x, int o, int t, int ldy, float* bias, float* y)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        float* w1 = w + k, w2 = w + (2 * k), w3 = w + (3 * k);
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var v = Vector512.Load(x + i);
            a0 = Avx512F.FusedMultiplyAdd(Vector512.Load(w + i), v, a0);
            a1 = Avx512F.FusedMultiplyAdd(Vector512.Load(w1 + i), v, a1);
            a2 = Avx512F.FusedMultiplyAdd(Vector512.Load(w2 + i), v, a2);
            a3 = Avx512F.FusedMultiplyAdd(Vector512.Load(w3 + i), v, a3);
        }

        Store(a0, w, x, i, k, o, t, ldy, bias, y);
        Store(a1, w1, x, i, k, o + 1, t, ldy, bias, y);
        Store(a2, w2, x, i, k, o + 2, t, ldy, bias, y);
        Store(a3, w3, x, i, k, o + 3, t, ldy, bias, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> acc, float* w, float* x, int i, int k, int o, int t, int ldy, float* bias, float* y) =>
        y[((long)t * ldy) + o] = Tail<F32Format>(acc, (byte*)w, x, i, k) + (bias is null ? 0f : bias[o]);

    /// <summary>
    /// How many rows ahead of the 4 being read the multi-token tiles ask for the next cache lines (prefetcht0) on their first
    /// pass over a quad of rows, which streams them from memory.
    /// </summary>
    private const int PrefetchRows = 8;

    /// <summary>
    /// Up to this many tokens (decoding one to three sequences), <see cref="Stream"/> computes the product row by row;
    /// more go to the 4 × 4 register tiles, which load each weight vector once for 4 tokens. (Streaming rows for 8 tokens
    /// at once, 8 accumulators per row, measured slower in batched decoding than two 4 × 4 tiles per 4 rows: its 9 loads
    /// per 8 multiply-adds are bound by the load ports, and a 1536-wide input block of 8 tokens overflows L1.)
    /// </summary>
    internal const int StreamTokens = 3;

    /// <summary>
    /// Rows [o0, o1) for one to <see cref="StreamTokens"/> tokens, where every weight is read once from memory and the
    /// product is bound by memory bandwidth: one row after another, so the range is a single sequential stream, each row
    /// applied to every token while it is in L1. A sequential stream reads at the machine's sequential bandwidth, where
    /// the 4-row interleaved decode kernel with explicit prefetches that this replaced did not: on this project's 2-core
    /// AVX-512 machine, with the rows of a memory-mapped weight file and a 2-thread team, one token streamed 1536 × 576
    /// F32 matrices at 48.7 GB/s (median) against 25.3 GB/s interleaved, and software prefetches ahead of a sequential
    /// row only slowed it. One FMA chain per row is enough: its latency is well under the row's memory time, and the
    /// out-of-order core overlaps consecutive rows. Half-precision weights are widened in registers straight from the
    /// mapped file, never copied.
    /// </summary>
    private static void Stream(WeightMatrix w, float* x, int tokens, float* bias, float* y, int o0, int o1)
    {
        switch (w.Type)
        {
            case WeightType.F32:
                Stream<F32Format>(w, x, tokens, bias, y, o0, o1);
                break;
            case WeightType.F16 when w.HalvesAreFinite:
                Stream<HalfFormat<F16Finite>>(w, x, tokens, bias, y, o0, o1);
                break;
            case WeightType.F16:
                Stream<HalfFormat<F16Any>>(w, x, tokens, bias, y, o0, o1);
                break;
            default:
                Stream<HalfFormat<Bf16>>(w, x, tokens, bias, y, o0, o1);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Stream<TFormat>(WeightMatrix w, float* x, int tokens, float* bias, float* y, int o0, int o1)
        where TFormat : struct, IRowFormat
    {
        int k = w.Cols, ldy = w.Rows;
        long rowBytes = (long)k * w.ElementSize;
        byte* row = w.Data + (o0 * rowBytes);
        for (int o = o0; o < o1; o++, row += rowBytes)
        {
            float b = bias is null ? 0f : bias[o];
            for (int t = 0; t < tokens; t++)
            {
                y[((long)t * ldy) + o] = Row1<TFormat>(row, k, x + ((long)t * k)) + b;
            }
        }
    }

    /// <summary>One row · one token: 16-wide FMAs in order, one horizontal sum, the scalar tail (the tiles' order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Row1<TFormat>(byte* row, int k, float* x)
        where TFormat : struct, IRowFormat
    {
        var a = TFormat.Body(row, k, x, out int i);
        return Tail<TFormat>(a, row, x, i, k);
    }

    /// <summary>Lane numbers 0..15, the base of <see cref="F32Format.Body"/>'s permutation.</summary>
    private static readonly Vector512<int> Lanes16 = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    /// <summary>Lane numbers 0..31, the base of <see cref="HalfFormat{TWiden}.Body"/>'s permutation.</summary>
    private static readonly Vector512<ushort> Lanes32 = Vector512.Create(
        (ushort)0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);

    /// <summary>The accumulator's horizontal sum, then columns [i, k) one at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tail<TFormat>(Vector512<float> acc, byte* row, float* x, int i, int k)
        where TFormat : struct, IRowFormat
    {
        float s = Vector512.Sum(acc);
        for (; i < k; i++)
        {
            s = MathF.FusedMultiplyAdd(TFormat.Scalar(row, i), x[i], s);
        }

        return s;
    }

    /// <summary>How a row's elements become float32, 16 at a time and one at a time.</summary>
    internal interface IRowFormat
    {
        /// <summary>
        /// The 16-wide part of a row · x: the accumulator after elements [0, <paramref name="done"/>), done the largest
        /// multiple of 16 ≤ k, each group of 16 added by one FMA in column order (so exactly the sum of
        /// <see cref="Load"/>-based FMAs). A row that does not start on a 64-byte boundary (a mapped safetensors tensor
        /// almost never does: its offset is 8 + the header's length + the tensor's) is read with aligned loads, each vector
        /// put together from two neighbouring ones by a two-source permute: an unaligned 64-byte load splits across two
        /// cache lines, and that held a mapped F32 row stream to about 40 GB/s where aligned loads reached 55–65 (the
        /// 135M Llama's head, 2 threads, same run). An aligned load never reaches past the cache line of an element the row
        /// holds, so it cannot touch a page the row does not.
        /// </summary>
        static abstract Vector512<float> Body(byte* row, int k, float* x, out int done);

        /// <summary>Elements [i, i + 16) of the row.</summary>
        static abstract Vector512<float> Load(byte* row, int i);

        /// <summary>Element i of the row.</summary>
        static abstract float Scalar(byte* row, int i);
    }

    /// <summary>float32 rows.</summary>
    internal readonly struct F32Format : IRowFormat
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Body(byte* row, int k, float* x, out int done)
        {
            Vector512<float> acc = default;
            int i = 0;
            nint offset = (nint)row & 63;
            if (offset == 0 || (offset & 3) != 0)
            {
                for (; i + 16 <= k; i += 16)
                {
                    acc = Avx512F.FusedMultiplyAdd(Vector512.Load((float*)row + i), Vector512.Load(x + i), acc);
                }
            }
            else
            {
                // Lane j of the vector at i is element i + j = aligned word (offset / 4) + i + j: lanes from lo, then hi.
                float* a = (float*)(row - offset);
                var pick = Lanes16 + Vector512.Create((int)(offset >> 2));
                var lo = Vector512.Load(a);
                for (; i + 16 <= k; i += 16)
                {
                    var hi = Vector512.Load(a + i + 16);
                    acc = Avx512F.FusedMultiplyAdd(Avx512F.PermuteVar16x32x2(lo, pick, hi), Vector512.Load(x + i), acc);
                    lo = hi;
                }
            }

            done = i;
            return acc;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(byte* row, int i) => Vector512.Load((float*)row + i);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(byte* row, int i) => ((float*)row)[i];
    }

    /// <summary>Half-precision rows, widened by <typeparamref name="TWiden"/>.</summary>
    internal readonly struct HalfFormat<TWiden> : IRowFormat
        where TWiden : struct, IWiden
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Body(byte* row, int k, float* x, out int done)
        {
            Vector512<float> acc = default;
            int i = 0;
            nint offset = (nint)row & 63;
            if (offset == 0 || (offset & 1) != 0 || k < 32)
            {
                for (; i + 16 <= k; i += 16)
                {
                    acc = Avx512F.FusedMultiplyAdd(Load(row, i), Vector512.Load(x + i), acc);
                }
            }
            else
            {
                // 32 halves (one aligned line) per step, then a last 16 if k leaves them; lane j is aligned half (offset / 2) + i + j.
                ushort* a = (ushort*)(row - offset);
                int shift = (int)(offset >> 1);
                var pick = Lanes32 + Vector512.Create((ushort)shift);
                var lo = Vector512.Load(a);
                for (; i + 32 <= k; i += 32)
                {
                    var hi = Vector512.Load(a + i + 32);
                    var w = Avx512BW.PermuteVar32x16x2(lo, pick, hi);
                    acc = Avx512F.FusedMultiplyAdd(TWiden.Widen(w.GetLower()), Vector512.Load(x + i), acc);
                    acc = Avx512F.FusedMultiplyAdd(TWiden.Widen(w.GetUpper()), Vector512.Load(x + i + 16), acc);
                    lo = hi;
                }

                if (i + 16 <= k)
                {
                    // The next line only where these 16 reach into it (then it holds one of them).
                    var hi = shift > 16 ? Vector512.Load(a + i + 32) : lo;
                    acc = Avx512F.FusedMultiplyAdd(TWiden.Widen(Avx512BW.PermuteVar32x16x2(lo, pick, hi).GetLower()), Vector512.Load(x + i), acc);
                    i += 16;
                }
            }

            done = i;
            return acc;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(byte* row, int i) => TWiden.Widen(Vector256.Load((ushort*)row + i));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(byte* row, int i) => TWiden.Scalar(((ushort*)row)[i]);
    }

    /// <summary>A half-precision format's exact widening to float32, 16 lanes at a time and one value at a time.</summary>
    internal interface IWiden
    {
        /// <summary>16 values widened.</summary>
        static abstract Vector512<float> Widen(Vector256<ushort> h);

        /// <summary>One value widened.</summary>
        static abstract float Scalar(ushort h);
    }

    /// <summary>bfloat16: each value is the upper half of a float32, so a zero-extension and a shift by 16.</summary>
    internal readonly struct Bf16 : IWiden
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Widen(Vector256<ushort> h) => Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(h), 16).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(ushort h) => BitConverter.Int32BitsToSingle(h << 16);
    }

    /// <summary>
    /// IEEE half, for a matrix with no infinity or NaN (<see cref="WeightMatrix.HalvesAreFinite"/>), in 4 instructions (.NET 10
    /// exposes no vcvtph2ps): sign-extend to 32 bits, shift left by 13 (exponent and mantissa land in float32's low
    /// exponent bits and mantissa, the sign's copies in bits 28–31), clear bits 28–30, and multiply by 2^112 to rebias the
    /// exponent (15 → 127). Exact for every finite half, subnormals and signed zeros included.
    /// </summary>
    internal readonly struct F16Finite : IWiden
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Widen(Vector256<ushort> h)
        {
            var bits = Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(h.AsInt16()), 13) & Vector512.Create(unchecked((int)0x8FFFFFFF));
            return bits.AsSingle() * Vector512.Create(BitConverter.Int32BitsToSingle(239 << 23));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(ushort h) => (float)BitConverter.UInt16BitsToHalf(h);
    }

    /// <summary>
    /// IEEE half, any value: exponent and mantissa moved into place and rescaled by 2^112 (subnormals included),
    /// infinities and NaNs given the all-ones exponent, then the sign.
    /// </summary>
    internal readonly struct F16Any : IWiden
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Widen(Vector256<ushort> h)
        {
            var v = Avx512F.ConvertToVector512UInt32(h);
            var sign = Avx512F.ShiftLeftLogical(v & Vector512.Create(0x8000u), 16);
            var mag = Avx512F.ShiftLeftLogical(v & Vector512.Create(0x7FFFu), 13);
            var f = mag.AsSingle() * Vector512.Create(BitConverter.Int32BitsToSingle(239 << 23));
            var special = Vector512.Equals(v & Vector512.Create(0x7C00u), Vector512.Create(0x7C00u));
            f = Vector512.ConditionalSelect(special.AsSingle(), (mag | Vector512.Create(0x7F800000u)).AsSingle(), f);
            return (f.AsUInt32() | sign).AsSingle();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(ushort h) => (float)BitConverter.UInt16BitsToHalf(h);
    }

    /// <summary>Scaled dot products of one query with keys start..end (head size a multiple of 16).</summary>
    public static void AttendHead(float* q, float* keys, float* values, int stride, int start, int end, int hd, float scale, float* scores, float* output)
    {
        for (int j = start; j <= end; j++)
        {
            float* k = keys + ((long)j * stride);
            // The key 8 positions on is requested now: a head's keys are a head-sized piece of each position's row, a
            // stride the hardware prefetcher follows late (batch-8 decode of the 135M Llama: +3%). A prefetch never faults,
            // so it may point past the cache's end.
            float* ahead = k + (8L * stride);
            for (int c = 0; c < hd; c += 16)
            {
                Sse.Prefetch0(ahead + c);
            }

            Vector512<float> acc = default;
            for (int i = 0; i < hd; i += 16)
            {
                acc = Avx512F.FusedMultiplyAdd(Vector512.Load(q + i), Vector512.Load(k + i), acc);
            }

            scores[j] = Vector512.Sum(acc) * scale;
        }
    }

    /// <summary>
    /// <c>output = Σⱼ weights[j] · values[j]</c> for j in start..end (head size a multiple of 16): 64 values of the head at a
    /// time, 4 independent accumulators over j (one chain per 16 lanes would wait on each FMA's latency). Every lane still
    /// sums its j in order, so the result does not depend on how the head is split.
    /// </summary>
    public static void WeightedSum(float* values, int stride, int start, int end, int hd, float* weights, float* output)
    {
        int i = 0;
        for (; i + 64 <= hd; i += 64)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int j = start; j <= end; j++)
            {
                var wj = Vector512.Create(weights[j]);
                float* v = values + ((long)j * stride) + i;
                Sse.Prefetch0(v + (8L * stride)); // as for the keys (see AttendHead)
                Sse.Prefetch0(v + (8L * stride) + 16);
                Sse.Prefetch0(v + (8L * stride) + 32);
                Sse.Prefetch0(v + (8L * stride) + 48);

                a0 = Avx512F.FusedMultiplyAdd(wj, Vector512.Load(v), a0);
                a1 = Avx512F.FusedMultiplyAdd(wj, Vector512.Load(v + 16), a1);
                a2 = Avx512F.FusedMultiplyAdd(wj, Vector512.Load(v + 32), a2);
                a3 = Avx512F.FusedMultiplyAdd(wj, Vector512.Load(v + 48), a3);
            }

            a0.Store(output + i);
            a1.Store(output + i + 16);
            a2.Store(output + i + 32);
            a3.Store(output + i + 48);
        }

        for (; i < hd; i += 16)
        {
            Vector512<float> acc = default;
            for (int j = start; j <= end; j++)
            {
                acc = Avx512F.FusedMultiplyAdd(Vector512.Create(weights[j]), Vector512.Load(values + ((long)j * stride) + i), acc);
            }

            acc.Store(output + i);
        }
    }

    /// <summary>Without AVX-512: a converted row at a time and System.Numerics.Tensors' dot product.</summary>
    private static void Portable(WeightMatrix w, float* x, int tokens, float* bias, float* y, int o0, int o1)
    {
        int cols = w.Cols, rows = w.Rows;
        float[]? buffer = null;
        if (w.Type != WeightType.F32)
        {
            buffer = t_rows;
            if (buffer is null || buffer.Length < cols)
            {
                buffer = t_rows = new float[Math.Max(cols, 64)];
            }
        }

        for (int o = o0; o < o1; o++)
        {
            ReadOnlySpan<float> row;
            if (buffer is null)
            {
                row = w.RowF32(o);
            }
            else
            {
                var span = buffer.AsSpan(0, cols);
                w.ReadRow(o, span);
                row = span;
            }

            float b = bias is null ? 0f : bias[o];
            for (int t = 0; t < tokens; t++)
            {
                y[((long)t * rows) + o] = TensorPrimitives.Dot(row, new ReadOnlySpan<float>(x + ((long)t * cols), cols)) + b;
            }
        }
    }
}
