using System.Globalization;
using LmWrapper.Caching;
using Microsoft.Extensions.Logging;

namespace LmWrapper.DependencyInjection;

/// <summary>
/// What every model registered with <c>services.AddLmWrapper(…)</c> is configured with, as a mutable options class
/// (the options pattern): set it in code (<c>o =&gt; o.Model = "…"</c>), bind it from <c>IConfiguration</c>, or both
/// (code runs after binding, so it wins). Each provider's settings derive from it.
/// </summary>
public abstract class LmModelSettings
{
    /// <summary>The model to use: an API model name ("gpt-4o-mini"), or a hub id or folder for a local model. Required.</summary>
    public string? Model { get; set; }

    /// <summary>Whether prompts that leave <see cref="LmPrompt.Cache"/> unset use the response cache (<see cref="LanguageModelOptions.CacheByDefault"/>). Default false.</summary>
    public bool CacheByDefault { get; set; }

    /// <summary>
    /// A SQLite cache file for this model, shared by every model given the same path (<see cref="LmCache.Shared"/>).
    /// Null (the default) means the project's cache (<see cref="LmCache.ForProject"/>).
    /// </summary>
    public string? CachePath { get; set; }

    /// <summary>How many uncached requests <c>PredictMany</c> runs at once (<see cref="LanguageModelOptions.MaxConcurrency"/>). Default 8.</summary>
    public int MaxConcurrency { get; set; } = 8;

    /// <summary>The most requests per minute (<see cref="LanguageModelOptions.RequestsPerMinute"/>); null to learn it from the provider or have none.</summary>
    public int? RequestsPerMinute { get; set; }

    /// <summary>The most tokens per minute (<see cref="LanguageModelOptions.TokensPerMinute"/>); null to learn it from the provider or have none.</summary>
    public long? TokensPerMinute { get; set; }

    /// <summary>
    /// Checks the settings and returns one message per problem, each naming the setting (never a secret's value). An
    /// empty result means they are valid. Derived settings add their own checks after the base's.
    /// </summary>
    public virtual IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Model))
        {
            yield return "Model is required (an API model name, or a hub id or folder for a local model).";
        }

        if (MaxConcurrency < 1)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"MaxConcurrency must be at least 1, but was {MaxConcurrency}.");
        }

        if (RequestsPerMinute is < 1)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"RequestsPerMinute must be at least 1 (or unset), but was {RequestsPerMinute}.");
        }

        if (TokensPerMinute is < 1)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"TokensPerMinute must be at least 1 (or unset), but was {TokensPerMinute}.");
        }

        if (CachePath is { } path && string.IsNullOrWhiteSpace(path))
        {
            yield return "CachePath is blank; leave it unset for the project's cache.";
        }
    }

    /// <summary>The shared model settings these give (<see cref="LanguageModelOptions"/>), with a logger.</summary>
    /// <param name="logger">Where the model's diagnostics go; null for nowhere.</param>
    public LanguageModelOptions ToModelOptions(ILogger? logger) => new()
    {
        CacheByDefault = CacheByDefault,
        Cache = CachePath is { } path ? LmCache.Shared(Path.GetFullPath(path)) : null,
        MaxConcurrency = MaxConcurrency,
        RequestsPerMinute = RequestsPerMinute,
        TokensPerMinute = TokensPerMinute,
        Logger = logger,
    };

    /// <summary>The settings in words, for diagnostics.</summary>
    public override string ToString() => $"{GetType().Name}(Model = {Model ?? "(unset)"}, CacheByDefault = {CacheByDefault}, MaxConcurrency = {MaxConcurrency})";
}
