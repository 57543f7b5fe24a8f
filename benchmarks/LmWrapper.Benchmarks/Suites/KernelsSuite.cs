using System.Diagnostics;
using LmWrapper.HuggingFace.Kernels;

namespace LmWrapper.Benchmarks.Suites;

/// <summary>
/// The matrix-product kernels alone, against the machine: matrix-vector products (decoding) in GB/s of weights read for
/// F32, F16, BF16 and Q8, also as a fraction of the measured read bandwidth (<see cref="MemoryBandwidth"/>), and matrix products (prefill, batched decode) in GFLOP/s against the measured FMA peak.
/// </summary>
public sealed class KernelsSuite : IBenchmarkSuite
{
    public string Name => "kernels";

    public string Description => "matrix-vector GB/s (F32/F16/BF16/Q8) vs the read bandwidth, and matrix-product GFLOP/s vs the FMA peak";

    public Task<IReadOnlyDictionary<string, double>> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        int threads = Environment.ProcessorCount;
        var results = new Dictionary<string, double>();
        using var kernels = new VectorKernels(threads);
        var r = new Random(1);

        // Decoding shapes of a 135M Llama: the whole layer stack's matrices, about 400 MB in F32.
        const int Rows = 1536, Cols = 576, Matrices = 120;
        foreach (var type in new[] { WeightType.F32, WeightType.F16, WeightType.BF16, WeightType.Q8 })
        {
            var matrices = new WeightMatrix[Matrices];
            for (int m = 0; m < Matrices; m++)
            {
                matrices[m] = Make(type, Rows, Cols, r);
            }

            var x = Enumerable.Range(0, Cols).Select(_ => (float)r.NextDouble()).ToArray();
            var y = new float[Rows];
            // Enough repetitions that the tiered JIT has compiled the kernels fully before the best one.
            double best = double.MaxValue;
            for (int rep = 0; rep < 40; rep++)
            {
                var sw = Stopwatch.StartNew();
                foreach (var w in matrices)
                {
                    kernels.MatMul(x, 1, w, [], y);
                }

                best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }

            string name = type.ToString().ToLowerInvariant();
            results[$"matvec_{name}_gb_per_s"] = matrices.Sum(m => (double)m.ByteLength) / best / 1e9;
            results[$"matvec_{name}_us_per_matrix"] = best / Matrices * 1e6;
            results[$"matvec_{name}_gweights_per_s"] = (double)Matrices * Rows * Cols / best / 1e9;
        }

        foreach (int tokens in new[] { 8, 64, 512 })
        {
            var w = Make(WeightType.F32, Rows, Cols, r);
            var x = Enumerable.Range(0, tokens * Cols).Select(_ => (float)r.NextDouble()).ToArray();
            var y = new float[tokens * Rows];
            int reps = Math.Max(3, 2048 / tokens);
            double best = double.MaxValue;
            for (int rep = 0; rep < 5; rep++)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < reps; i++)
                {
                    kernels.MatMul(x, tokens, w, [], y);
                }

                best = Math.Min(best, sw.Elapsed.TotalSeconds / reps);
            }

            results[$"gemm_{tokens}_gflop_per_s"] = 2.0 * Rows * Cols * tokens / best / 1e9;
        }

        // The matrix-vector products against the machine's read bandwidth (what bounds them: each weight is read once).
        var read = MemoryBandwidth.Read(threads);
        double bandwidth = Math.Max(read.Parallel, read.Single) / 1e9;
        results["memory_read_bandwidth_gb_per_s"] = bandwidth;
        foreach (string name in new[] { "f32", "f16", "bf16", "q8" })
        {
            results[$"matvec_{name}_vs_read_bandwidth_ratio"] = results[$"matvec_{name}_gb_per_s"] / bandwidth;
        }

        results["fma_peak_gflop_per_s"] = FmaPeak(threads);
        results["gemm_512_vs_peak_ratio"] = results["gemm_512_gflop_per_s"] / results["fma_peak_gflop_per_s"];
        return Task.FromResult<IReadOnlyDictionary<string, double>>(results);
    }

    private static WeightMatrix Make(WeightType type, int rows, int cols, Random r)
    {
        if (type == WeightType.Q8)
        {
            return WeightMatrix.Quantize([.. Enumerable.Range(0, rows * cols).Select(_ => (float)(r.NextDouble() - 0.5))], rows, cols);
        }

        if (type == WeightType.F32)
        {
            var a = WeightMatrix.AllocatePinned<float>((long)rows * cols);
            for (int i = 0; i < a.Length; i++)
            {
                a[i] = (float)(r.NextDouble() - 0.5);
            }

            return WeightMatrix.FromArray(a, rows, cols);
        }

        var h = WeightMatrix.AllocatePinned<ushort>((long)rows * cols);
        for (int i = 0; i < h.Length; i++)
        {
            float v = (float)(r.NextDouble() - 0.5);
            h[i] = type == WeightType.F16 ? BitConverter.HalfToUInt16Bits((Half)v) : (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16);
        }

        return WeightMatrix.FromArray(h, rows, cols, type);
    }

    /// <summary>Independent FMA chains in registers on every thread: the most the cores can multiply-add.</summary>
    private static double FmaPeak(int threads)
    {
        const long Iterations = 50_000_000;
        double best = 0;
        for (int rep = 0; rep < 3; rep++)
        {
            var sw = Stopwatch.StartNew();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => FmaLoop(Iterations));
            best = Math.Max(best, threads * Iterations * 8.0 * 16 * 2 / sw.Elapsed.TotalSeconds / 1e9);
        }

        return best;
    }

    private static float FmaLoop(long iterations)
    {
        var a0 = System.Runtime.Intrinsics.Vector512.Create(1f);
        var a1 = a0; var a2 = a0; var a3 = a0; var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
        var m = System.Runtime.Intrinsics.Vector512.Create(0.9999999f);
        var c = System.Runtime.Intrinsics.Vector512.Create(1e-7f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a0, m, c);
            a1 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a1, m, c);
            a2 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a2, m, c);
            a3 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a3, m, c);
            a4 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a4, m, c);
            a5 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a6, m, c);
            a7 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(a7, m, c);
        }

        return System.Runtime.Intrinsics.Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);
    }
}
