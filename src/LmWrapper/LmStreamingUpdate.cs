namespace LmWrapper;

/// <summary>
/// One update of <see cref="LanguageModel.PredictStreamingAsync"/>: a piece of one sample's completion text as it is
/// generated (with its tokens and their logprobs where the provider streams them), or, last of all, the finished
/// <see cref="LmPrediction"/> (<see cref="IsFinal"/>), the same prediction <see cref="LanguageModel.PredictAsync(LmPrompt, CancellationToken)"/>
/// returns for the prompt.
/// </summary>
/// <remarks>
/// Concatenating the <see cref="Text"/> of a sample's updates, in order, gives that sample's
/// <see cref="LmPrediction.CompletionText"/>; text that could still turn out to be the start of a stop sequence is held
/// back until it cannot, so a streamed piece is never taken back.
/// </remarks>
public sealed class LmStreamingUpdate
{
    /// <summary>Which sample the update belongs to (0 to <see cref="LmPrompt.NumCompletions"/> - 1); 0 for the final update.</summary>
    public int SampleIndex { get; init; }

    /// <summary>The new text of the sample (may be empty, for example an update that only carries tokens, or the final one).</summary>
    public string Text { get; init; } = string.Empty;

    /// <summary>The tokens this update completes, as strings, where the provider streams them; null when it does not.</summary>
    public IReadOnlyList<string>? Tokens { get; init; }

    /// <summary>The natural-log probability of each of <see cref="Tokens"/>, where the provider streams them; null when it does not.</summary>
    public IReadOnlyList<double>? Logprobs { get; init; }

    /// <summary>Whether the update replays an answer from the response cache rather than from the model.</summary>
    public bool WasCached { get; init; }

    /// <summary>
    /// The finished prediction (every sample in <see cref="LmPrediction.Completions"/>), on the final update only; null on
    /// the updates before it. A request the provider refused before any text came is a failed prediction here, as
    /// <see cref="LanguageModel.PredictAsync(LmPrompt, CancellationToken)"/> returns it.
    /// </summary>
    public LmPrediction? Prediction { get; init; }

    /// <summary>Whether this is the final update, the one that carries <see cref="Prediction"/>.</summary>
    public bool IsFinal => Prediction is not null;

    /// <inheritdoc/>
    public override string ToString() =>
        IsFinal ? $"LmStreamingUpdate(final: {Prediction})" : $"LmStreamingUpdate(sample {SampleIndex}: \"{Text}\")";
}
