using System.CommandLine;
using System.CommandLine.Invocation;

namespace LmWrapper.Cli.Commands;

/// <summary>
/// <c>lmwrapper --help</c>: the root's description and each command by the first line of its description (System.CommandLine
/// would repeat every command's whole description, examples included). Every other command's help is the standard one.
/// </summary>
internal sealed class ConciseRootHelpAction : SynchronousCommandLineAction
{
    private readonly CommandLineAction _standard;

    /// <summary>Creates the action.</summary>
    /// <param name="standard">The standard help action, used for every command but the root.</param>
    public ConciseRootHelpAction(CommandLineAction standard) => _standard = standard;

    /// <inheritdoc/>
    public override int Invoke(ParseResult parseResult)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        var command = parseResult.CommandResult.Command;
        if (command is not RootCommand root)
        {
            return _standard switch
            {
                SynchronousCommandLineAction sync => sync.Invoke(parseResult),
                AsynchronousCommandLineAction async => async.InvokeAsync(parseResult, CancellationToken.None).GetAwaiter().GetResult(),
                _ => 0,
            };
        }

        var o = parseResult.InvocationConfiguration.Output;
        o.WriteLine("Description:");
        foreach (var line in (root.Description ?? string.Empty).Split('\n'))
        {
            o.WriteLine("  " + line.TrimEnd());
        }

        o.WriteLine();
        o.WriteLine("Usage:");
        o.WriteLine("  lmwrapper COMMAND [options]     (lmwrapper COMMAND --help for its options and examples)");
        o.WriteLine();
        o.WriteLine("Commands:");
        int width = root.Subcommands.Max(c => c.Name.Length) + 2;
        foreach (var c in root.Subcommands)
        {
            o.WriteLine("  " + c.Name.PadRight(width) + (c.Description ?? string.Empty).Split('\n', 2)[0].TrimEnd());
        }

        o.WriteLine();
        o.WriteLine("Options:");
        o.WriteLine("  -?, -h, --help  Show help and usage information");
        o.WriteLine("  --version       Show version information");
        return 0;
    }
}
