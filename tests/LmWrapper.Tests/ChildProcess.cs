using System.Diagnostics;

namespace LmWrapper.Tests;

/// <summary>Runs the LmWrapper.CacheStress helper program as a separate process.</summary>
internal static class ChildProcess
{
    public static ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "LmWrapper.CacheStress.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    public static (int ExitCode, string Output) Run(IEnumerable<string> args, TimeSpan timeout)
    {
        using var p = Process.Start(StartInfo(args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("child process timed out");
        }

        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
