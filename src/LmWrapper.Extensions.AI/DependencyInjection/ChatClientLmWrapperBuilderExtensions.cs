using LmWrapper;
using LmWrapper.DependencyInjection;
using LmWrapper.Extensions.AI;
using LmWrapper.Extensions.AI.DependencyInjection;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Microsoft.Extensions.AI in <c>services.AddLmWrapper(b =&gt; …)</c>: chat clients as models, and models as chat clients.</summary>
public static class ChatClientLmWrapperBuilderExtensions
{
    /// <summary>
    /// Registers any <see cref="IChatClient"/> as a model (<see cref="ChatClientLanguageModel"/>) under <paramref name="name"/>,
    /// so it gets LmWrapper's cache, <c>PredictMany</c>, rate limits and costs.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="name">The name (service key).</param>
    /// <param name="chatClient">Makes the client (for example <c>sp =&gt; new OllamaChatClient(…)</c>), once.</param>
    /// <param name="configuration">A section to bind <see cref="ChatClientSettings"/> from, or null.</param>
    /// <param name="configure">Sets settings after binding (at least <see cref="LmModelSettings.Model"/>), or null.</param>
    public static LmWrapperBuilder AddChatClient(
        this LmWrapperBuilder builder,
        string name,
        Func<IServiceProvider, IChatClient> chatClient,
        IConfiguration? configuration = null,
        Action<ChatClientSettings>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(chatClient);
        return builder.AddModel<ChatClientSettings>(name, configuration, configure, (settings, context) =>
            new ChatClientLanguageModel(chatClient(context.Services), settings.ToOptions(context) with { Logger = context.Logger }));
    }

    /// <summary>
    /// Makes every model registered so far also a keyed <see cref="IChatClient"/> under its name (its
    /// <see cref="LanguageModelChatClient"/>), and the default model the unkeyed <see cref="IChatClient"/> unless one is
    /// registered; for libraries that take an <see cref="IChatClient"/>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    public static LmWrapperBuilder ExposeAsChatClients(this LmWrapperBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var name in builder.ModelNames)
        {
            if (!builder.Services.Any(d => d.IsKeyedService && d.ServiceType == typeof(IChatClient) && Equals(d.ServiceKey, name)))
            {
                builder.Services.AddKeyedSingleton<IChatClient>(name, (sp, key) => sp.GetRequiredKeyedService<LanguageModel>(key).AsChatClient());
            }
        }

        builder.Services.TryAddSingleton<IChatClient>(sp => sp.GetRequiredService<LanguageModel>().AsChatClient());
        return builder;
    }
}
