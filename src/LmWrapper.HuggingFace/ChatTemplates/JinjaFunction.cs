namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>A callable value: globals, bound methods, macros, <c>loop.cycle</c>.</summary>
internal sealed class JinjaFunction(string name, Func<List<object?>, Dictionary<string, object?>, object?> invoke)
{
    public string Name { get; } = name;

    public object? Invoke(List<object?> args, Dictionary<string, object?> kwargs) => invoke(args, kwargs);
}
