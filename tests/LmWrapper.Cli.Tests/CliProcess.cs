using System.Diagnostics;

namespace LmWrapper.Cli.Tests;

/// <summary>Starts the built <c>lmwrapper</c> (LmWrapper.Cli.dll) as a child process, as a user would.</summary>
internal sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _stdout = new();
    private readonly System.Text.StringBuilder _stderr = new();

    private CliProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (_stdout) { _stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (_stderr) { _stderr.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The repository root (the folder holding LmWrapper.slnx).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The CLI's built dll (next to the tests, else in its own bin folder).</summary>
    public static string CliDll { get; } = FindCli();

    public int Id => _process.Id;

    public string StdOut { get { lock (_stdout) { return _stdout.ToString(); } } }

    public string StdErr { get { lock (_stderr) { return _stderr.ToString(); } } }

    /// <summary>Starts <c>dotnet LmWrapper.Cli.dll args…</c> in <paramref name="workingDirectory"/>.</summary>
    public static CliProcess Start(string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(CliDll);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        // Nothing from the test machine's own setup leaks in: keys, endpoints and the cache are the test's.
        foreach (var name in new[] { "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "LMWRAPPER_CACHE_DIR" })
        {
            info.Environment.Remove(name);
        }

        info.Environment["HF_HUB_OFFLINE"] = "1";
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start.");
        process.StandardInput.Close();
        return new CliProcess(process);
    }

    /// <summary>Runs the CLI to the end; returns its exit code.</summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(string workingDirectory, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        using var p = Start(workingDirectory, environment, args);
        int code = await p.WaitAsync(TimeSpan.FromMinutes(3));
        return (code, p.StdOut, p.StdErr);
    }

    /// <summary>Waits for the process to exit; returns its exit code.</summary>
    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"lmwrapper did not finish in {timeout}. stderr:\n{StdErr}");
        }

        _process.WaitForExit(); // the output readers drain
        return _process.ExitCode;
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>
    /// Sends SIGINT, as Ctrl+C does; or SIGTERM, which the command handles the same way, where this process was started with
    /// SIGINT ignored (a job a non-interactive shell put in the background, e.g. under nohup): the child inherits that, the
    /// runtime keeps it ignored, and a SIGINT would never reach the command.
    /// </summary>
    public void Interrupt()
    {
        string signal = InterruptIgnored ? "-TERM" : "-INT";
        using var kill = Process.Start(new ProcessStartInfo("kill", [signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    /// <summary>Whether this process inherited SIGINT as ignored (bit 2 of SigIgn in /proc/self/status).</summary>
    private static bool InterruptIgnored =>
        File.Exists("/proc/self/status")
        && File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) is { } line
        && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << 1)) != 0;

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LmWrapper.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (LmWrapper.slnx) was not found above " + AppContext.BaseDirectory);
    }

    private static string FindCli()
    {
        // The CLI's own bin/<Configuration>/<tfm>/ (the tests' output folder holds a copy of the dll, but its dependencies
        // are resolved there for the tests' runtime, which includes ASP.NET Core for the fake servers).
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string own = Path.Combine(RepoRoot, "src", "LmWrapper.Cli", "bin", tfm.Parent!.Name, tfm.Name, "LmWrapper.Cli.dll");
        return File.Exists(own) ? own : throw new FileNotFoundException("The built LmWrapper.Cli.dll was not found; build src/LmWrapper.Cli.", own);
    }
}
