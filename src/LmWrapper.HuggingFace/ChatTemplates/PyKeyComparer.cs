namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>A Python key comparer: strings by ordinal, numbers by value (1 == 1.0 == True).</summary>
internal sealed class PyKeyComparer : IEqualityComparer<object>
{
    public static readonly PyKeyComparer Instance = new();

    public new bool Equals(object? x, object? y) => Py.AreEqual(x, y);

    public int GetHashCode(object obj) => obj switch
    {
        bool b => b ? 1 : 0,
        long l => l.GetHashCode(),
        double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => ((long)d).GetHashCode(),
        string s => StringComparer.Ordinal.GetHashCode(s),
        object?[] t => t.Length,
        _ => obj.GetHashCode(),
    };
}
