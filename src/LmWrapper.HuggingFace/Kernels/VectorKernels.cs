using System.Numerics.Tensors;

namespace LmWrapper.HuggingFace.Kernels;

/// <summary>
/// The default kernels: System.Numerics.Tensors' vectorized primitives (Vector512 where the CPU has it) and matrix
/// products split over output rows on up to <see cref="Threads"/> threads, blocked over tokens so that a block of
/// inputs stays in cache while each weight row streams through once.
/// </summary>
internal sealed unsafe class VectorKernels : IInferenceKernels
{
    /// <summary>Tokens per block of a matrix product.</summary>
    private const int TokenBlock = 32;

    /// <summary>Below this many multiply-adds a product runs on the calling thread.</summary>
    private const long ParallelWork = 1 << 16;

    [ThreadStatic]
    private static float[]? t_row;

    private readonly ParallelOptions _parallel;

    public VectorKernels(int threads)
    {
        Threads = Math.Max(1, threads);
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = Threads };
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
            long work = (long)w.Rows * w.Cols * tokens;
            bool hasBias = bias.Length != 0;
            if (Threads == 1 || work < ParallelWork || w.Rows < 2)
            {
                RowRange(0, w.Rows, px, tokens, w, hasBias ? pb : null, py);
                return;
            }

            int chunks = Math.Min(w.Rows, Threads * 8);
            float* cx = px, cy = py, cb = hasBias ? pb : null;
            int rows = w.Rows;
            Parallel.For(0, chunks, _parallel, c =>
            {
                int o0 = (int)((long)c * rows / chunks), o1 = (int)((long)(c + 1) * rows / chunks);
                RowRange(o0, o1, cx, tokens, w, cb, cy);
            });
        }
    }

    private static void RowRange(int o0, int o1, float* x, int tokens, WeightMatrix w, float* bias, float* y)
    {
        int cols = w.Cols, rows = w.Rows;
        float[]? buffer = null;
        if (w.Type != WeightType.F32)
        {
            buffer = t_row;
            if (buffer is null || buffer.Length < cols)
            {
                buffer = t_row = new float[Math.Max(cols, 64)];
            }
        }

        for (int t0 = 0; t0 < tokens; t0 += TokenBlock)
        {
            int t1 = Math.Min(tokens, t0 + TokenBlock);
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
                for (int t = t0; t < t1; t++)
                {
                    y[((long)t * rows) + o] = TensorPrimitives.Dot(row, new ReadOnlySpan<float>(x + ((long)t * cols), cols)) + b;
                }
            }
        }
    }

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
        // 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
        const float C = 0.7978845608028654f;
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i];
            x[i] = 0.5f * v * (1f + MathF.Tanh(C * (v + (0.044715f * v * v * v))));
        }
    }

    public void SiluMul(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            float g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    public float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => TensorPrimitives.Dot(a, b);

    public void AddScaled(Span<float> y, ReadOnlySpan<float> x, float a) => TensorPrimitives.MultiplyAdd(x, a, y, y);

    public void Add(Span<float> y, ReadOnlySpan<float> x) => TensorPrimitives.Add(y, x, y);
}
