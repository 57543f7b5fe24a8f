using System.Globalization;
using System.Text;

namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>The Python methods of str, dict and list that templates call (<c>s.strip()</c>, <c>d.items()</c>, ...).</summary>
internal static class PyMethods
{
    private static object? Arg(List<object?> a, Dictionary<string, object?> kw, int i, string name, object? def = null)
    {
        if (i < a.Count) return a[i];
        return kw.TryGetValue(name, out var v) ? v : def;
    }

    private static string? OptStr(object? v) => v is null or JinjaUndefined ? null : v as string ?? throw new ChatTemplateException($"expected a string, not {Py.TypeName(v)}");

    private static JinjaFunction F(string name, Func<List<object?>, Dictionary<string, object?>, object?> f) => new(name, f);

    public static JinjaFunction? Bind(object? obj, string name) => obj switch
    {
        string s => BindString(s, name),
        Dictionary<object, object?> d => BindDict(d, name),
        List<object?> or object?[] => BindList(Py.Iterate(obj), name),
        _ => null,
    };

    private static JinjaFunction? BindString(string s, string name) => name switch
    {
        "strip" => F(name, (a, k) => Py.Strip(s, OptStr(Arg(a, k, 0, "chars")), true, true)),
        "lstrip" => F(name, (a, k) => Py.Strip(s, OptStr(Arg(a, k, 0, "chars")), true, false)),
        "rstrip" => F(name, (a, k) => Py.Strip(s, OptStr(Arg(a, k, 0, "chars")), false, true)),
        "split" => F(name, (a, k) => Py.Split(s, OptStr(Arg(a, k, 0, "sep")), Py.ToLong(Arg(a, k, 1, "maxsplit", -1L)), false)),
        "rsplit" => F(name, (a, k) => Py.Split(s, OptStr(Arg(a, k, 0, "sep")), Py.ToLong(Arg(a, k, 1, "maxsplit", -1L)), true)),
        "splitlines" => F(name, (_, _) => s.Split('\n').Select(x => x.TrimEnd('\r')).Where((x, i) => i < s.Split('\n').Length - 1 || x.Length > 0).Cast<object?>().ToList()),
        "startswith" => F(name, (a, k) => Affix(s, Arg(a, k, 0, "prefix"), true)),
        "endswith" => F(name, (a, k) => Affix(s, Arg(a, k, 0, "suffix"), false)),
        "upper" => F(name, (_, _) => s.ToUpperInvariant()),
        "lower" => F(name, (_, _) => s.ToLowerInvariant()),
        "title" => F(name, (_, _) => Py.PyTitle(s)),
        "capitalize" => F(name, (_, _) => Py.Capitalize(s)),
        "swapcase" => F(name, (_, _) => string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)))),
        "replace" => F(name, (a, k) => Replace(s, Py.Str(Arg(a, k, 0, "old")), Py.Str(Arg(a, k, 1, "new")), Py.ToLong(Arg(a, k, 2, "count", -1L)))),
        "find" => F(name, (a, k) => (long)s.IndexOf(Py.Str(Arg(a, k, 0, "sub")), StringComparison.Ordinal)),
        "rfind" => F(name, (a, k) => (long)s.LastIndexOf(Py.Str(Arg(a, k, 0, "sub")), StringComparison.Ordinal)),
        "index" => F(name, (a, k) =>
        {
            int i = s.IndexOf(Py.Str(Arg(a, k, 0, "sub")), StringComparison.Ordinal);
            return i < 0 ? throw new ChatTemplateException("substring not found") : (long)i;
        }),
        "count" => F(name, (a, k) => (long)CountOccurrences(s, Py.Str(Arg(a, k, 0, "sub")))),
        "join" => F(name, (a, k) => string.Join(s, Py.Iterate(Arg(a, k, 0, "iterable")).Select(x =>
            x as string ?? throw new ChatTemplateException($"sequence item: expected str instance, {Py.TypeName(x)} found")))),
        "format" => F(name, (a, k) => Format(s, a, k)),
        "isdigit" => F(name, (_, _) => s.Length > 0 && s.All(char.IsDigit)),
        "isnumeric" => F(name, (_, _) => s.Length > 0 && s.All(char.IsNumber)),
        "isalpha" => F(name, (_, _) => s.Length > 0 && s.All(char.IsLetter)),
        "isalnum" => F(name, (_, _) => s.Length > 0 && s.All(char.IsLetterOrDigit)),
        "isspace" => F(name, (_, _) => s.Length > 0 && s.All(JinjaLexer.IsPyWhitespace)),
        "islower" => F(name, (_, _) => s.Any(char.IsLetter) && !s.Any(char.IsUpper)),
        "isupper" => F(name, (_, _) => s.Any(char.IsLetter) && !s.Any(char.IsLower)),
        "removeprefix" => F(name, (a, k) => Py.Str(Arg(a, k, 0, "prefix")) is var p && s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s),
        "removesuffix" => F(name, (a, k) => Py.Str(Arg(a, k, 0, "suffix")) is var p && p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s),
        "zfill" => F(name, (a, k) => s.PadLeft(Math.Max(0, Py.Width(Arg(a, k, 0, "width"), "zfill width")), '0')),
        "ljust" => F(name, (a, k) => s.PadRight(Math.Max(0, Py.Width(Arg(a, k, 0, "width"), "ljust width")), (OptStr(Arg(a, k, 1, "fillchar")) ?? " ")[0])),
        "rjust" => F(name, (a, k) => s.PadLeft(Math.Max(0, Py.Width(Arg(a, k, 0, "width"), "rjust width")), (OptStr(Arg(a, k, 1, "fillchar")) ?? " ")[0])),
        "center" => F(name, (a, k) => JinjaFilters.Center(s, (int)Py.ToLong(Arg(a, k, 0, "width")))),
        _ => null,
    };

    private static JinjaFunction? BindDict(Dictionary<object, object?> d, string name) => name switch
    {
        "items" => F(name, (_, _) => d.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList()),
        "keys" => F(name, (_, _) => d.Keys.Cast<object?>().ToList()),
        "values" => F(name, (_, _) => d.Values.ToList()),
        "get" => F(name, (a, k) =>
        {
            object? key = Arg(a, k, 0, "key");
            return key is not null && d.TryGetValue(key, out var v) ? v : Arg(a, k, 1, "default");
        }),
        "copy" => F(name, (_, _) => new Dictionary<object, object?>(d, PyKeyComparer.Instance)),
        _ => null,
    };

    private static JinjaFunction? BindList(List<object?> l, string name) => name switch
    {
        "index" => F(name, (a, k) =>
        {
            object? x = Arg(a, k, 0, "value");
            int i = l.FindIndex(y => Py.AreEqual(y, x));
            return i < 0 ? throw new ChatTemplateException($"{Py.Repr(x)} is not in list") : (long)i;
        }),
        "count" => F(name, (a, k) => (long)l.Count(y => Py.AreEqual(y, Arg(a, k, 0, "value")))),
        "copy" => F(name, (_, _) => l.ToList()),
        _ => null,
    };

    private static bool Affix(string s, object? arg, bool prefix)
    {
        var options = arg is object?[] t ? t : [arg];
        foreach (var o in options)
        {
            if (o is not string p) throw new ChatTemplateException($"{(prefix ? "startswith" : "endswith")} first arg must be str or a tuple of str, not {Py.TypeName(o)}");
            if (prefix ? s.StartsWith(p, StringComparison.Ordinal) : s.EndsWith(p, StringComparison.Ordinal)) return true;
        }
        return false;
    }

    public static string Replace(string s, string old, string @new, long count)
    {
        if (count < 0) return old.Length == 0 ? InsertEverywhere(s, @new) : s.Replace(old, @new, StringComparison.Ordinal);
        var sb = new StringBuilder();
        int start = 0;
        for (long n = 0; n < count; n++)
        {
            int k = s.IndexOf(old, start, StringComparison.Ordinal);
            if (k < 0 || old.Length == 0) break;
            sb.Append(s, start, k - start).Append(@new);
            start = k + old.Length;
        }
        return sb.Append(s, start, s.Length - start).ToString();
    }

    private static string InsertEverywhere(string s, string ins)
    {
        var sb = new StringBuilder(ins);
        foreach (char c in s) sb.Append(c).Append(ins);
        return sb.ToString();
    }

    private static int CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return s.Length + 1;
        int n = 0, i = 0;
        while ((i = s.IndexOf(sub, i, StringComparison.Ordinal)) >= 0) { n++; i += sub.Length; }
        return n;
    }

    /// <summary><c>str.format</c> with <c>{}</c>, <c>{0}</c>, <c>{name}</c>, <c>{name.attr}</c> fields and <c>{{</c> / <c>}}</c>; format specs are not supported.</summary>
    private static string Format(string fmt, List<object?> args, Dictionary<string, object?> kwargs)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c == '{' && i + 1 < fmt.Length && fmt[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < fmt.Length && fmt[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (c != '{') { sb.Append(c); continue; }
            int close = fmt.IndexOf('}', i);
            if (close < 0) throw new ChatTemplateException("Single '{' encountered in format string");
            string field = fmt[(i + 1)..close];
            if (field.Contains(':') || field.Contains('!')) throw new ChatTemplateException($"format spec in '{{{field}}}' is not supported");
            string[] path = field.Split('.');
            object? v;
            if (path[0].Length == 0) v = args.ElementAtOrDefault(auto++);
            else if (int.TryParse(path[0], NumberStyles.None, CultureInfo.InvariantCulture, out int idx)) v = args.ElementAtOrDefault(idx);
            else v = kwargs.TryGetValue(path[0], out var kv) ? kv : throw new ChatTemplateException($"KeyError: '{path[0]}'");
            foreach (var p in path.Skip(1)) v = Py.GetAttr(v, p);
            sb.Append(Py.Str(v));
            i = close;
        }
        return sb.ToString();
    }
}
