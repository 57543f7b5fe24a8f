using System.Globalization;
using System.Text;

namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>Python's <c>json.dumps</c>, byte for byte, as transformers' <c>tojson</c> filter calls it.</summary>
internal static class PyJson
{
    public static string Dumps(object? value, object? indent = null, object? separators = null, bool sortKeys = false, bool ensureAscii = false)
    {
        string? indentStr = indent switch
        {
            null or JinjaUndefined => null,
            long n => new string(' ', Math.Max(0, Py.Width(n, "tojson indent"))),
            bool b => b ? " " : "",
            string s => s,
            _ => throw new ChatTemplateException($"tojson: indent must be an integer or a string, not {Py.TypeName(indent)}"),
        };
        string itemSep = indentStr is null ? ", " : ",", keySep = ": ";
        if (separators is not null and not JinjaUndefined)
        {
            var parts = Py.Iterate(separators);
            if (parts.Count != 2 || parts[0] is not string a || parts[1] is not string b)
                throw new ChatTemplateException("tojson: separators must be a pair of strings");
            itemSep = a;
            keySep = b;
        }
        var sb = new StringBuilder();
        Write(sb, value, indentStr, itemSep, keySep, sortKeys, ensureAscii, 0);
        return sb.ToString();
    }

    private static void NewLine(StringBuilder sb, string? indent, int level)
    {
        if (indent is null) return;
        sb.Append('\n');
        for (int i = 0; i < level; i++) sb.Append(indent);
    }

    private static void Write(StringBuilder sb, object? v, string? indent, string itemSep, string keySep, bool sortKeys, bool ascii, int level)
    {
        switch (v)
        {
            case null: sb.Append("null"); return;
            case bool b: sb.Append(b ? "true" : "false"); return;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); return;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : Py.FloatRepr(d));
                return;
            case string s: WriteString(sb, s, ascii); return;
            case List<object?> or object?[]:
                {
                    var items = Py.Iterate(v);
                    if (items.Count == 0) { sb.Append("[]"); return; }
                    sb.Append('[');
                    for (int i = 0; i < items.Count; i++)
                    {
                        if (i > 0) sb.Append(itemSep);
                        NewLine(sb, indent, level + 1);
                        Write(sb, items[i], indent, itemSep, keySep, sortKeys, ascii, level + 1);
                    }
                    NewLine(sb, indent, level);
                    sb.Append(']');
                    return;
                }
            case Dictionary<object, object?> dict:
                {
                    if (dict.Count == 0) { sb.Append("{}"); return; }
                    var entries = dict.Select(kv => (Key: KeyString(kv.Key), kv.Value)).ToList();
                    if (sortKeys) entries.Sort((x, y) => string.CompareOrdinal(x.Key, y.Key));
                    sb.Append('{');
                    for (int i = 0; i < entries.Count; i++)
                    {
                        if (i > 0) sb.Append(itemSep);
                        NewLine(sb, indent, level + 1);
                        WriteString(sb, entries[i].Key, ascii);
                        sb.Append(keySep);
                        Write(sb, entries[i].Value, indent, itemSep, keySep, sortKeys, ascii, level + 1);
                    }
                    NewLine(sb, indent, level);
                    sb.Append('}');
                    return;
                }
            case JinjaNamespace ns:
                throw new ChatTemplateException("Object of type Namespace is not JSON serializable");
            default:
                throw new ChatTemplateException($"Object of type {Py.TypeName(v)} is not JSON serializable");
        }
    }

    private static string KeyString(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Py.FloatRepr(d),
        _ => throw new ChatTemplateException($"keys must be str, int, float, bool or None, not {Py.TypeName(key)}"),
    };

    public static void WriteString(StringBuilder sb, string s, bool ascii)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ascii && c > 0x7e))
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
