using LmWrapper;
using LmWrapper.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary><c>services.AddLmWrapper(…)</c>: LmWrapper's language models as services.</summary>
public static class LmWrapperServiceCollectionExtensions
{
    /// <summary>
    /// Registers language models: <c>services.AddLmWrapper(b =&gt; b.AddOpenAi("fast", o =&gt; o.Model = "gpt-4o-mini"))</c>.
    /// Each is a keyed singleton <see cref="LanguageModel"/> under its name; the default one (the first added, or
    /// <see cref="LmWrapperBuilder.SetDefaultModel"/>) is also the unkeyed <see cref="LanguageModel"/>. Calling it again
    /// adds to the same set of models.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Adds the models.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddLmWrapper(this IServiceCollection services, Action<LmWrapperBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(services.AddLmWrapper());
        return services;
    }

    /// <summary>Registers LmWrapper's services and returns the builder to add models with.</summary>
    /// <param name="services">The service collection.</param>
    public static LmWrapperBuilder AddLmWrapper(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var registry = services.FirstOrDefault(d => d.ServiceType == typeof(LmModelRegistry) && !d.IsKeyedService)?.ImplementationInstance as LmModelRegistry;
        if (registry is null)
        {
            registry = new LmModelRegistry();
            services.AddSingleton(registry);
            services.AddOptions();
            services.TryAddSingleton<LanguageModel>(sp => sp.GetRequiredKeyedService<LanguageModel>(registry.ResolveDefault()));
        }

        return new LmWrapperBuilder(services, registry);
    }
}
