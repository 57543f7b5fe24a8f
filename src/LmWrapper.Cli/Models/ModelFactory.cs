using LmWrapper.Anthropic;
using LmWrapper.Batching;
using LmWrapper.Caching;
using LmWrapper.HuggingFace;
using LmWrapper.OpenAI;

namespace LmWrapper.Cli.Models;

/// <summary>Creates the model a MODEL argument names, with the response cache on for every prompt (a prompt's <c>"cache": false</c> opts out).</summary>
internal static class ModelFactory
{
    /// <summary>The context window assumed for a model an OpenAI-compatible server serves that LmWrapper does not know.</summary>
    public const int UnknownModelContextWindow = 8192;

    /// <summary>Creates the model.</summary>
    /// <param name="spec">Which model.</param>
    /// <param name="settings">Endpoint, cache and rate settings.</param>
    /// <param name="cancellationToken">Cancels loading (a hub download).</param>
    /// <exception cref="CliUsageException">The model is unknown, or a setting does not fit it.</exception>
    /// <exception cref="LmAuthenticationException">No API key was found.</exception>
    public static async Task<LanguageModel> CreateAsync(ModelSpec spec, ModelSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(settings);
        var options = ModelOptions(settings);
        try
        {
            switch (spec.Provider)
            {
                case ModelProvider.OpenAi:
                    var openAiOptions = new OpenAiOptions { BaseUrl = settings.BaseUrl, ModelOptions = options };
                    return OpenAiLm.Get(OpenAiInfo(spec.Name, settings.BaseUrl), options: openAiOptions);
                case ModelProvider.Claude:
                    return ClaudeLm.Get(spec.Name, options: new ClaudeOptions { BaseUrl = settings.BaseUrl, ModelOptions = options });
                case ModelProvider.HuggingFace:
                    RefuseBaseUrl(spec, settings);
                    return await HuggingFaceLm.GetAsync(spec.Name, new HuggingFaceLmOptions { ModelOptions = options }, cancellationToken).ConfigureAwait(false);
                default:
                    RefuseBaseUrl(spec, settings);
                    return new MockLm(name: spec.Name, options: options);
            }
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException($"Cannot use the model {spec}: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or LmException && spec.Provider == ModelProvider.HuggingFace)
        {
            throw new CliUsageException($"Cannot load the local model {spec}: {e.Message}", e);
        }
    }

    /// <summary>The cache the settings name: <c>--cache-dir</c>'s file, else the project's.</summary>
    /// <param name="cacheDirectory">The folder, or null.</param>
    public static LmCache OpenCache(string? cacheDirectory) =>
        cacheDirectory is null ? LmCache.ForProject() : LmCache.Shared(Path.Combine(cacheDirectory, LmCache.DefaultFileName));

    private static LanguageModelOptions ModelOptions(ModelSettings settings)
    {
        var batch = new BatchOptions { Progress = settings.BatchProgress };
        if (settings.BatchPollInterval is { } poll)
        {
            batch = batch with { PollInterval = poll, MaxPollInterval = poll > batch.MaxPollInterval ? poll : batch.MaxPollInterval };
        }

        var options = new LanguageModelOptions
        {
            Cache = OpenCache(settings.CacheDirectory),
            CacheByDefault = true,
            RequestsPerMinute = settings.RequestsPerMinute,
            TokensPerMinute = settings.TokensPerMinute,
            Batch = batch,
        };
        return settings.MaxConcurrency is { } n ? options with { MaxConcurrency = n } : options;
    }

    /// <summary>
    /// The registry's description of an OpenAI model; a name it does not know is allowed for an OpenAI-compatible
    /// server (a base address given), as a chat model with unknown prices.
    /// </summary>
    private static OpenAiModelInfo OpenAiInfo(string name, Uri? baseUrl)
    {
        if (OpenAiModelRegistry.TryGet(name, out var known))
        {
            return known;
        }

        bool compatibleServer = baseUrl is not null || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(OpenAiOptions.BaseUrlEnvironmentVariable));
        return compatibleServer
            ? new OpenAiModelInfo(name, UnknownModelContextWindow, UnknownModelContextWindow / 2, "cl100k_base", IsChatModel: true, Prices: null)
            : OpenAiModelRegistry.Get(name); // throws, listing the known names
    }

    private static void RefuseBaseUrl(ModelSpec spec, ModelSettings settings)
    {
        if (settings.BaseUrl is not null)
        {
            throw new CliUsageException($"--base-url is for openai: and claude: models, not {spec}.");
        }
    }
}
