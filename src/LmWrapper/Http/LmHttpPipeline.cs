using System.Globalization;
using System.Net.Http.Headers;
using LmWrapper.Diagnostics;
using LmWrapper.Retry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LmWrapper.Http;

/// <summary>
/// The one resilience layer every LmWrapper HTTP call goes through (OpenAI, Anthropic, both batch APIs, the Hugging Face
/// hub): a per-attempt timeout, a limit on the whole call (<see cref="LmHttpPipelineSettings.TotalTimeout"/>), retries of passing failures (429, 408, 409, 5xx, dropped connections, timeouts) that
/// honour the server's hints (<see cref="LmRetryHints"/>) within the policy's total-wait budget, the model's rate limiter
/// (held back while one request waits out a 429), no retry of a refused connection (nothing listens there: reported at
/// once, naming the address), no blind retry of a call that is not safe to repeat, and one mapping
/// of final failures (<see cref="LmHttpErrors"/>): <see cref="LmAuthenticationException"/> for 401/403,
/// <see cref="LmRateLimitException"/> for an exhausted 429 and <see cref="LmProviderException"/> for the rest.
/// </summary>
public sealed class LmHttpPipeline
{
    private readonly HttpClient _http;
    private readonly LmHttpPipelineSettings _settings;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <summary>Creates the pipeline over a client (whose own <see cref="HttpClient.Timeout"/> also applies; the pipeline does not dispose it).</summary>
    /// <param name="http">The client to send through.</param>
    /// <param name="settings">Retries, timeout, headers and messages.</param>
    public LmHttpPipeline(HttpClient http, LmHttpPipelineSettings settings)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Retry.Validate();
        if (settings.RequestTimeout <= TimeSpan.Zero && settings.RequestTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.RequestTimeout, "RequestTimeout must be positive (or infinite).");
        }

        if (settings.TotalTimeout is { } total && total <= TimeSpan.Zero && total != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), total, "TotalTimeout must be positive, infinite, or null for the default.");
        }

        _http = http;
        _settings = settings;
        _logger = settings.Logger ?? NullLogger.Instance;
        _time = settings.TimeProvider ?? TimeProvider.System;
    }

    /// <summary>The settings the pipeline was made with.</summary>
    public LmHttpPipelineSettings Settings => _settings;

    /// <summary>
    /// Sends a call and returns its successful response (or, with <see cref="LmHttpCall.ThrowOnErrorStatus"/> false, its
    /// final answer whatever the status). The caller disposes the response.
    /// </summary>
    /// <param name="call">The call.</param>
    /// <param name="cancellationToken">Cancels the call and every wait.</param>
    /// <exception cref="LmAuthenticationException">HTTP 401 or 403.</exception>
    /// <exception cref="LmRateLimitException">429 on every attempt the budget allowed (or retrying was off).</exception>
    /// <exception cref="LmProviderException">Any other failure that retrying did not mend.</exception>
    public Task<HttpResponseMessage> SendAsync(LmHttpCall call, CancellationToken cancellationToken) =>
        SendCoreAsync(call, static (response, _) => Task.FromResult(response), recover: null, cancellationToken, disposeResponse: false);

    /// <summary>
    /// Sends a call and reads its successful response with <paramref name="read"/> inside the attempt (a body cut off
    /// while being read is a passing failure, retried like a dropped connection).
    /// </summary>
    /// <typeparam name="T">What the response is read into.</typeparam>
    /// <param name="call">The call.</param>
    /// <param name="read">Reads the response (which the pipeline disposes afterwards).</param>
    /// <param name="recover">
    /// For a call that is not <see cref="LmHttpCall.SafeToRetry"/>: after an attempt that may have taken effect, finds what
    /// it did (for example the batch it created) and returns it, or null when it took no effect, so the call is sent
    /// again. Without it such a call is not retried after an unclear outcome.
    /// </param>
    /// <param name="cancellationToken">Cancels the call and every wait.</param>
    /// <exception cref="LmAuthenticationException">HTTP 401 or 403.</exception>
    /// <exception cref="LmRateLimitException">429 on every attempt the budget allowed (or retrying was off).</exception>
    /// <exception cref="LmProviderException">Any other failure that retrying did not mend.</exception>
    public Task<T> SendAsync<T>(
        LmHttpCall call,
        Func<HttpResponseMessage, CancellationToken, Task<T>> read,
        Func<CancellationToken, Task<T?>>? recover,
        CancellationToken cancellationToken)
        where T : class =>
        SendCoreAsync(call, read, recover, cancellationToken, disposeResponse: true);

    /// <summary>
    /// Runs an operation that is not one HTTP request (a resumable download) under the same retry policy: it is run again
    /// while it returns false (not done yet) or throws a passing failure (<see cref="HttpRequestException"/>,
    /// <see cref="IOException"/>, or what <paramref name="isTransient"/> accepts), within the policy's retries and budget.
    /// </summary>
    /// <param name="what">What the operation does, for messages ("downloading model.safetensors").</param>
    /// <param name="operation">One attempt; true when done.</param>
    /// <param name="isTransient">Which other exceptions are passing failures; null for none.</param>
    /// <param name="cancellationToken">Cancels the operation and every wait.</param>
    /// <exception cref="LmProviderException">The operation did not finish within the retries (<see cref="LmErrorKind.Transport"/>).</exception>
    public async Task ExecuteAsync(string what, Func<CancellationToken, Task<bool>> operation, Func<Exception, bool>? isTransient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(operation);
        var policy = _settings.Retry;
        TimeSpan waited = TimeSpan.Zero;
        for (int attempt = 1; ; attempt++)
        {
            Exception? fault = null;
            try
            {
                if (await operation(cancellationToken).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested
                && (e is HttpRequestException or IOException || (isTransient?.Invoke(e) ?? false)))
            {
                fault = e;
            }

            var delay = policy.GetDelay(attempt, null, waited)
                ?? throw new LmProviderException(
                    new LmError(LmErrorKind.Transport, $"{_settings.ProviderName}: {what} did not finish after {attempt} attempt(s){(fault is null ? "." : ": " + fault.Message)}"),
                    fault);
            LmLog.OperationRetry(_logger, fault, _settings.ProviderName, what, attempt, (long)delay.TotalMilliseconds);
            ModelTelemetry.RecordRetry(_settings.Model, attempt, delay, fault?.GetType().Name ?? "incomplete");
            waited += delay;
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<T> SendCoreAsync<T>(
        LmHttpCall call,
        Func<HttpResponseMessage, CancellationToken, Task<T>> read,
        Func<CancellationToken, Task<T?>>? recover,
        CancellationToken cancellationToken,
        bool disposeResponse)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(read);
        var policy = call.Retry ?? _settings.Retry;
        var limiter = call.UsesRateLimiter ? _settings.RateLimiter : null;
        TimeSpan total = _settings.EffectiveTotalTimeout;
        long started = _time.GetTimestamp();
        using var deadline = total == Timeout.InfiniteTimeSpan ? null : new CancellationTokenSource(total, _time);
        using var callSource = deadline is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var callToken = callSource?.Token ?? cancellationToken;
        TimeSpan Left() => total == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan : total - _time.GetElapsedTime(started);
        TimeSpan waited = TimeSpan.Zero;
        Failure? last = null;
        int attempt = 1;
        try
        {
            for (; ; attempt++)
            {
                if (limiter?.RemainingPause is { } pause && pause > TimeSpan.Zero)
                {
                    // Another request of this model was told to wait: sending now would only earn another 429.
                    if (waited + pause > policy.MaxTotalWait || (total != Timeout.InfiniteTimeSpan && pause >= Left()))
                    {
                        throw new LmRateLimitException(
                            $"{_settings.ProviderName} is rate limiting this model: it is paused for {Seconds(pause)} s more, past the retry budget ({Seconds(policy.MaxTotalWait)} s of waiting, {Seconds(total)} s in all).", pause);
                    }

                    await Task.Delay(pause, _time, callToken).ConfigureAwait(false);
                    waited += pause;
                }

                Failure failure;
                TimeSpan attemptLimit = _settings.RequestTimeout;
                using (var timeout = attemptLimit == Timeout.InfiniteTimeSpan ? null : new CancellationTokenSource(attemptLimit, _time))
                using (var linked = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(callToken, timeout.Token))
                {
                    var token = linked?.Token ?? callToken;
                    HttpResponseMessage? response = null;
                    Uri? uri = null;
                    try
                    {
                        using (var request = call.CreateRequest())
                        {
                            _settings.PrepareRequest?.Invoke(request);
                            uri = request.RequestUri;
                            response = await _http.SendAsync(request, call.Completion, token).ConfigureAwait(false);
                        }

                        if (limiter is not null)
                        {
                            ObserveLimits(limiter, response.Headers);
                        }

                        int status = (int)response.StatusCode;
                        if (response.IsSuccessStatusCode)
                        {
                            var result = await read(response, token).ConfigureAwait(false);
                            if (!disposeResponse)
                            {
                                response = null; // the caller's now
                            }

                            return result;
                        }

                        byte[] bytes = call.ThrowOnErrorStatus || call.Completion == HttpCompletionOption.ResponseContentRead
                            ? await ReadBodyAsync(response, token).ConfigureAwait(false)
                            : [];
                        var body = LmHttpErrors.ReadBody(bytes);
                        var hint = LmRetryHints.FromHeaders(response.Headers, _time.GetUtcNow());
                        bool retry = LmHttpErrors.ShouldRetry(status, body, response.Headers) && (status != 429 || call.RetryOnRateLimit);
                        if (!call.ThrowOnErrorStatus && (!retry || policy.GetDelay(attempt, hint, waited) is null))
                        {
                            // The caller reads the final answer itself (its own messages for 404s, gated repositories, …).
                            var given = response;
                            response = null;
                            return await read(given, token).ConfigureAwait(false);
                        }

                        failure = new Failure(status, body, LmHttpErrors.RequestId(response.Headers), hint, null, retry);
                    }
                    catch (Exception e) when (!cancellationToken.IsCancellationRequested
                        && (e is HttpRequestException or IOException || (e is OperationCanceledException
                            && (timeout?.IsCancellationRequested == true || deadline?.IsCancellationRequested == true))))
                    {
                        bool timedOut = e is OperationCanceledException;
                        bool refused = !timedOut && IsConnectionRefused(e);
                        string what = timedOut
                            ? deadline?.IsCancellationRequested == true
                                ? $"no answer before the call's total time limit ({Seconds(total)} s, TotalTimeout) ran out"
                                : $"no answer within {Seconds(_settings.RequestTimeout)} s (RequestTimeout)"
                            : DescribeTransport(e, uri);

                        // A refused connection is not passing: nothing listens at that address, and waiting will not start it.
                        failure = new Failure(null, null, null, null, new LmProviderException(new LmError(LmErrorKind.Transport, what), e), Retry: !refused);
                    }
                    finally
                    {
                        response?.Dispose();
                    }
                }

                last = failure;
                if (deadline?.IsCancellationRequested == true)
                {
                    throw OutOfTime(total, attempt, failure);
                }

                if (failure.Status is { } s && LmHttpErrors.IsAuthenticationStatus(s))
                {
                    // The provider's own message is left out: it may echo part of the key.
                    throw new LmAuthenticationException(
                        $"{_settings.ProviderName} rejected the API key{(_settings.KeySource is null ? string.Empty : " from " + _settings.KeySource)} "
                        + $"(HTTP {s.ToString(CultureInfo.InvariantCulture)}{(failure.Body!.Code ?? failure.Body.Type) switch { null => string.Empty, var c => ", " + c }}). "
                        + (_settings.AuthenticationHint ?? "Check the key and its permissions."));
                }

                // A call that is not safe to repeat may have taken effect when the answer is unclear (none, or a failure status
                // other than 429, which is never acted on): look before sending it again.
                bool unclear = !call.SafeToRetry && (failure.Status is null || failure.Status != 429);
                if (failure.Retry && unclear)
                {
                    if (recover is null)
                    {
                        throw Final(failure, attempt);
                    }

                    if (await recover(callToken).ConfigureAwait(false) is { } found)
                    {
                        return found;
                    }
                }

                var delay = failure.Retry ? policy.GetDelay(attempt, failure.Hint, waited) : null;
                if (delay is null)
                {
                    throw Final(failure, attempt);
                }

                if (total != Timeout.InfiniteTimeSpan && delay.Value >= Left())
                {
                    // Waiting would use up the call's time before the next attempt could even start.
                    throw OutOfTime(total, attempt, failure);
                }

                if (failure.Status == 429)
                {
                    limiter?.Pause(delay.Value); // the whole model holds back, not just this request
                }

                LmLog.HttpRetry(_logger, _settings.ProviderName, attempt, failure.Describe(), (long)delay.Value.TotalMilliseconds);
                ModelTelemetry.RecordRetry(_settings.Model, attempt, delay.Value, failure.Status is { } code ? ModelTelemetry.StatusText(code) : "transport");
                waited += delay.Value;
                await Task.Delay(delay.Value, _time, callToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (deadline?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            // The total limit ran out during a wait (a retry's, the rate limiter's) or a recovery look.
            throw OutOfTime(total, attempt, last);
        }
    }

    /// <summary>The failure of a call whose <see cref="LmHttpPipelineSettings.TotalTimeout"/> ran out.</summary>
    private LmProviderException OutOfTime(TimeSpan total, int attempts, Failure? last)
    {
        string lastFailure = last is null ? string.Empty : $" The last attempt: {last.Describe()}.";
        return new LmProviderException(
            new LmError(
                LmErrorKind.Transport,
                $"{_settings.ProviderName} gave no final answer within the call's total time limit of {Seconds(total)} s (TotalTimeout) "
                + $"after {attempts.ToString(CultureInfo.InvariantCulture)} attempt(s).{lastFailure}"),
            last?.Transport?.InnerException);
    }

    /// <summary>Whether a transport failure is a refused connection (nothing listening at the address).</summary>
    private static bool IsConnectionRefused(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Says what went wrong with the connection in words a user can act on.</summary>
    private static string DescribeTransport(Exception e, Uri? uri)
    {
        string where = uri is null ? "the server" : $"{uri.Host}:{uri.Port.ToString(CultureInfo.InvariantCulture)}";
        string innermost = e.Message;
        for (var x = e.InnerException; x is not null; x = x.InnerException)
        {
            innermost = x.Message;
        }

        if (IsConnectionRefused(e))
        {
            return $"the connection to {where} was refused: nothing is listening there. Check the base URL and that the server is running";
        }

        if (e is HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError })
        {
            return $"the host name {uri?.Host ?? "(unknown)"} could not be resolved. Check the base URL and the network";
        }

        if (e is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError })
        {
            return $"the secure (TLS) connection to {where} could not be set up: {innermost}";
        }

        if (e is IOException || e is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded or HttpRequestError.InvalidResponse }
            || e.InnerException is IOException)
        {
            return $"the connection to {where} was dropped before the whole answer arrived ({innermost})";
        }

        return $"{e.GetType().Name}: {e.Message}{(innermost == e.Message ? string.Empty : " (" + innermost + ")")}";
    }

    private LmProviderException Final(Failure failure, int attempts)
    {
        if (failure.Transport is { } transport)
        {
            var e = transport.Error;
            return new LmProviderException(
                e with { Message = $"{_settings.ProviderName} gave no answer{(attempts > 1 ? $" after {attempts} attempts" : string.Empty)}: {e.Message}" },
                transport.InnerException);
        }

        var error = LmHttpErrors.ToError(_settings.ProviderName, failure.Status!.Value, failure.Body!, failure.RequestId, attempts);
        return error.Kind == LmErrorKind.RateLimitExhausted
            ? new LmRateLimitException(
                failure.Hint is { } h && failure.Retry ? error with { Message = error.Message + $" It asked to wait {Seconds(h)} s, past the retry budget." } : error,
                failure.Hint)
            : new LmProviderException(error);
    }

    private static async Task<byte[]> ReadBodyAsync(HttpResponseMessage response, CancellationToken token)
    {
        try
        {
            return await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return [];
        }
    }

    /// <summary>Teaches the limiter the account's limits: OpenAI's x-ratelimit-limit-* and Anthropic's anthropic-ratelimit-requests-limit.</summary>
    private static void ObserveLimits(RateLimiting.LmRateLimiter limiter, HttpResponseHeaders headers)
    {
        long? requests = Read(headers, "x-ratelimit-limit-requests") ?? Read(headers, "anthropic-ratelimit-requests-limit");
        long? tokens = Read(headers, "x-ratelimit-limit-tokens");
        if (requests is not null || tokens is not null)
        {
            limiter.Observe(requests is > int.MaxValue ? int.MaxValue : (int?)requests, tokens);
        }

        static long? Read(HttpResponseHeaders h, string name) =>
            h.TryGetValues(name, out var v) && long.TryParse(v.FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : null;
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    private sealed record Failure(int? Status, LmHttpErrorBody? Body, string? RequestId, TimeSpan? Hint, LmProviderException? Transport, bool Retry)
    {
        public string Describe() => Transport?.Message
            ?? $"HTTP {Status?.ToString(CultureInfo.InvariantCulture)}: {Body?.Message ?? "(no message)"}";
    }
}
