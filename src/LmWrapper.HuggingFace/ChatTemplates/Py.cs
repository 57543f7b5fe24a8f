using System.Collections;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>Python semantics for the values templates work with.</summary>
/// <remarks>
/// Values are: null (None), <see cref="JinjaUndefined"/>, bool, long, double, string,
/// <see cref="List{T}"/> of object (list), object?[] (tuple), Dictionary&lt;object, object?&gt; (dict),
/// <see cref="JinjaNamespace"/>, <see cref="JinjaFunction"/> and <see cref="LoopContext"/>.
/// </remarks>
internal static class Py
{
    public static Dictionary<object, object?> NewDict() => new(PyKeyComparer.Instance);

    // ----- conversion from .NET values -----

    public static object? FromClr(object? value)
    {
        switch (value)
        {
            case null: return null;
            case string or bool or long or double or JinjaUndefined or JinjaNamespace or JinjaFunction: return value;
            case List<object?> l when ReferenceEquals(l.GetType(), typeof(List<object?>)) && l.All(IsNative): return l;
            case int i: return (long)i;
            case short s: return (long)s;
            case byte b: return (long)b;
            case sbyte sb: return (long)sb;
            case ushort us: return (long)us;
            case uint ui: return (long)ui;
            case ulong ul: return (long)ul;
            case float f: return (double)f;
            case decimal m: return (double)m;
            case char c: return c.ToString();
            case Enum e: return e.ToString();
            case DateTime dt: return dt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            case LmChatTurn turn: return MessageToDict(turn);
            case JsonElement je: return FromJson(je);
            case JsonNode jn: return FromJson(JsonSerializer.SerializeToElement(jn));
            case IDictionary d:
                {
                    var dict = NewDict();
                    foreach (DictionaryEntry kv in d) dict[FromClr(kv.Key) ?? "None"] = FromClr(kv.Value);
                    return dict;
                }
            case IEnumerable<KeyValuePair<string, object?>> kvs:
                {
                    var dict = NewDict();
                    foreach (var kv in kvs) dict[kv.Key] = FromClr(kv.Value);
                    return dict;
                }
            case ITuple t when value.GetType().IsValueType || value.GetType().FullName!.StartsWith("System.Tuple", StringComparison.Ordinal):
                {
                    var arr = new object?[t.Length];
                    for (int i = 0; i < t.Length; i++) arr[i] = FromClr(t[i]);
                    return arr;
                }
            case IEnumerable e:
                {
                    var list = new List<object?>();
                    foreach (var x in e) list.Add(FromClr(x));
                    return list;
                }
            default:
                return FromJson(JsonSerializer.SerializeToElement(value, value.GetType()));
        }
    }

    private static bool IsNative(object? v) => v is null or string or bool or long or double;

    public static Dictionary<object, object?> MessageToDict(LmChatTurn turn)
    {
        var d = NewDict();
        d["role"] = turn.RoleName;
        d["content"] = turn.Content;
        if (turn.Name is not null) d["name"] = turn.Name;
        if (turn.ReasoningBlocks is { } blocks && blocks.Any(b => b.Text is not null))
        {
            // transformers' name for an assistant turn's reasoning, which thinking models' templates (Qwen3's) render.
            d["reasoning_content"] = string.Join("\n\n", blocks.Where(b => b.Text is not null).Select(b => b.Text));
        }

        if (turn.ToolCalls is { } calls)
        {
            // transformers' convention: arguments as a dict (templates write them with tojson), not JSON text.
            d["tool_calls"] = calls.Select(c =>
            {
                var function = NewDict();
                function["name"] = c.Name;
                function["arguments"] = ArgumentsValue(c.Arguments);
                var call = NewDict();
                call["type"] = "function";
                call["id"] = c.Id;
                call["function"] = function;
                return (object?)call;
            }).ToList();
        }

        if (turn.ToolCallId is not null)
        {
            d["tool_call_id"] = turn.ToolCallId;
        }

        return d;
    }

    /// <summary>A tool call's arguments as a template value: the parsed object, or the text itself when it is not JSON.</summary>
    private static object? ArgumentsValue(string arguments)
    {
        try
        {
            using var doc = JsonDocument.Parse(arguments);
            return FromJson(doc.RootElement);
        }
        catch (JsonException)
        {
            return arguments;
        }
    }

    public static object? FromJson(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                return null;
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.String: return e.GetString();
            case JsonValueKind.Number:
                {
                    string raw = e.GetRawText();
                    if (raw.IndexOfAny(['.', 'e', 'E']) < 0 && long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                    return e.GetDouble();
                }
            case JsonValueKind.Array:
                {
                    var list = new List<object?>();
                    foreach (var x in e.EnumerateArray()) list.Add(FromJson(x));
                    return list;
                }
            default:
                {
                    var dict = NewDict();
                    foreach (var p in e.EnumerateObject()) dict[p.Name] = FromJson(p.Value);
                    return dict;
                }
        }
    }

    // ----- truthiness, type names -----

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        JinjaUndefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        object?[] t => t.Length > 0,
        Dictionary<object, object?> d => d.Count > 0,
        _ => true,
    };

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        JinjaUndefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        Dictionary<object, object?> => "dict",
        JinjaNamespace => "Namespace",
        JinjaFunction => "function",
        LoopContext => "LoopContext",
        _ => v.GetType().Name,
    };

    public static bool IsNumber(object? v) => v is long or double or bool;

    // ----- str() and repr() -----

    public static string Str(object? v) => v switch
    {
        null => "None",
        JinjaUndefined => "",
        string s => s,
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        _ => Repr(v),
    };

    public static string Repr(object? v)
    {
        switch (v)
        {
            case string s: return StrRepr(s);
            case List<object?> l: return "[" + string.Join(", ", l.Select(Repr)) + "]";
            case object?[] t: return t.Length == 1 ? "(" + Repr(t[0]) + ",)" : "(" + string.Join(", ", t.Select(Repr)) + ")";
            case Dictionary<object, object?> d: return "{" + string.Join(", ", d.Select(kv => Repr(kv.Key) + ": " + Repr(kv.Value))) + "}";
            case JinjaNamespace ns: return "<Namespace " + Repr(ToDict(ns.Attributes)) + ">";
            case JinjaFunction f: return $"<function {f.Name}>";
            case LoopContext: return "<LoopContext>";
            case JinjaUndefined: return "Undefined";
            default: return Str(v);
        }
    }

    private static Dictionary<object, object?> ToDict(Dictionary<string, object?> d)
    {
        var r = NewDict();
        foreach (var kv in d) r[kv.Key] = kv.Value;
        return r;
    }

    public static string StrRepr(string s)
    {
        char q = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder(s.Length + 2).Append(q);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == q) { sb.Append('\\').Append(c); break; }
                    int cp = char.IsSurrogatePair(s, i) ? char.ConvertToUtf32(s, i) : c;
                    if (c != ' ' && !IsPrintable(s, i))
                    {
                        // Python's repr escapes what str.isprintable() rejects.
                        sb.Append(cp < 0x100 ? "\\x" + cp.ToString("x2", CultureInfo.InvariantCulture)
                            : cp < 0x10000 ? "\\u" + cp.ToString("x4", CultureInfo.InvariantCulture)
                            : "\\U" + cp.ToString("x8", CultureInfo.InvariantCulture));
                    }
                    else sb.Append(cp > 0xFFFF ? s.Substring(i, 2) : c.ToString());
                    if (cp > 0xFFFF) i++;
                    break;
            }
        }
        return sb.Append(q).ToString();
    }

    private static bool IsPrintable(string s, int i) => CharUnicodeInfo.GetUnicodeCategory(s, i) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            or UnicodeCategory.SpaceSeparator => false,
        _ => true,
    };

    /// <summary>Python's <c>repr(float)</c>: the shortest round-trip digits, fixed notation for 1e-4 ≤ |x| &lt; 1e16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        bool neg = r[0] == '-';
        if (neg) r = r[1..];
        int exp = 0;
        int ePos = r.IndexOfAny(['E', 'e']);
        if (ePos >= 0)
        {
            exp = int.Parse(r.AsSpan(ePos + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..ePos];
        }
        int dot = r.IndexOf('.');
        string digits = dot >= 0 ? r.Remove(dot, 1) : r;
        int point = (dot >= 0 ? dot : r.Length) + exp; // value = 0.digits × 10^point
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') { lead++; point--; }
        digits = digits[lead..].TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        int exp10 = point - 1;
        string body;
        if (exp10 >= -4 && exp10 < 16)
        {
            if (point <= 0) body = "0." + new string('0', -point) + digits;
            else if (point >= digits.Length) body = digits + new string('0', point - digits.Length) + ".0";
            else body = digits[..point] + "." + digits[point..];
        }
        else
        {
            body = digits[..1] + (digits.Length > 1 ? "." + digits[1..] : "") + "e" + (exp10 < 0 ? "-" : "+")
                   + Math.Abs(exp10).ToString("00", CultureInfo.InvariantCulture);
        }
        return neg ? "-" + body : body;
    }

    // ----- equality and ordering -----

    public static bool AreEqual(object? a, object? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a) == ToDouble(b) && (a is not long la || b is not long lb || la == lb);
        switch (a)
        {
            case string sa: return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
            case JinjaUndefined: return b is JinjaUndefined;
            case List<object?> la2: return b is List<object?> lb2 && la2.Count == lb2.Count && la2.Zip(lb2).All(p => AreEqual(p.First, p.Second));
            case object?[] ta: return b is object?[] tb && ta.Length == tb.Length && ta.Zip(tb).All(p => AreEqual(p.First, p.Second));
            case Dictionary<object, object?> da:
                return b is Dictionary<object, object?> db && da.Count == db.Count
                       && da.All(kv => db.TryGetValue(kv.Key, out var v) && AreEqual(kv.Value, v));
            default: return ReferenceEquals(a, b) || a.Equals(b);
        }
    }

    public static double ToDouble(object? v) => v switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        double d => d,
        _ => throw new ChatTemplateException($"'{TypeName(v)}' is not a number"),
    };

    public static int Compare(object? a, object? b, string op)
    {
        if (a is JinjaUndefined ua) throw ua.Fail();
        if (b is JinjaUndefined ub) throw ub.Fail();
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is long la && b is long lb) return la.CompareTo(lb);
            return ToDouble(a).CompareTo(ToDouble(b));
        }
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb);
        if ((a is List<object?> || a is object?[]) && a.GetType() == b?.GetType())
        {
            var xa = Iterate(a);
            var xb = Iterate(b);
            for (int i = 0; i < Math.Min(xa.Count, xb.Count); i++)
            {
                if (AreEqual(xa[i], xb[i])) continue;
                return Compare(xa[i], xb[i], op);
            }
            return xa.Count.CompareTo(xb.Count);
        }
        throw new ChatTemplateException($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    // ----- iteration, length, membership -----

    public static List<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        object?[] t => [.. t],
        string s => StringChars(s),
        Dictionary<object, object?> d => [.. d.Keys],
        JinjaUndefined => [],
        _ => throw new ChatTemplateException($"'{TypeName(v)}' object is not iterable"),
    };

    public static List<object?> StringChars(string s)
    {
        var list = new List<object?>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { list.Add(s.Substring(i, 2)); i++; }
            else list.Add(s[i].ToString());
        }
        return list;
    }

    public static long Length(object? v) => v switch
    {
        string s => CodePointLength(s),
        List<object?> l => l.Count,
        object?[] t => t.Length,
        Dictionary<object, object?> d => d.Count,
        JinjaUndefined => 0,
        JinjaNamespace ns => ns.Attributes.Count,
        _ => throw new ChatTemplateException($"object of type '{TypeName(v)}' has no len()"),
    };

    public static int CodePointLength(string s)
    {
        int n = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            n++;
        }
        return n;
    }

    public static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal)
                     : throw new ChatTemplateException($"'in <string>' requires string as left operand, not {TypeName(item)}"),
        Dictionary<object, object?> d => item is not null && d.ContainsKey(Hashable(item)),
        JinjaUndefined => false,
        _ => Iterate(container).Any(x => AreEqual(x, item)),
    };

    /// <summary>Lists, dicts and namespaces cannot be dict keys or set members in Python.</summary>
    public static object Hashable(object key) => key is List<object?> or Dictionary<object, object?> or JinjaNamespace
        ? throw new ChatTemplateException($"unhashable type: '{TypeName(key)}'")
        : key;

    // ----- arithmetic -----

    public static object? Add(object? a, object? b)
    {
        FailIfUndefined(a, b);
        if (IsNumber(a) && IsNumber(b)) return a is double || b is double ? (object)(ToDouble(a) + ToDouble(b)) : ToLong(a) + ToLong(b);
        if (a is string sa && b is string sb) return sa + sb;
        if (a is List<object?> la && b is List<object?> lb) return (List<object?>)[.. la, .. lb];
        if (a is object?[] ta && b is object?[] tb) return ta.Concat(tb).ToArray();
        if (a is string) throw new ChatTemplateException($"can only concatenate str (not \"{TypeName(b)}\") to str");
        throw new ChatTemplateException($"unsupported operand type(s) for +: '{TypeName(a)}' and '{TypeName(b)}'");
    }

    public static long ToLong(object? v) => v switch
    {
        bool b => b ? 1 : 0,
        long l => l,
        _ => throw new ChatTemplateException($"'{TypeName(v)}' is not an integer"),
    };

    public static void FailIfUndefined(object? a, object? b)
    {
        if (a is JinjaUndefined ua) throw ua.Fail();
        if (b is JinjaUndefined ub) throw ub.Fail();
    }

    public static object? Arith(string op, object? a, object? b)
    {
        if (op == "+") return Add(a, b);
        if (op == "%" && a is string fmt0) return PercentFormat(fmt0, b);
        FailIfUndefined(a, b);
        if (op == "*")
        {
            if (a is string s && b is long or bool) return Repeat(s, ToLong(b));
            if (b is string s2 && a is long or bool) return Repeat(s2, ToLong(a));
            if ((a is List<object?> or object?[] && b is long or bool && ToLong(b) > ChatTemplate.MaxOutputChars) || (b is List<object?> or object?[] && a is long or bool && ToLong(a) > ChatTemplate.MaxOutputChars))
                throw new ChatTemplateLimitException($"A list repeated more than {ChatTemplate.MaxOutputChars:N0} times is past the template limits.");
            if (a is List<object?> l && b is long or bool) return Enumerable.Repeat(l, (int)Math.Max(0, ToLong(b))).SelectMany(x => x).ToList();
            if (b is List<object?> l2 && a is long or bool) return Enumerable.Repeat(l2, (int)Math.Max(0, ToLong(a))).SelectMany(x => x).ToList();
            if (a is object?[] t1 && b is long or bool) return Enumerable.Repeat(t1, (int)Math.Max(0, ToLong(b))).SelectMany(x => x).ToArray();
            if (b is object?[] t2 && a is long or bool) return Enumerable.Repeat(t2, (int)Math.Max(0, ToLong(a))).SelectMany(x => x).ToArray();
        }
        if (op == "%" && a is string fmt) return PercentFormat(fmt, b);
        if (!IsNumber(a) || !IsNumber(b))
            throw new ChatTemplateException($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");
        bool ints = a is not double && b is not double;
        switch (op)
        {
            case "-": return ints ? (object)(ToLong(a) - ToLong(b)) : ToDouble(a) - ToDouble(b);
            case "*": return ints ? (object)(ToLong(a) * ToLong(b)) : ToDouble(a) * ToDouble(b);
            case "/":
                if (ToDouble(b) == 0) throw new ChatTemplateException("division by zero");
                return ToDouble(a) / ToDouble(b);
            case "//":
                if (ToDouble(b) == 0) throw new ChatTemplateException("integer division or modulo by zero");
                if (ints)
                {
                    long x = ToLong(a), y = ToLong(b);
                    long q = x / y;
                    if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
                    return q;
                }
                return Math.Floor(ToDouble(a) / ToDouble(b));
            case "%":
                if (ToDouble(b) == 0) throw new ChatTemplateException("integer division or modulo by zero");
                if (ints)
                {
                    long x = ToLong(a), y = ToLong(b);
                    long m = x % y;
                    if (m != 0 && ((m < 0) != (y < 0))) m += y;
                    return m;
                }
                else
                {
                    double x = ToDouble(a), y = ToDouble(b);
                    double m = x % y;
                    if (m != 0 && ((m < 0) != (y < 0))) m += y;
                    return m;
                }
            case "**":
                if (ints && ToLong(b) >= 0)
                {
                    long r = 1, bse = ToLong(a);
                    for (long i = 0; i < ToLong(b); i++) r *= bse;
                    return r;
                }
                return Math.Pow(ToDouble(a), ToDouble(b));
            default: throw new ChatTemplateException($"unknown operator {op}");
        }
    }

    /// <summary>A padding or indent width from a template, refused past the output limit (so nothing huge is allocated); negative as -1.</summary>
    internal static int Width(object? value, string what)
    {
        long n = ToLong(value);
        if (n > ChatTemplate.MaxOutputChars)
            throw new ChatTemplateLimitException($"A {what} of {n:N0} characters would pass {ChatTemplate.MaxOutputChars:N0} characters.");
        return (int)Math.Max(n, -1);
    }

    private static string Repeat(string s, long n)
    {
        if (n <= 0 || s.Length == 0) return "";
        if (n > ChatTemplate.MaxOutputChars / s.Length)
            throw new ChatTemplateLimitException($"A string repeated {n:N0} times would pass {ChatTemplate.MaxOutputChars:N0} characters.");
        return new StringBuilder(s.Length * (int)n).Insert(0, s, (int)n).ToString();
    }

    /// <summary>Python's printf-style <c>str % args</c>: flags, width, precision and the common conversion types.</summary>
    private static string PercentFormat(string fmt, object? args)
    {
        var list = args is object?[] t ? t.ToList() : [args];
        var dict = args as Dictionary<object, object?>;
        var sb = new StringBuilder();
        int ai = 0;
        object? Next()
        {
            if (ai >= list.Count) throw new ChatTemplateException("not enough arguments for format string");
            return list[ai++];
        }
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c != '%') { sb.Append(c); continue; }
            if (++i >= fmt.Length) throw new ChatTemplateException("incomplete format");
            object? named = null;
            bool hasName = false;
            if (fmt[i] == '(')
            {
                int close = fmt.IndexOf(')', i);
                if (close < 0 || dict is null) throw new ChatTemplateException("format requires a mapping");
                named = dict.TryGetValue(fmt[(i + 1)..close], out var nv) ? nv : throw new ChatTemplateException($"KeyError: '{fmt[(i + 1)..close]}'");
                hasName = true;
                i = close + 1;
            }
            bool left = false, zero = false, plus = false, space = false;
            for (; i < fmt.Length && fmt[i] is '-' or '0' or '+' or ' ' or '#'; i++)
            {
                switch (fmt[i])
                {
                    case '-': left = true; break;
                    case '0': zero = true; break;
                    case '+': plus = true; break;
                    case ' ': space = true; break;
                }
            }
            int width = 0;
            if (i < fmt.Length && fmt[i] == '*') { width = (int)ToLong(Next()); i++; }
            else for (; i < fmt.Length && char.IsAsciiDigit(fmt[i]); i++) width = width * 10 + (fmt[i] - '0');
            int? precision = null;
            if (i < fmt.Length && fmt[i] == '.')
            {
                i++;
                int p = 0;
                if (i < fmt.Length && fmt[i] == '*') { p = (int)ToLong(Next()); i++; }
                else for (; i < fmt.Length && char.IsAsciiDigit(fmt[i]); i++) p = p * 10 + (fmt[i] - '0');
                precision = p;
            }
            if (i >= fmt.Length) throw new ChatTemplateException("incomplete format");
            char type = fmt[i];
            if (type == '%') { sb.Append('%'); continue; }
            object? a = hasName ? named : Next();
            string body;
            bool numeric = type is 'd' or 'i' or 'u' or 'f' or 'F' or 'e' or 'E' or 'g' or 'G' or 'x' or 'X' or 'o';
            switch (type)
            {
                case 's': body = Str(a); if (precision is int ps && ps < body.Length) body = body[..ps]; break;
                case 'r' or 'a': body = Repr(a); if (precision is int pr && pr < body.Length) body = body[..pr]; break;
                case 'c': body = a is string cs ? cs : char.ConvertFromUtf32((int)ToLong(a)); break;
                case 'd' or 'i' or 'u': body = ((long)Math.Truncate(ToDouble(a))).ToString(CultureInfo.InvariantCulture); break;
                case 'x': body = ((long)Math.Truncate(ToDouble(a))).ToString("x", CultureInfo.InvariantCulture); break;
                case 'X': body = ((long)Math.Truncate(ToDouble(a))).ToString("X", CultureInfo.InvariantCulture); break;
                case 'o': body = Convert.ToString((long)Math.Truncate(ToDouble(a)), 8); break;
                case 'f' or 'F': body = ToDouble(a).ToString("F" + (precision ?? 6).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture); break;
                case 'e' or 'E': body = ExpFormat(ToDouble(a), precision ?? 6, type); break;
                case 'g' or 'G': body = GeneralFormat(ToDouble(a), precision ?? 6, type); break;
                default: throw new ChatTemplateException($"unsupported format character '{type}' (0x{(int)type:x})");
            }
            if (numeric && !body.StartsWith('-'))
            {
                if (plus) body = "+" + body;
                else if (space) body = " " + body;
            }
            if (width > ChatTemplate.MaxOutputChars)
                throw new ChatTemplateLimitException($"A format width of {width:N0} characters would pass {ChatTemplate.MaxOutputChars:N0} characters.");
            if (body.Length < width)
            {
                if (left) body = body.PadRight(width);
                else if (zero && numeric)
                {
                    int signLen = body.Length > 0 && body[0] is '-' or '+' or ' ' ? 1 : 0;
                    body = body[..signLen] + new string('0', width - body.Length) + body[signLen..];
                }
                else body = body.PadLeft(width);
            }
            sb.Append(body);
        }
        if (!AllConsumed(ai, list.Count, dict)) throw new ChatTemplateException("not all arguments converted during string formatting");
        return sb.ToString();

        // Python treats any non-tuple argument with __getitem__ (a list, a dict, jinja2's Undefined) as a mapping:
        // leaving it unused is not an error.
        bool AllConsumed(int used, int count, Dictionary<object, object?>? d) => d is not null || args is List<object?> or JinjaUndefined || used == count;
    }

    private static string ExpFormat(double d, int precision, char type)
    {
        string s = d.ToString((type == 'E' ? "E" : "e") + precision.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        int e = s.IndexOfAny(['e', 'E']);
        string mantissa = s[..e];
        int exp = int.Parse(s.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return mantissa + s[e] + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
    }

    private static string GeneralFormat(double d, int precision, char type)
    {
        if (precision == 0) precision = 1;
        if (d == 0) return "0";
        if (!double.IsFinite(d)) return FloatRepr(d);
        string e = ExpFormat(d, precision - 1, 'e');
        int exp = int.Parse(e.AsSpan(e.IndexOf('e') + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        string r;
        if (exp >= -4 && exp < precision)
        {
            r = d.ToString("F" + (precision - 1 - exp).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
            if (r.Contains('.')) r = r.TrimEnd('0').TrimEnd('.');
        }
        else
        {
            int k = e.IndexOf('e');
            string m = e[..k];
            if (m.Contains('.')) m = m.TrimEnd('0').TrimEnd('.');
            r = m + e[k..];
        }
        return type == 'G' ? r.ToUpperInvariant() : r;
    }

    // ----- attribute and item access -----

    private static readonly HashSet<string> UnsafeMutators =
        ["append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem", "sort", "reverse", "add", "discard"];

    /// <summary><c>obj.name</c>: an attribute (method) first, then the item, as jinja2's <c>getattr</c>.</summary>
    public static object? GetAttr(object? obj, string name)
    {
        switch (obj)
        {
            case JinjaUndefined u: throw u.Fail();
            case JinjaNamespace ns:
                return ns.Attributes.TryGetValue(name, out var v) ? v : new JinjaUndefined($"'Namespace' object has no attribute '{name}'");
            case LoopContext loop: return loop.GetAttribute(name);
        }
        var method = PyMethods.Bind(obj, name);
        if (method is not null) return method;
        if ((obj is List<object?> || obj is Dictionary<object, object?>) && UnsafeMutators.Contains(name))
            return new JinjaFunction(name, (_, _) => throw new ChatTemplateException($"access to attribute '{name}' of '{TypeName(obj)}' object is unsafe."));
        if (obj is Dictionary<object, object?> d && d.TryGetValue(name, out var item)) return item;
        return new JinjaUndefined($"'{ObjectDescription(obj)}' has no attribute '{name}'");
    }

    private static string ObjectDescription(object? obj) => obj is null ? "None" : TypeName(obj) + " object";

    /// <summary><c>obj[key]</c>: the item first, then an attribute, as jinja2's <c>getitem</c>.</summary>
    public static object? GetItem(object? obj, object? key)
    {
        switch (obj)
        {
            case JinjaUndefined u: throw u.Fail();
            case Dictionary<object, object?> d:
                if (key is not null && d.TryGetValue(Hashable(key), out var v)) return v;
                break;
            case List<object?> or object?[] or string when key is long or bool:
                {
                    var seq = obj is string s ? StringChars(s) : Iterate(obj);
                    long i = ToLong(key);
                    if (i < 0) i += seq.Count;
                    if (i >= 0 && i < seq.Count) return seq[(int)i];
                    return new JinjaUndefined($"{ObjectDescription(obj)} has no element {Repr(key)}");
                }
        }
        if (key is string name && obj is not null) return GetAttr(obj, name) is var a && a is JinjaUndefined ? new JinjaUndefined($"'{ObjectDescription(obj)}' has no attribute '{name}'") : a;
        return new JinjaUndefined(key is string ? $"'{ObjectDescription(obj)}' has no attribute '{key}'" : $"{ObjectDescription(obj)} has no element {Repr(key)}");
    }

    public static object? Slice(object? obj, object? start, object? stop, object? step)
    {
        if (obj is JinjaUndefined u) throw u.Fail();
        long st = step is null or JinjaUndefined ? 1 : ToLong(step);
        if (st == 0) throw new ChatTemplateException("slice step cannot be zero");
        var seq = obj is string s ? StringChars(s) : obj is List<object?> || obj is object?[] ? Iterate(obj)
            : throw new ChatTemplateException($"'{TypeName(obj)}' object is not subscriptable");
        int n = seq.Count;
        long Norm(object? v, long def, bool isStart)
        {
            if (v is null or JinjaUndefined) return def;
            long x = ToLong(v);
            if (x < 0) x += n;
            if (st > 0) return Math.Clamp(x, 0, n);
            return Math.Clamp(x, -1, n - 1);
        }
        long a = Norm(start, st > 0 ? 0 : n - 1, true);
        long b = Norm(stop, st > 0 ? n : -1, false);
        var result = new List<object?>();
        if (st > 0) for (long i = a; i < b; i += st) result.Add(seq[(int)i]);
        else for (long i = a; i > b; i += st) result.Add(seq[(int)i]);
        return obj switch
        {
            string => string.Concat(result.Cast<string>()),
            object?[] => result.ToArray(),
            _ => result,
        };
    }

    public static object? Call(object? fn, List<object?> args, Dictionary<string, object?> kwargs)
    {
        return fn switch
        {
            JinjaFunction f => f.Invoke(args, kwargs),
            JinjaUndefined u => throw u.Fail(),
            LoopContext { Recurse: { } r } => r(args.Count > 0 ? args[0] : null),
            _ => throw new ChatTemplateException($"'{TypeName(fn)}' object is not callable"),
        };
    }

    // ----- Python string helpers -----

    public static string Strip(string s, string? chars, bool left, bool right)
    {
        int a = 0, b = s.Length;
        bool Match(char c) => chars is null ? JinjaLexer.IsPyWhitespace(c) : chars.Contains(c);
        if (left) while (a < b && Match(s[a])) a++;
        if (right) while (b > a && Match(s[b - 1])) b--;
        return s[a..b];
    }

    public static List<object?> Split(string s, string? sep, long maxSplit, bool fromRight)
    {
        var parts = new List<string>();
        if (sep is null)
        {
            var words = new List<string>();
            if (!fromRight)
            {
                int i = 0;
                while (true)
                {
                    while (i < s.Length && JinjaLexer.IsPyWhitespace(s[i])) i++;
                    if (i >= s.Length) break;
                    if (maxSplit >= 0 && words.Count == maxSplit) { words.Add(Strip(s[i..], null, false, true)); break; }
                    int j = i;
                    while (j < s.Length && !JinjaLexer.IsPyWhitespace(s[j])) j++;
                    words.Add(s[i..j]);
                    i = j;
                }
            }
            else
            {
                int i = s.Length;
                while (true)
                {
                    while (i > 0 && JinjaLexer.IsPyWhitespace(s[i - 1])) i--;
                    if (i <= 0) break;
                    if (maxSplit >= 0 && words.Count == maxSplit) { words.Add(Strip(s[..i], null, true, false)); break; }
                    int j = i;
                    while (j > 0 && !JinjaLexer.IsPyWhitespace(s[j - 1])) j--;
                    words.Add(s[j..i]);
                    i = j;
                }
                words.Reverse();
            }
            return words.Cast<object?>().ToList();
        }
        if (sep.Length == 0) throw new ChatTemplateException("empty separator");
        if (!fromRight)
        {
            int start = 0;
            while (maxSplit < 0 || parts.Count < maxSplit)
            {
                int k = s.IndexOf(sep, start, StringComparison.Ordinal);
                if (k < 0) break;
                parts.Add(s[start..k]);
                start = k + sep.Length;
            }
            parts.Add(s[start..]);
        }
        else
        {
            int end = s.Length;
            while (maxSplit < 0 || parts.Count < maxSplit)
            {
                int k = end - sep.Length < 0 ? -1 : s.LastIndexOf(sep, end - 1, end, StringComparison.Ordinal);
                if (k < 0 || k + sep.Length > end) break;
                parts.Add(s[(k + sep.Length)..end]);
                end = k;
            }
            parts.Add(s[..end]);
            parts.Reverse();
        }
        return parts.Cast<object?>().ToList();
    }

    public static string PyTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevCased = false;
        foreach (char c in s)
        {
            sb.Append(prevCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            prevCased = char.IsLetter(c);
        }
        return sb.ToString();
    }

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
}
