using LmWrapper.HuggingFace.Kernels;

namespace LmWrapper.HuggingFace.Tests.Kernels;

/// <summary>
/// The Q8 (llama.cpp Q8_0-style) kernels: input quantization (vector against scalar), the block products (AVX-VNNI
/// vpdpbusd and the vpmaddubsw fallback) against a plain block-by-block reference at odd sizes, and a token's result
/// alone against inside a batch.
/// </summary>
public sealed class Q8KernelsTests
{
    private static float[] RandomFloats(Random r, int n, double scale = 1) => [.. Enumerable.Range(0, n).Select(_ => (float)(((r.NextDouble() * 2) - 1) * scale))];

    /// <summary>The block products this CPU can run, by name (the fallback runs wherever AVX2 does; VNNI where the CPU has it).</summary>
    private static IEnumerable<string> Paths()
    {
        if (GemmQ8.Supported)
        {
            yield return "maddubs";
        }

        if (GemmQ8.Supported && GemmQ8.UsesVnni)
        {
            yield return "vnni";
        }
    }

    private static void Product(string path, float[] x, int tokens, WeightMatrix w, float[] bias, float[] y)
    {
        if (path == "vnni")
        {
            GemmQ8.MatMul<GemmQ8.Vnni>(x, tokens, w, bias, y);
        }
        else
        {
            GemmQ8.MatMul<GemmQ8.MaddUbs>(x, tokens, w, bias, y);
        }
    }

    /// <summary>llama.cpp's Q8_0 quantization of one block, written out plainly.</summary>
    private static (int[] Q, float Scale) QuantizeBlock(ReadOnlySpan<float> block)
    {
        float amax = 0;
        foreach (float v in block)
        {
            amax = MathF.Max(amax, MathF.Abs(v));
        }

        float scale = amax / 127f;
        float inv = scale > 0 ? 1f / scale : 0f;
        var q = new int[block.Length];
        for (int i = 0; i < block.Length; i++)
        {
            q[i] = Math.Clamp((int)MathF.Round(block[i] * inv), -127, 127);
        }

        return (q, scale);
    }

    [Fact]
    public void InputQuantizationMatchesTheScalarFormulaExactly()
    {
        var r = new Random(5);
        const int Blocks = 41;
        var x = RandomFloats(r, Blocks * 32, 3);
        x.AsSpan(32, 32).Clear();                                   // an all-zero block: scale 0, every q 0
        for (int i = 0; i < 32; i++)
        {
            x[(2 * 32) + i] = (i - 16) * 0.5f;                      // halves: round-half-to-even ties after scaling
            x[(3 * 32) + i] = i == 7 ? -1e30f : 1e-30f * i;         // one huge value beside tiny ones
            x[(4 * 32) + i] = -(i + 1) * 127f / 32f;                // the largest value negative
        }

        var q = new sbyte[x.Length];
        var abs = new byte[x.Length];
        var scales = new float[Blocks];
        GemmQ8.Quantize(x, q, abs, scales, scalar: false);
        var qs = new sbyte[x.Length];
        var absS = new byte[x.Length];
        var scalesS = new float[Blocks];
        GemmQ8.Quantize(x, qs, absS, scalesS, scalar: true);
        Assert.Equal(qs, q);
        Assert.Equal(absS, abs);
        Assert.Equal(scalesS, scales);
        for (int b = 0; b < Blocks; b++)
        {
            var (expected, scale) = QuantizeBlock(x.AsSpan(b * 32, 32));
            Assert.Equal(scale, scales[b]);
            for (int i = 0; i < 32; i++)
            {
                Assert.Equal(expected[i], q[(b * 32) + i]);
                Assert.Equal(Math.Abs(expected[i]), abs[(b * 32) + i]);
            }
        }

        Assert.All(q.AsSpan(32, 32).ToArray(), v => Assert.Equal(0, v));
        Assert.Equal(-127, q[(4 * 32) + 31]);
        Assert.Equal(-127, q[(3 * 32) + 7]);
        Assert.Throws<ArgumentException>(() => GemmQ8.Quantize(x.AsSpan(0, 40), q, abs, scales, scalar: false));
    }

    [Theory]
    [InlineData(3, 32)]
    [InlineData(2, 256)]
    [InlineData(5, 608)]
    [InlineData(1, 2080)]
    public void AQ8MatrixHoldsEachRowsValuesInTheInterleavedOrder(int rows, int cols)
    {
        // Whole groups of 8 blocks are 8 × 8 transposes of 4-byte words; the blocks past the last group stay in order.
        var r = new Random(rows * cols);
        var values = RandomFloats(r, rows * cols);
        var w = WeightMatrix.Quantize(values, rows, cols);
        var q = new sbyte[values.Length];
        var scales = new float[values.Length / 32];
        GemmQ8.Quantize(values, q, new byte[values.Length], scales, scalar: true);
        Assert.Equal(scales, w.Scales);
        var bytes = w.Bytes.ToArray();
        var positions = Enumerable.Range(0, cols).Select(c => GemmQ8.Position(c, cols)).ToArray();
        Assert.Equal(Enumerable.Range(0, cols), positions.Order());
        int groups = cols / 256;
        for (int c = 0; c < cols; c++)
        {
            int b = c / 32, e = c % 32;
            int expected = b < groups * 8 ? ((b / 8) * 256) + ((e / 4) * 32) + ((b % 8) * 4) + (e % 4) : c;
            Assert.Equal(expected, positions[c]);
        }

        for (int o = 0; o < rows; o++)
        {
            for (int c = 0; c < cols; c++)
            {
                Assert.Equal(q[(o * cols) + c], (sbyte)bytes[(o * cols) + positions[c]]);
            }
        }
    }

    [Theory]
    [InlineData(1, 32, 1)]
    [InlineData(5, 96, 1)]
    [InlineData(13, 160, 2)]
    [InlineData(7, 608, 3)]
    [InlineData(3, 32, 5)]
    [InlineData(9, 224, 8)]
    [InlineData(37, 96, 5)]
    [InlineData(6, 1056, 9)]
    [InlineData(5, 256, 1)]
    [InlineData(4, 512, 2)]
    public void EveryBlockProductMatchesAPlainBlockByBlockProduct(int rows, int cols, int tokens)
    {
        var r = new Random((rows * 1000) + cols + tokens);
        var wValues = RandomFloats(r, rows * cols, 0.3);
        var x = RandomFloats(r, tokens * cols, 2);
        var bias = RandomFloats(r, rows);
        var w = WeightMatrix.Quantize(wValues, rows, cols);
        Assert.NotEmpty(Paths());
        foreach (string path in Paths())
        {
            var y = new float[tokens * rows];
            Product(path, x, tokens, w, bias, y);
            for (int t = 0; t < tokens; t++)
            {
                for (int o = 0; o < rows; o++)
                {
                    // Exact integer sums per block (weights from the matrix itself, the input quantized plainly here),
                    // scaled and added in double: the kernel may differ only by float rounding.
                    double expected = bias[o], magnitude = Math.Abs(bias[o]);
                    for (int b = 0; b < cols / 32; b++)
                    {
                        var (xq, xs) = QuantizeBlock(x.AsSpan((t * cols) + (b * 32), 32));
                        var (wq, ws) = QuantizeBlock(wValues.AsSpan((o * cols) + (b * 32), 32));
                        Assert.Equal(ws, w.Scales![(o * (cols / 32)) + b]);
                        long sum = 0;
                        for (int i = 0; i < 32; i++)
                        {
                            sum += (long)wq[i] * xq[i];
                        }

                        double term = sum * (double)(ws * xs);
                        expected += term;
                        magnitude += Math.Abs(term);
                    }

                    float got = y[(t * rows) + o];
                    Assert.True(Math.Abs(expected - got) <= 1e-5 * magnitude + 1e-6, $"{path}: row {o}, token {t}: {expected} vs {got}");
                }
            }
        }
    }

    [Theory]
    [InlineData(13, 96)]
    [InlineData(40, 160)]
    [InlineData(7, 576)]
    public void EveryBlockProductGivesTheSameBitsAsTheDispatchedOne(int rows, int cols)
    {
        // vpdpbusd and vpmaddubsw + vpmaddwd fill the same 8 lanes with the same exact sums, so every path's result equals
        // the one MatMul picks for this CPU (VNNI where it runs, else the fallback), bit for bit.
        var r = new Random(rows + cols);
        var w = WeightMatrix.Quantize(RandomFloats(r, rows * cols), rows, cols);
        const int Tokens = 6;
        var x = RandomFloats(r, Tokens * cols, 5);
        var dispatched = new float[Tokens * rows];
        using var kernels = new VectorKernels(2);
        kernels.MatMul(x, Tokens, w, [], dispatched);
        Assert.NotEmpty(Paths());
        foreach (string path in Paths())
        {
            var y = new float[Tokens * rows];
            Product(path, x, Tokens, w, [], y);
            Assert.Equal(dispatched, y);
        }
    }

    [Theory]
    [InlineData(37, 96, 1)]
    [InlineData(21, 576, 2)]
    [InlineData(8, 160, 2)]
    [InlineData(203, 64, 3)]
    public void ATokensResultIsTheSameAloneAsInABatch(int rows, int cols, int threads)
    {
        var r = new Random(rows + (cols * 3));
        var w = WeightMatrix.Quantize(RandomFloats(r, rows * cols), rows, cols);
        const int Tokens = 8;
        var x = RandomFloats(r, Tokens * cols, 3);
        var bias = RandomFloats(r, rows);
        using var kernels = new VectorKernels(threads);
        var all = new float[Tokens * rows];
        kernels.MatMul(x, Tokens, w, bias, all);
        foreach (int batch in new[] { 1, 2, 3, 5 })
        {
            var some = new float[batch * rows];
            kernels.MatMul(x.AsSpan(0, batch * cols), batch, w, bias, some);
            Assert.Equal(all.AsSpan(0, batch * rows).ToArray(), some);
        }

        for (int t = 0; t < Tokens; t++)
        {
            var one = new float[rows];
            kernels.MatMul(x.AsSpan(t * cols, cols), 1, w, bias, one);
            Assert.Equal(all.AsSpan(t * rows, rows).ToArray(), one);
            foreach (string path in Paths())
            {
                var direct = new float[rows];
                Product(path, x[(t * cols)..((t + 1) * cols)], 1, w, bias, direct);
                var batched = new float[Tokens * rows];
                Product(path, x, Tokens, w, bias, batched);
                Assert.Equal(batched.AsSpan(t * rows, rows).ToArray(), direct);
            }
        }
    }
}
