using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LmWrapper.Testing.Anthropic;

/// <summary>
/// A fake Anthropic API on 127.0.0.1 (a free port), for testing code that calls Claude without the network or a key.
/// It serves <c>POST /v1/messages</c>, <c>POST /v1/messages/count_tokens</c> and the Message Batches API
/// (<c>POST/GET /v1/messages/batches</c>, <c>GET …/{id}</c>, <c>GET …/{id}/results</c> as JSONL,
/// <c>POST …/{id}/cancel</c>, <c>DELETE …/{id}</c>) with the published request and response shapes.
/// </summary>
/// <remarks>
/// <para>
/// Like the real API it requires <c>x-api-key</c> (one of <see cref="ApiKeys"/>; otherwise 401
/// <c>authentication_error</c>) and <c>anthropic-version</c> (otherwise 400), checks request bodies (required
/// <c>max_tokens</c> and <c>messages</c>, roles, non-empty content, the first message from the user, no trailing
/// whitespace in a final assistant prefill, <c>temperature</c> and <c>top_p</c> in [0, 1] and not both on 4.5
/// models, no unknown fields, and — when set — <see cref="MaxOutputTokens"/> and <see cref="ContextWindow"/>), combines
/// consecutive same-role messages, and answers errors as
/// <c>{"type":"error","error":{"type","message"}}</c>. Unknown models are 404 <c>not_found_error</c>.
/// </para>
/// <para>
/// The model is deterministic: <see cref="Responder"/> (default: "Echo: " and the last user message) says what to
/// answer; the server cuts it at the first stop sequence and at <c>max_tokens</c> whitespace-separated words and sets
/// <c>stop_reason</c>, <c>stop_sequence</c> and <c>usage</c> to match. Tokens are whitespace-separated words; a prompt's
/// input tokens are the words of its system prompt and messages plus 3 per message (see <see cref="CountInputTokens"/>).
/// </para>
/// <para>
/// Tool use: it checks <c>tools</c> (names, an object <c>input_schema</c>), <c>tool_choice</c> (auto, any, tool, none;
/// only with tools; no forced tool with thinking) and the messages' blocks (<c>tool_use</c> only from the assistant,
/// every one answered by a <c>tool_result</c> in the next user message, results first there and answering a call of the
/// message before). The model calls a tool (a <c>tool_use</c> block, <c>stop_reason</c> "tool_use") when
/// <c>tool_choice</c> is any (the tool the last user text names with "call &lt;name&gt;", else the first) or names one,
/// or with auto when the last user text says "call &lt;name&gt;"; its input is the responder's text when that is a JSON
/// object fitting the schema, else a minimal instance of the schema. Streamed, the input comes as <c>input_json_delta</c> pieces.
/// </para>
/// <para>
/// Every request is recorded (<see cref="Requests"/>). <see cref="InjectFault"/> makes the next requests fail (429/529
/// with retry hints, 5xx, 403, slow answers, dropped connections, truncated bodies, requests handled but never answered).
/// Batches end <see cref="BatchProcessingTime"/> after creation or after <see cref="BatchLooksToEnd"/> looks;
/// <see cref="BatchItemOutcome"/> makes requests error, expire or be canceled; <see cref="CancelBatch"/> cancels one from
/// outside; <see cref="BatchQueueLimit"/> limits the processing queue.
/// With <c>"stream": true</c> a message is sent as the API's server-sent events (<c>message_start</c>,
/// <c>content_block_start</c>, <c>ping</c>, <c>content_block_delta</c> word by word, <c>content_block_stop</c>,
/// <c>message_delta</c> with the stop reason and output tokens, <c>message_stop</c>), holding exactly what the whole
/// message holds; <see cref="FakeAnthropicFault.StreamCut"/> and <see cref="FakeAnthropicFault.StreamError"/> break a
/// stream part way.
/// </para>
/// </remarks>
public sealed partial class FakeAnthropicServer : IAsyncDisposable
{
    /// <summary>The API key the server accepts unless told otherwise.</summary>
    public const string DefaultApiKey = "sk-ant-fake-test-key";

    private readonly ConcurrentDictionary<string, bool> _apiKeys = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly List<FakeAnthropicRecordedRequest> _requests = [];
    private readonly List<(FakeAnthropicFault Fault, int Remaining)> _faults = [];
    private readonly ConcurrentDictionary<string, FakeAnthropicBatch> _batches = new(StringComparer.Ordinal);
    private readonly List<string> _batchOrder = [];
    private readonly List<(string BatchId, IReadOnlyList<string> CustomIds)> _created = [];
    private WebApplication? _app;
    private Uri? _baseUrl;
    private long _nextId;

    /// <summary>Creates the server (not yet listening: call <see cref="StartAsync"/>).</summary>
    public FakeAnthropicServer() => _apiKeys[DefaultApiKey] = true;

    /// <summary>The address to give clients (for example http://127.0.0.1:54321/), without <c>/v1</c>.</summary>
    /// <exception cref="InvalidOperationException">The server has not started.</exception>
    public Uri BaseUrl => _baseUrl ?? throw new InvalidOperationException("The server has not started; call StartAsync first.");

    /// <summary>The API keys the server accepts (initially <see cref="DefaultApiKey"/>).</summary>
    public IReadOnlyCollection<string> ApiKeys => [.. _apiKeys.Keys];

    /// <summary>
    /// Says what the model answers to a valid request. Default: "Echo: " followed by the last user message. Called for
    /// direct requests and for each request of a batch.
    /// </summary>
    public Func<FakeAnthropicMessageRequest, FakeAnthropicReply> Responder { get; set; } = DefaultResponder;

    /// <summary>A delay before every answer (on top of any injected fault). Default none.</summary>
    public TimeSpan ResponseDelay { get; set; }

    /// <summary>How long after creation a batch ends (its requests are answered then). Default zero: ended at the first look after creation.</summary>
    public TimeSpan BatchProcessingTime { get; set; }

    /// <summary>
    /// When set, a batch ends once it has been retrieved (<c>GET /v1/messages/batches/{id}</c>) this many times, whatever
    /// <see cref="BatchProcessingTime"/> says: tests can keep a batch running for as long as they need. Default null.
    /// </summary>
    public int? BatchLooksToEnd { get; set; }

    /// <summary>
    /// The most batch requests that may wait in the processing queue (the requests of batches still in progress), as
    /// Anthropic limits per usage tier; creating a batch that would exceed it is a 429 <c>rate_limit_error</c>.
    /// Null (the default) means no limit.
    /// </summary>
    public int? BatchQueueLimit { get; set; }

    /// <summary>Called with a batch's id as soon as it is created, before the answer is sent (tests use it to "die" then).</summary>
    public Action<string>? OnBatchCreated { get; set; }

    /// <summary>The ids of the batches that exist (not deleted), oldest first.</summary>
    public IReadOnlyList<string> BatchIds
    {
        get
        {
            lock (_gate)
            {
                return [.. _batchOrder];
            }
        }
    }

    /// <summary>Every batch ever created (deleted ones included), oldest first, with the <c>custom_id</c>s of its requests.</summary>
    public IReadOnlyList<(string BatchId, IReadOnlyList<string> CustomIds)> CreatedBatches
    {
        get
        {
            lock (_gate)
            {
                return [.. _created];
            }
        }
    }

    /// <summary>The <c>processing_status</c> of a batch ("in_progress", "canceling", "ended"), or null when there is no such batch.</summary>
    /// <param name="batchId">The batch's id.</param>
    public string? BatchStatus(string batchId)
    {
        if (!_batches.TryGetValue(batchId, out var batch))
        {
            return null;
        }

        Advance(batch);
        return batch.Status;
    }

    /// <summary>Cancels a batch as if someone else had asked to (for example from the Console): it ends at its next look, its requests canceled.</summary>
    /// <param name="batchId">The batch's id.</param>
    /// <returns>False when there is no such batch.</returns>
    public bool CancelBatch(string batchId)
    {
        if (!_batches.TryGetValue(batchId, out var batch))
        {
            return false;
        }

        batch.Cancel(DateTimeOffset.UtcNow);
        return true;
    }

    /// <summary>How each batch request ends, by <c>custom_id</c>; null means every valid request succeeds.</summary>
    public Func<string, FakeAnthropicBatchResultType>? BatchItemOutcome { get; set; }

    /// <summary>
    /// When set, every answer carries <c>anthropic-ratelimit-requests-limit</c> with this value (and
    /// <c>anthropic-ratelimit-requests-remaining</c>, <c>anthropic-ratelimit-requests-reset</c>), as the real API sends.
    /// Default null: no rate-limit headers.
    /// </summary>
    public int? RequestsPerMinuteHeader { get; set; }

    /// <summary>The model names the server knows; null (the default) means any name starting with "claude-".</summary>
    public IReadOnlySet<string>? KnownModels { get; set; }

    /// <summary>
    /// The most output tokens each model may be asked for (a larger <c>max_tokens</c> is a 400, as on the real API);
    /// models not listed have no limit. Default none.
    /// </summary>
    public IReadOnlyDictionary<string, int>? MaxOutputTokens { get; set; }

    /// <summary>
    /// The context window, in the fake's tokens, of every model: a prompt longer than it is a 400 "prompt is too long",
    /// and one whose input plus <c>max_tokens</c> exceeds it is a 400 too. Null (the default) means no limit.
    /// </summary>
    public int? ContextWindow { get; set; }

    /// <summary>Every request received so far, oldest first (a snapshot).</summary>
    public IReadOnlyList<FakeAnthropicRecordedRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>
    /// The default responder: "Echo: " and the last user message; after tool results (a user message of only
    /// <c>tool_result</c> blocks), "Tool results: " and their contents. Tool calls are decided by the server (see
    /// <see cref="FakeAnthropicServer"/>'s remarks).
    /// </summary>
    /// <param name="request">The request.</param>
    public static FakeAnthropicReply DefaultResponder(FakeAnthropicMessageRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var lastUser = request.Messages.LastOrDefault(m => m.Role == "user");
        if (lastUser is { ToolResults.Count: > 0 } && string.IsNullOrWhiteSpace(lastUser.Text))
        {
            return new FakeAnthropicReply("Tool results: " + string.Join("; ", lastUser.ToolResults));
        }

        return new FakeAnthropicReply("Echo: " + (lastUser?.Text ?? string.Empty));
    }

    /// <summary>The fake's token count of a text: its whitespace-separated words.</summary>
    /// <param name="text">The text.</param>
    public static int CountTokens(string? text) => FakeAnthropicRules.CountTokens(text);

    /// <summary>The fake's input tokens for a request: the words of its system prompt and messages, plus 3 per message.</summary>
    /// <param name="request">The request.</param>
    public static int CountInputTokens(FakeAnthropicMessageRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return FakeAnthropicRules.CountInputTokens(request);
    }

    /// <summary>Accepts another API key.</summary>
    /// <param name="apiKey">The key.</param>
    public void AcceptApiKey(string apiKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(apiKey);
        _apiKeys[apiKey] = true;
    }

    /// <summary>Stops accepting an API key (requests with it get 401).</summary>
    /// <param name="apiKey">The key.</param>
    public void RevokeApiKey(string apiKey) => _apiKeys.TryRemove(apiKey, out _);

    /// <summary>The recorded requests to one path (for example "/v1/messages").</summary>
    /// <param name="path">The exact path.</param>
    public IReadOnlyList<FakeAnthropicRecordedRequest> RequestsTo(string path) =>
        [.. Requests.Where(r => string.Equals(r.Path, path, StringComparison.Ordinal))];

    /// <summary>Forgets the recorded requests.</summary>
    public void ClearRequests()
    {
        lock (_gate)
        {
            _requests.Clear();
        }
    }

    /// <summary>
    /// Makes the next <paramref name="times"/> requests that match the fault's <see cref="FakeAnthropicFault.PathPrefix"/>
    /// suffer it. Faults are used in the order injected; each request suffers at most one.
    /// </summary>
    /// <param name="fault">The fault.</param>
    /// <param name="times">How many requests it hits.</param>
    public void InjectFault(FakeAnthropicFault fault, int times = 1)
    {
        ArgumentNullException.ThrowIfNull(fault);
        ArgumentOutOfRangeException.ThrowIfLessThan(times, 1);
        lock (_gate)
        {
            _faults.Add((fault, times));
        }
    }

    /// <summary>Starts listening on 127.0.0.1 on a free port.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_app is not null)
        {
            throw new InvalidOperationException("The server has already started.");
        }

        var (app, address) = await LoopbackHost.StartAsync(HandleAsync, configure: null, cancellationToken).ConfigureAwait(false);
        _baseUrl = new Uri(address + "/");
        _app = app;
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

    private async Task HandleAsync(HttpContext ctx)
    {
        string requestId = "req_fake_" + NextId();
        string body;
        using (var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(ctx.RequestAborted).ConfigureAwait(false);
        }

        string path = ctx.Request.Path.Value ?? "/";
        var headers = ctx.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString(), StringComparer.Ordinal);
        var recorded = new FakeAnthropicRecordedRequest(ctx.Request.Method, path, ctx.Request.QueryString.Value ?? string.Empty, headers, body);
        FakeAnthropicFault? fault;
        lock (_gate)
        {
            _requests.Add(recorded);
            fault = TakeFault(path);
        }

        ctx.Response.Headers["request-id"] = requestId;
        if (RequestsPerMinuteHeader is { } rpm)
        {
            ctx.Response.Headers["anthropic-ratelimit-requests-limit"] = rpm.ToString(CultureInfo.InvariantCulture);
            ctx.Response.Headers["anthropic-ratelimit-requests-remaining"] = Math.Max(0, rpm - 1).ToString(CultureInfo.InvariantCulture);
            ctx.Response.Headers["anthropic-ratelimit-requests-reset"] = FakeAnthropicRules.Timestamp(DateTimeOffset.UtcNow.AddMinutes(1));
        }

        bool dropAnswer = false;
        try
        {
            if (fault is not null)
            {
                switch (fault.Kind)
                {
                    case FakeAnthropicFaultKind.DropConnection:
                        ctx.Abort();
                        return;
                    case FakeAnthropicFaultKind.DropAfterHandling:
                        // Handled like any request below (checks included), but the answer goes nowhere.
                        dropAnswer = true;
                        ctx.Response.Body = Stream.Null;
                        break;
                    case FakeAnthropicFaultKind.Delay:
                        await Task.Delay(fault.Delay, ctx.RequestAborted).ConfigureAwait(false);
                        break;
                    case FakeAnthropicFaultKind.MalformedBody:
                        ctx.Response.StatusCode = 200;
                        ctx.Response.ContentType = "text/html";
                        await ctx.Response.WriteAsync("<html><body>502 Bad Gateway (but sent as 200)</body></html>", ctx.RequestAborted).ConfigureAwait(false);
                        return;
                    case FakeAnthropicFaultKind.StreamCut or FakeAnthropicFaultKind.StreamError:
                        ctx.Items[StreamFaultKey] = fault; // played by the stream, if the request streams
                        break;
                    case FakeAnthropicFaultKind.TruncatedBody:
                        ctx.Response.StatusCode = 200;
                        ctx.Response.ContentType = "application/json";
                        ctx.Response.ContentLength = 200;
                        await ctx.Response.WriteAsync("{\"id\":\"msg_trunc\",\"type\":\"message\",\"content\":[{\"type\":\"te", ctx.RequestAborted).ConfigureAwait(false);
                        await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
                        ctx.Abort();
                        return;
                    default:
                        if (fault.RetryAfter is { } ra)
                        {
                            ctx.Response.Headers["retry-after"] = Math.Ceiling(ra.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                            if (ra.TotalMilliseconds % 1000 != 0)
                            {
                                ctx.Response.Headers["retry-after-ms"] = ((long)ra.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
                            }
                        }

                        if (fault.ShouldRetry is { } sr)
                        {
                            ctx.Response.Headers["x-should-retry"] = sr ? "true" : "false";
                        }

                        throw new FakeAnthropicApiError(fault.StatusCode, fault.ErrorType, fault.Message);
                }
            }

            if (ResponseDelay > TimeSpan.Zero)
            {
                await Task.Delay(ResponseDelay, ctx.RequestAborted).ConfigureAwait(false);
            }

            string? key = headers.GetValueOrDefault("x-api-key");
            if (string.IsNullOrEmpty(key))
            {
                throw new FakeAnthropicApiError(401, "authentication_error", "x-api-key header is required");
            }

            if (!_apiKeys.ContainsKey(key))
            {
                throw new FakeAnthropicApiError(401, "authentication_error", "invalid x-api-key");
            }

            if (string.IsNullOrEmpty(headers.GetValueOrDefault("anthropic-version")))
            {
                throw FakeAnthropicApiError.Invalid("anthropic-version: header is required");
            }

            await RouteAsync(ctx, ctx.Request.Method, path, body).ConfigureAwait(false);
        }
        catch (FakeAnthropicApiError e)
        {
            ctx.Response.StatusCode = e.Status;
            await WriteJsonAsync(ctx, FakeAnthropicRules.ErrorBody(e.Type, e.Message, requestId)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception e) when (!ctx.Response.HasStarted)
        {
            // A responder that throws is the API failing: 500 api_error, as the real service would answer.
            ctx.Response.StatusCode = 500;
            await WriteJsonAsync(ctx, FakeAnthropicRules.ErrorBody("api_error", $"Internal server error ({e.GetType().Name}: {e.Message})", requestId)).ConfigureAwait(false);
        }
        finally
        {
            if (dropAnswer)
            {
                ctx.Abort();
            }
        }
    }

    private Task RouteAsync(HttpContext ctx, string method, string path, string body)
    {
        const string Batches = "/v1/messages/batches";
        switch (method, path)
        {
            case ("POST", "/v1/messages"):
                return HandleMessagesAsync(ctx, body);
            case ("POST", "/v1/messages/count_tokens"):
                var countRequest = FakeAnthropicRules.Parse(ParseBody(body), countTokens: true, IsKnownModel);
                return WriteJsonAsync(ctx, new JsonObject { ["input_tokens"] = FakeAnthropicRules.CountInputTokens(countRequest) });
            case ("POST", Batches):
                return HandleCreateBatchAsync(ctx, body);
            case ("GET", Batches):
                return HandleListBatchesAsync(ctx);
        }

        if (path.StartsWith(Batches + "/", StringComparison.Ordinal))
        {
            string[] parts = path[(Batches.Length + 1)..].Split('/');
            var batch = _batches.GetValueOrDefault(parts[0]) ?? throw FakeAnthropicApiError.NotFound($"Message batch {parts[0]} not found");
            if (method == "GET" && parts.Length == 1)
            {
                batch.Look();
            }

            Advance(batch);
            switch (method, parts.Length > 1 ? parts[1] : null)
            {
                case ("GET", null) when parts.Length == 1:
                    return WriteJsonAsync(ctx, batch.ToJson(BaseUrl));
                case ("POST", "cancel") when parts.Length == 2:
                    batch.Cancel(DateTimeOffset.UtcNow);
                    return WriteJsonAsync(ctx, batch.ToJson(BaseUrl));
                case ("GET", "results") when parts.Length == 2:
                    return HandleResultsAsync(ctx, batch);
                case ("DELETE", null) when parts.Length == 1:
                    if (batch.Status != "ended")
                    {
                        throw FakeAnthropicApiError.Invalid($"Message batch {batch.Id} is still {batch.Status}; cancel it and wait for it to end before deleting it.");
                    }

                    _batches.TryRemove(batch.Id, out _);
                    lock (_gate)
                    {
                        _batchOrder.Remove(batch.Id);
                    }

                    return WriteJsonAsync(ctx, new JsonObject { ["id"] = batch.Id, ["type"] = "message_batch_deleted" });
            }
        }

        throw FakeAnthropicApiError.NotFound($"Not found: {method} {path}");
    }

    private Task HandleMessagesAsync(HttpContext ctx, string body)
    {
        var request = FakeAnthropicRules.Parse(ParseBody(body), countTokens: false, IsKnownModel);
        CheckLimits(request);
        var reply = Responder(request) ?? throw new InvalidOperationException("The responder returned null.");
        var message = FakeAnthropicRules.BuildMessage("msg_fake_" + NextId(), request, reply);
        if (request.Body["stream"] is JsonValue stream && stream.TryGetValue(out bool streamed) && streamed)
        {
            return WriteMessageStreamAsync(ctx, message, ctx.Items[StreamFaultKey] as FakeAnthropicFault);
        }

        return WriteJsonAsync(ctx, message);
    }

    private const string StreamFaultKey = "LmWrapper.Testing.StreamFault";

    private int _abortedStreams;

    /// <summary>
    /// How long the server waits between two events of a streamed message (<c>"stream": true</c>); zero (the default)
    /// sends them as fast as it can. Set it to give a test time to act while a stream is open.
    /// </summary>
    public TimeSpan StreamEventDelay { get; set; }

    /// <summary>How many streamed messages the client closed before their last event (by cancelling, say).</summary>
    public int AbortedStreams => Volatile.Read(ref _abortedStreams);

    /// <summary>Sends a message as the Messages API's event stream, one event at a time, playing a stream fault.</summary>
    private async Task WriteMessageStreamAsync(HttpContext ctx, JsonObject message, FakeAnthropicFault? fault)
    {
        var events = new List<(string Name, JsonObject Data)>();
        var start = (JsonObject)message.DeepClone();
        var content = (JsonArray)start["content"]!;
        start["content"] = new JsonArray();
        start["stop_reason"] = null;
        start["stop_sequence"] = null;
        var usage = (JsonObject)start["usage"]!;
        int output = (int)usage["output_tokens"]!;
        usage["output_tokens"] = Math.Min(1, output);
        events.Add(("message_start", new JsonObject { ["type"] = "message_start", ["message"] = start }));
        for (int i = 0; i < content.Count; i++)
        {
            var block = (JsonObject)content[i]!;
            string type = (string)block["type"]!;
            // As the API streams them: text and thinking start empty and grow by deltas (a thinking block's signature
            // comes last, in a signature_delta); a redacted_thinking block comes whole in its start event.
            events.Add(("content_block_start", new JsonObject
            {
                ["type"] = "content_block_start",
                ["index"] = i,
                ["content_block"] = type switch
                {
                    "text" => new JsonObject { ["type"] = "text", ["text"] = string.Empty },
                    "thinking" => new JsonObject { ["type"] = "thinking", ["thinking"] = string.Empty, ["signature"] = string.Empty },
                    "tool_use" => new JsonObject { ["type"] = "tool_use", ["id"] = block["id"]?.DeepClone(), ["name"] = block["name"]?.DeepClone(), ["input"] = new JsonObject() },
                    _ => block.DeepClone(),
                },
            }));
            if (i == 0)
            {
                events.Add(("ping", new JsonObject { ["type"] = "ping" }));
            }

            if (type is "text" or "thinking")
            {
                string field = type == "text" ? "text" : "thinking";
                foreach (string piece in FakeAnthropicRules.SplitWords((string)block[field]!))
                {
                    events.Add(("content_block_delta", new JsonObject
                    {
                        ["type"] = "content_block_delta",
                        ["index"] = i,
                        ["delta"] = new JsonObject { ["type"] = type == "text" ? "text_delta" : "thinking_delta", [field] = piece },
                    }));
                }
            }

            if (type == "tool_use")
            {
                // The input streams as pieces of its JSON text (input_json_delta), whole only when joined.
                string input = block["input"]!.ToJsonString();
                for (int from = 0; from < input.Length; from += 10)
                {
                    events.Add(("content_block_delta", new JsonObject
                    {
                        ["type"] = "content_block_delta",
                        ["index"] = i,
                        ["delta"] = new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = input.Substring(from, Math.Min(10, input.Length - from)) },
                    }));
                }
            }

            if (type == "thinking")
            {
                events.Add(("content_block_delta", new JsonObject
                {
                    ["type"] = "content_block_delta",
                    ["index"] = i,
                    ["delta"] = new JsonObject { ["type"] = "signature_delta", ["signature"] = block["signature"]?.DeepClone() },
                }));
            }

            events.Add(("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = i }));
        }

        events.Add(("message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = message["stop_reason"]?.DeepClone(), ["stop_sequence"] = message["stop_sequence"]?.DeepClone() },
            ["usage"] = new JsonObject { ["output_tokens"] = output },
        }));
        events.Add(("message_stop", new JsonObject { ["type"] = "message_stop" }));

        var response = ctx.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        if (fault?.Kind == FakeAnthropicFaultKind.StreamCut)
        {
            response.Headers.Connection = "close";
        }

        var aborted = ctx.RequestAborted;
        int? at = fault is null ? null : Math.Min(fault.AfterEvents, events.Count);
        try
        {
            for (int i = 0; i <= events.Count; i++)
            {
                if (i == at)
                {
                    if (fault!.Kind == FakeAnthropicFaultKind.StreamError)
                    {
                        var error = new JsonObject { ["type"] = "error", ["error"] = new JsonObject { ["type"] = fault.ErrorType, ["message"] = fault.Message } };
                        await response.WriteAsync("event: error\ndata: " + error.ToJsonString() + "\n\n", aborted).ConfigureAwait(false);
                    }

                    return; // the body ends here, without its last events
                }

                if (i == events.Count)
                {
                    return;
                }

                if (i > 0 && StreamEventDelay > TimeSpan.Zero)
                {
                    await Task.Delay(StreamEventDelay, aborted).ConfigureAwait(false);
                }

                await response.WriteAsync("event: " + events[i].Name + "\ndata: " + events[i].Data.ToJsonString() + "\n\n", aborted).ConfigureAwait(false);
                await response.Body.FlushAsync(aborted).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (aborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            Interlocked.Increment(ref _abortedStreams);
        }
    }

    private Task HandleCreateBatchAsync(HttpContext ctx, string body)
    {
        if (ParseBody(body) is not JsonObject root)
        {
            throw FakeAnthropicApiError.Invalid("The request body must be a JSON object.");
        }

        foreach (var (name, _) in root)
        {
            if (name != "requests")
            {
                throw FakeAnthropicApiError.Invalid($"{name}: Extra inputs are not permitted");
            }
        }

        if (root["requests"] is not JsonArray items)
        {
            throw FakeAnthropicApiError.Invalid("requests: Field required");
        }

        if (items.Count == 0)
        {
            throw FakeAnthropicApiError.Invalid("requests: List should have at least 1 item after validation, not 0");
        }

        if (items.Count > 100_000)
        {
            throw FakeAnthropicApiError.Invalid($"requests: List should have at most 100000 items after validation, not {items.Count}");
        }

        var requests = new List<(string, JsonNode?)>(items.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < items.Count; i++)
        {
            if (items[i] is not JsonObject item)
            {
                throw FakeAnthropicApiError.Invalid($"requests.{i}: Input should be a valid dictionary");
            }

            string? customId = item["custom_id"] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
            if (customId is null)
            {
                throw FakeAnthropicApiError.Invalid($"requests.{i}.custom_id: Field required");
            }

            if (!CustomIdPattern().IsMatch(customId))
            {
                throw FakeAnthropicApiError.Invalid($"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'");
            }

            if (!seen.Add(customId))
            {
                throw FakeAnthropicApiError.Invalid($"requests: custom_id values must be unique within a batch (\"{customId}\" appears twice)");
            }

            if (item["params"] is not JsonObject p)
            {
                throw FakeAnthropicApiError.Invalid($"requests.{i}.params: Field required");
            }

            // Like the real API, params are checked when the batch is processed: an invalid one becomes an errored result.
            requests.Add((customId, p.DeepClone()));
        }

        if (BatchQueueLimit is not null)
        {
            foreach (var existing in _batches.Values)
            {
                Advance(existing);
            }
        }

        var batch = new FakeAnthropicBatch("msgbatch_fake_" + NextId(), DateTimeOffset.UtcNow, requests);
        lock (_gate)
        {
            if (BatchQueueLimit is { } limit)
            {
                int queued = _batches.Values.Where(b => b.Status == "in_progress").Sum(b => b.Requests.Count);
                if (queued + requests.Count > limit)
                {
                    throw new FakeAnthropicApiError(
                        429, "rate_limit_error", $"Number of batch requests in the processing queue would exceed your limit of {limit} ({queued} queued, {requests.Count} in this batch).");
                }
            }

            _batches[batch.Id] = batch;
            _batchOrder.Add(batch.Id);
            _created.Add((batch.Id, [.. requests.Select(r => r.Item1)]));
        }

        OnBatchCreated?.Invoke(batch.Id);

        return WriteJsonAsync(ctx, batch.ToJson(BaseUrl));
    }

    private Task HandleListBatchesAsync(HttpContext ctx)
    {
        var q = ctx.Request.Query;
        int limit = 20;
        if (q.TryGetValue("limit", out var l) && (!int.TryParse(l, NumberStyles.Integer, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 1000))
        {
            throw FakeAnthropicApiError.Invalid("limit: Input should be between 1 and 1000");
        }

        List<string> newestFirst;
        lock (_gate)
        {
            newestFirst = [.. Enumerable.Reverse(_batchOrder)];
        }

        int start = 0;
        int end = newestFirst.Count;
        if (q.TryGetValue("after_id", out var after) && after.ToString() is { Length: > 0 } a)
        {
            int at = newestFirst.IndexOf(a);
            start = at < 0 ? newestFirst.Count : at + 1;
        }

        if (q.TryGetValue("before_id", out var before) && before.ToString() is { Length: > 0 } b)
        {
            int at = newestFirst.IndexOf(b);
            end = at < 0 ? 0 : at;
            start = Math.Max(0, Math.Min(start, end - limit));
        }

        var page = newestFirst.Skip(start).Take(Math.Max(0, Math.Min(limit, end - start))).ToList();
        var data = new JsonArray();
        foreach (var id in page)
        {
            var batch = _batches[id];
            Advance(batch);
            data.Add(batch.ToJson(BaseUrl));
        }

        return WriteJsonAsync(ctx, new JsonObject
        {
            ["data"] = data,
            ["has_more"] = start + page.Count < end,
            ["first_id"] = page.Count > 0 ? page[0] : null,
            ["last_id"] = page.Count > 0 ? page[^1] : null,
        });
    }

    private async Task HandleResultsAsync(HttpContext ctx, FakeAnthropicBatch batch)
    {
        if (batch.Status != "ended")
        {
            throw FakeAnthropicApiError.Invalid($"Message batch {batch.Id} has not ended yet (it is {batch.Status}); its results are available once processing_status is \"ended\".");
        }

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/x-jsonl";
        var sb = new StringBuilder();
        foreach (var line in batch.Results)
        {
            sb.Append(line.ToJsonString()).Append('\n');
        }

        await ctx.Response.WriteAsync(sb.ToString(), ctx.RequestAborted).ConfigureAwait(false);
    }

    private void Advance(FakeAnthropicBatch batch) => batch.Advance(DateTimeOffset.UtcNow, BatchProcessingTime, BatchLooksToEnd, RunBatchItem);

    private JsonObject RunBatchItem(string customId, JsonNode? parameters)
    {
        var outcome = BatchItemOutcome?.Invoke(customId) ?? FakeAnthropicBatchResultType.Succeeded;
        switch (outcome)
        {
            case FakeAnthropicBatchResultType.Canceled:
                return new JsonObject { ["type"] = "canceled" };
            case FakeAnthropicBatchResultType.Expired:
                return new JsonObject { ["type"] = "expired" };
            case FakeAnthropicBatchResultType.Errored:
                return Errored("api_error", "Internal server error");
        }

        try
        {
            var request = FakeAnthropicRules.Parse(parameters, countTokens: false, IsKnownModel, customId);
            CheckLimits(request);
            var reply = Responder(request) ?? throw new InvalidOperationException("The responder returned null.");
            return new JsonObject { ["type"] = "succeeded", ["message"] = FakeAnthropicRules.BuildMessage("msg_fake_" + NextId(), request, reply) };
        }
        catch (FakeAnthropicApiError e)
        {
            return Errored(e.Type, e.Message);
        }

        JsonObject Errored(string type, string message) => new()
        {
            ["type"] = "errored",
            ["error"] = new JsonObject { ["type"] = "error", ["error"] = new JsonObject { ["type"] = type, ["message"] = message } },
        };
    }

    private void CheckLimits(FakeAnthropicMessageRequest request)
    {
        if (MaxOutputTokens is { } limits && limits.TryGetValue(request.Model, out int most) && request.MaxTokens > most)
        {
            throw FakeAnthropicApiError.Invalid(
                $"max_tokens: {request.MaxTokens} > {most}, which is the maximum allowed number of output tokens for {request.Model}");
        }

        if (ContextWindow is { } window)
        {
            int input = FakeAnthropicRules.CountInputTokens(request);
            if (input > window)
            {
                throw FakeAnthropicApiError.Invalid($"prompt is too long: {input} tokens > {window} maximum");
            }

            if (input + request.MaxTokens > window)
            {
                throw FakeAnthropicApiError.Invalid(
                    $"input length and `max_tokens` exceed context limit: {input} + {request.MaxTokens} > {window}, decrease input length or `max_tokens` and try again");
            }
        }
    }

    private bool IsKnownModel(string model) =>
        KnownModels is { } known ? known.Contains(model) : model.StartsWith("claude-", StringComparison.Ordinal);

    private FakeAnthropicFault? TakeFault(string path)
    {
        for (int i = 0; i < _faults.Count; i++)
        {
            var (fault, remaining) = _faults[i];
            if (fault.PathPrefix is null || path.StartsWith(fault.PathPrefix, StringComparison.Ordinal))
            {
                if (remaining <= 1)
                {
                    _faults.RemoveAt(i);
                }
                else
                {
                    _faults[i] = (fault, remaining - 1);
                }

                return fault;
            }
        }

        return null;
    }

    private string NextId() => Interlocked.Increment(ref _nextId).ToString("D12", CultureInfo.InvariantCulture);

    private static JsonNode? ParseBody(string body)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw FakeAnthropicApiError.Invalid($"The request body is not valid JSON: {e.Message}");
        }
    }

    private static async Task WriteJsonAsync(HttpContext ctx, JsonObject json)
    {
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(json.ToJsonString(), ctx.RequestAborted).ConfigureAwait(false);
    }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex CustomIdPattern();
}
