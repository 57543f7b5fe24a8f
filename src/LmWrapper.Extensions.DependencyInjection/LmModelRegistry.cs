namespace LmWrapper.DependencyInjection;

/// <summary>The names registered by every <c>AddLmWrapper</c> call of one service collection, and the default one.</summary>
internal sealed class LmModelRegistry
{
    private readonly List<string> _names = [];

    public IReadOnlyList<string> Names => _names;

    public string? DefaultName { get; set; }

    public bool TryAdd(string name)
    {
        if (_names.Contains(name, StringComparer.Ordinal))
        {
            return false;
        }

        _names.Add(name);
        return true;
    }

    public string ResolveDefault() =>
        DefaultName ?? (_names.Count > 0 ? _names[0] : throw new InvalidOperationException(
            "No LmWrapper model is registered: add one in services.AddLmWrapper(b => b.AddOpenAi(\"name\", …)) before asking for LanguageModel."));
}
