using LmWrapper.HuggingFace.Kernels;

namespace LmWrapper.HuggingFace.Tests.Kernels;

/// <summary>Each kernel against a plain scalar implementation, at odd sizes, on one thread and on several.</summary>
public sealed class VectorKernelsTests
{
    private static float[] RandomFloats(Random r, int n, float scale = 1f) => [.. Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2) - 1) * scale)];

    [Theory]
    [InlineData("F32", 1, 1, 1, 1)]
    [InlineData("F32", 37, 19, 3, 1)]
    [InlineData("F32", 300, 257, 5, 2)]
    [InlineData("F16", 129, 65, 33, 2)]
    [InlineData("BF16", 77, 45, 2, 1)]
    [InlineData("BF16", 513, 31, 40, 3)]
    public void MatMulMatchesAScalarProduct(string typeName, int rows, int cols, int tokens, int threads)
    {
        var type = Enum.Parse<WeightType>(typeName);
        var r = new Random(rows * 31 + cols);
        var w = RandomFloats(r, rows * cols);
        var x = RandomFloats(r, tokens * cols);
        var bias = RandomFloats(r, rows);
        WeightMatrix matrix;
        if (type == WeightType.F32)
        {
            var pinned = WeightMatrix.AllocatePinned<float>(w.Length);
            w.CopyTo(pinned, 0);
            matrix = WeightMatrix.FromArray(pinned, rows, cols);
        }
        else
        {
            var pinned = WeightMatrix.AllocatePinned<ushort>(w.Length);
            for (int i = 0; i < w.Length; i++)
            {
                pinned[i] = type == WeightType.F16 ? BitConverter.HalfToUInt16Bits((Half)w[i]) : (ushort)(BitConverter.SingleToUInt32Bits(w[i]) >> 16);
                w[i] = type == WeightType.F16 ? (float)BitConverter.UInt16BitsToHalf(pinned[i]) : BitConverter.UInt32BitsToSingle((uint)pinned[i] << 16);
            }

            matrix = WeightMatrix.FromArray(pinned, rows, cols, type);
        }

        var y = new float[tokens * rows];
        new VectorKernels(threads).MatMul(x, tokens, matrix, bias, y);
        for (int t = 0; t < tokens; t++)
        {
            for (int o = 0; o < rows; o++)
            {
                double expected = bias[o];
                for (int i = 0; i < cols; i++)
                {
                    expected += (double)w[(o * cols) + i] * x[(t * cols) + i];
                }

                Assert.True(Math.Abs(expected - y[(t * rows) + o]) < 1e-4, $"t {t}, o {o}: {expected} vs {y[(t * rows) + o]}");
            }
        }
    }

    [Fact]
    public void MatMulWithoutBiasAndRowResultsIndependentOfTheBatch()
    {
        var r = new Random(5);
        int rows = 200, cols = 150;
        var w = WeightMatrix.AllocatePinned<float>(rows * cols);
        RandomFloats(r, rows * cols).CopyTo(w, 0);
        var matrix = WeightMatrix.FromArray(w, rows, cols);
        var x = RandomFloats(r, 7 * cols);
        var all = new float[7 * rows];
        var k = new VectorKernels(2);
        k.MatMul(x, 7, matrix, [], all);
        for (int t = 0; t < 7; t++)
        {
            var one = new float[rows];
            k.MatMul(x.AsSpan(t * cols, cols), 1, matrix, [], one);
            Assert.Equal(one, all.AsSpan(t * rows, rows).ToArray());
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(576)]
    public void NormsSoftmaxAndActivationsMatchScalarFormulas(int n)
    {
        var r = new Random(n);
        var x = RandomFloats(r, n, 3);
        var w = RandomFloats(r, n);
        var b = RandomFloats(r, n);
        var k = new VectorKernels(1);

        var y = new float[n];
        k.RmsNorm(x, w, 1e-5f, y);
        double ms = x.Select(v => (double)v * v).Average();
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(x[i] / Math.Sqrt(ms + 1e-5) * w[i], y[i], 1e-4);
        }

        k.LayerNorm(x, w, b, 1e-5f, y);
        double mean = x.Average(v => (double)v);
        double variance = x.Select(v => (v - mean) * (v - mean)).Average();
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(((x[i] - mean) / Math.Sqrt(variance + 1e-5) * w[i]) + b[i], y[i], 1e-4);
        }

        var s = (float[])x.Clone();
        k.Softmax(s);
        double sum = x.Sum(v => Math.Exp(v));
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(Math.Exp(x[i]) / sum, s[i], 1e-6);
        }

        var g = (float[])x.Clone();
        k.GeluNew(g);
        for (int i = 0; i < n; i++)
        {
            double v = x[i];
            Assert.Equal(0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + (0.044715 * v * v * v)))), g[i], 1e-5);
        }

        var gate = (float[])x.Clone();
        k.SiluMul(gate, w);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(x[i] / (1 + Math.Exp(-x[i])) * w[i], gate[i], 1e-5);
        }

        var acc = (float[])b.Clone();
        k.AddScaled(acc, x, 0.5f);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(b[i] + (0.5 * x[i]), acc[i], 1e-6);
        }
    }

    [Theory]
    [InlineData(64, 0, 40)]
    [InlineData(64, 13, 40)]
    [InlineData(12, 3, 9)]
    [InlineData(128, 0, 0)]
    [InlineData(80, 2, 30)]
    [InlineData(96, 0, 17)]
    [InlineData(256, 5, 70)]
    public void AttendHeadMatchesScalarAttention(int hd, int start, int end)
    {
        var r = new Random(hd + end);
        int stride = hd * 3;
        var q = RandomFloats(r, hd);
        var keys = RandomFloats(r, (end + 1) * stride);
        var values = RandomFloats(r, (end + 1) * stride);
        float scale = 1f / MathF.Sqrt(hd);
        var scores = Enumerable.Repeat(-7f, end + 1).ToArray();
        var output = new float[hd];
        new VectorKernels(1).AttendHead(q, keys, values, stride, start, end, scale, scores, output);
        var expected = new double[end + 1];
        for (int j = start; j <= end; j++)
        {
            for (int i = 0; i < hd; i++)
            {
                expected[j] += (double)q[i] * keys[(j * stride) + i];
            }

            expected[j] *= scale;
        }

        double max = expected.Skip(start).Max();
        double sum = expected.Skip(start).Sum(e => Math.Exp(e - max));
        for (int j = 0; j <= end; j++)
        {
            if (j < start)
            {
                Assert.Equal(-7f, scores[j]);
                continue;
            }

            Assert.Equal(Math.Exp(expected[j] - max) / sum, scores[j], 1e-5);
        }

        for (int i = 0; i < hd; i++)
        {
            double o = 0;
            for (int j = start; j <= end; j++)
            {
                o += Math.Exp(expected[j] - max) / sum * values[(j * stride) + i];
            }

            Assert.Equal(o, output[i], 1e-5);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HalfMatrixVectorProductsWidenEveryHalfExactly(bool withInfinity)
    {
        // Zeros of both signs, subnormals, the extremes and ordinary values; and an infinity, which must come through.
        ushort[] special = [0x0000, 0x8000, 0x0001, 0x83FF, 0x0400, 0x7BFF, 0xFBFF, 0x3C00, 0xBC00, 0x3555];
        int rows = 8, cols = 48;
        var r = new Random(9);
        var h = WeightMatrix.AllocatePinned<ushort>(rows * cols);
        for (int i = 0; i < h.Length; i++)
        {
            h[i] = i < special.Length * 4 ? special[i % special.Length] : BitConverter.HalfToUInt16Bits((Half)(r.NextDouble() - 0.5));
        }

        if (withInfinity)
        {
            h[(5 * cols) + 7] = 0x7C00;
        }

        var matrix = WeightMatrix.FromArray(h, rows, cols, WeightType.F16);
        var x = RandomFloats(r, cols);
        var y = new float[rows];
        new VectorKernels(1).MatMul(x, 1, matrix, [], y);
        for (int o = 0; o < rows; o++)
        {
            double expected = 0;
            for (int i = 0; i < cols; i++)
            {
                expected += (double)(float)BitConverter.UInt16BitsToHalf(h[(o * cols) + i]) * x[i];
            }

            if (double.IsInfinity(expected))
            {
                Assert.True(float.IsInfinity(y[o]) || float.IsNaN(y[o]));
                continue;
            }

            Assert.True(Math.Abs(expected - y[o]) <= 1e-3 * Math.Max(1, Math.Abs(expected)), $"row {o}: {expected} vs {y[o]}");
        }
    }

    [Fact]
    public void Bf16WideningIsExactAtOddLengths()
    {
        var r = new Random(3);
        foreach (int n in new[] { 0, 1, 15, 16, 31, 33, 100 })
        {
            var bits = Enumerable.Range(0, n).Select(_ => (ushort)r.Next(0, 0x7f80)).ToArray();
            var dst = new float[n];
            LmWrapper.HuggingFace.Safetensors.HalfConversion.Bf16ToFloat(bits, dst);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(BitConverter.UInt32BitsToSingle((uint)bits[i] << 16), dst[i]);
            }
        }
    }
}
