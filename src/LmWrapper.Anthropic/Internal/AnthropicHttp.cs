using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using LmWrapper.RateLimiting;
using Microsoft.Extensions.Logging;
using LmWrapper.Retry;

namespace LmWrapper.Anthropic.Internal;

/// <summary>A successful (2xx) answer from the Anthropic API.</summary>
internal sealed record AnthropicResponse(int StatusCode, byte[] Body, string? RequestId);

/// <summary>
/// Sends requests to the Anthropic API with its headers, and retries passing failures (429, 529, 408, 409, 5xx,
/// dropped connections, timeouts) by <see cref="LmRetryPolicy"/>. Failures come back as LmWrapper's exceptions:
/// <see cref="LmAuthenticationException"/> (401/403), <see cref="LmRateLimitException"/> (429) and
/// <see cref="ClaudeApiException"/> (the rest). The key is only ever put in the <c>x-api-key</c> header.
/// The model's <see cref="LmRateLimiter"/> learns the requests-per-minute limit from <c>anthropic-ratelimit-requests-limit</c>
/// and is paused for every 429 retry wait, so concurrent calls hold back too.
/// </summary>
internal sealed class AnthropicHttp : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _apiKey;
    private readonly string _keySource;
    private readonly ClaudeOptions _options;
    private readonly ILogger _logger;
    private readonly LmRateLimiter? _limiter;

    public AnthropicHttp(Uri baseUrl, string apiKey, string keySource, ClaudeOptions options, ILogger logger, LmRateLimiter? limiter = null)
    {
        _limiter = limiter;
        _apiKey = apiKey;
        _keySource = keySource;
        _options = options;
        _logger = logger;
        var handler = options.HttpHandler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        _http = new HttpClient(handler, disposeHandler: options.HttpHandler is null)
        {
            BaseAddress = baseUrl,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>Sends one request, retrying when <paramref name="retry"/> allows.</summary>
    /// <param name="method">GET or POST.</param>
    /// <param name="path">The path, such as "v1/messages" (relative to the base URL).</param>
    /// <param name="jsonBody">The JSON body, or null.</param>
    /// <param name="retry">The retry policy for this call.</param>
    /// <param name="cancellationToken">Cancels the call and any wait.</param>
    public Task<AnthropicResponse> SendAsync(
        HttpMethod method, string path, byte[]? jsonBody, LmRetryPolicy retry, CancellationToken cancellationToken) =>
        SendAsync(method, path, jsonBody is null ? null : () => new ByteArrayContent(jsonBody), retry, cancellationToken);

    /// <summary>Sends one request whose body is made afresh for every attempt (for example a body streamed from a file).</summary>
    /// <param name="method">GET, POST or DELETE.</param>
    /// <param name="path">The path relative to the base URL (or an absolute URL on the same host).</param>
    /// <param name="content">Makes the JSON body for one attempt, or null for none.</param>
    /// <param name="retry">The retry policy for this call.</param>
    /// <param name="cancellationToken">Cancels the call and any wait.</param>
    /// <param name="retryWithoutResponse">
    /// Whether a failure that left no answer (a dropped connection, a timeout) may be retried. False for calls that are
    /// not idempotent (creating a batch): the server may have acted on the lost attempt, and only the caller can check.
    /// Such a failure is then a <see cref="ClaudeApiException"/> whose <see cref="ClaudeApiException.StatusCode"/> is null.
    /// </param>
    public async Task<AnthropicResponse> SendAsync(
        HttpMethod method, string path, Func<HttpContent>? content, LmRetryPolicy retry, CancellationToken cancellationToken, bool retryWithoutResponse = true)
    {
        var response = await SendCoreAsync(method, path, content, retry, stream: false, retryWithoutResponse, cancellationToken).ConfigureAwait(false);
        return response.Buffered!;
    }

    /// <summary>
    /// Sends a GET whose (large) answer is read as a stream: the returned response's headers are in, its body is not.
    /// Retries apply until the headers arrive. The caller disposes the response.
    /// </summary>
    /// <param name="path">The path relative to the base URL (or an absolute URL on the same host).</param>
    /// <param name="retry">The retry policy for this call.</param>
    /// <param name="cancellationToken">Cancels the call and any wait.</param>
    public async Task<HttpResponseMessage> GetStreamingAsync(string path, LmRetryPolicy retry, CancellationToken cancellationToken)
    {
        var response = await SendCoreAsync(HttpMethod.Get, path, null, retry, stream: true, retryWithoutResponse: true, cancellationToken).ConfigureAwait(false);
        return response.Streamed!;
    }

    private async Task<(AnthropicResponse? Buffered, HttpResponseMessage? Streamed)> SendCoreAsync(
        HttpMethod method, string path, Func<HttpContent>? content, LmRetryPolicy retry, bool stream, bool retryWithoutResponse, CancellationToken cancellationToken)
    {
        TimeSpan waited = TimeSpan.Zero;
        for (int attempt = 0; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Exception? fault = null;
            int status = 0;
            byte[] body = [];
            string? requestId = null;
            HttpResponseHeaders? headers = null;
            using (var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                attemptCts.CancelAfter(_options.RequestTimeout);
                HttpResponseMessage? response = null;
                try
                {
                    using var request = new HttpRequestMessage(method, path);
                    request.Headers.TryAddWithoutValidation("x-api-key", _apiKey);
                    request.Headers.TryAddWithoutValidation("anthropic-version", _options.AnthropicVersion);
                    request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
                    if (content is not null)
                    {
                        request.Content = content();
                        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                    }

                    response = await _http.SendAsync(request, stream ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, attemptCts.Token).ConfigureAwait(false);
                    status = (int)response.StatusCode;
                    headers = response.Headers;
                    requestId = response.Headers.TryGetValues("request-id", out var ids) ? ids.FirstOrDefault() : null;
                    ObserveLimits(response.Headers);
                    if (stream && status is >= 200 and < 300)
                    {
                        var streamed = response;
                        response = null;
                        return (null, streamed);
                    }

                    body = await response.Content.ReadAsByteArrayAsync(attemptCts.Token).ConfigureAwait(false);
                    if (status is >= 200 and < 300)
                    {
                        return (new AnthropicResponse(status, body, requestId), null);
                    }

                    var (errorType, errorMessage) = ClaudeResponseParser.ParseError(body);
                    bool retryable = IsRetryableStatus(status) && ShouldRetryHeader(response.Headers) != false;
                    TimeSpan? hint = RetryAfter(response.Headers);
                    if (retryable)
                    {
                        if (retry.GetDelay(attempt + 1, hint, waited) is { } delay)
                        {
                            _logger.LogInformation(
                                "Anthropic API answered {Status} ({ErrorType}) to {Path}; retry {Attempt} of {Max} in {Delay} ms.",
                                status, errorType, path, attempt + 1, retry.MaxRetries, (long)delay.TotalMilliseconds);
                            waited += delay;
                            if (status == 429)
                            {
                                _limiter?.Pause(delay);
                            }

                            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                            continue;
                        }
                    }

                    throw MapError(status, errorType, errorMessage, requestId, hint, attempt);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    fault = new TimeoutException($"The Anthropic API did not answer {path} within {_options.RequestTimeout}.");
                }
                catch (HttpRequestException e)
                {
                    fault = e;
                }
                catch (IOException e)
                {
                    fault = e;
                }
                finally
                {
                    response?.Dispose();
                }
            }

            // No response (or no complete one): a dropped connection, a refused connection, a timeout.
            if (retryWithoutResponse)
            {
                if (retry.GetDelay(attempt + 1, null, waited) is { } delay)
                {
                    _logger.LogInformation(fault, "Anthropic API request to {Path} failed; retry {Attempt} of {Max} in {Delay} ms.", path, attempt + 1, retry.MaxRetries, (long)delay.TotalMilliseconds);
                    waited += delay;
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }

            throw new ClaudeApiException(
                $"Could not reach the Anthropic API at {_http.BaseAddress}{path} after {attempt + 1} attempt(s): {fault.Message}",
                innerException: fault);
        }
    }

    public void Dispose() => _http.Dispose();

    private Exception MapError(int status, string? errorType, string? errorMessage, string? requestId, TimeSpan? retryAfter, int retries)
    {
        string detail = $"{errorType ?? "error"}: {errorMessage ?? "(no message)"}";
        string tries = retries == 0 ? string.Empty : $" after {retries} retr{(retries == 1 ? "y" : "ies")}";
        return status switch
        {
            401 => new LmAuthenticationException(
                $"The Anthropic API rejected the API key from {_keySource} (HTTP 401, {detail}). Check the key, or where LmWrapper looks: the apiKey argument, ANTHROPIC_API_KEY, ~/anthropic_key.txt."),
            403 => new LmAuthenticationException(
                $"The API key from {_keySource} is not allowed to do this (HTTP 403, {detail})."),
            429 => new LmRateLimitException(
                $"The Anthropic API is rate limiting this key (HTTP 429, {detail}){tries}."
                + (retryAfter is { } ra ? $" It asked to wait {ra.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s." : string.Empty),
                retryAfter),
            _ => new ClaudeApiException($"The Anthropic API answered HTTP {status} ({detail}){tries}.", status, errorType, requestId),
        };
    }

    /// <summary>
    /// Teaches the limiter the key's requests-per-minute limit. Anthropic's token limits are split into input and output
    /// tokens per minute, which do not map onto the limiter's single prompt-plus-completion budget (and pacing by tokens
    /// would cost a count-tokens call per prompt), so they are left to the 429 handling.
    /// </summary>
    private void ObserveLimits(HttpResponseHeaders headers)
    {
        if (_limiter is not null
            && headers.TryGetValues("anthropic-ratelimit-requests-limit", out var values)
            && int.TryParse(values.FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int rpm))
        {
            _limiter.Observe(rpm, null);
        }
    }

    private static bool IsRetryableStatus(int status) => status is 408 or 409 or 429 or >= 500;

    private static bool? ShouldRetryHeader(HttpResponseHeaders headers) =>
        headers.TryGetValues("x-should-retry", out var values) && values.FirstOrDefault() is { } v
            ? v.Equals("true", StringComparison.OrdinalIgnoreCase) ? true : v.Equals("false", StringComparison.OrdinalIgnoreCase) ? false : null
            : null;

    /// <summary>The server's hint: <c>retry-after-ms</c>, else <c>retry-after</c> (seconds or an HTTP date).</summary>
    internal static TimeSpan? RetryAfter(HttpResponseHeaders headers)
    {
        if (headers.TryGetValues("retry-after-ms", out var ms)
            && double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out double millis) && millis >= 0)
        {
            return TimeSpan.FromMilliseconds(millis);
        }

        if (headers.TryGetValues("retry-after", out var ra) && ra.FirstOrDefault() is { } value)
        {
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds >= 0)
            {
                return TimeSpan.FromSeconds(seconds);
            }

            if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                var wait = at - DateTimeOffset.UtcNow;
                return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
            }
        }

        return null;
    }
}
