using System.Numerics.Tensors;

namespace LmWrapper.HuggingFace.Kernels;

/// <summary>
/// The default kernels: <see cref="Gemm"/>'s register-tiled AVX-512 matrix products (F32, and F16/BF16 widened as they
/// stream, never copied), split into ranges of output rows over a <see cref="ThreadTeam"/>; System.Numerics.Tensors'
/// vectorized primitives for the row operations.
/// </summary>
internal sealed unsafe class VectorKernels : IInferenceKernels, IDisposable
{
    /// <summary>Below this many multiply-adds a product runs on the calling thread.</summary>
    private const long ParallelWork = 1 << 15;

    private readonly ThreadTeam _team;

    public VectorKernels(int threads)
    {
        Threads = Math.Max(1, threads);
        _team = new ThreadTeam(Threads);
    }

    public int Threads { get; }

    public void MatMul(ReadOnlySpan<float> x, int tokens, WeightMatrix w, ReadOnlySpan<float> bias, Span<float> y)
    {
        if (x.Length < (long)tokens * w.Cols || y.Length < (long)tokens * w.Rows || (bias.Length != 0 && bias.Length != w.Rows))
        {
            throw new ArgumentException($"MatMul shapes: x {x.Length}, y {y.Length}, bias {bias.Length} for {tokens} tokens × [{w.Rows}, {w.Cols}].");
        }

        fixed (float* px = x, py = y, pb = bias)
        {
            float* cx = px, cy = py, cb = bias.Length != 0 ? pb : null;
            if (w.Type == WeightType.Q8 && GemmQ8.Supported)
            {
                WithQuantizedInput(cx, tokens, w.Cols, qx => ForRowRanges(w, tokens, (o0, o1) => GemmQ8.Rows(w, qx, tokens, cb, cy, o0, o1)));
                return;
            }

            if (tokens <= Gemm.StreamTokens)
            {
                _ = w.HalvesAreFinite; // an F16 matrix's one-time scan, here rather than on every thread at once
            }

            float* ax = AlignedInput(cx, tokens, w.Cols);
            ForRowRanges(w, tokens, (o0, o1) => Gemm.Rows(w, ax, tokens, cb, cy, o0, o1));
        }
    }

    public void MatMulShared(ReadOnlySpan<float> x, int tokens, ReadOnlySpan<WeightMatrix> ws, ReadOnlySpan<float[]> biases, ReadOnlySpan<float[]> ys)
    {
        if (ws.Length != biases.Length || ws.Length != ys.Length)
        {
            throw new ArgumentException($"MatMulShared: {ws.Length} matrices, {biases.Length} biases and {ys.Length} outputs.");
        }

        long work = 0;
        bool plain = Gemm.Accelerated, q8 = GemmQ8.Supported;
        for (int m = 0; m < ws.Length; m++)
        {
            var w = ws[m];
            if (x.Length < (long)tokens * w.Cols || ys[m].Length < (long)tokens * w.Rows || (biases[m].Length != 0 && biases[m].Length != w.Rows))
            {
                throw new ArgumentException($"MatMulShared shapes: x {x.Length}, y {ys[m].Length}, bias {biases[m].Length} for {tokens} tokens × [{w.Rows}, {w.Cols}].");
            }

            work += (long)w.Rows * w.Cols * tokens;
            plain &= w.Type != WeightType.Q8 && w.Rows >= 8;
            q8 &= w.Type == WeightType.Q8 && w.Cols == ws[0].Cols;
        }

        if (ws.Length == 0 || !(plain || q8))
        {
            for (int m = 0; m < ws.Length; m++)
            {
                MatMul(x, tokens, ws[m], biases[m], ys[m]);
            }

            return;
        }

        var matrices = ws.ToArray();
        var bs = biases.ToArray();
        var outs = ys.ToArray();
        fixed (float* px = x)
        {
            float* cx = px;
            if (q8)
            {
                // Q8 matrices sharing the input: it is quantized once for all of them.
                WithQuantizedInput(cx, tokens, matrices[0].Cols, qx => SharedRanges(matrices, bs, outs, tokens, work, (w, b, y, o0, o1) => GemmQ8.Rows(w, qx, tokens, b, y, o0, o1)));
            }
            else
            {
                float* ax = AlignedInput(cx, tokens, matrices[0].Cols);
                SharedRanges(matrices, bs, outs, tokens, work, (w, b, y, o0, o1) => Gemm.Rows(w, ax, tokens, b, y, o0, o1));
            }
        }
    }

    [ThreadStatic]
    private static float[]? t_alignedInput;

    /// <summary>
    /// The input of a product that goes to the multi-token tiles, on a 64-byte boundary: the tiles load 4 input rows per 4
    /// weight vectors, and a pooled array's elements start 16 bytes past a line, so every one of those loads split across two
    /// lines (8-token products of the 135M Llama's head: 26 → 34-39 GB/s of weights with the input copied to an aligned
    /// buffer). A copy in a buffer of the calling thread's (the workers only read it while this call runs); the single-token
    /// kernels, which load one input vector per weight vector, read it where it is.
    /// </summary>
    private static float* AlignedInput(float* x, int tokens, int cols)
    {
        if (tokens <= Gemm.StreamTokens || ((nint)x & 63) == 0 || !Gemm.Accelerated)
        {
            return x;
        }

        long n = (long)tokens * cols;
        var buffer = t_alignedInput;
        if (buffer is null || buffer.Length < n + 16)
        {
            buffer = t_alignedInput = GC.AllocateUninitializedArray<float>(checked((int)n + 16), pinned: true);
        }

        fixed (float* b = buffer)
        {
            float* aligned = (float*)(((nint)b + 63) & ~(nint)63);
            Buffer.MemoryCopy(x, aligned, n * sizeof(float), n * sizeof(float));
            return aligned; // the array is pinned, so the pointer outlives this block
        }
    }

    /// <summary>A product's rows over several matrices.</summary>
    private delegate void SharedRows(WeightMatrix w, float* bias, float* y, int o0, int o1);

    /// <summary>
    /// Every matrix's rows in whole 4-row tiles, cut into about Threads × 4 ranges in all (in proportion to the rows) and
    /// handed out as one run; all on the calling thread for a small product.
    /// </summary>
    private void SharedRanges(WeightMatrix[] matrices, float[][] bs, float[][] outs, int tokens, long work, SharedRows rows)
    {
        if (Threads == 1 || work < ParallelWork)
        {
            for (int m = 0; m < matrices.Length; m++)
            {
                fixed (float* py = outs[m], pb = bs[m])
                {
                    rows(matrices[m], bs[m].Length != 0 ? pb : null, py, 0, matrices[m].Rows);
                }
            }

            return;
        }

        int totalQuads = 0;
        foreach (var w in matrices)
        {
            totalQuads += (w.Rows + 3) / 4;
            if (tokens <= Gemm.StreamTokens)
            {
                _ = w.HalvesAreFinite;
            }
        }

        var ranges = new List<(int M, int O0, int O1)>();
        for (int m = 0; m < matrices.Length; m++)
        {
            int quads = (matrices[m].Rows + 3) / 4;
            int chunks = Math.Clamp((int)Math.Round((double)Threads * 4 * quads / totalQuads), 1, quads);
            for (int c = 0; c < chunks; c++)
            {
                ranges.Add((m, (int)((long)c * quads / chunks) * 4, Math.Min(matrices[m].Rows, (int)((long)(c + 1) * quads / chunks) * 4)));
            }
        }

        _team.For(ranges.Count, i =>
        {
            var (m, o0, o1) = ranges[i];
            fixed (float* py = outs[m], pb = bs[m])
            {
                rows(matrices[m], bs[m].Length != 0 ? pb : null, py, o0, o1);
            }
        });
    }

    /// <summary>
    /// Runs <paramref name="rows"/> over the matrix's output rows: on the calling thread for a small product, else in
    /// ranges of whole 4-row tiles, a few per thread, handed out as threads come free.
    /// </summary>
    private void ForRowRanges(WeightMatrix w, int tokens, Action<int, int> rows)
    {
        long work = (long)w.Rows * w.Cols * tokens;
        if (Threads == 1 || work < ParallelWork || w.Rows < 8)
        {
            rows(0, w.Rows);
            return;
        }

        int quads = (w.Rows + 3) / 4;
        int chunks = Math.Min(quads, Threads * 4);
        int total = w.Rows;
        _team.For(chunks, c => rows((int)((long)c * quads / chunks) * 4, Math.Min(total, (int)((long)(c + 1) * quads / chunks) * 4)));
    }

    /// <summary>
    /// Quantizes <paramref name="tokens"/> input rows for <see cref="WeightType.Q8"/> products (q, |q| and the block scales,
    /// in one pooled buffer) and runs <paramref name="body"/> over them.
    /// </summary>
    private static void WithQuantizedInput(float* x, int tokens, int cols, Action<Q8Input> body)
    {
        int n = tokens * cols, blocks = n / WeightMatrix.Q8Block;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((2 * n) + (4 * blocks) + 64);
        try
        {
            fixed (byte* p = buffer)
            {
                float* scales = (float*)(((nint)p + (2 * n) + 63) & ~(nint)63);
                var qx = new Q8Input((sbyte*)p, p + n, scales, cols);
                GemmQ8.QuantizeRows(x, tokens, cols, qx.Q, qx.Abs, scales);
                body(qx);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void ParallelFor(int count, Action<int> body)
    {
        if (Threads == 1)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }

            return;
        }

        _team.For(count, body);
    }

    public void AttendHead(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int stride, int start, int end, float scale, Span<float> scores, Span<float> output)
    {
        int hd = q.Length;
        if ((long)end * stride + hd > keys.Length || (long)end * stride + hd > values.Length || scores.Length <= end || output.Length < hd)
        {
            throw new ArgumentException("AttendHead: a span is too short for the positions asked for.");
        }

        fixed (float* pq = q, pk = keys, pv = values, ps = scores, po = output)
        {
            if (Gemm.Accelerated && hd % 16 == 0)
            {
                Gemm.AttendHead(pq, pk, pv, stride, start, end, hd, scale, ps, po);
                Softmax(scores[start..(end + 1)]);
                Gemm.WeightedSum(pv, stride, start, end, hd, ps, po);
                return;
            }
        }

        for (int j = start; j <= end; j++)
        {
            scores[j] = TensorPrimitives.Dot(q, keys.Slice(j * stride, hd)) * scale;
        }

        Softmax(scores[start..(end + 1)]);
        output[..hd].Clear();
        for (int j = start; j <= end; j++)
        {
            TensorPrimitives.MultiplyAdd(values.Slice(j * stride, hd), scores[j], output[..hd], output[..hd]);
        }
    }

    public void Dispose() => _team.Dispose();

    public void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> y)
    {
        float ss = TensorPrimitives.SumOfSquares(x);
        float scale = 1f / MathF.Sqrt((ss / x.Length) + eps);
        TensorPrimitives.Multiply(x, scale, y);
        TensorPrimitives.Multiply(y, weight, y);
    }

    public void LayerNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, float eps, Span<float> y)
    {
        float mean = TensorPrimitives.Sum(x) / x.Length;
        TensorPrimitives.Subtract(x, mean, y);
        float variance = TensorPrimitives.SumOfSquares(y) / x.Length;
        float scale = 1f / MathF.Sqrt(variance + eps);
        TensorPrimitives.Multiply(y, scale, y);
        TensorPrimitives.FusedMultiplyAdd(y, weight, bias, y);
    }

    public void Softmax(Span<float> x)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        float sum = TensorPrimitives.Sum(x);
        TensorPrimitives.Divide(x, sum, x);
    }

    public void GeluNew(Span<float> x)
    {
        // 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))), vectorized in slices through a scratch buffer.
        const float C = 0.7978845608028654f;
        var buffer = System.Buffers.ArrayPool<float>.Shared.Rent(Math.Min(x.Length, 4096));
        try
        {
            for (int i = 0; i < x.Length; i += buffer.Length)
            {
                var v = x.Slice(i, Math.Min(buffer.Length, x.Length - i));
                var t = buffer.AsSpan(0, v.Length);
                TensorPrimitives.Multiply(v, v, t);                       // x²
                TensorPrimitives.Multiply(t, 0.044715f, t);
                TensorPrimitives.Add(t, 1f, t);                           // 1 + 0.044715 x²
                TensorPrimitives.Multiply(t, v, t);                       // x + 0.044715 x³
                TensorPrimitives.Multiply(t, C, t);
                TensorPrimitives.Tanh(t, t);
                TensorPrimitives.Add(t, 1f, t);
                TensorPrimitives.Multiply(t, v, t);
                TensorPrimitives.Multiply(t, 0.5f, v);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(buffer);
        }
    }

    public void SiluMul(Span<float> gate, ReadOnlySpan<float> up)
    {
        // silu(g) · u = g · sigmoid(g) · u
        var buffer = System.Buffers.ArrayPool<float>.Shared.Rent(Math.Min(gate.Length, 4096));
        try
        {
            for (int i = 0; i < gate.Length; i += buffer.Length)
            {
                int n = Math.Min(buffer.Length, gate.Length - i);
                var g = gate.Slice(i, n);
                var t = buffer.AsSpan(0, n);
                TensorPrimitives.Sigmoid(g, t);
                TensorPrimitives.Multiply(g, t, t);
                TensorPrimitives.Multiply(t, up.Slice(i, n), g);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(buffer);
        }
    }

    public float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => TensorPrimitives.Dot(a, b);

    public void AddScaled(Span<float> y, ReadOnlySpan<float> x, float a) => TensorPrimitives.MultiplyAdd(x, a, y, y);

    public void Add(Span<float> y, ReadOnlySpan<float> x) => TensorPrimitives.Add(y, x, y);
}
