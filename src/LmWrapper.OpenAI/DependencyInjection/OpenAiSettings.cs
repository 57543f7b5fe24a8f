using LmWrapper.DependencyInjection;

namespace LmWrapper.OpenAI.DependencyInjection;

/// <summary>
/// Settings of an OpenAI (or OpenAI-compatible) model registered with <c>b.AddOpenAi(name, …)</c>, bindable from
/// configuration: the shared provider settings plus <see cref="OpenAiOptions"/>' own. The key is never logged.
/// </summary>
public sealed class OpenAiSettings : LmProviderSettings
{
    /// <summary>Sent as the <c>OpenAI-Organization</c> header (<see cref="OpenAiOptions.Organization"/>).</summary>
    public string? Organization { get; set; }

    /// <summary>Sent as the <c>OpenAI-Project</c> header (<see cref="OpenAiOptions.Project"/>).</summary>
    public string? Project { get; set; }

    /// <summary>Send the key as an <c>api-key</c> header (Azure OpenAI); see <see cref="OpenAiOptions.UseApiKeyHeader"/>.</summary>
    public bool UseApiKeyHeader { get; set; }

    /// <summary>Whether a key is required (false for a local compatible server); see <see cref="OpenAiOptions.RequireApiKey"/>. Default true.</summary>
    public bool RequireApiKey { get; set; } = true;

    /// <summary>Send <c>max_tokens</c> rather than <c>max_completion_tokens</c>; see <see cref="OpenAiOptions.UseLegacyMaxTokens"/>.</summary>
    public bool UseLegacyMaxTokens { get; set; }

    /// <summary>Wait and retry on 429 (true, the default) or give up at once with a rate-limit error.</summary>
    public bool RetryOnRateLimit { get; set; } = true;

    /// <summary>The <see cref="OpenAiOptions"/> these settings give.</summary>
    /// <param name="context">The registration's context (HTTP client, logger, model settings).</param>
    public OpenAiOptions ToOptions(LmModelContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var options = new OpenAiOptions
        {
            BaseUrl = BaseUrl,
            HttpClient = context.HttpClient,
            ModelOptions = context.ModelOptions,
            Retry = ToRetryPolicy(),
            Organization = Organization,
            Project = Project,
            UseApiKeyHeader = UseApiKeyHeader,
            RequireApiKey = RequireApiKey,
            UseLegacyMaxTokens = UseLegacyMaxTokens,
        };
        return RequestTimeout is { } timeout ? options with { RequestTimeout = timeout } : options;
    }
}
