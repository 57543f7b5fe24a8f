using System.Diagnostics;

namespace LmWrapper.Benchmarks;

/// <summary>Starts this benchmark program again, in a process of its own, with other arguments.</summary>
internal static class SelfProcess
{
    /// <summary>The start info for this program with <paramref name="args"/> (through the <c>dotnet</c> host when it runs under one).</summary>
    public static ProcessStartInfo StartInfo(params IEnumerable<string> args)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("No process path.");
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(SelfProcess).Assembly.Location);
        }

        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        return start;
    }
}
