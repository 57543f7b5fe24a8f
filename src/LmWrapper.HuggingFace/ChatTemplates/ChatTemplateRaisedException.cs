namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>
/// The template itself rejected the conversation by calling <c>raise_exception(message)</c>
/// (for example "Conversation roles must alternate user/assistant/user/assistant/...").
/// <see cref="Exception.Message"/> is the template's message, unchanged.
/// </summary>
public sealed class ChatTemplateRaisedException : ChatTemplateException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message the template passed to <c>raise_exception</c>.</param>
    public ChatTemplateRaisedException(string message) : base(message) { }

    /// <inheritdoc />
    public override string Message => TemplateMessage;
}
