using Spectre.Console;

namespace LmWrapper.Cli.Commands;

/// <summary>Writes a table to standard output: drawn by Spectre.Console on a terminal, tab-separated lines when redirected (for scripts).</summary>
internal static class TableOutput
{
    /// <summary>Writes the table.</summary>
    /// <param name="header">The column names.</param>
    /// <param name="rows">The rows.</param>
    public static void Write(string[] header, IEnumerable<string[]> rows)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        if (Console.IsOutputRedirected)
        {
            Console.Out.WriteLine(string.Join('\t', header));
            foreach (var row in rows)
            {
                Console.Out.WriteLine(string.Join('\t', row));
            }

            return;
        }

        var table = new Table().AddColumns(header.Select(Markup.Escape).ToArray());
        foreach (var row in rows)
        {
            table.AddRow(row.Select(Markup.Escape).ToArray());
        }

        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) }).Write(table);
    }
}
