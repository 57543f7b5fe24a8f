using LmWrapper.Anthropic;
using LmWrapper.Anthropic.DependencyInjection;
using LmWrapper.DependencyInjection;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary><c>b.AddClaude(name, …)</c> for <c>services.AddLmWrapper(b =&gt; …)</c>.</summary>
public static class ClaudeLmWrapperBuilderExtensions
{
    /// <summary>Registers a <see cref="ClaudeLm"/> under <paramref name="name"/>, configured in code.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="name">The name (service key).</param>
    /// <param name="configure">Sets the settings (at least <see cref="LmModelSettings.Model"/>).</param>
    public static LmWrapperBuilder AddClaude(this LmWrapperBuilder builder, string name, Action<ClaudeSettings> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return builder.AddClaude(name, configuration: null, configure);
    }

    /// <summary>Registers a <see cref="ClaudeLm"/> under <paramref name="name"/>, bound from a configuration section, then <paramref name="configure"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="name">The name (service key).</param>
    /// <param name="configuration">The section to bind (keys as <see cref="ClaudeSettings"/>' properties), or null.</param>
    /// <param name="configure">Sets settings after binding, or null.</param>
    public static LmWrapperBuilder AddClaude(this LmWrapperBuilder builder, string name, IConfiguration? configuration, Action<ClaudeSettings>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddModel<ClaudeSettings>(name, configuration, configure, static (settings, context) =>
            ClaudeLm.Get(settings.Model!, settings.ApiKey, settings.ToOptions(context)));
    }
}
