namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>A variable scope. For loops, macros and <c>with</c> blocks open a child scope; <c>if</c> does not.</summary>
internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> _vars = new(StringComparer.Ordinal);

    public Scope? Parent { get; } = parent;

    /// <summary>A frame-local that jinja2 has declared but not yet assigned: reads give undefined, not an outer value.</summary>
    public static readonly object Missing = new();

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s is not null; s = s.Parent)
        {
            if (s._vars.TryGetValue(name, out value)) return true;
        }
        value = null;
        return false;
    }

    public void Set(string name, object? value) => _vars[name] = value;
}
