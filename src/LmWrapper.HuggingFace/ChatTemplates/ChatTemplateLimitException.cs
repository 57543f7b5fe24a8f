namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>
/// A chat template went past one of the limits that keep a hostile or broken template from taking the process down:
/// nesting deeper than <see cref="ChatTemplate.MaxNestingDepth"/>, more than <see cref="ChatTemplate.MaxRenderSteps"/>
/// steps in one render, or more than <see cref="ChatTemplate.MaxOutputChars"/> characters of output or of one string.
/// </summary>
public sealed class ChatTemplateLimitException : ChatTemplateException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Which limit was passed.</param>
    public ChatTemplateLimitException(string message) : base(message) { }
}
