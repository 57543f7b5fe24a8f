using System.Globalization;
using System.Text.RegularExpressions;

namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>jinja2's built-in filters (the ones chat templates use), plus transformers' <c>tojson</c>.</summary>
internal static partial class JinjaFilters
{
    private delegate object? Filter(object? value, List<object?> args, Dictionary<string, object?> kwargs);

    private static readonly Dictionary<string, Filter> Filters = new(StringComparer.Ordinal)
    {
        ["abs"] = (v, _, _) => v switch
        {
            long l => (object)Math.Abs(l),
            double d => Math.Abs(d),
            bool b => b ? 1L : 0L,
            _ => throw new ChatTemplateException($"bad operand type for abs(): '{Py.TypeName(v)}'"),
        },
        ["attr"] = (v, a, k) => Py.GetAttr(v, Py.Str(Arg(a, k, 0, "name"))),
        ["batch"] = Batch,
        ["capitalize"] = (v, _, _) => Py.Capitalize(Py.Str(v)),
        ["center"] = (v, a, k) => Center(Py.Str(v), Py.Width(Arg(a, k, 0, "width", 80L), "center width")),
        ["count"] = (v, _, _) => Py.Length(v),
        ["length"] = (v, _, _) => Py.Length(v),
        ["default"] = Default,
        ["d"] = Default,
        ["dictsort"] = DictSort,
        ["escape"] = (v, _, _) => EscapeValue(v),
        ["e"] = (v, _, _) => EscapeValue(v),
        ["first"] = (v, _, _) =>
        {
            var items = Py.Iterate(v);
            return items.Count > 0 ? items[0] : new JinjaUndefined("No first item, sequence was empty.");
        },
        ["last"] = (v, _, _) =>
        {
            var items = Py.Iterate(v);
            return items.Count > 0 ? items[^1] : new JinjaUndefined("No last item, sequence was empty.");
        },
        ["float"] = (v, a, k) => ToFloat(v, Arg(a, k, 0, "default", 0.0)),
        ["format"] = (v, a, k) => Py.Arith("%", Py.Str(v), a.Count == 1 ? a[0] : a.ToArray()),
        ["indent"] = Indent,
        ["int"] = (v, a, k) => ToInt(v, Arg(a, k, 0, "default", 0L), Py.ToLong(Arg(a, k, 1, "base", 10L))),
        ["items"] = (v, _, _) => v switch
        {
            JinjaUndefined => new List<object?>(),
            Dictionary<object, object?> d => d.Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList(),
            _ => throw new ChatTemplateException($"Can only get item pairs from a mapping, not {Py.TypeName(v)}."),
        },
        ["join"] = (v, a, k) =>
        {
            string sep = Py.Str(Arg(a, k, 0, "d", ""));
            object? attribute = Arg(a, k, 1, "attribute");
            var items = Py.Iterate(v);
            if (attribute is not null) items = items.Select(x => GetPath(x, attribute)).ToList();
            return string.Join(sep, items.Select(Py.Str));
        },
        ["list"] = (v, _, _) => Py.Iterate(v).ToList(),
        ["lower"] = (v, _, _) => Py.Str(v).ToLowerInvariant(),
        ["upper"] = (v, _, _) => Py.Str(v).ToUpperInvariant(),
        ["map"] = Map,
        ["max"] = (v, a, k) => MinMax(v, a, k, max: true),
        ["min"] = (v, a, k) => MinMax(v, a, k, max: false),
        ["pprint"] = (v, _, _) => Py.Repr(v),
        ["reject"] = (v, a, k) => Select(v, a, k, byAttribute: false, keep: false),
        ["rejectattr"] = (v, a, k) => Select(v, a, k, byAttribute: true, keep: false),
        ["select"] = (v, a, k) => Select(v, a, k, byAttribute: false, keep: true),
        ["selectattr"] = (v, a, k) => Select(v, a, k, byAttribute: true, keep: true),
        ["replace"] = (v, a, k) =>
        {
            object? count = Arg(a, k, 2, "count");
            return PyMethods.Replace(Py.Str(v), Py.Str(Arg(a, k, 0, "old")), Py.Str(Arg(a, k, 1, "new")), count is null ? -1 : Py.ToLong(count));
        },
        ["reverse"] = (v, _, _) => v is string s ? string.Concat(Py.StringChars(s).AsEnumerable().Reverse().Cast<string>()) : Py.Iterate(v).AsEnumerable().Reverse().ToList(),
        ["round"] = Round,
        ["safe"] = (v, _, _) => MarkSafe(v),
        ["sort"] = Sort,
        ["string"] = (v, _, _) => Py.Str(v),
        ["sum"] = (v, a, k) =>
        {
            object? attribute = Arg(a, k, 0, "attribute");
            object? total = Arg(a, k, 1, "start", 0L);
            foreach (var x in Py.Iterate(v)) total = Py.Add(total, attribute is null ? x : GetPath(x, attribute));
            return total;
        },
        ["title"] = (v, _, _) => string.Concat(TitleSplit().Split(Py.Str(v)).Where(p => p.Length > 0)
            .Select(p => char.ToUpperInvariant(p[0]) + p[1..].ToLowerInvariant())),
        ["tojson"] = (v, a, k) => PyJson.Dumps(v,
            indent: Arg(a, k, 1, "indent"),
            separators: Arg(a, k, 2, "separators"),
            sortKeys: Py.Truthy(Arg(a, k, 3, "sort_keys", false)),
            ensureAscii: Py.Truthy(Arg(a, k, 0, "ensure_ascii", false))),
        ["trim"] = (v, a, k) => Py.Strip(Py.Str(v), Arg(a, k, 0, "chars") as string, true, true),
        ["truncate"] = Truncate,
        ["unique"] = Unique,
        ["wordcount"] = (v, _, _) => (long)WordRegex().Matches(Py.Str(v)).Count,
    };

    public static bool Exists(string name) => Filters.ContainsKey(name);

    public static object? Apply(string name, object? value, List<object?> args, Dictionary<string, object?> kwargs)
    {
        if (!Filters.TryGetValue(name, out var f)) throw new ChatTemplateException($"No filter named '{name}'.");
        return f(value, args, kwargs);
    }

    private static object? Arg(List<object?> a, Dictionary<string, object?> kw, int i, string name, object? def = null)
    {
        if (i < a.Count) return a[i];
        return kw.TryGetValue(name, out var v) ? v : def;
    }

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex TitleSplit();

    [GeneratedRegex(@"\w+")]
    private static partial Regex WordRegex();

    /// <summary>jinja2's attribute getter for <c>attribute=</c> arguments: dotted paths, integer parts, item lookup.</summary>
    public static object? GetPath(object? item, object? attribute)
    {
        if (attribute is long l) return Py.GetItem(item, l);
        foreach (var part in Py.Str(attribute).Split('.'))
        {
            object key = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : part;
            item = Py.GetItem(item, key);
        }
        return item;
    }

    public static string Center(string s, int width)
    {
        int len = Py.CodePointLength(s);
        if (width <= len) return s;
        int pad = width - len;
        int left = pad / 2 + (pad & width & 1);
        return new string(' ', left) + s + new string(' ', pad - left);
    }

    private static object? Default(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        object? def = Arg(a, k, 0, "default_value", "");
        bool boolean = Py.Truthy(Arg(a, k, 1, "boolean", false));
        if (v is JinjaUndefined || (boolean && !Py.Truthy(v))) return def;
        return v;
    }

    // jinja2's safe filter returns Markup, a str subclass that escape leaves alone. We mark the (fresh) string
    // instance instead of adding a string type of our own.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<string, object> SafeStrings = new();

    private static string MarkSafe(object? v)
    {
        string s = new(Py.Str(v).AsSpan());
        SafeStrings.AddOrUpdate(s, SafeStrings);
        return s;
    }

    private static string EscapeValue(object? v) => v is string s && SafeStrings.TryGetValue(s, out _) ? s : MarkSafe(Escape(Py.Str(v)));

    private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&#34;", StringComparison.Ordinal).Replace("'", "&#39;", StringComparison.Ordinal);

    private static object? ToFloat(object? v, object? def)
    {
        switch (v)
        {
            case JinjaUndefined u: throw u.Fail();
            case double d: return d;
            case long or bool: return Py.ToDouble(v);
            case string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d): return d;
            default: return def;
        }
    }

    private static object? ToInt(object? v, object? def, long @base)
    {
        switch (v)
        {
            case JinjaUndefined u: throw u.Fail();
            case long l: return l;
            case bool b: return b ? 1L : 0L;
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : def;
            case string s:
                {
                    s = s.Trim().Replace("_", "", StringComparison.Ordinal);
                    try
                    {
                        if (@base == 10 && long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long r)) return r;
                        if (@base != 10) return Convert.ToInt64(s, (int)@base);
                    }
                    catch (FormatException) { return def; }
                    catch (ArgumentException) { return def; }
                    return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f) ? (long)Math.Truncate(f) : def;
                }
            default: return def;
        }
    }

    private static object? Indent(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        object? width = Arg(a, k, 0, "width", 4L);
        bool first = Py.Truthy(Arg(a, k, 1, "first", false));
        bool blank = Py.Truthy(Arg(a, k, 2, "blank", false));
        string indention = width is string ws ? ws : new string(' ', Math.Max(0, Py.Width(width, "indent")));
        if (v is JinjaUndefined u) throw u.Fail();
        if (v is not string text) throw new ChatTemplateException($"unsupported operand type(s) for +=: '{Py.TypeName(v)}' and 'str'");
        if ((long)indention.Length * (text.Count(c => c == '\n') + 1) > ChatTemplate.MaxOutputChars)
            throw new ChatTemplateLimitException($"Indenting {text.Count(c => c == '\n') + 1:N0} lines by {indention.Length:N0} characters would pass {ChatTemplate.MaxOutputChars:N0} characters.");
        string s = Py.Str(v) + "\n";
        var lines = SplitLines(s);
        string rv;
        if (blank) rv = string.Join("\n" + indention, lines);
        else
        {
            rv = lines.Count > 0 ? lines[0] : "";
            if (lines.Count > 1) rv += "\n" + string.Join("\n", lines.Skip(1).Select(l => l.Length > 0 ? indention + l : l));
        }
        return first ? indention + rv : rv;
    }

    private static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                lines.Add(s[start..i]);
                if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
                start = i + 1;
            }
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    private static object? Map(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        var items = Py.Truthy(v) ? Py.Iterate(v) : []; // jinja2 maps over nothing when the value is falsy
        if (k.TryGetValue("attribute", out var attribute))
        {
            bool hasDefault = k.TryGetValue("default", out var def);
            return items.Select(x =>
            {
                var r = GetPath(x, attribute);
                return hasDefault && r is JinjaUndefined ? def : r;
            }).ToList();
        }
        if (a.Count == 0) throw new ChatTemplateException("map requires a filter argument");
        string filter = Py.Str(a[0]);
        var rest = a.Skip(1).ToList();
        return items.Select(x => Apply(filter, x, rest, k)).ToList();
    }

    private static object? Select(object? v, List<object?> a, Dictionary<string, object?> k, bool byAttribute, bool keep)
    {
        var items = Py.Truthy(v) ? Py.Iterate(v) : []; // jinja2 selects from nothing when the value is falsy
        int i = 0;
        object? attribute = null;
        if (byAttribute)
        {
            if (a.Count == 0) throw new ChatTemplateException("Missing parameter for attribute name");
            attribute = a[0];
            i = 1;
        }
        Func<object?, bool> test;
        if (a.Count > i)
        {
            string testName = Py.Str(a[i]);
            var testArgs = a.Skip(i + 1).ToList();
            test = x => JinjaTests.Apply(testName, x, testArgs);
        }
        else test = Py.Truthy;
        return items.Where(x => test(byAttribute ? GetPath(x, attribute) : x) == keep).ToList();
    }

    private static object? KeyFor(object? x, object? attribute, bool caseSensitive)
    {
        var key = attribute is null ? x : GetPath(x, attribute);
        return !caseSensitive && key is string s ? s.ToLowerInvariant() : key;
    }

    private static object? Sort(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        bool reverse = Py.Truthy(Arg(a, k, 0, "reverse", false));
        bool caseSensitive = Py.Truthy(Arg(a, k, 1, "case_sensitive", false));
        object? attribute = Arg(a, k, 2, "attribute");
        var items = Py.Iterate(v).ToList();
        var keyed = items.Select((x, idx) => (Key: KeyFor(x, attribute, caseSensitive), Item: x, Index: idx)).ToList();
        SortOrThrow(keyed, (x, y) =>
        {
            int c = Py.Compare(x.Key, y.Key, "<");
            if (reverse) c = -c;
            return c != 0 ? c : x.Index.CompareTo(y.Index);
        });
        return keyed.Select(t => t.Item).ToList();
    }

    /// <summary>List.Sort wraps comparer exceptions; surface the template error itself.</summary>
    private static void SortOrThrow<T>(List<T> list, Comparison<T> comparison)
    {
        try
        {
            list.Sort(comparison);
        }
        catch (InvalidOperationException ex) when (ex.InnerException is ChatTemplateException inner)
        {
            throw inner;
        }
    }

    private static object? DictSort(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        if (v is not Dictionary<object, object?> d) throw new ChatTemplateException("dictsort requires a mapping");
        bool caseSensitive = Py.Truthy(Arg(a, k, 0, "case_sensitive", false));
        string by = Py.Str(Arg(a, k, 1, "by", "key"));
        bool reverse = Py.Truthy(Arg(a, k, 2, "reverse", false));
        var items = d.Select(kv => new object?[] { kv.Key, kv.Value }).ToList();
        int pos = by == "key" ? 0 : by == "value" ? 1 : throw new ChatTemplateException("You can only sort by either \"key\" or \"value\"");
        SortOrThrow(items, (x, y) =>
        {
            int c = Py.Compare(KeyFor(x[pos], null, caseSensitive), KeyFor(y[pos], null, caseSensitive), "<");
            return reverse ? -c : c;
        });
        return items.Cast<object?>().ToList();
    }

    private static object? Unique(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        bool caseSensitive = Py.Truthy(Arg(a, k, 0, "case_sensitive", false));
        object? attribute = Arg(a, k, 1, "attribute");
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var x in Py.Iterate(v))
        {
            var key = KeyFor(x, attribute, caseSensitive);
            if (seen.Any(s => Py.AreEqual(s, key))) continue;
            seen.Add(key);
            result.Add(x);
        }
        return result;
    }

    private static object? MinMax(object? v, List<object?> a, Dictionary<string, object?> k, bool max)
    {
        bool caseSensitive = Py.Truthy(Arg(a, k, 0, "case_sensitive", false));
        object? attribute = Arg(a, k, 1, "attribute");
        var items = Py.Iterate(v);
        if (items.Count == 0) return new JinjaUndefined($"No aggregated item, sequence was empty.");
        object? best = items[0];
        foreach (var x in items.Skip(1))
        {
            int c = Py.Compare(KeyFor(x, attribute, caseSensitive), KeyFor(best, attribute, caseSensitive), "<");
            if (max ? c > 0 : c < 0) best = x;
        }
        return best;
    }

    private static object? Round(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        int precision = (int)Py.ToLong(Arg(a, k, 0, "precision", 0L));
        string method = Py.Str(Arg(a, k, 1, "method", "common"));
        // Python's round(int, n) stays an int.
        if (method == "common" && v is long or bool && precision >= 0) return Py.ToLong(v);
        double x = Py.ToDouble(v);
        double f = Math.Pow(10, precision);
        return method switch
        {
            "common" => Math.Round(x, Math.Clamp(precision, 0, 15), MidpointRounding.ToEven),
            "ceil" => Math.Ceiling(x * f) / f,
            "floor" => Math.Floor(x * f) / f,
            _ => throw new ChatTemplateException("method must be common, ceil or floor"),
        };
    }

    private static object? Batch(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        long n = Py.ToLong(Arg(a, k, 0, "linecount"));
        bool hasFill = a.Count > 1 || k.ContainsKey("fill_with");
        object? fill = Arg(a, k, 1, "fill_with");
        var result = new List<object?>();
        List<object?>? cur = null;
        foreach (var x in Py.Iterate(v))
        {
            cur ??= [];
            cur.Add(x);
            if (cur.Count == n) { result.Add(cur); cur = null; }
        }
        if (cur is not null)
        {
            while (hasFill && cur.Count < n) cur.Add(fill);
            result.Add(cur);
        }
        return result;
    }

    private static object? Truncate(object? v, List<object?> a, Dictionary<string, object?> k)
    {
        string s = Py.Str(v);
        int length = (int)Py.ToLong(Arg(a, k, 0, "length", 255L));
        bool killwords = Py.Truthy(Arg(a, k, 1, "killwords", false));
        string end = Py.Str(Arg(a, k, 2, "end", "..."));
        long leeway = Py.ToLong(Arg(a, k, 3, "leeway", 5L));
        if (s.Length <= length + leeway) return s;
        if (killwords) return s[..Math.Max(0, length - end.Length)] + end;
        string result = s[..Math.Max(0, length - end.Length)];
        int sp = result.LastIndexOf(' ');
        if (sp >= 0) result = result[..sp];
        return result + end;
    }
}
