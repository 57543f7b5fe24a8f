namespace LmWrapper.Cli.Input;

/// <summary>Reads a whole JSONL file of prompts (blank lines are skipped; line numbers are the file's).</summary>
internal static class PromptFile
{
    /// <summary>Reads every non-blank line of <paramref name="path"/> (or standard input for "-").</summary>
    /// <param name="path">The file.</param>
    /// <param name="validate">Checks each prompt for the model it will run on; null checks only the prompt's own fields.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="CliUsageException">The file cannot be read.</exception>
    public static async Task<IReadOnlyList<InputRecord>> ReadAsync(string path, Action<LmPrompt>? validate, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        TextReader reader;
        try
        {
            reader = path == "-" ? Console.In : new StreamReader(path, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"Cannot read the input file {path}: {e.Message}", e);
        }

        var records = new List<InputRecord>();
        using (reader)
        {
            int lineNumber = 0;
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                lineNumber++;
                if (!string.IsNullOrWhiteSpace(line))
                {
                    records.Add(PromptLineParser.Parse(line, lineNumber, validate));
                }
            }
        }

        return records;
    }
}
