using Microsoft.Extensions.Logging;

namespace LmWrapper.DependencyInjection;

/// <summary>
/// What a provider's factory gets, besides its settings, to build a model registered with
/// <see cref="LmWrapperBuilder.AddModel{TSettings}"/>: the registration's name, the service provider, the model settings
/// made from the settings, a logger and (for HTTP providers) the client to send through.
/// </summary>
public sealed class LmModelContext
{
    internal LmModelContext(string name, IServiceProvider services, LanguageModelOptions modelOptions, ILogger logger, HttpClient? httpClient)
    {
        Name = name;
        Services = services;
        ModelOptions = modelOptions;
        Logger = logger;
        HttpClient = httpClient;
    }

    /// <summary>The name the model is registered under (its service key).</summary>
    public string Name { get; }

    /// <summary>The application's services.</summary>
    public IServiceProvider Services { get; }

    /// <summary>The shared model settings (cache, concurrency, rate limits, logger) made from the registration's settings.</summary>
    public LanguageModelOptions ModelOptions { get; }

    /// <summary>The logger for the model (category <c>LmWrapper.&lt;model type&gt;</c>), from the application's <see cref="ILoggerFactory"/>.</summary>
    public ILogger Logger { get; }

    /// <summary>For settings derived from <see cref="LmProviderSettings"/>: the client from <c>IHttpClientFactory</c>; otherwise null.</summary>
    public HttpClient? HttpClient { get; }
}
