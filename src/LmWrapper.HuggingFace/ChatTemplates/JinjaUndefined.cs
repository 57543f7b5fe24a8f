namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>jinja2's default <c>Undefined</c>: renders as empty, is falsy and iterates as empty; other uses raise.</summary>
internal sealed class JinjaUndefined(string hint)
{
    public string Hint { get; } = hint;

    public ChatTemplateException Fail() => new(Hint);

    public override string ToString() => "";
}
