using LmWrapper.Batching;

namespace LmWrapper.Cli.Models;

/// <summary>The settings a command gives the model it creates.</summary>
internal sealed record ModelSettings
{
    /// <summary>The API's base address (<c>--base-url</c>), for OpenAI-compatible servers; null for the provider's default (or its environment variable).</summary>
    public Uri? BaseUrl { get; init; }

    /// <summary>The folder of the response cache (<c>--cache-dir</c>); null for the project's cache.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Requests per minute (<c>--rpm</c>).</summary>
    public int? RequestsPerMinute { get; init; }

    /// <summary>Tokens per minute (<c>--tpm</c>).</summary>
    public long? TokensPerMinute { get; init; }

    /// <summary>Requests in flight at once (<c>--concurrency</c>); null for the library's default.</summary>
    public int? MaxConcurrency { get; init; }

    /// <summary>How often a provider batch is polled; null for the library's default.</summary>
    public TimeSpan? BatchPollInterval { get; init; }

    /// <summary>Receives the batch orchestration's progress.</summary>
    public IProgress<BatchProgress>? BatchProgress { get; init; }
}
