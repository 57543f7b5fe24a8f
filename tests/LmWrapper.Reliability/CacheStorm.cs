using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using LmWrapper.Caching;

namespace LmWrapper.Reliability;

/// <summary>
/// The shared cache under concurrency (processes × threads of mixed reads, writes, removals and evictions on one file),
/// and the cache files that must be refused with an <see cref="LmCacheException"/> naming the path and left unchanged.
/// </summary>
public static class CacheStorm
{
    /// <summary>Runs the processes and checks the file afterwards.</summary>
    /// <param name="processes">Processes.</param>
    /// <param name="threads">Threads per process.</param>
    /// <param name="operations">Operations per thread.</param>
    /// <param name="seed">The seed.</param>
    public static async Task<CacheStormReport> RunAsync(int processes, int threads, int operations, int seed)
    {
        string dir = Path.Combine(Path.GetTempPath(), "lmwrapper-cache-storm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string cacheFile = Path.Combine(dir, "cache.sqlite3");
        try
        {
            var children = new List<(Process Process, Task<string> Out, Task<string> Err, string OutFile)>();
            for (int p = 0; p < processes; p++)
            {
                string outFile = Path.Combine(dir, $"stored{p.ToString(CultureInfo.InvariantCulture)}.txt");
                var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (var a in new[] { KillPoints.ChildDll, "cache-worker", cacheFile, (seed + p).ToString(CultureInfo.InvariantCulture), threads.ToString(CultureInfo.InvariantCulture), operations.ToString(CultureInfo.InvariantCulture), outFile })
                {
                    psi.ArgumentList.Add(a);
                }

                var process = Process.Start(psi)!;
                children.Add((process, process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync(), outFile));
            }

            int failed = 0;
            var errors = new List<string>();
            var stored = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (process, output, error, outFile) in children)
            {
                if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
                {
                    process.Kill(entireProcessTree: true);
                    errors.Add("a worker hung");
                }

                string err = await error;
                _ = await output;
                if (process.ExitCode != 0)
                {
                    failed++;
                    errors.Add(err.Trim());
                }

                if (File.Exists(outFile))
                {
                    stored.UnionWith(File.ReadAllLines(outFile).Where(l => l.StartsWith("stored ", StringComparison.Ordinal)).Select(l => l[7..]));
                }

                process.Dispose();
            }

            // Every keep prompt a worker saw answered is still cached: asking again pays nothing.
            using var cache = LmCache.Open(cacheFile);
            using var check = new MockLm(p => "MISS", CacheWorker.ModelName, new LanguageModelOptions { Cache = cache, CacheByDefault = true });
            var again = check.PredictMany(stored.Select(CacheWorker.Prompt)).ToList();
            int lost = check.CallCount;
            int wrong = again.Count(p => p.CompletionText != CacheWorker.Answer(p.Prompt.Text!) && p.CompletionText != "MISS");
            var problems = cache.CheckIntegrity();
            return new CacheStormReport(processes, threads, operations, seed, failed, lost + wrong, stored.Count, problems.Count == 0, errors);
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>
    /// Opens a cache file that must be refused; returns null when the refusal named the path and left the file unchanged,
    /// else what went wrong.
    /// </summary>
    /// <param name="path">The cache file.</param>
    public static string? CheckRefused(string path)
    {
        byte[]? before = File.Exists(path) ? SHA256.HashData(File.ReadAllBytes(path)) : null;
        try
        {
            LmCache.Open(path).Dispose();
            return $"{path} was opened as a cache";
        }
        catch (LmCacheException e)
        {
            if (!e.Message.Contains(path, StringComparison.Ordinal))
            {
                return $"the message does not name {path}: {e.Message}";
            }
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name} instead of LmCacheException: {e.Message}";
        }

        byte[]? after = File.Exists(path) ? SHA256.HashData(File.ReadAllBytes(path)) : null;
        bool same = before is null ? after is null : after is not null && before.AsSpan().SequenceEqual(after);
        return same ? null : $"{path} was changed by the refused open";
    }

    /// <summary>
    /// A cache path in a folder this process cannot write: a folder made read-only (mode 0555), or, when that does not
    /// stop this process (root), a path under <c>/sys</c>, which no one may create files in.
    /// </summary>
    /// <param name="scratch">A scratch folder.</param>
    public static string ReadOnlyCachePath(string scratch)
    {
        string dir = Path.Combine(scratch, "readonly-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            string probe = Path.Combine(dir, "probe");
            try
            {
                File.WriteAllText(probe, "x");
                File.Delete(probe);
                return "/sys/lmwrapper-reliability/cache.sqlite3"; // root writes anyway: sysfs refuses everyone
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return Path.Combine(dir, "cache.sqlite3");
    }
}
