using System.Globalization;

namespace LmWrapper.Cli.Input;

/// <summary>Why one line of a JSONL prompt file is not a prompt.</summary>
/// <param name="LineNumber">The 1-based line number in the file.</param>
/// <param name="Column">The 1-based character column where the problem is.</param>
/// <param name="Message">What is wrong.</param>
internal sealed record InputLineError(int LineNumber, int Column, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"line {LineNumber}, column {Column}: {Message}");
}
