using LmWrapper.DependencyInjection;
using LmWrapper.HuggingFace;
using LmWrapper.HuggingFace.DependencyInjection;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary><c>b.AddHuggingFace(name, …)</c> for <c>services.AddLmWrapper(b =&gt; …)</c>.</summary>
public static class HuggingFaceLmWrapperBuilderExtensions
{
    /// <summary>Registers a local <see cref="HuggingFaceLm"/> under <paramref name="name"/>, configured in code. It loads on first use.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="name">The name (service key).</param>
    /// <param name="configure">Sets the settings (at least <see cref="LmModelSettings.Model"/>: a folder or a hub id).</param>
    public static LmWrapperBuilder AddHuggingFace(this LmWrapperBuilder builder, string name, Action<HuggingFaceSettings> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return builder.AddHuggingFace(name, configuration: null, configure);
    }

    /// <summary>Registers a local <see cref="HuggingFaceLm"/> under <paramref name="name"/>, bound from a configuration section, then <paramref name="configure"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="name">The name (service key).</param>
    /// <param name="configuration">The section to bind (keys as <see cref="HuggingFaceSettings"/>' properties), or null.</param>
    /// <param name="configure">Sets settings after binding, or null.</param>
    public static LmWrapperBuilder AddHuggingFace(this LmWrapperBuilder builder, string name, IConfiguration? configuration, Action<HuggingFaceSettings>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddModel<HuggingFaceSettings>(name, configuration, configure, static (settings, context) =>
            HuggingFaceLm.Get(settings.Model!, settings.ToOptions(context)));
    }
}
