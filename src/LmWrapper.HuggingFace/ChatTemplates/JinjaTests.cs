namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>jinja2's built-in tests (<c>x is defined</c>, <c>x is string</c>, ...).</summary>
internal static class JinjaTests
{
    private static readonly Dictionary<string, Func<object?, List<object?>, bool>> Tests = new(StringComparer.Ordinal)
    {
        ["defined"] = (v, _) => v is not JinjaUndefined,
        ["undefined"] = (v, _) => v is JinjaUndefined,
        ["none"] = (v, _) => v is null,
        ["string"] = (v, _) => v is string,
        ["number"] = (v, _) => v is long or double or bool,
        ["integer"] = (v, _) => v is long,
        ["float"] = (v, _) => v is double,
        ["boolean"] = (v, _) => v is bool,
        ["true"] = (v, _) => v is true,
        ["false"] = (v, _) => v is false,
        ["mapping"] = (v, _) => v is Dictionary<object, object?>,
        ["iterable"] = (v, _) => v is string or List<object?> or object?[] or Dictionary<object, object?> or JinjaUndefined,
        ["sequence"] = (v, _) => v is string or List<object?> or object?[] or Dictionary<object, object?> or JinjaUndefined,
        ["callable"] = (v, _) => v is JinjaFunction,
        ["odd"] = (v, _) => Py.AreEqual(Py.Arith("%", v, 2L), 1L),
        ["even"] = (v, _) => Py.AreEqual(Py.Arith("%", v, 2L), 0L),
        ["divisibleby"] = (v, a) => Py.AreEqual(Py.Arith("%", v, One(a, "divisibleby")), 0L),
        ["equalto"] = (v, a) => Py.AreEqual(v, One(a, "equalto")),
        ["eq"] = (v, a) => Py.AreEqual(v, One(a, "eq")),
        ["=="] = (v, a) => Py.AreEqual(v, One(a, "==")),
        ["ne"] = (v, a) => !Py.AreEqual(v, One(a, "ne")),
        ["!="] = (v, a) => !Py.AreEqual(v, One(a, "!=")),
        ["lt"] = (v, a) => Py.Compare(v, One(a, "lt"), "<") < 0,
        ["lessthan"] = (v, a) => Py.Compare(v, One(a, "lessthan"), "<") < 0,
        ["<"] = (v, a) => Py.Compare(v, One(a, "<"), "<") < 0,
        ["le"] = (v, a) => Py.Compare(v, One(a, "le"), "<=") <= 0,
        ["<="] = (v, a) => Py.Compare(v, One(a, "<="), "<=") <= 0,
        ["gt"] = (v, a) => Py.Compare(v, One(a, "gt"), ">") > 0,
        ["greaterthan"] = (v, a) => Py.Compare(v, One(a, "greaterthan"), ">") > 0,
        [">"] = (v, a) => Py.Compare(v, One(a, ">"), ">") > 0,
        ["ge"] = (v, a) => Py.Compare(v, One(a, "ge"), ">=") >= 0,
        [">="] = (v, a) => Py.Compare(v, One(a, ">="), ">=") >= 0,
        ["in"] = (v, a) => Py.Contains(One(a, "in"), v),
        ["sameas"] = (v, a) => One(a, "sameas") is var o && (v is null ? o is null : v is bool or long ? Py.AreEqual(v, o) && v.GetType() == o?.GetType() : ReferenceEquals(v, o)),
        ["lower"] = (v, _) => Py.Str(v) is var s && s.Any(char.IsLetter) && !s.Any(char.IsUpper),
        ["upper"] = (v, _) => Py.Str(v) is var s && s.Any(char.IsLetter) && !s.Any(char.IsLower),
        ["escaped"] = (_, _) => false,
    };

    private static object? One(List<object?> a, string name) =>
        a.Count == 1 ? a[0] : throw new ChatTemplateException($"The test '{name}' takes exactly one argument.");

    public static bool Exists(string name) => Tests.ContainsKey(name);

    public static bool Apply(string name, object? value, List<object?> args)
    {
        if (!Tests.TryGetValue(name, out var t)) throw new ChatTemplateException($"No test named '{name}'.");
        return t(value, args);
    }
}
