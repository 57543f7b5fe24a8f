namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>A <c>namespace()</c> object: the one kind of object a template may assign attributes on.</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}
