namespace LmWrapper.PromptTrimming;

/// <summary>Which side of a text a <see cref="PromptTrimmer"/> cuts.</summary>
public enum TrimSide
{
    /// <summary>Cut the beginning, keep the end (the default: the end of a prompt is what the model continues).</summary>
    Start,

    /// <summary>Cut the end, keep the beginning.</summary>
    End,
}
