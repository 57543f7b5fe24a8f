namespace LmWrapper.Internals;

/// <summary>Which token positions a <see cref="ModelInternalsRequest"/> returns.</summary>
[Flags]
public enum LmInternalsPositions
{
    /// <summary>The prompt's positions (a beginning-of-sequence token included).</summary>
    Prompt = 1,

    /// <summary>The positions of generated tokens that were fed back into the model (every one but the last).</summary>
    Generated = 2,

    /// <summary>Every position the model processed: the prompt, then the generated tokens but the last.</summary>
    All = Prompt | Generated,
}
