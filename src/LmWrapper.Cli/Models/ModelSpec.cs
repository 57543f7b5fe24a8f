namespace LmWrapper.Cli.Models;

/// <summary>A parsed MODEL argument: <c>openai:NAME</c>, <c>claude:NAME</c>, <c>hf:ORG/NAME</c>, <c>hf:PATH</c> or <c>mock:</c>.</summary>
/// <param name="Provider">The kind of model.</param>
/// <param name="Name">The model's name, hub id or folder (for <c>mock:</c>, the mock's name, "echo" by default).</param>
internal sealed record ModelSpec(ModelProvider Provider, string Name)
{
    /// <summary>The forms a MODEL argument takes, for help and error messages.</summary>
    public const string Syntax = "openai:NAME, claude:NAME, hf:ORG/NAME, hf:PATH or mock:";

    /// <summary>Parses a MODEL argument.</summary>
    /// <param name="text">The argument.</param>
    /// <exception cref="CliUsageException">It is not one of the forms in <see cref="Syntax"/>.</exception>
    public static ModelSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        string prefix = colon < 0 ? text : text[..colon];
        string name = colon < 0 ? string.Empty : text[(colon + 1)..].Trim();
        var provider = prefix.ToLowerInvariant() switch
        {
            "openai" => ModelProvider.OpenAi,
            "claude" or "anthropic" => ModelProvider.Claude,
            "hf" or "huggingface" => ModelProvider.HuggingFace,
            "mock" => ModelProvider.Mock,
            _ => throw new CliUsageException($"Unknown model \"{text}\": a model is {Syntax} (for example openai:gpt-4o-mini)."),
        };
        if (provider == ModelProvider.Mock)
        {
            return new ModelSpec(provider, name.Length == 0 ? "echo" : name);
        }

        if (colon < 0 || name.Length == 0)
        {
            throw new CliUsageException($"The model \"{text}\" has no name after \"{prefix}:\" (for example {prefix}:{Example(provider)}); a model is {Syntax}.");
        }

        return new ModelSpec(provider, name);
    }

    /// <inheritdoc/>
    public override string ToString() => Provider switch
    {
        ModelProvider.OpenAi => "openai:",
        ModelProvider.Claude => "claude:",
        ModelProvider.HuggingFace => "hf:",
        _ => "mock:",
    } + Name;

    private static string Example(ModelProvider provider) => provider switch
    {
        ModelProvider.OpenAi => "gpt-4o-mini",
        ModelProvider.Claude => "claude-3-5-haiku-20241022",
        _ => "samples/models/stories260K",
    };
}
