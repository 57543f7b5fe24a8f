using LmWrapper.HuggingFace.Kernels;

namespace LmWrapper.HuggingFace.Tests.Kernels;

/// <summary>
/// The decode matrix-vector kernels (one to <see cref="Gemm.StreamTokens"/> tokens, streaming rows): F32, and F16/BF16
/// widened in registers from the stored halves, against plain scalar products and against the multi-token kernels at odd sizes.
/// </summary>
public sealed class DecodeKernelsTests
{
    private static float[] RandomFloats(Random r, int n) => [.. Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2) - 1))];

    private static float Widen(ushort h, WeightType type) =>
        type == WeightType.F16 ? (float)BitConverter.UInt16BitsToHalf(h) : BitConverter.UInt32BitsToSingle((uint)h << 16);

    /// <summary>A matrix of <paramref name="type"/> from random values, and the float32 values it really holds.</summary>
    private static (WeightMatrix Matrix, float[] Values) Make(WeightType type, int rows, int cols, Random r)
    {
        var w = RandomFloats(r, rows * cols);
        if (type == WeightType.F32)
        {
            var pinned = WeightMatrix.AllocatePinned<float>(w.Length);
            w.CopyTo(pinned, 0);
            return (WeightMatrix.FromArray(pinned, rows, cols), w);
        }

        var halves = WeightMatrix.AllocatePinned<ushort>(w.Length);
        for (int i = 0; i < w.Length; i++)
        {
            halves[i] = type == WeightType.F16 ? BitConverter.HalfToUInt16Bits((Half)w[i]) : (ushort)(BitConverter.SingleToUInt32Bits(w[i]) >> 16);
            w[i] = Widen(halves[i], type);
        }

        return (WeightMatrix.FromArray(halves, rows, cols, type), w);
    }

    [Theory]
    [InlineData("F32", 1, 1, 1)]
    [InlineData("F32", 103, 333, 2)]
    [InlineData("F32", 9, 576, 1)]
    [InlineData("F16", 7, 15, 1)]
    [InlineData("F16", 37, 83, 2)]
    [InlineData("F16", 64, 48, 2)]
    [InlineData("F16", 13, 577, 3)]
    [InlineData("BF16", 45, 1000, 2)]
    [InlineData("BF16", 6, 17, 1)]
    [InlineData("BF16", 130, 64, 2)]
    public void OneTokenProductsMatchAScalarProduct(string typeName, int rows, int cols, int threads)
    {
        var type = Enum.Parse<WeightType>(typeName);
        var r = new Random((rows * 7) + cols);
        var (matrix, w) = Make(type, rows, cols, r);
        var x = RandomFloats(r, cols);
        var bias = RandomFloats(r, rows);
        var y = new float[rows];
        using var kernels = new VectorKernels(threads);
        kernels.MatMul(x, 1, matrix, bias, y);
        for (int o = 0; o < rows; o++)
        {
            double expected = bias[o];
            for (int i = 0; i < cols; i++)
            {
                expected += (double)w[(o * cols) + i] * x[i];
            }

            Assert.True(Math.Abs(expected - y[o]) < 1e-4 * Math.Max(1, Math.Sqrt(cols)), $"row {o}: {expected} vs {y[o]}");
        }
    }

    [Theory]
    [InlineData("F32", 37, 83)]
    [InlineData("F32", 21, 576)]
    [InlineData("F16", 37, 83)]
    [InlineData("F16", 19, 96)]
    [InlineData("F16", 8, 577)]
    [InlineData("BF16", 11, 112)]
    [InlineData("BF16", 29, 45)]
    public void ATokensResultIsTheSameAloneAsInABatch(string typeName, int rows, int cols)
    {
        var type = Enum.Parse<WeightType>(typeName);
        var r = new Random(rows + (cols * 3));
        var (matrix, _) = Make(type, rows, cols, r);
        var bias = RandomFloats(r, rows);
        using var kernels = new VectorKernels(2);

        // Token counts on both sides of the row-streaming kernel's limit (Gemm.StreamTokens) and of the 4-token tiles.
        foreach (int tokens in new[] { 2, Gemm.StreamTokens, Gemm.StreamTokens + 1, 6, 9 })
        {
            var x = RandomFloats(r, tokens * cols);
            var all = new float[tokens * rows];
            kernels.MatMul(x, tokens, matrix, bias, all);
            for (int t = 0; t < tokens; t++)
            {
                var one = new float[rows];
                kernels.MatMul(x.AsSpan(t * cols, cols), 1, matrix, bias, one);
                Assert.Equal(all.AsSpan(t * rows, rows).ToArray(), one);
            }
        }
    }

    [Theory]
    [InlineData("F32", 2, 67, 33)]
    [InlineData("F32", 3, 10, 576)]
    [InlineData("F16", 2, 9, 47)]
    [InlineData("F16", 3, 23, 160)]
    [InlineData("BF16", 2, 5, 31)]
    [InlineData("BF16", 3, 41, 96)]
    public void AFewTokensStreamedRowByRowMatchAScalarProduct(string typeName, int tokens, int rows, int cols)
    {
        Assert.True(tokens <= Gemm.StreamTokens);
        var type = Enum.Parse<WeightType>(typeName);
        var r = new Random((tokens * 31) + rows + cols);
        var (matrix, w) = Make(type, rows, cols, r);
        var x = RandomFloats(r, tokens * cols);
        var bias = RandomFloats(r, rows);
        var y = new float[tokens * rows];
        using var kernels = new VectorKernels(2);
        kernels.MatMul(x, tokens, matrix, bias, y);
        for (int t = 0; t < tokens; t++)
        {
            for (int o = 0; o < rows; o++)
            {
                double expected = bias[o];
                for (int i = 0; i < cols; i++)
                {
                    expected += (double)w[(o * cols) + i] * x[(t * cols) + i];
                }

                Assert.True(Math.Abs(expected - y[(t * rows) + o]) < 1e-4 * Math.Max(1, Math.Sqrt(cols)), $"token {t}, row {o}: {expected} vs {y[(t * rows) + o]}");
            }
        }
    }

    [Theory]
    [InlineData("F32", 1, 2)]
    [InlineData("F32", 5, 2)]
    [InlineData("F16", 1, 2)]
    [InlineData("F16", 3, 3)]
    [InlineData("BF16", 1, 1)]
    [InlineData("BF16", 9, 2)]
    [InlineData("Q8", 1, 2)]
    [InlineData("Q8", 4, 2)]
    public void SharedInputProductsEqualSeparateOnes(string typeName, int tokens, int threads)
    {
        // A layer's q/k/v (or gate/up) products in one parallel step: the same numbers as one MatMul each, bit for bit,
        // for matrices of different heights (one under a 4-row tile, one not a multiple of 4).
        var type = Enum.Parse<WeightType>(typeName);
        var r = new Random((tokens * 13) + threads);
        const int Cols = 96;
        int[] heights = [200, 37, 6];
        var matrices = heights.Select(h => type == WeightType.Q8 ? WeightMatrix.Quantize(RandomFloats(r, h * Cols), h, Cols) : Make(type, h, Cols, r).Matrix).ToArray();
        float[][] biases = [RandomFloats(r, heights[0]), [], RandomFloats(r, heights[2])];
        var x = RandomFloats(r, tokens * Cols);
        using var kernels = new VectorKernels(threads);
        float[][] shared = [.. heights.Select(h => new float[(tokens * h) + 3])]; // longer than needed, like pooled buffers
        kernels.MatMulShared(x, tokens, matrices, biases, shared);
        for (int m = 0; m < heights.Length; m++)
        {
            var alone = new float[tokens * heights[m]];
            kernels.MatMul(x, tokens, matrices[m], biases[m], alone);
            Assert.Equal(alone, shared[m].AsSpan(0, alone.Length).ToArray());
            Assert.Equal([0f, 0f, 0f], shared[m][^3..]); // nothing written past the product
        }

        Assert.Throws<ArgumentException>(() => kernels.MatMulShared(x, tokens, matrices, biases[..2], shared));
    }

    [Theory]
    [InlineData(37, 64)]
    [InlineData(700, 416)]
    public void Q8QuantizationMatchesTheScalarFormulaInParallelToo(int rows, int cols)
    {
        // 700 × 416 values take the parallel path (rows quantized on several threads); 37 × 64 the serial one.
        var r = new Random(rows);
        var w = RandomFloats(r, rows * cols);
        var q = WeightMatrix.Quantize(w, rows, cols);
        var back = new float[cols];
        for (int o = 0; o < rows; o++)
        {
            q.ReadRow(o, back);
            for (int b = 0; b < cols / 32; b++)
            {
                var block = w.AsSpan((o * cols) + (b * 32), 32);
                float scale = block.ToArray().Max(MathF.Abs) / 127f;
                for (int i = 0; i < 32; i++)
                {
                    float expected = Math.Clamp(MathF.Round(block[i] / scale), -127, 127) * scale;
                    Assert.True(Math.Abs(expected - back[(b * 32) + i]) <= scale * 1e-3f, $"row {o}, column {(b * 32) + i}: {expected} vs {back[(b * 32) + i]}");
                }
            }
        }

        Assert.Throws<ArgumentException>(() => WeightMatrix.Quantize(w, rows, cols + 32));
    }

    [Fact]
    public void EveryFiniteHalfIsWidenedExactly()
    {
        // All 63,488 finite F16 bit patterns (both zeros, subnormals, the extremes), 64 per row; a one-hot input picks
        // one column, so each output is one widened weight, which must equal .NET's own conversion exactly.
        const int Cols = 64;
        var finite = Enumerable.Range(0, 0x10000).Where(h => (h & 0x7C00) != 0x7C00).Select(h => (ushort)h).ToArray();
        int rows = finite.Length / Cols;
        Assert.Equal(0, finite.Length % Cols);
        var halves = WeightMatrix.AllocatePinned<ushort>(finite.Length);
        finite.CopyTo(halves, 0);
        var matrix = WeightMatrix.FromArray(halves, rows, Cols, WeightType.F16);
        Assert.True(matrix.HalvesAreFinite);
        using var kernels = new VectorKernels(2);
        var x = new float[Cols];
        var y = new float[rows];
        for (int j = 0; j < Cols; j++)
        {
            Array.Clear(x);
            x[j] = 1f;
            kernels.MatMul(x, 1, matrix, [], y);
            for (int o = 0; o < rows; o++)
            {
                float expected = (float)BitConverter.UInt16BitsToHalf(halves[(o * Cols) + j]);
                Assert.True(expected == y[o], $"half 0x{halves[(o * Cols) + j]:X4}: {expected} vs {y[o]}");
            }
        }
    }

    [Theory]
    [InlineData((ushort)0x7C00)]
    [InlineData((ushort)0xFC00)]
    [InlineData((ushort)0x7E00)]
    public void AnInfinityOrNaNInAnF16MatrixComesThrough(ushort special)
    {
        const int Rows = 8, Cols = 70;
        var r = new Random(special);
        var halves = WeightMatrix.AllocatePinned<ushort>(Rows * Cols);
        for (int i = 0; i < halves.Length; i++)
        {
            halves[i] = BitConverter.HalfToUInt16Bits((Half)(r.NextDouble() - 0.5));
        }

        halves[(6 * Cols) + 35] = special;
        var matrix = WeightMatrix.FromArray(halves, Rows, Cols, WeightType.F16);
        Assert.False(matrix.HalvesAreFinite);
        var x = Enumerable.Range(0, Cols).Select(i => 0.5f + (i % 3)).ToArray();
        var y = new float[Rows];
        using var kernels = new VectorKernels(1);
        kernels.MatMul(x, 1, matrix, [], y);
        float expected = (float)BitConverter.UInt16BitsToHalf(special) * x[35];
        Assert.Equal(float.IsNaN(expected), float.IsNaN(y[6]));
        if (!float.IsNaN(expected))
        {
            Assert.Equal(expected, y[6]); // ±infinity
        }

        Assert.All(y.Where((_, o) => o != 6), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void OnlyF16MatricesAreScannedForNonFiniteValues()
    {
        var bf = WeightMatrix.AllocatePinned<ushort>(32);
        bf[3] = 0x7F80; // a bfloat16 infinity: BF16 widening is exact for every value without a scan
        Assert.True(WeightMatrix.FromArray(bf, 2, 16, WeightType.BF16).HalvesAreFinite);
        var f = WeightMatrix.AllocatePinned<float>(4);
        f[0] = float.NaN;
        Assert.True(WeightMatrix.FromArray(f, 2, 2).HalvesAreFinite);
        var h = WeightMatrix.AllocatePinned<ushort>(33);
        h[32] = 0x7C01; // in the scalar tail of the scan
        Assert.False(WeightMatrix.FromArray(h, 3, 11, WeightType.F16).HalvesAreFinite);
    }
}
