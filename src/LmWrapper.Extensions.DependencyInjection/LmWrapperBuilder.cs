using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LmWrapper.DependencyInjection;

/// <summary>
/// Registers language models with <c>services.AddLmWrapper(b =&gt; b.AddOpenAi("fast", …).AddClaude("smart", …))</c>.
/// Each model is a keyed singleton <see cref="LanguageModel"/> under its name (<c>[FromKeyedServices("fast")]</c>); the
/// default one (the first added, or <see cref="SetDefaultModel"/>) is also the unkeyed <see cref="LanguageModel"/>.
/// Providers add their own methods (<c>AddOpenAi</c>, <c>AddClaude</c>, <c>AddHuggingFace</c>) in their assemblies,
/// built on <see cref="AddModel{TSettings}"/>.
/// </summary>
public sealed class LmWrapperBuilder
{
    private readonly LmModelRegistry _registry;

    internal LmWrapperBuilder(IServiceCollection services, LmModelRegistry registry)
    {
        Services = services;
        _registry = registry;
    }

    /// <summary>The service collection the models are registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The names registered so far, in order.</summary>
    public IReadOnlyList<string> ModelNames => _registry.Names;

    /// <summary>The name of the <c>IHttpClientFactory</c> client LmWrapper registers for the model <paramref name="name"/>: <c>LmWrapper.</c> + name.</summary>
    /// <param name="name">The model's registration name.</param>
    public static string HttpClientNameFor(string name) => "LmWrapper." + name;

    /// <summary>Makes the model registered as <paramref name="name"/> the unkeyed <see cref="LanguageModel"/>.</summary>
    /// <param name="name">A name registered with this builder (now or later).</param>
    public LmWrapperBuilder SetDefaultModel(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _registry.DefaultName = name;
        return this;
    }

    /// <summary>Registers a model made by a factory (any <see cref="LanguageModel"/>: your own, a <see cref="MockLm"/>, a wrapped chat client).</summary>
    /// <param name="name">The name (service key) to register it under; unique within the application.</param>
    /// <param name="factory">Makes the model, once, on first use.</param>
    /// <exception cref="ArgumentException">The name is blank or already registered.</exception>
    public LmWrapperBuilder AddModel(string name, Func<IServiceProvider, LanguageModel> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Reserve(name);
        Services.AddKeyedSingleton<LanguageModel>(name, (sp, _) => factory(sp) ?? throw new InvalidOperationException($"The factory for the LmWrapper model '{name}' returned null."));
        return this;
    }

    /// <summary>
    /// Registers a model configured by a settings class through the options pattern: <paramref name="configuration"/> is
    /// bound to the named options <typeparamref name="TSettings"/> (<c>IOptionsMonitor&lt;TSettings&gt;.Get(name)</c>),
    /// then <paramref name="configure"/> runs; the settings are validated (<see cref="LmModelSettings.Validate"/>, an
    /// <see cref="OptionsValidationException"/> naming each problem, at host start or first use); for
    /// <see cref="LmProviderSettings"/> a named <c>IHttpClientFactory</c> client (<see cref="HttpClientNameFor"/>, no
    /// client timeout: LmWrapper times each attempt itself) is registered. The model is made once, on first use, from the
    /// settings as they are then (later configuration reloads do not change a model already made).
    /// </summary>
    /// <typeparam name="TSettings">The provider's settings.</typeparam>
    /// <param name="name">The name (service key) to register it under; unique within the application.</param>
    /// <param name="configuration">A configuration section to bind (for example <c>configuration.GetSection("LmWrapper:Models:fast")</c>), or null.</param>
    /// <param name="configure">Sets settings in code after binding, or null.</param>
    /// <param name="factory">Makes the model from valid settings and the context.</param>
    /// <exception cref="ArgumentException">The name is blank or already registered.</exception>
    public LmWrapperBuilder AddModel<TSettings>(
        string name,
        IConfiguration? configuration,
        Action<TSettings>? configure,
        Func<TSettings, LmModelContext, LanguageModel> factory)
        where TSettings : LmModelSettings, new()
    {
        ArgumentNullException.ThrowIfNull(factory);
        Reserve(name);
        var options = Services.AddOptions<TSettings>(name);
        if (configuration is not null)
        {
            options.Bind(configuration);
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TSettings>, LmSettingsValidator<TSettings>>());
        bool http = typeof(LmProviderSettings).IsAssignableFrom(typeof(TSettings));
        if (http)
        {
            Services.AddHttpClient(HttpClientNameFor(name)).ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan);
        }

        Services.AddKeyedSingleton<LanguageModel>(name, (sp, _) =>
        {
            var settings = sp.GetRequiredService<IOptionsMonitor<TSettings>>().Get(name);
            var loggers = sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
            var logger = loggers.CreateLogger("LmWrapper." + typeof(TSettings).Name.Replace("Settings", string.Empty, StringComparison.Ordinal));
            HttpClient? client = http
                ? sp.GetRequiredService<IHttpClientFactory>().CreateClient(((LmProviderSettings)(object)settings).HttpClientName ?? HttpClientNameFor(name))
                : null;
            // The host's IMeterFactory (AddMetrics) owns the model's meter, so its instruments reach the host's listeners.
            var modelOptions = settings.ToModelOptions(logger) with { MeterFactory = sp.GetService<IMeterFactory>() };
            var context = new LmModelContext(name, sp, modelOptions, logger, client);
            return factory(settings, context) ?? throw new InvalidOperationException($"The factory for the LmWrapper model '{name}' returned null.");
        });
        return this;
    }

    private void Reserve(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!_registry.TryAdd(name))
        {
            throw new ArgumentException($"An LmWrapper model named '{name}' is already registered; give each model its own name.", nameof(name));
        }
    }
}
