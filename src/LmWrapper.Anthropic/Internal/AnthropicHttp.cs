using System.Net.Http.Headers;
using LmWrapper.Http;
using LmWrapper.RateLimiting;
using Microsoft.Extensions.Logging;

namespace LmWrapper.Anthropic.Internal;

/// <summary>A successful (2xx) answer from the Anthropic API.</summary>
internal sealed record AnthropicResponse(int StatusCode, byte[] Body, string? RequestId);

/// <summary>
/// The Anthropic API's client: its headers (the key only ever in <c>x-api-key</c>) over the core's
/// <see cref="LmHttpPipeline"/>, which retries, times out and maps failures for every provider alike.
/// </summary>
internal sealed class AnthropicHttp : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    public AnthropicHttp(Uri baseUrl, LmApiKey apiKey, ClaudeOptions options, ILogger logger, LmRateLimiter? limiter, LanguageModel? model = null)
    {
        if (options.HttpClient is { } client)
        {
            _http = client;
        }
        else
        {
            var handler = options.HttpMessageHandler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
            _http = new HttpClient(handler, disposeHandler: options.HttpMessageHandler is null) { Timeout = Timeout.InfiniteTimeSpan };
            _ownsHttp = true;
        }

        BaseUrl = baseUrl;
        Pipeline = new LmHttpPipeline(_http, new LmHttpPipelineSettings
        {
            ProviderName = "The Anthropic API (" + baseUrl.AbsoluteUri.TrimEnd('/') + ")",
            Retry = options.Retry,
            RequestTimeout = options.RequestTimeout,
            TotalTimeout = options.TotalTimeout,
            KeySource = apiKey.Source,
            AuthenticationHint = "Check the key, or where LmWrapper looks: the apiKey argument, ANTHROPIC_API_KEY, ~/anthropic_key.txt.",
            RateLimiter = limiter,
            Logger = logger,
            Model = model,
            PrepareRequest = request =>
            {
                request.Headers.TryAddWithoutValidation("x-api-key", apiKey.Value);
                request.Headers.TryAddWithoutValidation("anthropic-version", options.AnthropicVersion);
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            },
        });
    }

    /// <summary>The API's address (ending in a slash).</summary>
    public Uri BaseUrl { get; }

    /// <summary>The resilience layer every call goes through.</summary>
    public LmHttpPipeline Pipeline { get; }

    /// <summary>A call to <paramref name="path"/> (relative to the base URL, or absolute) with a JSON body made afresh per attempt.</summary>
    public LmHttpCall Call(HttpMethod method, string path, Func<HttpContent>? content = null) => new(() =>
    {
        var request = new HttpRequestMessage(method, new Uri(BaseUrl, path));
        if (content is not null)
        {
            request.Content = content();
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        return request;
    });

    /// <summary>Sends a call and reads its whole (successful) body.</summary>
    public Task<AnthropicResponse> SendAsync(LmHttpCall call, CancellationToken cancellationToken, Func<CancellationToken, Task<AnthropicResponse?>>? recover = null) =>
        Pipeline.SendAsync(call, ReadAsync, recover, cancellationToken);

    /// <summary>Sends a call with a fixed JSON body (or none).</summary>
    public Task<AnthropicResponse> SendAsync(HttpMethod method, string path, byte[]? jsonBody, CancellationToken cancellationToken) =>
        SendAsync(Call(method, path, jsonBody is null ? null : () => new ByteArrayContent(jsonBody)), cancellationToken);

    /// <summary>Sends a GET whose (large) answer is streamed: the headers are in, the body is not. The caller disposes it.</summary>
    public Task<HttpResponseMessage> GetStreamingAsync(string path, CancellationToken cancellationToken) =>
        Pipeline.SendAsync(Call(HttpMethod.Get, path) with { Completion = HttpCompletionOption.ResponseHeadersRead }, cancellationToken);

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private static async Task<AnthropicResponse> ReadAsync(HttpResponseMessage response, CancellationToken token) =>
        new((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false), LmHttpErrors.RequestId(response.Headers));
}
