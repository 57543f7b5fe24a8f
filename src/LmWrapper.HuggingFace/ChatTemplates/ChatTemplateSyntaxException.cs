namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>A chat template is not valid Jinja (or uses a filter or test that does not exist).</summary>
public sealed class ChatTemplateSyntaxException : ChatTemplateException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="line">The 1-based line of the template where it was found.</param>
    /// <param name="column">The 1-based column of the template where it was found.</param>
    public ChatTemplateSyntaxException(string message, int line, int column) : base(message)
    {
        Line = line;
        Column = column;
    }

    /// <summary>The 1-based column of the template where the error was found.</summary>
    public int Column { get; }

    /// <inheritdoc />
    public override string Message => $"{TemplateMessage} (template line {Line}, column {Column})";
}
