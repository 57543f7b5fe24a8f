using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LmWrapper.HuggingFace.Kernels;

/// <summary>
/// The <see cref="WeightType.Q8"/> matrix products (llama.cpp's Q8_0 scheme): inputs quantized per block of 32 values as
/// the weights are, each block's integer dot product computed exactly in 8 int32 lanes, converted to float and added with
/// one fused multiply-add by (weight scale × input scale) into a float accumulator of 8 lanes. With AVX-VNNI the block
/// product is llama.cpp's sign trick: <c>vpdpbusd(0, |xq|, sign(w, xq))</c>; without it, vpmaddubsw then vpmaddwd give
/// the same 8 lanes (|xq| × |w| ≤ 127², so no pair saturates), so both paths return the same bits. Every (row, token)
/// result is accumulated in the same order by every tile (blocks in order, one horizontal sum, then the bias), so a
/// token's numbers do not depend on the batch around it.
/// </summary>
internal static unsafe class GemmQ8
{
    /// <summary>Whether these kernels run on this CPU (AVX2 and FMA); without them the portable kernel dequantizes rows.</summary>
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Whether the block products use AVX-VNNI (vpdpbusd) rather than vpmaddubsw + vpmaddwd.</summary>
    public static bool UsesVnni => AvxVnni.IsSupported;

    /// <summary>Rows ahead of the 4 being read whose cache lines the decode kernel requests (as <see cref="Gemm"/>'s decode kernels do).</summary>
    private const int PrefetchRows = 8;

    /// <summary>Tokens that share each loaded weight block in the multi-token tiles.</summary>
    private const int TileTokens = 4;

    /// <summary>Blocks of tokens small enough that their quantized inputs stay in cache while a range's rows stream past.</summary>
    private const int TokenBlock = 64;

    private const int Block = WeightMatrix.Q8Block;

    /// <summary>
    /// Quantizes <paramref name="count"/> blocks of 32 values as llama.cpp's Q8_0 does: scale = max |v| / 127 and
    /// q = round(v / scale) (to nearest, ties to even: <c>MathF.Round</c>), clamped to ±127; writes q, |q| when
    /// <paramref name="abs"/> is not null, and the scales. Vectorized with AVX2, else scalar with the same results.
    /// </summary>
    public static void QuantizeBlocks(float* v, long count, sbyte* q, byte* abs, float* scales)
    {
        if (!Avx2.IsSupported)
        {
            QuantizeBlocksScalar(v, count, q, abs, scales);
            return;
        }

        var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        var signMask = Vector256.Create(0x7FFFFFFF).AsSingle();
        var lowest = Vector256.Create((sbyte)-127);
        for (long b = 0; b < count; b++)
        {
            float* s = v + (b * Block);
            var v0 = Vector256.Load(s);
            var v1 = Vector256.Load(s + 8);
            var v2 = Vector256.Load(s + 16);
            var v3 = Vector256.Load(s + 24);
            var m = Vector256.MaxNative(Vector256.MaxNative(v0 & signMask, v1 & signMask), Vector256.MaxNative(v2 & signMask, v3 & signMask));
            var m4 = Vector128.MaxNative(m.GetLower(), m.GetUpper());
            m4 = Vector128.MaxNative(m4, Sse.Shuffle(m4, m4, 0b01_00_11_10));
            m4 = Vector128.MaxNative(m4, Sse.Shuffle(m4, m4, 0b10_11_00_01));
            float scale = m4.ToScalar() / 127f;
            scales[b] = scale;
            var inv = Vector256.Create(scale > 0 ? 1f / scale : 0f);
            var i0 = Avx.ConvertToVector256Int32(v0 * inv);
            var i1 = Avx.ConvertToVector256Int32(v1 * inv);
            var i2 = Avx.ConvertToVector256Int32(v2 * inv);
            var i3 = Avx.ConvertToVector256Int32(v3 * inv);
            var packed = Avx2.PackSignedSaturate(Avx2.PackSignedSaturate(i0, i1), Avx2.PackSignedSaturate(i2, i3));
            var bytes = Vector256.Max(Avx2.PermuteVar8x32(packed.AsInt32(), order).AsSByte(), lowest);
            bytes.Store(q + (b * Block));
            if (abs is not null)
            {
                Avx2.Abs(bytes).Store(abs + (b * Block));
            }
        }
    }

    /// <summary>The scalar form of <see cref="QuantizeBlocks"/> (the reference the vector form matches).</summary>
    internal static void QuantizeBlocksScalar(float* v, long count, sbyte* q, byte* abs, float* scales)
    {
        for (long b = 0; b < count; b++)
        {
            float* s = v + (b * Block);
            float amax = 0;
            for (int i = 0; i < Block; i++)
            {
                amax = MathF.Max(amax, MathF.Abs(s[i]));
            }

            float scale = amax / 127f;
            float inv = scale > 0 ? 1f / scale : 0f;
            scales[b] = scale;
            for (int i = 0; i < Block; i++)
            {
                int r = Math.Clamp((int)MathF.Round(s[i] * inv), -127, 127);
                q[(b * Block) + i] = (sbyte)r;
                if (abs is not null)
                {
                    abs[(b * Block) + i] = (byte)Math.Abs(r);
                }
            }
        }
    }

    /// <summary>
    /// <see cref="QuantizeBlocks"/> (or its scalar form) over spans: <paramref name="x"/> holds whole blocks; q and |q| get
    /// one value each, <paramref name="scales"/> one per block.
    /// </summary>
    internal static void Quantize(ReadOnlySpan<float> x, Span<sbyte> q, Span<byte> abs, Span<float> scales, bool scalar)
    {
        long blocks = x.Length / Block;
        if (x.Length % Block != 0 || q.Length < x.Length || abs.Length < x.Length || scales.Length < blocks)
        {
            throw new ArgumentException($"Quantize: {x.Length} values need whole blocks of {Block} and room for them.");
        }

        fixed (float* px = x, ps = scales)
        fixed (sbyte* pq = q)
        fixed (byte* pa = abs)
        {
            if (scalar)
            {
                QuantizeBlocksScalar(px, blocks, pq, pa, ps);
            }
            else
            {
                QuantizeBlocks(px, blocks, pq, pa, ps);
            }
        }
    }

    /// <summary>
    /// The whole product on the calling thread with the block product <typeparamref name="TDot"/>, inputs quantized here:
    /// what <see cref="VectorKernels.MatMul"/> computes for a <see cref="WeightType.Q8"/> matrix, with the path chosen.
    /// </summary>
    internal static void MatMul<TDot>(ReadOnlySpan<float> x, int tokens, WeightMatrix w, ReadOnlySpan<float> bias, Span<float> y)
        where TDot : struct, IBlockDot
    {
        if (w.Type != WeightType.Q8 || x.Length < (long)tokens * w.Cols || y.Length < (long)tokens * w.Rows || (bias.Length != 0 && bias.Length != w.Rows))
        {
            throw new ArgumentException($"GemmQ8.MatMul: a Q8 matrix and x {x.Length}, y {y.Length}, bias {bias.Length} for {tokens} tokens × [{w.Rows}, {w.Cols}].");
        }

        int n = tokens * w.Cols;
        var q = new sbyte[n];
        var abs = new byte[n];
        var scales = new float[n / Block];
        Quantize(x[..n], q, abs, scales, scalar: false);
        fixed (sbyte* pq = q)
        fixed (byte* pa = abs)
        fixed (float* ps = scales, pb = bias, py = y)
        {
            Rows<TDot>(w, new Q8Input(pq, pa, ps, w.Cols), tokens, bias.Length != 0 ? pb : null, py, 0, w.Rows);
        }
    }

    /// <summary>Rows [o0, o1) of the product for <paramref name="tokens"/> quantized inputs, with the CPU's block product.</summary>
    public static void Rows(WeightMatrix w, Q8Input x, int tokens, float* bias, float* y, int o0, int o1)
    {
        if (UsesVnni)
        {
            Rows<Vnni>(w, x, tokens, bias, y, o0, o1);
        }
        else
        {
            Rows<MaddUbs>(w, x, tokens, bias, y, o0, o1);
        }
    }

    /// <summary>Rows [o0, o1) with the block product <typeparamref name="TDot"/> (callable directly, so tests reach both).</summary>
    internal static void Rows<TDot>(WeightMatrix w, Q8Input x, int tokens, float* bias, float* y, int o0, int o1)
        where TDot : struct, IBlockDot
    {
        if (tokens == 1)
        {
            Decode<TDot>(w, x, bias, y, o0, o1);
            return;
        }

        int rows = w.Rows, cols = w.Cols;
        for (int t0 = 0; t0 < tokens; t0 += TokenBlock)
        {
            int t1 = Math.Min(tokens, t0 + TokenBlock);
            int o = o0;
            for (; o + 4 <= o1; o += 4)
            {
                int t = t0;
                for (; t + TileTokens <= t1; t += TileTokens)
                {
                    Tile4x4<TDot>(w, x, o, t, rows, bias, y);
                }

                for (; t < t1; t++)
                {
                    Tile4x1<TDot>(w, x.Token(t), o, bias, y + ((long)t * rows), 0);
                }
            }

            for (; o < o1; o++)
            {
                for (int t = t0; t < t1; t++)
                {
                    y[((long)t * rows) + o] = Dot1<TDot>(w, x.Token(t), o, cols, bias);
                }
            }
        }
    }

    /// <summary>One token: 4 rows at a time sharing each input block, the cache lines <see cref="PrefetchRows"/> rows ahead requested.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Decode<TDot>(WeightMatrix w, Q8Input x, float* bias, float* y, int o0, int o1)
        where TDot : struct, IBlockDot
    {
        int o = o0;
        long ahead = (long)PrefetchRows * w.Cols;
        for (; o + 4 <= o1; o += 4)
        {
            Tile4x1<TDot>(w, x, o, bias, y, ahead);
        }

        for (; o < o1; o++)
        {
            y[o] = Dot1<TDot>(w, x, o, w.Cols, bias);
        }
    }

    /// <summary>4 rows × 1 token; with <paramref name="ahead"/> ≠ 0, each row's bytes that far ahead are prefetched.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1<TDot>(WeightMatrix w, Q8Input x, int o, float* bias, float* y, long ahead)
        where TDot : struct, IBlockDot
    {
        int k = w.Cols, nb = k / Block;
        sbyte* w0 = (sbyte*)w.Data + ((long)o * k);
        sbyte* w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        float* s0 = w.ScaleData + ((long)o * nb);
        float* s1 = s0 + nb, s2 = s1 + nb, s3 = s2 + nb;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int b = 0; b < nb; b++)
        {
            int c = b * Block;
            if (ahead != 0 && (b & 1) == 0)
            {
                Sse.Prefetch0(w0 + c + ahead);
                Sse.Prefetch0(w1 + c + ahead);
                Sse.Prefetch0(w2 + c + ahead);
                Sse.Prefetch0(w3 + c + ahead);
            }

            var xa = Vector256.Load(x.Abs + c);
            var xq = Vector256.Load(x.Q + c);
            var xs = Vector256.Create(x.Scales[b]);
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(Vector256.Load(w0 + c), xq))), Vector256.Create(s0[b]) * xs, a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(Vector256.Load(w1 + c), xq))), Vector256.Create(s1[b]) * xs, a1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(Vector256.Load(w2 + c), xq))), Vector256.Create(s2[b]) * xs, a2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(Vector256.Load(w3 + c), xq))), Vector256.Create(s3[b]) * xs, a3);
        }

        y[o] = Vector256.Sum(a0) + (bias is null ? 0f : bias[o]);
        y[o + 1] = Vector256.Sum(a1) + (bias is null ? 0f : bias[o + 1]);
        y[o + 2] = Vector256.Sum(a2) + (bias is null ? 0f : bias[o + 2]);
        y[o + 3] = Vector256.Sum(a3) + (bias is null ? 0f : bias[o + 3]);
    }

    /// <summary>
    /// 4 rows × 4 tokens: each weight block is loaded once for the 4 tokens, 16 accumulators of 8 lanes in registers; each
    /// (row, token) pair takes exactly the steps <see cref="Tile4x1{TDot}"/> takes for it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4<TDot>(WeightMatrix w, Q8Input x, int o, int t, int ldy, float* bias, float* y)
        where TDot : struct, IBlockDot
    {
        int k = w.Cols, nb = k / Block;
        sbyte* w0 = (sbyte*)w.Data + ((long)o * k);
        sbyte* w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        float* s0 = w.ScaleData + ((long)o * nb);
        float* s1 = s0 + nb, s2 = s1 + nb, s3 = s2 + nb;
        Q8Input x0 = x.Token(t), x1 = x.Token(t + 1), x2 = x.Token(t + 2), x3 = x.Token(t + 3);
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector256<float> a30 = default, a31 = default, a32 = default, a33 = default;
        for (int b = 0; b < nb; b++)
        {
            int c = b * Block;
            var r0 = Vector256.Load(w0 + c);
            var r1 = Vector256.Load(w1 + c);
            var r2 = Vector256.Load(w2 + c);
            var r3 = Vector256.Load(w3 + c);
            var ws0 = Vector256.Create(s0[b]);
            var ws1 = Vector256.Create(s1[b]);
            var ws2 = Vector256.Create(s2[b]);
            var ws3 = Vector256.Create(s3[b]);

            var xa = Vector256.Load(x0.Abs + c);
            var xq = Vector256.Load(x0.Q + c);
            var xs = Vector256.Create(x0.Scales[b]);
            a00 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r0, xq))), ws0 * xs, a00);
            a10 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r1, xq))), ws1 * xs, a10);
            a20 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r2, xq))), ws2 * xs, a20);
            a30 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r3, xq))), ws3 * xs, a30);

            xa = Vector256.Load(x1.Abs + c);
            xq = Vector256.Load(x1.Q + c);
            xs = Vector256.Create(x1.Scales[b]);
            a01 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r0, xq))), ws0 * xs, a01);
            a11 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r1, xq))), ws1 * xs, a11);
            a21 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r2, xq))), ws2 * xs, a21);
            a31 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r3, xq))), ws3 * xs, a31);

            xa = Vector256.Load(x2.Abs + c);
            xq = Vector256.Load(x2.Q + c);
            xs = Vector256.Create(x2.Scales[b]);
            a02 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r0, xq))), ws0 * xs, a02);
            a12 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r1, xq))), ws1 * xs, a12);
            a22 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r2, xq))), ws2 * xs, a22);
            a32 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r3, xq))), ws3 * xs, a32);

            xa = Vector256.Load(x3.Abs + c);
            xq = Vector256.Load(x3.Q + c);
            xs = Vector256.Create(x3.Scales[b]);
            a03 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r0, xq))), ws0 * xs, a03);
            a13 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r1, xq))), ws1 * xs, a13);
            a23 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r2, xq))), ws2 * xs, a23);
            a33 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(xa, Avx2.Sign(r3, xq))), ws3 * xs, a33);
        }

        float bias0 = bias is null ? 0f : bias[o], bias1 = bias is null ? 0f : bias[o + 1];
        float bias2 = bias is null ? 0f : bias[o + 2], bias3 = bias is null ? 0f : bias[o + 3];
        float* y0 = y + ((long)t * ldy) + o, y1 = y0 + ldy, y2 = y1 + ldy, y3 = y2 + ldy;
        y0[0] = Vector256.Sum(a00) + bias0;
        y0[1] = Vector256.Sum(a10) + bias1;
        y0[2] = Vector256.Sum(a20) + bias2;
        y0[3] = Vector256.Sum(a30) + bias3;
        y1[0] = Vector256.Sum(a01) + bias0;
        y1[1] = Vector256.Sum(a11) + bias1;
        y1[2] = Vector256.Sum(a21) + bias2;
        y1[3] = Vector256.Sum(a31) + bias3;
        y2[0] = Vector256.Sum(a02) + bias0;
        y2[1] = Vector256.Sum(a12) + bias1;
        y2[2] = Vector256.Sum(a22) + bias2;
        y2[3] = Vector256.Sum(a32) + bias3;
        y3[0] = Vector256.Sum(a03) + bias0;
        y3[1] = Vector256.Sum(a13) + bias1;
        y3[2] = Vector256.Sum(a23) + bias2;
        y3[3] = Vector256.Sum(a33) + bias3;
    }

    /// <summary>One row × one token, in the tiles' order.</summary>
    private static float Dot1<TDot>(WeightMatrix w, Q8Input x, int o, int k, float* bias)
        where TDot : struct, IBlockDot
    {
        int nb = k / Block;
        sbyte* w0 = (sbyte*)w.Data + ((long)o * k);
        float* s0 = w.ScaleData + ((long)o * nb);
        Vector256<float> a = default;
        for (int b = 0; b < nb; b++)
        {
            int c = b * Block;
            var d = TDot.Dot(Vector256.Load(x.Abs + c), Avx2.Sign(Vector256.Load(w0 + c), Vector256.Load(x.Q + c)));
            a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), Vector256.Create(s0[b]) * Vector256.Create(x.Scales[b]), a);
        }

        return Vector256.Sum(a) + (bias is null ? 0f : bias[o]);
    }

    /// <summary>A block's 32 products |xq| × (±w), summed in 4s into 8 int32 lanes (lane i: bytes 4i..4i+3).</summary>
    internal interface IBlockDot
    {
        /// <summary>The 8 lane sums.</summary>
        static abstract Vector256<int> Dot(Vector256<byte> abs, Vector256<sbyte> signedWeights);
    }

    /// <summary>AVX-VNNI: one vpdpbusd.</summary>
    internal readonly struct Vnni : IBlockDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<byte> abs, Vector256<sbyte> signedWeights) =>
            AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, abs, signedWeights);
    }

    /// <summary>AVX2: vpmaddubsw (pairs to int16, exact as |products| ≤ 2 × 127²) then vpmaddwd by ones (pairs to int32).</summary>
    internal readonly struct MaddUbs : IBlockDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<byte> abs, Vector256<sbyte> signedWeights) =>
            Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(abs, signedWeights), Vector256.Create((short)1));
    }
}
