using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace LmWrapper.Testing;

/// <summary>
/// A faithful fake of the OpenAI HTTP API on 127.0.0.1 (a free port), for offline tests of LmWrapper and of your own
/// code: chat completions, legacy completions, models, files and batches, with the published request and response
/// shapes, OpenAI-style validation errors, API key checks, fault injection and a record of every request.
/// </summary>
/// <example>
/// <code>
/// await using var server = new FakeOpenAiServer();
/// await server.StartAsync();
/// // point any OpenAI client at server.BaseUrl ("http://127.0.0.1:PORT/v1") with key FakeOpenAiServer.DefaultApiKey
/// server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(5)), times: 2);
/// ...
/// Assert.Equal("/v1/chat/completions", server.Requests[^1].Path);
/// </code>
/// </example>
public sealed partial class FakeOpenAiServer : IAsyncDisposable
{
    /// <summary>The API key the server accepts unless <see cref="FakeOpenAiServerOptions.ValidApiKeys"/> says otherwise.</summary>
    public const string DefaultApiKey = "sk-fake-0123456789abcdef";

    private readonly ConcurrentQueue<FakeOpenAiFault> _faults = new();
    private readonly ConcurrentQueue<FakeOpenAiRecordedRequest> _requests = new();
    private readonly ConcurrentDictionary<string, FakeOpenAiModel> _models = new(StringComparer.Ordinal);
    private readonly HashSet<string> _validKeys;
    private readonly FakeOpenAiStore _store;
    private Func<FakeOpenAiBatchInfo, FakeOpenAiBatchPlan?>? _batchPlanner;
    private WebApplication? _app;
    private string? _baseUrl;
    private Func<FakeOpenAiGenerationRequest, FakeOpenAiReply> _responder;
    private long _requestCounter;

    /// <summary>Creates a server (call <see cref="StartAsync"/> to listen).</summary>
    /// <param name="options">Keys, models and responder; null for the defaults.</param>
    public FakeOpenAiServer(FakeOpenAiServerOptions? options = null)
    {
        Options = options ?? new FakeOpenAiServerOptions();
        _validKeys = new HashSet<string>(Options.ValidApiKeys, StringComparer.Ordinal);
        foreach (var m in Options.Models)
        {
            _models[m.Id] = m;
        }

        _responder = Options.Responder ?? DefaultResponder;
        _store = new FakeOpenAiStore(this);
    }

    /// <summary>The settings the server was created with.</summary>
    public FakeOpenAiServerOptions Options { get; }

    /// <summary>The API's base URL, ending in "/v1" (for example "http://127.0.0.1:54321/v1").</summary>
    /// <exception cref="InvalidOperationException">The server has not been started.</exception>
    public string BaseUrl => _baseUrl ?? throw new InvalidOperationException("Call StartAsync first.");

    /// <summary>What the model says; replace it at any time (it must be thread-safe).</summary>
    public Func<FakeOpenAiGenerationRequest, FakeOpenAiReply> Responder
    {
        get => Volatile.Read(ref _responder);
        set => Volatile.Write(ref _responder, value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>
    /// Decides, when a batch is created, how it ends and which of its lines fail (null or a null answer: it completes).
    /// Replace it at any time (it must be thread-safe).
    /// </summary>
    public Func<FakeOpenAiBatchInfo, FakeOpenAiBatchPlan?>? BatchPlanner
    {
        get => Volatile.Read(ref _batchPlanner);
        set => Volatile.Write(ref _batchPlanner, value);
    }

    /// <summary>Every batch created so far, oldest first, as each stands now (without moving any along its stages).</summary>
    public IReadOnlyList<FakeOpenAiBatchInfo> Batches => _store.Batches;

    /// <summary>The ids of the files the server holds (uploaded, and batch output and error files).</summary>
    public IReadOnlyCollection<string> FileIds => _store.FileIds;

    /// <summary>
    /// Cancels a batch from outside (as a person could from OpenAI's dashboard): it becomes "cancelling", then "cancelled"
    /// with the first <paramref name="answered"/> requests answered (default: half while in progress).
    /// </summary>
    /// <param name="batchId">The batch.</param>
    /// <param name="answered">How many requests ran before the cancellation.</param>
    public void CancelBatch(string batchId, int? answered = null) => _store.CancelFromOutside(batchId, answered);

    /// <summary>Expires a running batch now, with the first <paramref name="answered"/> requests answered (default half).</summary>
    /// <param name="batchId">The batch.</param>
    /// <param name="answered">How many requests ran before the completion window ran out.</param>
    public void ExpireBatch(string batchId, int? answered = null) => _store.ExpireNow(batchId, answered);

    /// <summary>Every request received so far, oldest first (when <see cref="FakeOpenAiServerOptions.RecordRequests"/>).</summary>
    public IReadOnlyList<FakeOpenAiRecordedRequest> Requests => [.. _requests];

    /// <summary>How many injected faults are still waiting for a request.</summary>
    public int PendingFaults => _faults.Count;

    /// <summary>Starts a server and returns it once it listens.</summary>
    /// <param name="options">Keys, models and responder; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<FakeOpenAiServer> StartNewAsync(FakeOpenAiServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var server = new FakeOpenAiServer(options);
        await server.StartAsync(cancellationToken).ConfigureAwait(false);
        return server;
    }

    /// <summary>Starts listening on 127.0.0.1 at a free port.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_app is not null)
        {
            throw new InvalidOperationException("The server is already started.");
        }

        var (app, address) = await LoopbackHost.StartAsync(
            HandleAsync,
            builder =>
            {
                builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 256L * 1024 * 1024);
                builder.Services.Configure<Microsoft.AspNetCore.Http.Features.FormOptions>(f => f.MultipartBodyLengthLimit = 256L * 1024 * 1024);
            },
            cancellationToken).ConfigureAwait(false);
        _app = app;
        _baseUrl = address + "/v1";
    }

    /// <summary>
    /// Makes the next <paramref name="times"/> requests (those matching <see cref="FakeOpenAiFault.PathPrefix"/>, when
    /// set) meet <paramref name="fault"/>, after any faults already queued.
    /// </summary>
    /// <param name="fault">The fault.</param>
    /// <param name="times">How many requests in a row it affects.</param>
    public void EnqueueFault(FakeOpenAiFault fault, int times = 1)
    {
        ArgumentNullException.ThrowIfNull(fault);
        ArgumentOutOfRangeException.ThrowIfNegative(times);
        for (int i = 0; i < times; i++)
        {
            _faults.Enqueue(fault);
        }
    }

    /// <summary>Drops every fault still waiting.</summary>
    public void ClearFaults() => _faults.Clear();

    /// <summary>Forgets the recorded requests.</summary>
    public void ClearRequests() => _requests.Clear();

    /// <summary>Teaches the server a model (or replaces one), for example a fine-tune or a vLLM-served name.</summary>
    /// <param name="model">The model.</param>
    public void AddModel(FakeOpenAiModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _models[model.Id] = model;
    }

    /// <summary>Stops the server.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await LoopbackHost.StopAsync(app).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The default responder: deterministic text derived from the request. It answers "What is A+B?" arithmetic
    /// ("2+2 is equal to 4.", or just "4" after few-shot turns that answer with bare numbers), talks like a pirate when
    /// the system message asks, continues "Once upon a" with " time, there were three of us.", and otherwise says
    /// what it was asked followed by filler words chosen from a hash of the request (and, when the temperature is
    /// above 0, of the choice index, so samples differ). After tool messages it answers "Tool results: " and their
    /// contents (so a tool loop ends); tool calls and JSON formats are decided by the server before the responder runs.
    /// </summary>
    /// <param name="request">The request.</param>
    public static FakeOpenAiReply DefaultResponder(FakeOpenAiGenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Messages.Count > 0 && request.Messages[^1].Role == "tool")
        {
            // After tool results: an answer that reports them, so a tool loop ends.
            var results = request.Messages.Reverse().TakeWhile(m => m.Role == "tool").Reverse().Select(m => m.Content);
            return new FakeOpenAiReply("Tool results: " + string.Join("; ", results));
        }

        string last = request.LastUserText;
        var math = ArithmeticPattern().Match(last);
        if (math.Success)
        {
            long a = long.Parse(math.Groups[1].Value, CultureInfo.InvariantCulture);
            long b = long.Parse(math.Groups[3].Value, CultureInfo.InvariantCulture);
            string op = math.Groups[2].Value;
            long answer = op switch { "+" => a + b, "-" => a - b, _ => a * b };
            string bare = answer.ToString(CultureInfo.InvariantCulture);
            bool fewShot = request.Messages.Any(m => m.Role == "assistant" && long.TryParse(m.Content.Trim(), out _));
            string sentence = $"{a}{op}{b} is equal to {bare}.";
            return request.IsChat ? (fewShot ? bare : sentence) : " " + sentence;
        }

        if (request.Messages.Any(m => m.Role is "system" or "developer" && m.Content.Contains("pirate", StringComparison.OrdinalIgnoreCase)))
        {
            return last.Contains("bitcoin", StringComparison.OrdinalIgnoreCase)
                ? "Arr, me matey! Bitcoin be a digital currency that be workin' on a technology called blockchain, where every trade be written in a great shared ledger that no single captain can change. Miners be solvin' hard puzzles to add new pages to the ledger, and they be rewarded with shiny new coins for their trouble."
                : "Arr, me matey! Ye be askin' about " + last.TrimEnd('?', '.', '!') + ", and a fine question it be.";
        }

        if (!request.IsChat && last.EndsWith("Once upon a", StringComparison.Ordinal))
        {
            return " time, there were three of us.";
        }

        uint h = FakeTokens.Hash(request.Model + "\u0001" + last, request.Temperature > 0 ? (uint)request.ChoiceIndex : 0u);
        if (request.Seed is { } seed)
        {
            h ^= (uint)seed * 2654435761u;
        }

        var sb = new StringBuilder(request.IsChat ? "You said: \"" : " You said: \"");
        sb.Append(last.Length > 200 ? last[..200] : last).Append("\".");
        string[] words = ["The", "answer", "is", "a", "deterministic", "reply", "that", "depends", "on", "the", "request",
            "and", "nothing", "else", "so", "tests", "can", "rely", "on", "it", "every", "time"];
        for (int i = 0; i < 40; i++)
        {
            h = (h ^ (uint)i) * 16777619u;
            sb.Append(' ').Append(words[h % (uint)words.Length]);
        }

        return sb.Append('.').ToString();
    }

    /// <summary>Like OpenAI's own responses: UTF-8 as is, only what JSON requires escaped.</summary>
    internal static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    internal bool TryGetModel(string id, out FakeOpenAiModel model) => _models.TryGetValue(id, out model!);

    internal IEnumerable<FakeOpenAiModel> AllModels => _models.Values;

    [GeneratedRegex(@"What is (-?\d+)\s*([+\-*x])\s*(-?\d+)\s*\?", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ArithmeticPattern();

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        bool multipart = request.ContentType?.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase) == true;
        byte[] body;
        if (multipart && !Options.RecordRequests)
        {
            body = []; // an upload is read once, as a form, and kept nowhere else
        }
        else
        {
            if (multipart)
            {
                request.EnableBuffering();
            }

            body = await ReadBodyAsync(request, context.RequestAborted).ConfigureAwait(false);
            if (multipart)
            {
                request.Body.Position = 0;
            }
        }

        string? key = null;
        string auth = request.Headers.Authorization.ToString();
        if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            key = auth["Bearer ".Length..].Trim();
        }
        else if (request.Headers.TryGetValue("api-key", out var apiKey))
        {
            key = apiKey.ToString();
        }

        string path = request.Path.Value ?? "/";
        var fault = NextFault(path);
        if (Options.RecordRequests)
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (name, value) in request.Headers)
            {
                if (!name.Equals("authorization", StringComparison.OrdinalIgnoreCase) && !name.Equals("api-key", StringComparison.OrdinalIgnoreCase))
                {
                    headers[name.ToLowerInvariant()] = value.ToString();
                }
            }

            _requests.Enqueue(new FakeOpenAiRecordedRequest(
                request.Method, path, request.QueryString.Value ?? string.Empty, headers, Encoding.UTF8.GetString(body),
                key is null ? null : key.Length <= 4 ? key : key[^4..], fault?.Name, DateTimeOffset.UtcNow));
        }

        var response = context.Response;
        response.Headers["x-request-id"] = "req_" + Interlocked.Increment(ref _requestCounter).ToString("x12", CultureInfo.InvariantCulture);
        response.Headers["openai-version"] = "2020-10-01";
        if (fault is not null)
        {
            if (fault.Delay > TimeSpan.Zero)
            {
                await Task.Delay(fault.Delay, context.RequestAborted).ConfigureAwait(false);
            }

            switch (fault.Kind)
            {
                case FakeOpenAiFaultKind.HttpError:
                    WriteFaultHeaders(response, fault);
                    await WriteErrorAsync(context, new FakeApiError(fault.StatusCode, fault.Message, fault.ErrorType, null, fault.ErrorCode), truncate: false).ConfigureAwait(false);
                    return;
                case FakeOpenAiFaultKind.DropConnection:
                    context.Abort();
                    return;
                case FakeOpenAiFaultKind.MalformedBody:
                    response.StatusCode = 200;
                    response.ContentType = fault.Body is null ? "text/html" : "application/json";
                    await response.WriteAsync(fault.Body ?? "<html><body>502 Bad Gateway (but sent as 200)</body></html>", context.RequestAborted).ConfigureAwait(false);
                    return;
            }
        }

        bool truncate = fault?.Kind == FakeOpenAiFaultKind.TruncatedBody;
        try
        {
            CheckKey(key);
            var (status, json, contentType) = await DispatchAsync(context, path, body).ConfigureAwait(false);
            if (Options.SendRateLimitHeaders)
            {
                var o = Options;
                response.Headers["x-ratelimit-limit-requests"] = o.RequestsPerMinute.ToString(CultureInfo.InvariantCulture);
                response.Headers["x-ratelimit-remaining-requests"] = Math.Max(0, o.RequestsPerMinute - 1).ToString(CultureInfo.InvariantCulture);
                response.Headers["x-ratelimit-reset-requests"] = FormatDuration(TimeSpan.FromMinutes(1.0 / Math.Max(1, o.RequestsPerMinute)));
                response.Headers["x-ratelimit-limit-tokens"] = o.TokensPerMinute.ToString(CultureInfo.InvariantCulture);
                response.Headers["x-ratelimit-remaining-tokens"] = Math.Max(0, o.TokensPerMinute - 100).ToString(CultureInfo.InvariantCulture);
                response.Headers["x-ratelimit-reset-tokens"] = "0s";
            }

            response.Headers["openai-processing-ms"] = "1";
            if (contentType == EventStream)
            {
                await WriteEventStreamAsync(context, json, fault).ConfigureAwait(false);
                return;
            }

            await WriteAsync(context, status, json, contentType, truncate).ConfigureAwait(false);
        }
        catch (FakeApiError e)
        {
            await WriteErrorAsync(context, e, truncate).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && !response.HasStarted)
        {
            // A responder that throws is a server fault, answered the way OpenAI answers its own.
            var error = new FakeApiError(500, "The server had an error while processing your request. Sorry about that! (" + e.GetType().Name + ": " + e.Message + ")", "server_error");
            await WriteErrorAsync(context, error, truncate).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// How long the server waits between two events of a streamed answer (<c>stream: true</c>); zero (the default) sends
    /// them as fast as it can. Set it to give a test time to act while a stream is open.
    /// </summary>
    public TimeSpan StreamEventDelay { get; set; }

    /// <summary>How many streamed answers the client closed before their last event (by cancelling, say).</summary>
    public int AbortedStreams => Volatile.Read(ref _abortedStreams);

    private const string EventStream = "text/event-stream";

    private int _abortedStreams;

    /// <summary>Sends an event stream one event at a time, flushing each, and plays a stream fault (cut or error event).</summary>
    private async Task WriteEventStreamAsync(HttpContext context, byte[] body, FakeOpenAiFault? fault)
    {
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        if (fault?.Kind == FakeOpenAiFaultKind.StreamCut)
        {
            response.Headers.Connection = "close";
        }

        var aborted = context.RequestAborted;
        string[] events = Encoding.UTF8.GetString(body).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        int? at = fault?.Kind is FakeOpenAiFaultKind.StreamCut or FakeOpenAiFaultKind.StreamError ? Math.Min(fault.AfterEvents, events.Length) : null;
        try
        {
            for (int i = 0; i <= events.Length; i++)
            {
                if (i == at)
                {
                    if (fault!.Kind == FakeOpenAiFaultKind.StreamCut)
                    {
                        return; // the body ends here, without its last events, and the connection is closed
                    }

                    // OpenAI reports a failure after the headers as a data event holding an error object, then stops.
                    var error = new System.Buffers.ArrayBufferWriter<byte>(256);
                    using (var w = new Utf8JsonWriter(error, JsonOptions))
                    {
                        w.WriteStartObject();
                        w.WriteStartObject("error");
                        w.WriteString("message", fault.Message);
                        w.WriteString("type", fault.ErrorType);
                        w.WriteNull("param");
                        WriteNullable(w, "code", fault.ErrorCode);
                        w.WriteEndObject();
                        w.WriteEndObject();
                    }

                    await response.WriteAsync("data: " + Encoding.UTF8.GetString(error.WrittenSpan) + "\n\n", aborted).ConfigureAwait(false);
                    return;
                }

                if (i == events.Length)
                {
                    return;
                }

                if (i > 0 && StreamEventDelay > TimeSpan.Zero)
                {
                    await Task.Delay(StreamEventDelay, aborted).ConfigureAwait(false);
                }

                await response.WriteAsync(events[i] + "\n\n", aborted).ConfigureAwait(false);
                await response.Body.FlushAsync(aborted).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (aborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            Interlocked.Increment(ref _abortedStreams);
        }
    }

    private FakeOpenAiFault? NextFault(string path)
    {
        if (_faults.IsEmpty)
        {
            return null;
        }

        lock (_faults)
        {
            return _faults.TryPeek(out var head) && (head.PathPrefix is null || path.StartsWith(head.PathPrefix, StringComparison.Ordinal))
                && _faults.TryDequeue(out var fault) ? fault : null;
        }
    }

    private void CheckKey(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw new FakeApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.");
        }

        if (_validKeys.Count > 0 && !_validKeys.Contains(key))
        {
            string shown = key.Length <= 8 ? "****" : key[..3] + "*****" + key[^4..];
            throw new FakeApiError(401, $"Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/account/api-keys.", code: "invalid_api_key");
        }
    }

    private async Task<(int Status, byte[] Body, string ContentType)> DispatchAsync(HttpContext context, string path, byte[] body)
    {
        string method = context.Request.Method;
        const string Json = "application/json";
        if (!path.StartsWith("/v1/", StringComparison.Ordinal))
        {
            throw InvalidUrl(method, path);
        }

        string[] parts = path[4..].TrimEnd('/').Split('/');
        switch (parts[0])
        {
            case "chat" when parts.Length == 2 && parts[1] == "completions" && method == "POST":
            {
                byte[] answer = FakeOpenAiGeneration.Chat(this, body, allowStream: true, out bool streamed);
                return (200, answer, streamed ? EventStream : Json);
            }

            case "completions" when parts.Length == 1 && method == "POST":
            {
                byte[] answer = FakeOpenAiGeneration.Completions(this, body, allowStream: true, out bool streamed);
                return (200, answer, streamed ? EventStream : Json);
            }

            case "models" when method == "GET" && parts.Length == 1:
                return (200, FakeOpenAiGeneration.ListModels(this), Json);
            case "models" when method == "GET" && parts.Length == 2:
                return (200, FakeOpenAiGeneration.GetModel(this, parts[1]), Json);
            case "files" when parts.Length == 1 && method == "POST":
                return (200, await _store.UploadAsync(context.Request).ConfigureAwait(false), Json);
            case "files" when parts.Length == 1 && method == "GET":
                return (200, _store.ListFiles(context.Request.Query), Json);
            case "files" when parts.Length == 2 && method == "GET":
                return (200, _store.GetFile(parts[1]), Json);
            case "files" when parts.Length == 2 && method == "DELETE":
                return (200, _store.DeleteFile(parts[1]), Json);
            case "files" when parts.Length == 3 && parts[2] == "content" && method == "GET":
                return (200, _store.FileContent(parts[1]), "application/octet-stream");
            case "batches" when parts.Length == 1 && method == "POST":
                return (200, _store.CreateBatch(body), Json);
            case "batches" when parts.Length == 1 && method == "GET":
                return (200, _store.ListBatches(context.Request.Query), Json);
            case "batches" when parts.Length == 2 && method == "GET":
                return (200, _store.GetBatch(parts[1]), Json);
            case "batches" when parts.Length == 3 && parts[2] == "cancel" && method == "POST":
                return (200, _store.CancelBatch(parts[1]), Json);
            default:
                throw InvalidUrl(method, path);
        }
    }

    private static FakeApiError InvalidUrl(string method, string path) => new(404, $"Invalid URL ({method} {path})");

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } length and > 0 and < int.MaxValue)
        {
            byte[] buffer = new byte[length];
            int read = 0;
            while (read < buffer.Length)
            {
                int n = await request.Body.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    return buffer[..read];
                }

                read += n;
            }

            return buffer;
        }

        using var ms = new MemoryStream();
        await request.Body.CopyToAsync(ms, cancellationToken).ConfigureAwait(false);
        return ms.ToArray();
    }

    private static void WriteFaultHeaders(HttpResponse response, FakeOpenAiFault fault)
    {
        if (fault.RetryAfter is { } after)
        {
            if (fault.SendRetryAfterMs)
            {
                response.Headers["retry-after-ms"] = ((long)Math.Ceiling(after.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
            }

            if (fault.SendRetryAfter)
            {
                response.Headers["retry-after"] = ((long)Math.Ceiling(after.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            }
        }

        if (fault.SendRateLimitHeaders)
        {
            string reset = FormatDuration(fault.RetryAfter ?? TimeSpan.FromSeconds(1));
            response.Headers["x-ratelimit-limit-requests"] = "3";
            response.Headers["x-ratelimit-remaining-requests"] = "0";
            response.Headers["x-ratelimit-reset-requests"] = reset;
            response.Headers["x-ratelimit-limit-tokens"] = "40000";
            response.Headers["x-ratelimit-remaining-tokens"] = "39000";
            response.Headers["x-ratelimit-reset-tokens"] = "1.5s";
        }
    }

    /// <summary>Formats a duration as OpenAI's x-ratelimit-reset headers do ("20ms", "1.5s", "6m0s").</summary>
    private static string FormatDuration(TimeSpan t)
    {
        if (t < TimeSpan.FromSeconds(1))
        {
            return ((long)Math.Ceiling(t.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";
        }

        if (t < TimeSpan.FromMinutes(1))
        {
            return t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
        }

        return ((int)t.TotalMinutes).ToString(CultureInfo.InvariantCulture) + "m" + t.Seconds.ToString(CultureInfo.InvariantCulture) + "s";
    }

    private static Task WriteErrorAsync(HttpContext context, FakeApiError error, bool truncate)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, FakeOpenAiServer.JsonOptions))
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("message", error.Message);
            w.WriteString("type", error.Type);
            WriteNullable(w, "param", error.Param);
            WriteNullable(w, "code", error.Code);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return WriteAsync(context, error.Status, buffer.WrittenSpan.ToArray(), "application/json", truncate);
    }

    internal static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static async Task WriteAsync(HttpContext context, int status, byte[] body, string contentType, bool truncate)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        if (truncate)
        {
            await response.Body.WriteAsync(body.AsMemory(0, body.Length / 2), context.RequestAborted).ConfigureAwait(false);
            await response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            context.Abort();
            return;
        }

        await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }
}
