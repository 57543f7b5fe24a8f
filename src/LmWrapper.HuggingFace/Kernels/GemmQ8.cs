using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LmWrapper.HuggingFace.Kernels;

/// <summary>
/// The <see cref="WeightType.Q8"/> matrix products (llama.cpp's Q8_0 scheme): inputs quantized per block of 32 values as
/// the weights are, and per block the exact integer dot product, scaled by (weight scale × input scale) into a float
/// accumulator. Weights and inputs are stored interleaved (<see cref="Interleave"/>): in each group of 8 blocks, a 32-byte
/// step holds 4 values of each block, so the step's multiply-add (llama.cpp's sign trick, <c>vpdpbusd(sum, |xq|,
/// sign(w, xq))</c> with AVX-VNNI; vpmaddubsw + vpmaddwd + vpaddd without it, exact as |xq| × |w| ≤ 127²) adds into each
/// block's own int32 lane, and after 8 steps one conversion and one fused multiply-add by the 8 blocks' scale products
/// (two vector loads) finish 8 blocks; blocks past the last whole group take one step each. Both block products return the
/// same integers, so the same bits. Every (row, token) result is accumulated in the same order by every tile (groups and
/// tail blocks in order, one horizontal sum, then the bias), so a token's numbers do not depend on the batch around it.
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

    /// <summary>
    /// Quantizes <paramref name="rows"/> rows of <paramref name="cols"/> values (<see cref="QuantizeBlocks"/>) into the
    /// kernels' layout (<see cref="Interleave"/>): a matrix's rows when loading, or a product's input tokens.
    /// </summary>
    public static void QuantizeRows(float* v, long rows, int cols, sbyte* q, byte* abs, float* scales)
    {
        QuantizeBlocks(v, rows * (cols / Block), q, abs, scales);
        Interleave((byte*)q, rows, cols);
        if (abs is not null)
        {
            Interleave(abs, rows, cols);
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
        fixed (float* px = x, ps = scales, pb = bias, py = y)
        fixed (sbyte* pq = q)
        fixed (byte* pa = abs)
        {
            QuantizeRows(px, tokens, w.Cols, pq, pa, ps);
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

        int rows = w.Rows;
        for (int t0 = 0; t0 < tokens; t0 += TokenBlock)
        {
            int t1 = Math.Min(tokens, t0 + TokenBlock);
            int o = o0;
            for (; o + 4 <= o1; o += 4)
            {
                int t = t0;
                for (; t + 2 <= t1; t += 2)
                {
                    Tile4x2<TDot>(w, x.Token(t), x.Token(t + 1), o, bias, y + ((long)t * rows), y + ((long)(t + 1) * rows));
                }

                if (t < t1)
                {
                    Tile4x1<TDot>(w, x.Token(t), o, bias, y + ((long)t * rows), 0);
                }
            }

            for (; o < o1; o++)
            {
                for (int t = t0; t < t1; t++)
                {
                    y[((long)t * rows) + o] = Dot1<TDot>(w, x.Token(t), o, bias);
                }
            }
        }
    }

    /// <summary>One token: 4 rows at a time sharing each input load, the cache lines <see cref="PrefetchRows"/> rows ahead requested.</summary>
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
            y[o] = Dot1<TDot>(w, x, o, bias);
        }
    }

    /// <summary>
    /// 4 rows × 1 token. A group's 8 steps of 32 bytes accumulate whole block sums in 8 int32 lanes (two chains per row, so
    /// the multiply-adds overlap), then one conversion and one fused multiply-add by the 8 blocks' scale products; the tail
    /// blocks one at a time. With <paramref name="ahead"/> ≠ 0, each row's bytes that far ahead are prefetched.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x1<TDot>(WeightMatrix w, Q8Input x, int o, float* bias, float* y, long ahead)
        where TDot : struct, IBlockDot
    {
        int k = w.Cols, nb = k / Block, groups = nb / GroupBlocks;
        sbyte* w0 = (sbyte*)w.Data + ((long)o * k);
        sbyte* w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        float* s0 = w.ScaleData + ((long)o * nb);
        float* s1 = s0 + nb, s2 = s1 + nb, s3 = s2 + nb;
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        for (int g = 0; g < groups; g++)
        {
            int c = g * GroupBytes;
            if (ahead != 0)
            {
                for (int line = 0; line < GroupBytes; line += 64)
                {
                    Sse.Prefetch0(w0 + c + line + ahead);
                    Sse.Prefetch0(w1 + c + line + ahead);
                    Sse.Prefetch0(w2 + c + line + ahead);
                    Sse.Prefetch0(w3 + c + line + ahead);
                }
            }

            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            Vector256<int> j0 = default, j1 = default, j2 = default, j3 = default;
            for (int step = 0; step < GroupBytes; step += 64)
            {
                int at = c + step;
                var xa = Vector256.Load(x.Abs + at);
                var xq = Vector256.Load(x.Q + at);
                i0 = TDot.Dot(i0, xa, Avx2.Sign(Vector256.Load(w0 + at), xq));
                i1 = TDot.Dot(i1, xa, Avx2.Sign(Vector256.Load(w1 + at), xq));
                i2 = TDot.Dot(i2, xa, Avx2.Sign(Vector256.Load(w2 + at), xq));
                i3 = TDot.Dot(i3, xa, Avx2.Sign(Vector256.Load(w3 + at), xq));
                xa = Vector256.Load(x.Abs + at + 32);
                xq = Vector256.Load(x.Q + at + 32);
                j0 = TDot.Dot(j0, xa, Avx2.Sign(Vector256.Load(w0 + at + 32), xq));
                j1 = TDot.Dot(j1, xa, Avx2.Sign(Vector256.Load(w1 + at + 32), xq));
                j2 = TDot.Dot(j2, xa, Avx2.Sign(Vector256.Load(w2 + at + 32), xq));
                j3 = TDot.Dot(j3, xa, Avx2.Sign(Vector256.Load(w3 + at + 32), xq));
            }

            var xs = Vector256.Load(x.Scales + (g * GroupBlocks));
            f0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0 + j0), Vector256.Load(s0 + (g * GroupBlocks)) * xs, f0);
            f1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1 + j1), Vector256.Load(s1 + (g * GroupBlocks)) * xs, f1);
            f2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i2 + j2), Vector256.Load(s2 + (g * GroupBlocks)) * xs, f2);
            f3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i3 + j3), Vector256.Load(s3 + (g * GroupBlocks)) * xs, f3);
        }

        for (int b = groups * GroupBlocks; b < nb; b++)
        {
            int c = b * Block;
            if (ahead != 0)
            {
                Sse.Prefetch0(w0 + c + ahead);
                Sse.Prefetch0(w1 + c + ahead);
                Sse.Prefetch0(w2 + c + ahead);
                Sse.Prefetch0(w3 + c + ahead);
            }

            var xa = Vector256.Load(x.Abs + c);
            var xq = Vector256.Load(x.Q + c);
            var xs = Vector256.Create(x.Scales[b]);
            f0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(Vector256.Load(w0 + c), xq))), Vector256.Create(s0[b]) * xs, f0);
            f1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(Vector256.Load(w1 + c), xq))), Vector256.Create(s1[b]) * xs, f1);
            f2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(Vector256.Load(w2 + c), xq))), Vector256.Create(s2[b]) * xs, f2);
            f3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(Vector256.Load(w3 + c), xq))), Vector256.Create(s3[b]) * xs, f3);
        }

        y[o] = Vector256.Sum(f0) + (bias is null ? 0f : bias[o]);
        y[o + 1] = Vector256.Sum(f1) + (bias is null ? 0f : bias[o + 1]);
        y[o + 2] = Vector256.Sum(f2) + (bias is null ? 0f : bias[o + 2]);
        y[o + 3] = Vector256.Sum(f3) + (bias is null ? 0f : bias[o + 3]);
    }

    /// <summary>
    /// 4 rows × 2 tokens: each weight load serves both tokens; every (row, token) pair takes exactly the steps
    /// <see cref="Tile4x1{TDot}"/> takes for it (integer sums are exact, so how they are split into chains does not matter).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x2<TDot>(WeightMatrix w, Q8Input x, Q8Input z, int o, float* bias, float* yx, float* yz)
        where TDot : struct, IBlockDot
    {
        int k = w.Cols, nb = k / Block, groups = nb / GroupBlocks;
        sbyte* w0 = (sbyte*)w.Data + ((long)o * k);
        sbyte* w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        float* s0 = w.ScaleData + ((long)o * nb);
        float* s1 = s0 + nb, s2 = s1 + nb, s3 = s2 + nb;
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        Vector256<float> h0 = default, h1 = default, h2 = default, h3 = default;
        for (int g = 0; g < groups; g++)
        {
            int c = g * GroupBytes;
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            Vector256<int> j0 = default, j1 = default, j2 = default, j3 = default;
            for (int step = 0; step < GroupBytes; step += 32)
            {
                int at = c + step;
                var r0 = Vector256.Load(w0 + at);
                var r1 = Vector256.Load(w1 + at);
                var r2 = Vector256.Load(w2 + at);
                var r3 = Vector256.Load(w3 + at);
                var xa = Vector256.Load(x.Abs + at);
                var xq = Vector256.Load(x.Q + at);
                i0 = TDot.Dot(i0, xa, Avx2.Sign(r0, xq));
                i1 = TDot.Dot(i1, xa, Avx2.Sign(r1, xq));
                i2 = TDot.Dot(i2, xa, Avx2.Sign(r2, xq));
                i3 = TDot.Dot(i3, xa, Avx2.Sign(r3, xq));
                xa = Vector256.Load(z.Abs + at);
                xq = Vector256.Load(z.Q + at);
                j0 = TDot.Dot(j0, xa, Avx2.Sign(r0, xq));
                j1 = TDot.Dot(j1, xa, Avx2.Sign(r1, xq));
                j2 = TDot.Dot(j2, xa, Avx2.Sign(r2, xq));
                j3 = TDot.Dot(j3, xa, Avx2.Sign(r3, xq));
            }

            int sb = g * GroupBlocks;
            var ws0 = Vector256.Load(s0 + sb);
            var ws1 = Vector256.Load(s1 + sb);
            var ws2 = Vector256.Load(s2 + sb);
            var ws3 = Vector256.Load(s3 + sb);
            var xs = Vector256.Load(x.Scales + sb);
            f0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0), ws0 * xs, f0);
            f1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1), ws1 * xs, f1);
            f2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i2), ws2 * xs, f2);
            f3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i3), ws3 * xs, f3);
            xs = Vector256.Load(z.Scales + sb);
            h0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(j0), ws0 * xs, h0);
            h1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(j1), ws1 * xs, h1);
            h2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(j2), ws2 * xs, h2);
            h3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(j3), ws3 * xs, h3);
        }

        for (int b = groups * GroupBlocks; b < nb; b++)
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
            var xa = Vector256.Load(x.Abs + c);
            var xq = Vector256.Load(x.Q + c);
            var xs = Vector256.Create(x.Scales[b]);
            f0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(r0, xq))), ws0 * xs, f0);
            f1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(r1, xq))), ws1 * xs, f1);
            f2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(r2, xq))), ws2 * xs, f2);
            f3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(r3, xq))), ws3 * xs, f3);
            xa = Vector256.Load(z.Abs + c);
            xq = Vector256.Load(z.Q + c);
            xs = Vector256.Create(z.Scales[b]);
            h0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(r0, xq))), ws0 * xs, h0);
            h1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(r1, xq))), ws1 * xs, h1);
            h2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(r2, xq))), ws2 * xs, h2);
            h3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TDot.Dot(default, xa, Avx2.Sign(r3, xq))), ws3 * xs, h3);
        }

        float b0 = bias is null ? 0f : bias[o], b1 = bias is null ? 0f : bias[o + 1];
        float b2 = bias is null ? 0f : bias[o + 2], b3 = bias is null ? 0f : bias[o + 3];
        yx[o] = Vector256.Sum(f0) + b0;
        yx[o + 1] = Vector256.Sum(f1) + b1;
        yx[o + 2] = Vector256.Sum(f2) + b2;
        yx[o + 3] = Vector256.Sum(f3) + b3;
        yz[o] = Vector256.Sum(h0) + b0;
        yz[o + 1] = Vector256.Sum(h1) + b1;
        yz[o + 2] = Vector256.Sum(h2) + b2;
        yz[o + 3] = Vector256.Sum(h3) + b3;
    }

    /// <summary>One row × one token, in the tiles' order.</summary>
    private static float Dot1<TDot>(WeightMatrix w, Q8Input x, int o, float* bias)
        where TDot : struct, IBlockDot
    {
        int k = w.Cols, nb = k / Block, groups = nb / GroupBlocks;
        sbyte* w0 = (sbyte*)w.Data + ((long)o * k);
        float* s0 = w.ScaleData + ((long)o * nb);
        Vector256<float> f = default;
        for (int g = 0; g < groups; g++)
        {
            int c = g * GroupBytes;
            Vector256<int> i = default;
            for (int step = 0; step < GroupBytes; step += 32)
            {
                i = TDot.Dot(i, Vector256.Load(x.Abs + c + step), Avx2.Sign(Vector256.Load(w0 + c + step), Vector256.Load(x.Q + c + step)));
            }

            f = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i), Vector256.Load(s0 + (g * GroupBlocks)) * Vector256.Load(x.Scales + (g * GroupBlocks)), f);
        }

        for (int b = groups * GroupBlocks; b < nb; b++)
        {
            int c = b * Block;
            var d = TDot.Dot(default, Vector256.Load(x.Abs + c), Avx2.Sign(Vector256.Load(w0 + c), Vector256.Load(x.Q + c)));
            f = Fma.MultiplyAdd(Avx.ConvertToVector256Single(d), Vector256.Create(s0[b]) * Vector256.Create(x.Scales[b]), f);
        }

        return Vector256.Sum(f) + (bias is null ? 0f : bias[o]);
    }

    /// <summary>
    /// Where column <paramref name="c"/> of a row of <paramref name="cols"/> values lies in the interleaved layout (see
    /// <see cref="Interleave"/>).
    /// </summary>
    public static int Position(int c, int cols)
    {
        int b = c / Block;
        if (b >= (cols / Block) / GroupBlocks * GroupBlocks)
        {
            return c;
        }

        int e = c % Block;
        return ((b / GroupBlocks) * GroupBytes) + ((e / 4) * 32) + ((b % GroupBlocks) * 4) + (e % 4);
    }

    /// <summary>
    /// Rearranges each of <paramref name="rows"/> rows of quantized bytes, in place, into the kernels' layout: every group of
    /// 8 whole blocks (256 values) becomes 8 steps of 32 bytes where step j holds values 4j..4j+3 of each of the 8 blocks in
    /// turn (an 8 × 8 transpose of 4-byte words), so one 32-byte multiply-add per step adds 4 products into each block's
    /// own int32 lane; the blocks past the last whole group stay in order.
    /// </summary>
    public static void Interleave(byte* data, long rows, int cols)
    {
        int groups = cols / Block / GroupBlocks;
        int* word = stackalloc int[GroupBytes / 4];
        for (long r = 0; r < rows; r++)
        {
            for (int g = 0; g < groups; g++)
            {
                int* p = (int*)(data + (r * cols) + (g * GroupBytes));
                for (int i = 0; i < 64; i++)
                {
                    word[i] = p[i];
                }

                // word[b * 8 + j] holds block b's values 4j..4j+3; it goes to step j, lane b.
                for (int b = 0; b < GroupBlocks; b++)
                {
                    for (int j = 0; j < 8; j++)
                    {
                        p[(j * 8) + b] = word[(b * 8) + j];
                    }
                }
            }
        }
    }

    /// <summary>Blocks per interleaved group.</summary>
    public const int GroupBlocks = 8;

    /// <summary>Bytes per interleaved group.</summary>
    public const int GroupBytes = GroupBlocks * Block;

    /// <summary>A block's products |xq| × (±w), 4 at a time, added into 8 int32 lanes (lane i: bytes 4i..4i+3).</summary>
    internal interface IBlockDot
    {
        /// <summary><paramref name="sum"/> plus the 8 lane sums.</summary>
        static abstract Vector256<int> Dot(Vector256<int> sum, Vector256<byte> abs, Vector256<sbyte> signedWeights);
    }

    /// <summary>AVX-VNNI: one vpdpbusd.</summary>
    internal readonly struct Vnni : IBlockDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<int> sum, Vector256<byte> abs, Vector256<sbyte> signedWeights) =>
            AvxVnni.MultiplyWideningAndAdd(sum, abs, signedWeights);
    }

    /// <summary>AVX2: vpmaddubsw (pairs to int16, exact as |products| ≤ 2 × 127²), vpmaddwd by ones (pairs to int32), vpaddd.</summary>
    internal readonly struct MaddUbs : IBlockDot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Dot(Vector256<int> sum, Vector256<byte> abs, Vector256<sbyte> signedWeights) =>
            sum + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(abs, signedWeights), Vector256.Create((short)1));
    }
}
