using LmWrapper.Retry;

namespace LmWrapper.OpenAI;

/// <summary>
/// Settings for <see cref="OpenAiLm"/>: the shared provider settings (<see cref="LmProviderOptions"/>: base URL, HTTP,
/// retries, timeout, model settings) and OpenAI's own (account headers, key header style).
/// </summary>
/// <remarks>
/// <see cref="LmProviderOptions.BaseUrl"/> is the API's base URL including its version path, for example
/// "https://api.openai.com/v1" (the default), an OpenAI-compatible server ("http://localhost:8000/v1" for vLLM,
/// "http://localhost:11434/v1" for Ollama) or Azure OpenAI's v1 endpoint ("https://RESOURCE.openai.azure.com/openai/v1",
/// with <see cref="UseApiKeyHeader"/>). Null means the <c>OPENAI_BASE_URL</c> environment variable when it is set, else
/// the default. A query (such as Azure's <c>?api-version=…</c>) is kept on every request URL, but never in the identity.
/// </remarks>
public sealed record OpenAiOptions : LmProviderOptions
{
    /// <summary>OpenAI's own endpoint.</summary>
    public static Uri DefaultBaseUrl { get; } = new("https://api.openai.com/v1");

    /// <summary>The environment variable that sets the base URL when <see cref="LmProviderOptions.BaseUrl"/> is null: <c>OPENAI_BASE_URL</c>.</summary>
    public const string BaseUrlEnvironmentVariable = "OPENAI_BASE_URL";

    /// <summary>The environment variable read for <see cref="Organization"/> when it is null: <c>OPENAI_ORGANIZATION</c> (as OpenAI's SDKs do).</summary>
    public const string OrganizationEnvironmentVariable = "OPENAI_ORGANIZATION";

    /// <summary>The environment variable read for <see cref="Project"/> when it is null: <c>OPENAI_PROJECT</c>.</summary>
    public const string ProjectEnvironmentVariable = "OPENAI_PROJECT";

    /// <summary>Sent as the <c>OpenAI-Organization</c> header; null means <c>OPENAI_ORGANIZATION</c> when set, else none.</summary>
    public string? Organization { get; init; }

    /// <summary>Sent as the <c>OpenAI-Project</c> header; null means <c>OPENAI_PROJECT</c> when set, else none.</summary>
    public string? Project { get; init; }

    /// <summary>Send the key as an <c>api-key</c> header (Azure OpenAI) instead of <c>Authorization: Bearer</c>.</summary>
    public bool UseApiKeyHeader { get; init; }

    /// <summary>
    /// Whether a request needs an API key at all. Default true; set false for a local OpenAI-compatible server that
    /// takes none (a placeholder key is then sent when none is found).
    /// </summary>
    public bool RequireApiKey { get; init; } = true;

    /// <summary>
    /// Send a chat model's output limit as the old <c>max_tokens</c> instead of <c>max_completion_tokens</c> (which OpenAI's
    /// reference asks for, and which reasoning models require). Default false; set it for an OpenAI-compatible server that
    /// knows only the old name. Reasoning models always get <c>max_completion_tokens</c>.
    /// </summary>
    public bool UseLegacyMaxTokens { get; init; }
}
