namespace LmWrapper;

/// <summary>One message of a chat dialog: who said it and what was said.</summary>
/// <param name="Role">The author of the message.</param>
/// <param name="Content">The text of the message.</param>
/// <param name="Name">An optional name for the author (for example a tool's name or one of several users).</param>
public sealed partial record LmChatTurn(LmChatRole Role, string Content, string? Name = null)
{
    private readonly ValueList<LmReasoningBlock>? _reasoning;

    /// <summary>
    /// For an assistant turn: the reasoning blocks the model returned with this answer (Claude's signed thinking and
    /// redacted thinking blocks), which <see cref="LmPrediction.MakeReplyPrompt(string, Func{LmPrompt, LmPrompt}?)"/>
    /// copies from the prediction so that they are sent back unchanged, as Claude requires. Null (the usual case) when
    /// there are none; an empty list reads as null. Part of equality and of the cache key.
    /// </summary>
    public IReadOnlyList<LmReasoningBlock>? ReasoningBlocks
    {
        get => _reasoning?.Items;
        init => _reasoning = value is null || value.Count == 0 ? null : new ValueList<LmReasoningBlock>([.. value]);
    }

    /// <summary>Creates a system turn (instructions that frame the conversation).</summary>
    /// <param name="content">The instructions.</param>
    public static LmChatTurn System(string content) => new(LmChatRole.System, content);

    /// <summary>Creates a user turn.</summary>
    /// <param name="content">What the user says.</param>
    /// <param name="name">An optional name for the user.</param>
    public static LmChatTurn User(string content, string? name = null) => new(LmChatRole.User, content, name);

    /// <summary>Creates an assistant turn.</summary>
    /// <param name="content">What the assistant says.</param>
    public static LmChatTurn Assistant(string content) => new(LmChatRole.Assistant, content);

    /// <summary>Creates a tool-result turn.</summary>
    /// <param name="content">The tool's output.</param>
    /// <param name="name">The tool's name.</param>
    public static LmChatTurn Tool(string content, string? name = null) => new(LmChatRole.Tool, content, name);

    /// <summary>The role as the lower-case word the APIs and the default string form use ("system", "user", "assistant", "tool").</summary>
    public string RoleName => RoleToName(Role);

    internal static string RoleToName(LmChatRole role) => role switch
    {
        LmChatRole.System => "system",
        LmChatRole.User => "user",
        LmChatRole.Assistant => "assistant",
        LmChatRole.Tool => "tool",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Unknown chat role."),
    };

    /// <summary>
    /// An array compared element by element, so that the record's generated equality compares a turn's lists (reasoning
    /// blocks, content parts, tool calls) by value.
    /// </summary>
    private sealed class ValueList<T>(T[] items)
    {
        public T[] Items { get; } = items;

        public override bool Equals(object? obj) => obj is ValueList<T> other && Items.AsSpan().SequenceEqual(other.Items, EqualityComparer<T>.Default);

        public override int GetHashCode()
        {
            var h = new HashCode();
            foreach (var item in Items)
            {
                h.Add(item);
            }

            return h.ToHashCode();
        }
    }
}
