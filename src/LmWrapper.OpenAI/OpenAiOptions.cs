using LmWrapper.Retry;

namespace LmWrapper.OpenAI;

/// <summary>Settings for <see cref="OpenAiLm"/>: endpoint, account headers, retries, HTTP and shared model settings.</summary>
public sealed record OpenAiOptions
{
    /// <summary>OpenAI's own endpoint.</summary>
    public const string DefaultBaseUrl = "https://api.openai.com/v1";

    /// <summary>
    /// The API's base URL including its version path, for example "https://api.openai.com/v1" (the default), an
    /// OpenAI-compatible server ("http://localhost:8000/v1" for vLLM, "http://localhost:11434/v1" for Ollama,
    /// "http://localhost:1234/v1" for LM Studio, llama.cpp's server) or Azure OpenAI's v1 endpoint
    /// ("https://RESOURCE.openai.azure.com/openai/v1", with <see cref="UseApiKeyHeader"/>). Null means the
    /// <c>OPENAI_BASE_URL</c> environment variable when it is set, else the default.
    /// A custom base URL becomes part of <see cref="LanguageModel.ModelIdentity"/> (without any user info or query), so
    /// answers cached from different servers never mix. A query (such as Azure's <c>?api-version=…</c>) is kept on every
    /// request URL.
    /// </summary>
    public string? BaseUrl { get; init; }

    /// <summary>The environment variable that sets the base URL when <see cref="BaseUrl"/> is null: <c>OPENAI_BASE_URL</c>.</summary>
    public const string BaseUrlEnvironmentVariable = "OPENAI_BASE_URL";

    /// <summary>Sent as the <c>OpenAI-Organization</c> header when set.</summary>
    public string? Organization { get; init; }

    /// <summary>Sent as the <c>OpenAI-Project</c> header when set.</summary>
    public string? Project { get; init; }

    /// <summary>Send the key as an <c>api-key</c> header (Azure OpenAI) instead of <c>Authorization: Bearer</c>.</summary>
    public bool UseApiKeyHeader { get; init; }

    /// <summary>
    /// Whether a request needs an API key at all. Default true; set false for a local OpenAI-compatible server that
    /// takes none (a placeholder key is then sent when none is found).
    /// </summary>
    public bool RequireApiKey { get; init; } = true;

    /// <summary>When and how long to wait before retrying 429s, 5xx errors and dropped connections (default <see cref="LmRetryPolicy.Default"/>).</summary>
    public LmRetryPolicy RetryPolicy { get; init; } = LmRetryPolicy.Default;

    /// <summary>The limit for one attempt of one request. Default 10 minutes (reasoning models can be slow).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The HttpClient to use (its BaseAddress is not used; the model does not dispose it; its own Timeout applies as
    /// well as <see cref="RequestTimeout"/>, so set it to <see cref="Timeout.InfiniteTimeSpan"/> to let the latter rule).
    /// Null means the model makes a light one of its own over a connection pool shared by all models (or over
    /// <see cref="HttpMessageHandler"/> when given).
    /// </summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>The handler for the HttpClient the model makes (ignored when <see cref="HttpClient"/> is set; the model does not dispose it).</summary>
    public HttpMessageHandler? HttpMessageHandler { get; init; }

    /// <summary>Caching, concurrency and logging, shared by every model kind. Null means the defaults.</summary>
    public LanguageModelOptions? ModelOptions { get; init; }

    /// <summary>
    /// Reads an environment variable (for the OPENAI_API_KEY lookup). Null means the process environment; tests pass
    /// their own so they need not change it.
    /// </summary>
    public Func<string, string?>? GetEnvironmentVariable { get; init; }

    /// <summary>The home directory searched for <c>oai_key.txt</c>. Null means the user's profile folder.</summary>
    public string? HomeDirectory { get; init; }
}
