using Microsoft.Extensions.Logging;

namespace LmWrapper;

/// <summary>
/// What the options of every model kind share (<see cref="LmProviderOptions"/> for OpenAI and Claude, and
/// <c>HuggingFaceLmOptions</c> for local models): the model settings and a logger, set the same way everywhere.
/// </summary>
public abstract record LmOptions
{
    /// <summary>Caching, concurrency, rate limits and logging, shared by every model kind. Null means the defaults.</summary>
    public LanguageModelOptions? ModelOptions { get; init; }

    /// <summary>
    /// Where the model's diagnostics go (retries, failed requests, batch progress, loading). Null means
    /// <see cref="LanguageModelOptions.Logger"/> of <see cref="ModelOptions"/>, else nowhere; when both are set, this one wins.
    /// </summary>
    public ILogger? Logger { get; init; }

    /// <summary>
    /// The model settings these options give: <see cref="ModelOptions"/> (or the defaults) with <see cref="Logger"/> as
    /// its logger when set. Null when neither is set, so the model takes its own defaults.
    /// </summary>
    public LanguageModelOptions? ResolveModelOptions() =>
        Logger is null ? ModelOptions : (ModelOptions ?? new LanguageModelOptions()) with { Logger = Logger };
}
