namespace LmWrapper;

/// <summary>How the model may use the prompt's tools (see <see cref="LmToolChoice"/>).</summary>
public enum LmToolChoiceMode
{
    /// <summary>The model decides whether to call tools (the default when tools are given).</summary>
    Auto,

    /// <summary>The model must not call any tool.</summary>
    None,

    /// <summary>The model must call at least one tool.</summary>
    Required,

    /// <summary>The model must call the named tool (<see cref="LmToolChoice.ToolName"/>).</summary>
    Named,
}
