using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LmWrapper.Benchmarks.Suites;

/// <summary>
/// The machine's memory bandwidth, as the denominator of a memory-bound kernel's efficiency. Decoding reads every weight
/// once per token and writes almost nothing, so the fair ceiling is a <em>read</em> stream: <see cref="Read"/> sums a
/// 512 MB float array with Vector512 adds, split over the threads (also on one), best of several passes, with and without
/// software prefetch (the decode kernels prefetch, so the probe may too; the better counts). A copy (<see cref="Copy"/>,
/// read + write bytes counted) measures something else, a mix of two streams whose write side is not what a read-only
/// kernel does: in one run on this project's 2-core VM (busy with other work) the copy reported 58 GB/s over 2 threads
/// while a plain read-sum of the same size ran at 35 GB/s and the F32 decode kernel alone read 42 GB/s, so the copy is
/// neither a bound on nor an estimate of what decoding can reach.
/// </summary>
internal static unsafe class MemoryBandwidth
{
    private const long Floats = 128L * 1024 * 1024; // 512 MB

    /// <summary>Best read bandwidth in bytes/s split over <paramref name="threads"/> threads, and on one thread.</summary>
    public static (double Parallel, double Single) Read(int threads)
    {
        // Native and 64-byte aligned: an array's elements start 16 bytes past a line, and split loads understate the bandwidth.
        var p = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(Floats * sizeof(float)), 64);
        new Span<float>(p, (int)Floats).Fill(1.0f);
        double parallel = 0, single = 0;
        try
        {
            float* cp = p;
            foreach (bool prefetch in new[] { false, true, false, true })
            {
                parallel = Math.Max(parallel, Best(4, () => Split(threads, (from, to) => Sum(cp + from, to - from, prefetch))));
            }

            foreach (bool prefetch in new[] { false, true })
            {
                single = Math.Max(single, Best(3, () => Sum(cp, Floats, prefetch)));
            }
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(p);
        }

        return (parallel, single);
    }

    /// <summary>
    /// A quick read bandwidth split over <paramref name="threads"/> threads (best of 4 passes over a fresh native 512 MB
    /// block, with and without prefetch), for pairing with a measurement taken right next to it: on a shared VM the
    /// bandwidth drifts within minutes (36 to 58 GB/s in one day's runs here), so a ratio against an earlier figure mixes two moments.
    /// </summary>
    public static double ReadNow(int threads)
    {
        long bytes = Floats * sizeof(float);
        var p = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            new Span<float>(p, (int)Floats).Fill(1.0f);
            double best = 0;
            foreach (bool prefetch in new[] { false, true, false, true })
            {
                var sw = Stopwatch.StartNew();
                Split(threads, (from, to) => Sum(p + from, to - from, prefetch));
                best = Math.Max(best, bytes / sw.Elapsed.TotalSeconds);
            }

            return best;
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(p);
        }
    }

    /// <summary>Best copy bandwidth (a 512 MB float array into another; read + write bytes counted), split over the threads and on one.</summary>
    public static (double Parallel, double Single) Copy(int threads)
    {
        var src = GC.AllocateUninitializedArray<float>((int)Floats);
        var dst = GC.AllocateUninitializedArray<float>((int)Floats);
        src.AsSpan().Fill(1.5f);
        dst.AsSpan().Clear();
        double parallel = Best(5, () => Split(threads, (from, to) => src.AsSpan((int)from, (int)(to - from)).CopyTo(dst.AsSpan((int)from, (int)(to - from))))) * 2;
        double single = Best(3, () => src.AsSpan().CopyTo(dst)) * 2;
        GC.KeepAlive(src);
        GC.KeepAlive(dst);
        return (parallel, single);
    }

    /// <summary>The best of <paramref name="passes"/> timed passes (after one untimed), in bytes of the array per second.</summary>
    private static double Best(int passes, Action pass)
    {
        pass();
        double best = 0;
        for (int r = 0; r < passes; r++)
        {
            var sw = Stopwatch.StartNew();
            pass();
            best = Math.Max(best, Floats * sizeof(float) / sw.Elapsed.TotalSeconds);
        }

        return best;
    }

    private static void Split(int threads, Action<long, long> part)
    {
        int parts = Math.Max(1, threads);
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, i => part(Floats * i / parts, Floats * (i + 1) / parts));
    }

    private static volatile float s_sink;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Sum(float* p, long n, bool prefetch)
    {
        // 8 independent accumulators: with 4, the adds' latency held one thread to well under what memory gives (in one run on
        // this project's VM, 2 threads: 46-55 GB/s with 4 against 62-75 with 8, and about what the decode kernel reads).
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        long i = 0;
        for (; i + 128 <= n; i += 128)
        {
            if (prefetch && Sse.IsSupported)
            {
                Sse.Prefetch0(p + i + 1024);
                Sse.Prefetch0(p + i + 1040);
                Sse.Prefetch0(p + i + 1056);
                Sse.Prefetch0(p + i + 1072);
                Sse.Prefetch0(p + i + 1088);
                Sse.Prefetch0(p + i + 1104);
                Sse.Prefetch0(p + i + 1120);
                Sse.Prefetch0(p + i + 1136);
            }

            a0 += Vector512.Load(p + i);
            a1 += Vector512.Load(p + i + 16);
            a2 += Vector512.Load(p + i + 32);
            a3 += Vector512.Load(p + i + 48);
            a4 += Vector512.Load(p + i + 64);
            a5 += Vector512.Load(p + i + 80);
            a6 += Vector512.Load(p + i + 96);
            a7 += Vector512.Load(p + i + 112);
        }

        float s = Vector512.Sum((a0 + a1) + (a2 + a3) + (a4 + a5) + (a6 + a7));
        for (; i < n; i++)
        {
            s += p[i];
        }

        s_sink = s;
    }
}
