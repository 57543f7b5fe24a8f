using System.CommandLine;
using System.Runtime.InteropServices;
using LmWrapper.Cli.Commands;

namespace LmWrapper.Cli;

/// <summary>The <c>lmwrapper</c> command's entry point.</summary>
internal static class Program
{
    /// <summary>Parses the command line and runs the command.</summary>
    /// <param name="args">The arguments.</param>
    /// <returns>0 all done, 1 some prompts failed, 2 usage or input error, 130 interrupted.</returns>
    public static async Task<int> Main(string[] args)
    {
        using var cts = new CancellationTokenSource();

        // Ctrl+C (and SIGTERM) cancel the command, which writes what was done and exits with 130; a second Ctrl+C kills.
        void OnSignal(PosixSignalContext context)
        {
            if (!cts.IsCancellationRequested)
            {
                context.Cancel = true;
                cts.Cancel();
            }
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return await RunAsync(args, cts.Token).ConfigureAwait(false);
    }

    /// <summary>Runs a command line (the testable part of <see cref="Main"/>).</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    internal static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var root = CommandLineApp.Create();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is not (System.CommandLine.Help.HelpAction or ConciseRootHelpAction))
        {
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync("error: " + error.Message).ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync("Run 'lmwrapper --help' (or 'lmwrapper COMMAND --help') for usage.").ConfigureAwait(false);
            return ExitCodes.UsageError;
        }

        var config = new InvocationConfiguration { ProcessTerminationTimeout = null };
        return await parsed.InvokeAsync(config, cancellationToken).ConfigureAwait(false);
    }
}
