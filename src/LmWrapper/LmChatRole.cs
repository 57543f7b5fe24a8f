namespace LmWrapper;

/// <summary>The author of one turn of a chat dialog.</summary>
public enum LmChatRole
{
    /// <summary>Instructions that frame the whole conversation. Allowed only as the first turn.</summary>
    System,

    /// <summary>A message from the person (or program) talking to the model.</summary>
    User,

    /// <summary>A message the model wrote (or is shown as having written, for few-shot examples).</summary>
    Assistant,

    /// <summary>The result of a tool call, given back to the model.</summary>
    Tool,
}
