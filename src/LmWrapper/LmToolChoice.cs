namespace LmWrapper;

/// <summary>
/// Whether and which tools the model must call (<see cref="LmPrompt.ToolChoice"/>): <see cref="Auto"/>, <see cref="None"/>,
/// <see cref="Required"/> or <see cref="Named(string)"/>. Sent as OpenAI's <c>tool_choice</c> ("auto", "none",
/// "required", <c>{"type":"function","function":{"name":…}}</c>) and Claude's (<c>auto</c>, <c>none</c>, <c>any</c>,
/// <c>{"type":"tool","name":…}</c>).
/// </summary>
public sealed record LmToolChoice
{
    private LmToolChoice(LmToolChoiceMode mode, string? toolName)
    {
        Mode = mode;
        ToolName = toolName;
    }

    /// <summary>The model decides.</summary>
    public static LmToolChoice Auto { get; } = new(LmToolChoiceMode.Auto, null);

    /// <summary>The model must not call tools.</summary>
    public static LmToolChoice None { get; } = new(LmToolChoiceMode.None, null);

    /// <summary>The model must call at least one tool.</summary>
    public static LmToolChoice Required { get; } = new(LmToolChoiceMode.Required, null);

    /// <summary>Which kind of choice this is.</summary>
    public LmToolChoiceMode Mode { get; }

    /// <summary>For <see cref="LmToolChoiceMode.Named"/>: the tool the model must call; otherwise null.</summary>
    public string? ToolName { get; }

    /// <summary>The model must call the tool named <paramref name="toolName"/> (one of <see cref="LmPrompt.Tools"/>).</summary>
    /// <param name="toolName">The tool's name.</param>
    /// <exception cref="LmPromptException">The name is not a valid tool name.</exception>
    public static LmToolChoice Named(string toolName)
    {
        ArgumentNullException.ThrowIfNull(toolName);
        if (!LmToolDefinition.NamePattern().IsMatch(toolName))
        {
            throw new LmPromptException($"The tool choice names \"{toolName}\", which is not a valid tool name (^[a-zA-Z0-9_-]{{1,64}}$).", nameof(LmPrompt.ToolChoice));
        }

        return new(LmToolChoiceMode.Named, toolName);
    }

    /// <inheritdoc/>
    public override string ToString() => Mode == LmToolChoiceMode.Named ? $"Named({ToolName})" : Mode.ToString();
}
