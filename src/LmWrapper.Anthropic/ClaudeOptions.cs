namespace LmWrapper.Anthropic;

/// <summary>
/// Settings for <see cref="ClaudeLm.Get(ClaudeModelInfo, string?, ClaudeOptions?)"/>: the shared provider settings
/// (<see cref="LmProviderOptions"/>: base URL without <c>/v1</c>, HTTP, retries, timeout, model settings) and Anthropic's own.
/// Every one has a sensible default.
/// </summary>
public sealed record ClaudeOptions : LmProviderOptions
{
    /// <summary>The API's public address.</summary>
    public static Uri DefaultBaseUrl { get; } = new("https://api.anthropic.com");

    /// <summary>The environment variable that sets the base URL when <see cref="LmProviderOptions.BaseUrl"/> is null: <c>ANTHROPIC_BASE_URL</c>.</summary>
    public const string BaseUrlEnvironmentVariable = "ANTHROPIC_BASE_URL";

    /// <summary>The <c>anthropic-version</c> header. Default "2023-06-01" (the current version of the Messages API).</summary>
    public string AnthropicVersion { get; init; } = "2023-06-01";
}
