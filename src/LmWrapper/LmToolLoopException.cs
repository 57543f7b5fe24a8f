namespace LmWrapper;

/// <summary>
/// <see cref="LanguageModel.RunToolsAsync(LmPrompt, IReadOnlyDictionary{string, Func{System.Text.Json.JsonElement, CancellationToken, Task{string}}}, int, CancellationToken)"/>
/// could not finish: the model still asked for tools after the step limit, asked for a tool that has no handler, or a
/// step failed. <see cref="LastPrediction"/> is the last prediction made.
/// </summary>
public class LmToolLoopException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What stopped the loop.</param>
    /// <param name="lastPrediction">The last prediction made, or null.</param>
    public LmToolLoopException(string message, LmPrediction? lastPrediction)
        : base(message) => LastPrediction = lastPrediction;

    /// <summary>The last prediction of the loop, whose prompt holds the conversation so far; null when none was made.</summary>
    public LmPrediction? LastPrediction { get; }
}
