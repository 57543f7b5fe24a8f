namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>The loop variable of a for loop.</summary>
internal sealed class LoopContext(List<object?> items, int depth0, Func<object?, string>? recurse)
{
    public int Index0 { get; set; }

    public List<object?> Items { get; } = items;

    public int Depth0 { get; } = depth0;

    public Func<object?, string>? Recurse { get; } = recurse;

    public object? LastChanged { get; set; } = Missing;

    public static readonly object Missing = new();

    public object? GetAttribute(string name)
    {
        int n = Items.Count;
        return name switch
        {
            "index" => (long)(Index0 + 1),
            "index0" => (long)Index0,
            "revindex" => (long)(n - Index0),
            "revindex0" => (long)(n - Index0 - 1),
            "first" => Index0 == 0,
            "last" => Index0 == n - 1,
            "length" => (long)n,
            "depth" => (long)(Depth0 + 1),
            "depth0" => (long)Depth0,
            "previtem" => Index0 > 0 ? Items[Index0 - 1] : new JinjaUndefined("there is no previous item"),
            "nextitem" => Index0 + 1 < n ? Items[Index0 + 1] : new JinjaUndefined("there is no next item"),
            "cycle" => new JinjaFunction("cycle", (a, _) =>
                a.Count == 0 ? throw new ChatTemplateException("no items for cycling given") : a[Index0 % a.Count]),
            "changed" => new JinjaFunction("changed", (a, _) =>
            {
                object? v = a.Count == 1 ? a[0] : a.ToArray();
                bool changed = LastChanged == Missing || !Py.AreEqual(LastChanged, v);
                LastChanged = v;
                return changed;
            }),
            _ => new JinjaUndefined($"'LoopContext' object has no attribute '{name}'"),
        };
    }
}
