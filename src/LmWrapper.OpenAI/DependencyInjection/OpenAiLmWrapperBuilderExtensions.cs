using LmWrapper.DependencyInjection;
using LmWrapper.OpenAI;
using LmWrapper.OpenAI.DependencyInjection;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary><c>b.AddOpenAi(name, …)</c> for <c>services.AddLmWrapper(b =&gt; …)</c>.</summary>
public static class OpenAiLmWrapperBuilderExtensions
{
    /// <summary>Registers an <see cref="OpenAiLm"/> under <paramref name="name"/>, configured in code.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="name">The name (service key).</param>
    /// <param name="configure">Sets the settings (at least <see cref="LmModelSettings.Model"/>).</param>
    public static LmWrapperBuilder AddOpenAi(this LmWrapperBuilder builder, string name, Action<OpenAiSettings> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return builder.AddOpenAi(name, configuration: null, configure);
    }

    /// <summary>
    /// Registers an <see cref="OpenAiLm"/> under <paramref name="name"/>, bound from a configuration section (keys as
    /// <see cref="OpenAiSettings"/>' properties: <c>Model</c>, <c>ApiKey</c>, <c>BaseUrl</c>, <c>CacheByDefault</c>, …),
    /// then <paramref name="configure"/>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="name">The name (service key).</param>
    /// <param name="configuration">The section to bind, or null.</param>
    /// <param name="configure">Sets settings after binding, or null.</param>
    public static LmWrapperBuilder AddOpenAi(this LmWrapperBuilder builder, string name, IConfiguration? configuration, Action<OpenAiSettings>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddModel<OpenAiSettings>(name, configuration, configure, static (settings, context) =>
            OpenAiLm.Get(settings.Model!, settings.ApiKey, settings.RetryOnRateLimit, settings.ToOptions(context)));
    }
}
