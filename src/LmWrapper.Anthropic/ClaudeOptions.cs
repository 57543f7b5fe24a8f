using LmWrapper.Retry;
namespace LmWrapper.Anthropic;

/// <summary>Settings for <see cref="ClaudeLm.Get(ClaudeModelInfo, string?, ClaudeOptions?)"/>. Every one has a sensible default.</summary>
public sealed record ClaudeOptions
{
    /// <summary>The API's public address.</summary>
    public static Uri DefaultBaseUrl { get; } = new("https://api.anthropic.com");

    /// <summary>
    /// Where the Anthropic API is (without <c>/v1</c>): a proxy, a gateway or a <c>FakeAnthropicServer</c>. Null means
    /// the <c>ANTHROPIC_BASE_URL</c> environment variable when it is set, else <see cref="DefaultBaseUrl"/>. A custom address becomes part of <see cref="ClaudeLm.ModelIdentity"/>, so its
    /// cached answers never mix with the real API's.
    /// </summary>
    public Uri? BaseUrl { get; init; }

    /// <summary>The environment variable that sets the base URL when <see cref="BaseUrl"/> is null: <c>ANTHROPIC_BASE_URL</c>.</summary>
    public const string BaseUrlEnvironmentVariable = "ANTHROPIC_BASE_URL";

    /// <summary>The <c>anthropic-version</c> header. Default "2023-06-01" (the current version of the Messages API).</summary>
    public string AnthropicVersion { get; init; } = "2023-06-01";

    /// <summary>When and how long to retry passing failures (429, 529, 5xx, dropped connections). Default <see cref="LmRetryPolicy.Default"/>'s settings.</summary>
    public LmRetryPolicy Retry { get; init; } = new();

    /// <summary>How long one attempt may take before it is abandoned (and retried, as a passing failure). Default 10 minutes.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The HTTP handler to send through (a proxy, a test handler). Null means a fresh one owned by the model.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>Caching, concurrency and logging settings shared by every model. Null means the defaults (the project's cache).</summary>
    public LanguageModelOptions? ModelOptions { get; init; }

    /// <summary>
    /// Whether <see cref="LanguageModel.EstimateTokensInPrompt"/> asks the count-tokens endpoint (exact, one request per
    /// distinct prompt, remembered) before falling back to the offline estimate. Default true.
    /// </summary>
    public bool CountTokensOnline { get; init; } = true;

    /// <summary>Reads an environment variable during the API key lookup. Null means the process environment (tests inject their own).</summary>
    public Func<string, string?>? GetEnvironmentVariable { get; init; }

    /// <summary>The home folder holding <c>anthropic_key.txt</c> during the API key lookup. Null means the user's profile folder.</summary>
    public string? HomeDirectory { get; init; }
}
