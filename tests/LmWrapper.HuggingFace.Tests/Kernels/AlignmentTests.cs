using System.Runtime.InteropServices;
using LmWrapper.HuggingFace.Kernels;

namespace LmWrapper.HuggingFace.Tests.Kernels;

/// <summary>
/// The decode kernels read a row that does not start on a 64-byte line with aligned loads and a permute (a mapped
/// safetensors tensor starts wherever the header puts it): every start offset within a line, rows of every alignment,
/// the same bits as the unaligned reads of the multi-token tiles, and no read outside the lines the matrix occupies.
/// </summary>
public sealed unsafe class AlignmentTests
{
    private const int PageSize = 4096;

    private static float[] RandomFloats(Random r, int n) => [.. Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2) - 1))];

    private static int Size(WeightType type) => type == WeightType.F32 ? 4 : 2;

    /// <summary>Writes a [rows, cols] matrix of <paramref name="type"/> at <paramref name="at"/>; returns the float32 values it holds.</summary>
    private static float[] Write(byte* at, WeightType type, int rows, int cols, Random r)
    {
        var w = RandomFloats(r, rows * cols);
        for (int i = 0; i < w.Length; i++)
        {
            switch (type)
            {
                case WeightType.F32:
                    ((float*)at)[i] = w[i];
                    break;
                case WeightType.F16:
                    ushort h = BitConverter.HalfToUInt16Bits((Half)w[i]);
                    ((ushort*)at)[i] = h;
                    w[i] = (float)BitConverter.UInt16BitsToHalf(h);
                    break;
                default:
                    ushort b = (ushort)(BitConverter.SingleToUInt32Bits(w[i]) >> 16);
                    ((ushort*)at)[i] = b;
                    w[i] = BitConverter.UInt32BitsToSingle((uint)b << 16);
                    break;
            }
        }

        return w;
    }

    /// <summary>One token's product through the streaming kernel, and the same token's row of a 4-token product (the tiles).</summary>
    private static (float[] Streamed, float[] Tiled) Products(WeightMatrix m, float[] x4, float[] bias)
    {
        using var kernels = new VectorKernels(1);
        var one = new float[m.Rows];
        kernels.MatMul(x4.AsSpan(0, m.Cols), 1, m, bias, one);
        var four = new float[4 * m.Rows];
        kernels.MatMul(x4, 4, m, bias, four);
        return (one, four[..m.Rows]);
    }

    private static void AssertNearScalar(float[] w, float[] x, float[] bias, float[] y, int cols, string what)
    {
        for (int o = 0; o < y.Length; o++)
        {
            double expected = bias[o];
            for (int i = 0; i < cols; i++)
            {
                expected += (double)w[(o * cols) + i] * x[i];
            }

            Assert.True(Math.Abs(expected - y[o]) < 1e-4 * Math.Max(1, Math.Sqrt(cols)), $"{what}, row {o}: {expected} vs {y[o]}");
        }
    }

    public static TheoryData<string, int> Shapes()
    {
        var data = new TheoryData<string, int>();
        foreach (string type in new[] { "F32", "F16", "BF16" })
        {
            // Under one vector, one, just over, two lines of halves ± 1, the Llama's width, and widths whose rows start at varying offsets.
            foreach (int cols in new[] { 5, 16, 17, 31, 32, 33, 48, 63, 64, 65, 80, 100, 576 })
            {
                data.Add(type, cols);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryStartOffsetGivesTheTilesBitsAndTheScalarProduct(string typeName, int cols)
    {
        var type = Enum.Parse<WeightType>(typeName);
        const int Rows = 7;
        var r = new Random((cols * 3) + typeName.Length);
        var x4 = RandomFloats(r, 4 * cols);
        var bias = RandomFloats(r, Rows);
        long bytes = (long)Rows * cols * Size(type);
        byte* block = (byte*)NativeMemory.AlignedAlloc((nuint)(bytes + 256), 64);
        try
        {
            // Every byte offset within a line: whole elements (the permuted path) and, for F32, offsets of 1-3 bytes mod 4 (the fallback).
            for (int offset = 0; offset < 64; offset++)
            {
                new Span<byte>(block, (int)bytes + 256).Fill(0xFF); // NaN bytes around the matrix: a stray lane would show
                var w = Write(block + 64 + offset, type, Rows, cols, r);
                var m = new WeightMatrix(block + 64 + offset, Rows, cols, type);
                var (streamed, tiled) = Products(m, x4, bias);
                Assert.Equal(tiled, streamed);
                AssertNearScalar(w, x4, bias, streamed, cols, $"{typeName} × {cols} at offset {offset}");
            }
        }
        finally
        {
            NativeMemory.AlignedFree(block);
        }
    }

    [Theory]
    [InlineData("F32", 576)]
    [InlineData("F32", 100)]
    [InlineData("F16", 576)]
    [InlineData("F16", 80)]
    [InlineData("BF16", 48)]
    [InlineData("BF16", 33)]
    public void NoReadLeavesTheLinesOfTheMatrix(string typeName, int cols)
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // the guard pages below use mmap/mprotect
        }

        // The matrix ends on the last byte of a readable page between two inaccessible ones, and starts a few bytes into a
        // line: a load past its last line or before its first would fault and end the test process.
        var type = Enum.Parse<WeightType>(typeName);
        var r = new Random(cols);
        int rows = 5;
        long bytes = (long)rows * cols * Size(type);
        long readable = ((bytes + 64 + PageSize - 1) / PageSize) * PageSize;
        byte* map = (byte*)Mmap(0, (nuint)(readable + (2 * PageSize)), 3, 0x22, -1, 0); // PROT_READ|WRITE, MAP_PRIVATE|ANONYMOUS
        Assert.True(map != (byte*)-1);
        try
        {
            Assert.Equal(0, Mprotect((nint)map, PageSize, 0));
            Assert.Equal(0, Mprotect((nint)(map + PageSize + readable), PageSize, 0));
            byte* start = map + PageSize + readable - bytes;
            var w = Write(start, type, rows, cols, r);
            var m = new WeightMatrix(start, rows, cols, type);
            var x4 = RandomFloats(r, 4 * cols);
            var bias = RandomFloats(r, rows);
            var (streamed, tiled) = Products(m, x4, bias);
            Assert.Equal(tiled, streamed);
            AssertNearScalar(w, x4, bias, streamed, cols, typeName);

            // And starting right after the inaccessible page (the first line's start, then a few bytes in).
            foreach (int offset in new[] { 0, 8, 40 })
            {
                byte* first = map + PageSize + offset;
                w = Write(first, type, rows, cols, r);
                (streamed, tiled) = Products(new WeightMatrix(first, rows, cols, type), x4, bias);
                Assert.Equal(tiled, streamed);
                AssertNearScalar(w, x4, bias, streamed, cols, $"{typeName} at page start + {offset}");
            }
        }
        finally
        {
            _ = Munmap((nint)map, (nuint)(readable + (2 * PageSize)));
        }
    }

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static extern nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    private static extern int Mprotect(nint addr, nuint length, int prot);

    [DllImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static extern int Munmap(nint addr, nuint length);
}
