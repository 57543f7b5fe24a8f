using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using LmWrapper.Batching;
using Microsoft.Extensions.Logging;
using LmWrapper.Http;

namespace LmWrapper.Anthropic.Internal;

/// <summary>
/// Anthropic's Message Batches API as the orchestration behind <c>PredictMany(…, CompletionWindow.BatchAny)</c> needs it
/// (<see cref="IBatchBackend"/>): half-price requests, answered within 24 hours.
/// </summary>
/// <remarks>
/// <para>
/// <b>Requests.</b> A batch request is <c>{"custom_id", "params"}</c>, where <c>params</c> is byte for byte the body
/// <see cref="ClaudeLm"/> sends to <c>/v1/messages</c> for the same prompt. Claude has no <c>n</c>, so a prompt that needs
/// several samples becomes one request per sample; <see cref="ReadResultsAsync"/> gathers a prompt's samples into one
/// result (when some were lost, the ones that came back: the orchestration asks again only for the rest). Ids follow
/// <see cref="ClaudeBatchIds"/>: <c>{customId}_{sample}_{tag}</c>.
/// </para>
/// <para>
/// <b>No upload.</b> Message Batches take their requests inline, so <see cref="SubmitAsync"/> streams the request file
/// into the create call's body. Creating a batch is not idempotent: a create whose answer is lost (a dropped connection,
/// a timeout) is not blindly retried; the batch is looked for first (as <see cref="FindAsync"/> does) and only created
/// again when none is found.
/// </para>
/// <para>
/// <b>Finding a batch whose id was never recorded.</b> Anthropic batches carry no metadata, so <see cref="FindAsync"/>
/// lists the batches created from shortly before the submission was recorded (allowing
/// <see cref="ClockSkew"/> for the difference between this machine's clock and Anthropic's) with at least as many requests
/// as the submission had prompts. An ended candidate is checked for certain: the first line of its results carries the
/// tag of the local id, or it is not ours. A candidate still running cannot be checked (its results are not readable
/// yet); when exactly one such candidate remains (preferring one whose request count matches exactly), it is taken
/// provisionally: its results are accepted only where they carry our tag, and it is never deleted unless they do. With
/// several running candidates and no certain match, null is returned and the prompts are submitted again: the small
/// window in which another process of the same organisation creates a batch of the same size within minutes of ours,
/// while ours is still running, is where a double submission (paying twice) remains possible.
/// </para>
/// <para>
/// <b>Status.</b> <c>in_progress</c> → <see cref="BatchState.InProgress"/>, <c>canceling</c> →
/// <see cref="BatchState.Cancelling"/>, <c>ended</c> → <see cref="BatchState.Cancelled"/> when any request was canceled,
/// else <see cref="BatchState.Expired"/> when any expired, else <see cref="BatchState.Completed"/>; a batch that no longer
/// exists (deleted by someone else; 404) is <see cref="BatchState.Failed"/>, and results that are gone (deleted, or
/// archived after 29 days) are no results, so its prompts are submitted again instead of failing every rerun. Results:
/// <c>succeeded</c> → the same parsing as a single call (marked with <c>"batch_id"</c> in
/// <see cref="LmPrediction.ProviderData"/>, which <see cref="LanguageModel.CostOf"/> bills at the batch discount);
/// <c>errored</c> with <c>invalid_request_error</c> → a permanent failed prediction (cached, not retried); any other
/// error, <c>canceled</c> and <c>expired</c> → no result, so the orchestration resubmits the prompt.
/// </para>
/// <para>
/// <b>Queue.</b> Anthropic limits how many batch requests may wait in an organisation's processing queue (100,000 at
/// the first usage tier). The orchestration's "enqueued tokens" are therefore counted in requests here:
/// <see cref="EstimateEnqueuedTokens"/> is the number of samples, and <see cref="DefaultLimits"/> caps the queue at
/// 100,000 (raise it with <see cref="BatchOptions.Limits"/> on a higher tier). A create refused with 429 after the
/// retries becomes <see cref="LmBatchQueueFullException"/>, so the orchestration waits for running batches or splits.
/// </para>
/// </remarks>
internal sealed class ClaudeBatchBackend : IBatchBackend
{
    /// <summary>The batches endpoint, relative to the base URL.</summary>
    public const string BatchesPath = "v1/messages/batches";

    private readonly AnthropicHttp _http;
    private readonly ClaudeModelInfo _model;
    private readonly Uri _baseUrl;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, string?> _resultsUrls = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _unverified = new(StringComparer.Ordinal);

    public ClaudeBatchBackend(AnthropicHttp http, ClaudeModelInfo model, Uri baseUrl, ILogger logger)
    {
        _http = http;
        _model = model;
        _baseUrl = baseUrl;
        _logger = logger;
    }

    /// <summary>
    /// Anthropic's published limits: 100,000 requests and 256 MB per batch (250,000,000 bytes of request file here,
    /// leaving room for the JSON around the requests and the tags added to their ids), and — counted in requests — the
    /// first usage tier's processing queue of 100,000 batch requests.
    /// </summary>
    public static BatchLimits DefaultLimits { get; } = new(MaxRequests: 100_000, MaxFileBytes: 250_000_000, MaxEnqueuedTokens: 100_000);

    /// <summary>How far this machine's clock and Anthropic's may disagree, for <see cref="FindAsync"/>. Default 2 minutes.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromMinutes(2);

    /// <inheritdoc/>
    public string Name => "anthropic";

    /// <inheritdoc/>
    public BatchLimits Limits => DefaultLimits;

    /// <summary>Writes one line per sample: <c>{"custom_id":"{customId}_{i}","params":{…the /v1/messages body…}}</c>.</summary>
    public void WriteRequestLine(IBufferWriter<byte> output, string customId, LmPrompt prompt, int numCompletions)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(prompt);
        ClaudeBatchIds.Validate(customId, numCompletions);
        var body = ClaudeRequest.FromPrompt(prompt).ToMessagesBody(prompt, _model);
        using var writer = new Utf8JsonWriter(output);
        for (int i = 0; i < numCompletions; i++)
        {
            if (i > 0)
            {
                writer.Flush();
                output.Write("\n"u8);
                writer.Reset(output);
            }

            writer.WriteStartObject();
            writer.WriteString("custom_id", ClaudeBatchIds.Sample(customId, i));
            writer.WritePropertyName("params");
            body.WriteTo(writer);
            writer.WriteEndObject();
        }

        writer.Flush();
    }

    /// <summary>Requests in Anthropic's processing queue: one per sample.</summary>
    public int EstimateEnqueuedTokens(LmPrompt prompt, int numCompletions) => numCompletions;

    /// <inheritdoc/>
    public async Task<string> SubmitAsync(string localId, string requestFile, int requestCount, CancellationToken cancellationToken)
    {
        string tag = ClaudeBatchIds.Tag(localId);
        int lines = CountLines(requestFile);
        if (lines > DefaultLimits.MaxRequests)
        {
            // Several samples per prompt make several requests: a file of fewer prompts than the limit can still hold too
            // many. "Does not fit" makes the orchestration split it.
            throw new LmBatchQueueFullException(
                $"The batch would hold {lines} requests ({requestCount} prompts with their samples); a message batch holds at most {DefaultLimits.MaxRequests}.");
        }

        var startedAt = DateTimeOffset.UtcNow;
        var call = _http.Call(HttpMethod.Post, BatchesPath, () => new BatchRequestsContent(requestFile, tag)) with
        {
            SafeToRetry = false, // a second create would run (and bill) the batch twice
        };
        try
        {
            var response = await _http.SendAsync(
                call,
                cancellationToken,
                async token =>
                {
                    // No clear answer: the batch may or may not exist. Look before creating it again.
                    ClaudeLog.BatchCreateUnclear(_logger);
                    return await FindCoreAsync(tag, startedAt, lines, exactCount: true, token).ConfigureAwait(false) is { } found
                        ? new AnthropicResponse(200, JsonSerializer.SerializeToUtf8Bytes(new { id = found }), null)
                        : null;
                }).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(response.Body);
            return ReadBatchId(doc.RootElement);
        }
        catch (LmRateLimitException e)
        {
            throw new LmBatchQueueFullException(e.Message, e);
        }
    }

    /// <inheritdoc/>
    public Task<string?> FindAsync(BatchSubmissionRecord submission, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(submission);
        return FindCoreAsync(ClaudeBatchIds.Tag(submission.LocalId), submission.RecordedAt, submission.RequestCount, exactCount: false, cancellationToken);
    }

    /// <inheritdoc/>
    public async Task CancelAsync(string batchId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(batchId);
        try
        {
            await _http.SendAsync(HttpMethod.Post, BatchPath(batchId) + "/cancel", null, cancellationToken).ConfigureAwait(false);
        }
        catch (LmProviderException e) when (e.Error.StatusCode == 404)
        {
            // Gone already: nothing left to cancel.
        }
    }

    /// <inheritdoc/>
        public async Task<BatchJobStatus> GetStatusAsync(string batchId, CancellationToken cancellationToken)
    {
        AnthropicResponse response;
        try
        {
            response = await _http.SendAsync(HttpMethod.Get, BatchPath(batchId), null, cancellationToken).ConfigureAwait(false);
        }
        catch (LmProviderException e) when (e.Error.StatusCode == 404)
        {
            // Deleted by someone else: nothing more will come of it, so its prompts are submitted again.
            return new BatchJobStatus(BatchState.Failed, Message: "the batch no longer exists at Anthropic");
        }

        using var doc = JsonDocument.Parse(response.Body);
        var batch = doc.RootElement;
        string status = GetString(batch, "processing_status") ?? "unknown";
        var counts = ReadCounts(batch);
        if (status == "ended")
        {
            _resultsUrls[batchId] = GetString(batch, "results_url");
        }

        var state = status switch
        {
            "in_progress" => BatchState.InProgress,
            "canceling" => BatchState.Cancelling,
            "ended" when counts.Canceled > 0 => BatchState.Cancelled,
            "ended" when counts.Expired > 0 => BatchState.Expired,
            "ended" => BatchState.Completed,
            _ => throw new LmProviderException(new LmError(LmErrorKind.MalformedResponse, $"Message batch {batchId} has an unknown processing_status \"{status}\".")),
        };
        string? message = status == "ended" && (counts.Errored + counts.Canceled + counts.Expired) > 0
            ? $"{counts.Succeeded} succeeded, {counts.Errored} errored, {counts.Canceled} canceled, {counts.Expired} expired"
            : null;
        return new BatchJobStatus(state, (int)Math.Min(int.MaxValue, counts.Succeeded + counts.Errored), (int)Math.Min(int.MaxValue, counts.Errored), message);
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<BatchLineResult> ReadResultsAsync(
        string batchId, Func<string, (LmPrompt Prompt, int NumCompletions)?> lookup, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        string path = await ResultsPathAsync(batchId, cancellationToken).ConfigureAwait(false);
        _unverified.TryGetValue(batchId, out string? expectedTag);
        var groups = new Dictionary<string, LmPrediction?[]>(StringComparer.Ordinal);
        var finished = new HashSet<string>(StringComparer.Ordinal);
        HttpResponseMessage? opened;
        try
        {
            opened = await _http.GetStreamingAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (LmProviderException e) when (e.Error.StatusCode == 404)
        {
            // Deleted, or archived (results are kept 29 days): no results, so the orchestration submits its prompts again.
            ClaudeLog.BatchResultsGone(_logger, batchId, e.Message);
            opened = null;
        }

        if (opened is null)
        {
            yield break;
        }

        using var response = opened;
        using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            BatchLineResult? result;
            using (var doc = JsonDocument.Parse(line))
            {
                var root = doc.RootElement;
                if (GetString(root, "custom_id") is not { } id || !ClaudeBatchIds.TryParse(id, out string customId, out int sample, out string tag))
                {
                    continue; // not a request LmWrapper made
                }

                if (expectedTag is not null)
                {
                    if (tag != expectedTag)
                    {
                        continue; // a batch taken provisionally by FindAsync that is not ours after all
                    }

                    _unverified.TryRemove(batchId, out _);
                    expectedTag = null;
                }

                if (finished.Contains(customId) || lookup(customId) is not { } known || sample >= known.NumCompletions)
                {
                    continue;
                }

                result = ReadResult(batchId, root, customId, sample, known.Prompt, known.NumCompletions, groups);
            }

            if (result is not null)
            {
                finished.Add(result.CustomId);
                groups.Remove(result.CustomId);
                yield return result;
            }
        }

        // Prompts some of whose samples were lost (expired, canceled, errored in passing): the samples that did come
        // back; the orchestration asks again only for the rest.
        foreach (var (customId, group) in groups)
        {
            yield return new BatchLineResult(customId, [.. group.OfType<LmPrediction>()]);
        }
    }

    /// <summary>Deletes the batch (Anthropic allows it once the batch has ended); one already gone is fine.</summary>
    public async Task CleanupAsync(string batchId, CancellationToken cancellationToken)
    {
        if (_unverified.ContainsKey(batchId))
        {
            ClaudeLog.BatchNotShownOurs(_logger, batchId);
            return;
        }

        try
        {
            await _http.SendAsync(HttpMethod.Delete, BatchPath(batchId), null, cancellationToken).ConfigureAwait(false);
        }
        catch (LmProviderException e) when (e.Error.StatusCode == 404)
        {
            // Already deleted.
        }

        _resultsUrls.TryRemove(batchId, out _);
    }

    private BatchLineResult? ReadResult(
        string batchId, JsonElement line, string customId, int sample, LmPrompt prompt, int samples, Dictionary<string, LmPrediction?[]> groups)
    {
        if (!line.TryGetProperty("result", out var result) || result.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        switch (GetString(result, "type"))
        {
            case "succeeded" when result.TryGetProperty("message", out var message):
                var prediction = ClaudeResponseParser.Parse(message, prompt, requestId: null, batchId);
                if (samples == 1)
                {
                    return new BatchLineResult(customId, [prediction]);
                }

                if (!groups.TryGetValue(customId, out var group))
                {
                    groups[customId] = group = new LmPrediction?[samples];
                }

                group[sample] = prediction;
                return Array.TrueForAll(group, p => p is not null) ? new BatchLineResult(customId, [.. group!]) : null;

            case "errored":
                var (type, text) = ReadError(result);
                if (type == "invalid_request_error")
                {
                    // The request itself is wrong: it would fail again, so it is a failed prediction, cached.
                    return new BatchLineResult(customId, [LmPrediction.FromError(prompt, LmHttpErrors.ToError("The Anthropic API", 400, new LmHttpErrorBody(text, type, null, null), null))]);
                }

                ClaudeLog.BatchRequestErrored(_logger, customId, batchId, type, text);
                return null;

            default:
                return null; // canceled or expired: resubmitted by the orchestration
        }
    }

    private async Task<string?> FindCoreAsync(string tag, DateTimeOffset since, int requestCount, bool exactCount, CancellationToken cancellationToken)
    {
        var from = since - ClockSkew;
        var running = new List<(string Id, long Total)>();
        string? afterId = null;
        while (true)
        {
            string path = BatchesPath + "?limit=100" + (afterId is null ? string.Empty : "&after_id=" + Uri.EscapeDataString(afterId));
            var response = await _http.SendAsync(HttpMethod.Get, path, null, cancellationToken).ConfigureAwait(false);
            var page = new List<(string Id, DateTimeOffset Created, string Status, long Total, string? ResultsUrl)>();
            bool hasMore;
            using (var doc = JsonDocument.Parse(response.Body))
            {
                var root = doc.RootElement;
                hasMore = root.TryGetProperty("has_more", out var more) && more.ValueKind == JsonValueKind.True;
                afterId = GetString(root, "last_id");
                if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
                {
                    foreach (var batch in data.EnumerateArray())
                    {
                        if (GetString(batch, "id") is { } id
                            && GetString(batch, "created_at") is { } created
                            && DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var createdAt))
                        {
                            page.Add((id, createdAt, GetString(batch, "processing_status") ?? string.Empty, ReadCounts(batch).Total, GetString(batch, "results_url")));
                        }
                    }
                }
            }

            bool older = false;
            foreach (var b in page)
            {
                if (b.Created < from)
                {
                    older = true; // newest first: the rest are older still
                    break;
                }

                if (exactCount ? b.Total != requestCount : b.Total < requestCount)
                {
                    continue;
                }

                if (b.Status != "ended")
                {
                    running.Add((b.Id, b.Total));
                    continue;
                }

                _resultsUrls[b.Id] = b.ResultsUrl;
                if (await FirstResultTagAsync(b.Id, cancellationToken).ConfigureAwait(false) == tag)
                {
                    ClaudeLog.BatchFoundByTag(_logger, b.Id);
                    return b.Id;
                }
            }

            if (older || !hasMore || afterId is null)
            {
                break;
            }
        }

        var exact = running.Where(r => r.Total == requestCount).ToList();
        var pick = exact.Count == 1 ? exact[0].Id : running.Count == 1 ? running[0].Id : null;
        if (pick is null)
        {
            if (running.Count > 0)
            {
                ClaudeLog.BatchAmbiguous(_logger, string.Join(", ", running.Select(r => r.Id)), since);
            }

            return null;
        }

        _unverified[pick] = tag;
        ClaudeLog.BatchAssumed(_logger, pick, since);
        return pick;
    }

    private async Task<string?> FirstResultTagAsync(string batchId, CancellationToken cancellationToken)
    {
        try
        {
            string path = await ResultsPathAsync(batchId, cancellationToken).ConfigureAwait(false);
            using var response = await _http.GetStreamingAsync(path, cancellationToken).ConfigureAwait(false);
            using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                using var doc = JsonDocument.Parse(line);
                return GetString(doc.RootElement, "custom_id") is { } id && ClaudeBatchIds.TryParse(id, out _, out _, out string tag) ? tag : null;
            }
        }
        catch (Exception e) when (e is LmProviderException or JsonException)
        {
            ClaudeLog.BatchResultsUnreadable(_logger, e, batchId);
        }

        return null;
    }

    /// <summary>The batch's <c>results_url</c> when it points at this model's API; otherwise the documented path.</summary>
    private async Task<string> ResultsPathAsync(string batchId, CancellationToken cancellationToken)
    {
        if (!_resultsUrls.TryGetValue(batchId, out string? url))
        {
            try
            {
                var response = await _http.SendAsync(HttpMethod.Get, BatchPath(batchId), null, cancellationToken).ConfigureAwait(false);
                using var doc = JsonDocument.Parse(response.Body);
                url = GetString(doc.RootElement, "results_url");
            }
            catch (LmProviderException e) when (e.Error.StatusCode == 404)
            {
                url = null; // the documented path will answer 404 too
            }
        }

        // The API key goes only to the API's own host: a results_url elsewhere is not followed.
        if (url is not null && Uri.TryCreate(url, UriKind.Absolute, out var uri)
            && string.Equals(uri.GetLeftPart(UriPartial.Authority), _baseUrl.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase)
            && uri.AbsolutePath.StartsWith(_baseUrl.AbsolutePath, StringComparison.Ordinal))
        {
            return uri.AbsoluteUri;
        }

        return BatchPath(batchId) + "/results";
    }

    private static string BatchPath(string batchId) => BatchesPath + "/" + Uri.EscapeDataString(batchId);

    private static string ReadBatchId(JsonElement batch) =>
        GetString(batch, "id") ?? throw new LmProviderException(new LmError(LmErrorKind.MalformedResponse, "The Anthropic API created a message batch but answered without its id."));

    private static (string? Type, string? Message) ReadError(JsonElement result)
    {
        // {"type":"errored","error":{"type":"error","error":{"type":"invalid_request_error","message":"…"}}}
        if (result.TryGetProperty("error", out var outer) && outer.ValueKind == JsonValueKind.Object)
        {
            var inner = outer.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? e : outer;
            return (GetString(inner, "type"), GetString(inner, "message"));
        }

        return (null, null);
    }

    private static (long Processing, long Succeeded, long Errored, long Canceled, long Expired, long Total) ReadCounts(JsonElement batch)
    {
        long Get(JsonElement counts, string name) =>
            counts.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) ? n : 0;

        if (!batch.TryGetProperty("request_counts", out var c) || c.ValueKind != JsonValueKind.Object)
        {
            return default;
        }

        long processing = Get(c, "processing"), succeeded = Get(c, "succeeded"), errored = Get(c, "errored"), canceled = Get(c, "canceled"), expired = Get(c, "expired");
        return (processing, succeeded, errored, canceled, expired, processing + succeeded + errored + canceled + expired);
    }

    private static string? GetString(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>The requests in a request file: its lines (each ends with a newline; none is empty).</summary>
    private static int CountLines(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            int lines = 0;
            bool open = false;
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                var span = buffer.AsSpan(0, read);
                lines += span.Count((byte)'\n');
                open = span[^1] != (byte)'\n';
            }

            return lines + (open ? 1 : 0);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
