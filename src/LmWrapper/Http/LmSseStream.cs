using LmWrapper.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace LmWrapper.Http;

/// <summary>
/// One streamed prediction over server-sent events, for the providers' <see cref="LanguageModel"/> streaming hooks: sends
/// the call through the <see cref="LmHttpPipeline"/> (which retries until the response headers are in), reads the events,
/// and hands each to the provider's parser, which turns them into <see cref="LmStreamingUpdate"/>s. A passing failure (a
/// dropped or cut-off stream, an error event the provider marks as passing) before the first text update is retried under
/// the pipeline's retry policy with the parser reset; after it, it is thrown as an <see cref="LmProviderException"/>.
/// Disposing closes the HTTP stream.
/// </summary>
internal abstract class LmSseStream : IAsyncDisposable
{
    private readonly LmHttpPipeline _pipeline;
    private readonly LmHttpCall _call;
    private readonly CancellationToken _cancellationToken;
    private readonly Queue<LmStreamingUpdate> _ready = new();
    private readonly StringBuilder _data = new();
    private HttpResponseMessage? _response;
    private CancellationTokenSource? _idle;
    private StreamReader? _reader;
    private bool _textGiven;
    private bool _ended;
    private int _retries;
    private TimeSpan _waited;

    /// <param name="pipeline">The provider's pipeline.</param>
    /// <param name="call">The request (a streaming one: <c>stream: true</c> in its body).</param>
    /// <param name="cancellationToken">Cancels reading and every wait.</param>
    protected LmSseStream(LmHttpPipeline pipeline, LmHttpCall call, CancellationToken cancellationToken)
    {
        _pipeline = pipeline;
        _call = call with { Completion = HttpCompletionOption.ResponseHeadersRead };
        _cancellationToken = cancellationToken;
    }

    /// <summary>The provider's name for messages.</summary>
    protected string ProviderName => _pipeline.Settings.ProviderName;

    /// <summary>The request id header of the current attempt's response.</summary>
    protected string? RequestId { get; private set; }

    /// <summary>The next update, or null when the stream has ended and every update was given.</summary>
    /// <exception cref="LmProviderException">The stream failed (after retries, or after text was given).</exception>
    public async ValueTask<LmStreamingUpdate?> NextAsync()
    {
        while (true)
        {
            _cancellationToken.ThrowIfCancellationRequested();
            if (_ready.TryDequeue(out var update))
            {
                _textGiven |= update.Text.Length > 0 || update.Tokens is { Count: > 0 };
                return update;
            }

            if (_ended)
            {
                return null;
            }

            if (_reader is null)
            {
                await ConnectAsync().ConfigureAwait(false); // the pipeline's own retries and errors
            }

            try
            {
                await ReadEventAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (!_textGiven && !_cancellationToken.IsCancellationRequested && IsPassing(e))
            {
                await CloseAsync().ConfigureAwait(false);
                _ready.Clear();
                Reset();
                var policy = _call.Retry ?? _pipeline.Settings.Retry;
                var delay = policy.GetDelay(++_retries, null, _waited);
                if (delay is null)
                {
                    throw Final(e);
                }

                if (_pipeline.Settings.Logger is { } logger)
                {
                    LmLog.StreamRetry(logger, ProviderName, e.Message, (long)delay.Value.TotalMilliseconds);
                }

                _waited += delay.Value;
                await Task.Delay(delay.Value, _pipeline.Settings.TimeProvider ?? TimeProvider.System, _cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!_cancellationToken.IsCancellationRequested && (IsPassing(e) || e is LmSseErrorEvent))
            {
                await CloseAsync().ConfigureAwait(false);
                throw Final(e);
            }
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => CloseAsync();

    /// <summary>Forgets what an abandoned attempt streamed (nothing of it reached the caller).</summary>
    protected abstract void Reset();

    /// <summary>
    /// Reads one event: calls <see cref="Emit"/> for the updates it makes and <see cref="End"/> at the stream's last
    /// event; throws <see cref="LmSseErrorEvent"/> for an error event, <see cref="LmProviderException"/> for an answer it
    /// cannot read.
    /// </summary>
    /// <param name="name">The event's name (<c>event:</c>), or null.</param>
    /// <param name="data">The event's data (its <c>data:</c> lines joined).</param>
    protected abstract void OnEvent(string? name, string data);

    /// <summary>
    /// The failure an error event in the stream stands for: <see cref="LmErrorKind.Server"/> when passing (retried before
    /// any text), else <see cref="LmErrorKind.InvalidRequest"/>; never cached, since the request was accepted.
    /// </summary>
    /// <param name="body">The event's error object.</param>
    /// <param name="passing">Whether the failure is passing (overloaded, a server error).</param>
    protected LmSseErrorEvent ErrorEvent(LmHttpErrorBody body, bool passing)
    {
        ArgumentNullException.ThrowIfNull(body);
        string? code = body.Code ?? body.Type;
        var error = new LmError(
            passing ? LmErrorKind.Server : LmErrorKind.InvalidRequest,
            $"{ProviderName} sent an error event in the stream{(code is null ? string.Empty : " (" + code + ")")}: {body.Message ?? "(no message)"}",
            200,
            code,
            RequestId) { IsPermanent = false };
        return new LmSseErrorEvent(error, passing);
    }

    /// <summary>Queues an update for the caller.</summary>
    /// <param name="update">The update.</param>
    protected void Emit(LmStreamingUpdate update) => _ready.Enqueue(update);

    /// <summary>Marks the stream as complete (after the updates already emitted).</summary>
    protected void End() => _ended = true;

    private static bool IsPassing(Exception e) => e is IOException or HttpRequestException || (e is LmSseErrorEvent { IsPassing: true });

    private LmProviderException Final(Exception e)
    {
        string after = _textGiven ? " after part of the answer was streamed" : _retries > 0 ? $" ({_retries} retries)" : string.Empty;
        return e switch
        {
            LmSseErrorEvent error => new LmProviderException(error.Error with { Message = error.Error.Message + after }, e),
            LmProviderException provider => provider,
            _ => new LmProviderException(new LmError(LmErrorKind.Transport, $"{ProviderName}: the stream broke{after}: {e.Message}", RequestId: RequestId), e),
        };
    }

    private async Task ConnectAsync()
    {
        _response = await _pipeline.SendAsync(_call, _cancellationToken).ConfigureAwait(false);
        RequestId = LmHttpErrors.RequestId(_response.Headers);
        string? type = _response.Content.Headers.ContentType?.MediaType;
        if (!string.Equals(type, "text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            string start = await ReadStartAsync(_response).ConfigureAwait(false);
            await CloseAsync().ConfigureAwait(false);
            throw new LmProviderException(new LmError(
                LmErrorKind.MalformedResponse, $"{ProviderName} answered a streamed request with {type ?? "no content type"} instead of an event stream; it begins: {start}", 200, RequestId: RequestId));
        }

        var stream = await _response.Content.ReadAsStreamAsync(_cancellationToken).ConfigureAwait(false);
        _reader = new StreamReader(stream, Encoding.UTF8);
        _idle = CancellationTokenSource.CreateLinkedTokenSource(_cancellationToken);
    }

    private async Task<string> ReadStartAsync(HttpResponseMessage response)
    {
        try
        {
            string body = await response.Content.ReadAsStringAsync(_cancellationToken).ConfigureAwait(false);
            return body.Length <= 200 ? body : body[..200];
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            return string.Empty;
        }
    }

    /// <summary>Reads lines up to the end of one event and dispatches it (or notes the end of the stream).</summary>
    private async Task ReadEventAsync()
    {
        string? name = null;
        _data.Clear();
        bool hasData = false;
        while (true)
        {
            string? line = await ReadLineAsync().ConfigureAwait(false);
            if (line is null)
            {
                throw new IOException("the connection closed before the stream's last event");
            }

            if (line.Length == 0)
            {
                if (hasData || name is not null)
                {
                    OnEvent(name, _data.ToString());
                    return;
                }

                continue;
            }

            if (line[0] == ':')
            {
                continue; // a comment (keep-alive)
            }

            int colon = line.IndexOf(':', StringComparison.Ordinal);
            string field = colon < 0 ? line : line[..colon];
            string value = colon < 0 ? string.Empty : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            if (field == "event")
            {
                name = value;
            }
            else if (field == "data")
            {
                if (hasData)
                {
                    _data.Append('\n');
                }

                _data.Append(value);
                hasData = true;
            }
        }
    }

    /// <summary>
    /// Reads a line, waiting at most the pipeline's <see cref="LmHttpPipelineSettings.RequestTimeout"/> for it: a stream
    /// that goes quiet that long is a failure like a dropped connection, not a wait without end.
    /// </summary>
    private async Task<string?> ReadLineAsync()
    {
        var timeout = _pipeline.Settings.RequestTimeout;
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            _idle!.CancelAfter(timeout);
        }

        try
        {
            return await _reader!.ReadLineAsync(_idle!.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!_cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"no event within {timeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s", e);
        }
    }

    private async ValueTask CloseAsync()
    {
        if (_reader is { } reader && !_ended)
        {
            await AbortAsync(reader.BaseStream).ConfigureAwait(false);
        }

        _reader?.Dispose();
        _reader = null;
        _response?.Dispose();
        _response = null;
        _idle?.Dispose();
        _idle = null;
    }

    /// <summary>
    /// Closes the connection of a stream left before its end. Disposing alone would drain the rest of the stream to reuse
    /// the connection (the model would keep generating, and billing); a read cancelled in flight makes the handler drop
    /// the connection instead. What is already buffered is read first, as any read would.
    /// </summary>
    private static async Task AbortAsync(Stream stream)
    {
        byte[] buffer = new byte[8192];
        for (int i = 0; i < 256; i++)
        {
            using var cts = new CancellationTokenSource();
            int read;
            try
            {
                var pending = stream.ReadAsync(buffer, cts.Token);
                if (!pending.IsCompleted)
                {
                    await cts.CancelAsync().ConfigureAwait(false);
                }

                read = await pending.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException or ObjectDisposedException)
            {
                return;
            }

            if (read == 0 || cts.IsCancellationRequested)
            {
                return;
            }
        }
    }
}

/// <summary>An error event in a provider's stream (thrown by <see cref="LmSseStream"/> parsers).</summary>
/// <param name="error">What the provider said.</param>
/// <param name="isPassing">Whether the failure is passing (overloaded, a server error), so that it is retried before any text.</param>
internal sealed class LmSseErrorEvent(LmError error, bool isPassing) : Exception(error.Message)
{
    /// <summary>What the provider said.</summary>
    public LmError Error { get; } = error;

    /// <summary>Whether the failure is passing.</summary>
    public bool IsPassing { get; } = isPassing;
}
