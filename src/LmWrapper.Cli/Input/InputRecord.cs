using System.Text.Json;

namespace LmWrapper.Cli.Input;

/// <summary>One non-blank line of a JSONL prompt file: a prompt with its metadata, or the reason it is not one.</summary>
/// <param name="LineNumber">The 1-based line number in the file.</param>
/// <param name="Prompt">The prompt, or null when the line is bad.</param>
/// <param name="Metadata">The line's free "metadata" value, if any (carried to the output line unchanged).</param>
/// <param name="Error">Why the line is bad, or null.</param>
internal sealed record InputRecord(int LineNumber, LmPrompt? Prompt, JsonElement? Metadata, InputLineError? Error)
{
    /// <summary>Whether the line is a valid prompt.</summary>
    public bool IsValid => Error is null;
}
