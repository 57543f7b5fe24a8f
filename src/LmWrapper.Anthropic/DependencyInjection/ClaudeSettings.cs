using LmWrapper.DependencyInjection;

namespace LmWrapper.Anthropic.DependencyInjection;

/// <summary>
/// Settings of a Claude model registered with <c>b.AddClaude(name, …)</c>, bindable from configuration: the shared
/// provider settings plus <see cref="ClaudeOptions"/>' own. The key is never logged.
/// </summary>
public sealed class ClaudeSettings : LmProviderSettings
{
    /// <summary>The <c>anthropic-version</c> header; null means <see cref="ClaudeOptions.AnthropicVersion"/>'s default.</summary>
    public string? AnthropicVersion { get; set; }

    /// <summary>The <see cref="ClaudeOptions"/> these settings give.</summary>
    /// <param name="context">The registration's context (HTTP client, logger, model settings).</param>
    public ClaudeOptions ToOptions(LmModelContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var options = new ClaudeOptions
        {
            BaseUrl = BaseUrl,
            HttpClient = context.HttpClient,
            ModelOptions = context.ModelOptions,
            Retry = ToRetryPolicy(),
        };
        if (AnthropicVersion is { } version)
        {
            options = options with { AnthropicVersion = version };
        }

        return RequestTimeout is { } timeout ? options with { RequestTimeout = timeout } : options;
    }
}
