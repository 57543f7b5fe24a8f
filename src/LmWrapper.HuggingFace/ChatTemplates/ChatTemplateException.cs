namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>A chat template failed to load or to render: a runtime error in the template, or bad input for it.</summary>
public class ChatTemplateException : LmException
{
    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public ChatTemplateException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public ChatTemplateException(string message, Exception? innerException) : base(message, innerException) { }

    /// <summary>The 1-based template line of the statement that failed, when known.</summary>
    public int? Line { get; internal set; }

    /// <summary>The error text from the template engine, without location.</summary>
    public string TemplateMessage => base.Message;

    /// <inheritdoc />
    public override string Message => Line is null ? base.Message : $"{base.Message} (template line {Line})";
}
