namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// The string formats constrained decoding can enforce (JSON Schema's <c>format</c>), each as a set of templates of
/// character classes that only match valid values: <c>date</c> (YYYY-MM-DD, days 01-28 so every month has them),
/// <c>time</c> (hh:mm:ss), <c>date-time</c> (YYYY-MM-DDThh:mm:ss then Z or an offset within ±13:59) and <c>uuid</c> (lowercase hex
/// 8-4-4-4-12).
/// A narrow but always-valid subset: what System.Text.Json's DateTime, DateTimeOffset, DateOnly, TimeOnly and Guid read.
/// </summary>
internal sealed class JsonStringFormat
{
    private static readonly string[][] Year = [["12", D, D, D]];
    private static readonly string[][] Month = [["0", "123456789"], ["1", "012"]];
    private static readonly string[][] Day = [["0", "123456789"], ["1", D], ["2", "012345678"]];
    private static readonly string[][] Hour = [["01", D], ["2", "0123"]];
    private static readonly string[][] Sixty = [["012345", D]];
    private static readonly Dictionary<string, JsonStringFormat> Known = new(StringComparer.Ordinal)
    {
        ["date"] = new("date", Concat(Year, Lit("-"), Month, Lit("-"), Day)),
        ["time"] = new("time", Concat(Hour, Lit(":"), Sixty, Lit(":"), Sixty)),
        ["date-time"] = new("date-time", Concat(Year, Lit("-"), Month, Lit("-"), Day, Lit("T"), Hour, Lit(":"), Sixty, Lit(":"), Sixty, [["Z"], ["+-", "0", D, ":", "012345", D], ["+-", "1", "0123", ":", "012345", D]])),
        ["uuid"] = new("uuid", Concat(Hex(8), Lit("-"), Hex(4), Lit("-"), Hex(4), Lit("-"), Hex(4), Lit("-"), Hex(12))),
    };

    private const string D = "0123456789";

    private JsonStringFormat(string name, string[][] templates)
    {
        Name = name;
        Templates = templates;
        MinLength = templates.Min(t => t.Length);
    }

    /// <summary>The supported format names.</summary>
    public static IEnumerable<string> Names => Known.Keys;

    public string Name { get; }

    /// <summary>The alternatives: each a class (the allowed ASCII characters) per position; at most 64 of them.</summary>
    public string[][] Templates { get; }

    /// <summary>The length of the shortest value, in characters (ASCII, so bytes too).</summary>
    public int MinLength { get; }

    /// <summary>A bit per template.</summary>
    public ulong AllTemplates => Templates.Length >= 64 ? ulong.MaxValue : (1UL << Templates.Length) - 1;

    /// <summary>The format called <paramref name="name"/>, or null when it is not supported.</summary>
    public static JsonStringFormat? Find(string name) => Known.GetValueOrDefault(name);

    private static string[][] Lit(string s) => [[.. s.Select(c => c.ToString())]];

    private static string[][] Hex(int n) => [[.. Enumerable.Repeat("0123456789abcdef", n)]];

    private static string[][] Concat(params string[][][] parts)
    {
        IEnumerable<string[]> result = [[]];
        foreach (var part in parts)
        {
            result = [.. result.SelectMany(prefix => part.Select(p => (string[])[.. prefix, .. p]))];
        }

        return [.. result];
    }
}
