using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using LmWrapper.Batching;
using LmWrapper.Http;
using Microsoft.Extensions.Logging;

namespace LmWrapper.OpenAI;

/// <summary>
/// OpenAI's Batch API as the orchestration behind <c>PredictMany(…, CompletionWindow.BatchAny)</c> needs it
/// (<see cref="IBatchBackend"/>): half-price requests, answered within 24 hours.
/// </summary>
/// <remarks>
/// <para>
/// <b>Requests.</b> Each line is <c>{"custom_id","method":"POST","url":"/v1/chat/completions" (or "/v1/completions"),
/// "body"}</c>, where <c>body</c> is byte for byte what <see cref="OpenAiLm"/> sends for the same prompt (several samples
/// share one request through <c>n</c>). The file is uploaded as multipart with purpose "batch", streamed from disk, and
/// the batch is created with completion window "24h" and <c>metadata.lmwrapper_local_id</c>, by which
/// <see cref="FindAsync"/> finds a batch whose id was never recorded.
/// </para>
/// <para>
/// <b>Creating is not idempotent.</b> A create whose answer is lost (dropped connection, timeout, 5xx) is not blindly
/// retried: the batch is looked for by its metadata first. After creating, the batch is watched while it validates (at
/// most <see cref="ValidationWait"/>): OpenAI refuses a batch whose tokens do not fit the model's queue of enqueued
/// tokens by failing it with <c>token_limit_exceeded</c>, which becomes <see cref="LmBatchQueueFullException"/> (as does
/// a create answered with that code), so the orchestration waits for running batches or splits.
/// </para>
/// <para>
/// <b>Results.</b> The output and error files are streamed line by line. A 200 response is parsed by the same code as a
/// single call and marked with "batch_id" in <see cref="LmPrediction.ProviderData"/> (so <see cref="LanguageModel.CostOf"/>
/// bills it at the batch discount). A request OpenAI rejected (400, 404, 413, 422: context too long, bad parameter) is a
/// permanent failed prediction. Requests that expired, were cancelled or met a transient error (429, 5xx) have no result,
/// so the orchestration submits them again.
/// </para>
/// </remarks>
internal sealed class OpenAiBatchBackend : IBatchBackend
{
    /// <summary>The metadata key that carries LmWrapper's local id of a batch.</summary>
    public const string LocalIdMetadataKey = "lmwrapper_local_id";

    private readonly OpenAiLm _lm;
    private readonly LmHttpPipeline _pipeline;
    private readonly string _baseUrl;
    private readonly string _query;
    private readonly ILogger _logger;

    public OpenAiBatchBackend(OpenAiLm lm, LmHttpPipeline pipeline, string baseUrl, string query, ILogger logger)
    {
        _lm = lm;
        _pipeline = pipeline;
        _baseUrl = baseUrl;
        _query = query;
        _logger = logger;
    }

    /// <summary>OpenAI's published limits: 50,000 requests and 200 MB per batch file.</summary>
    public const int MaxRequests = 50_000;

    /// <summary>The largest request file: 200 MB.</summary>
    public const long MaxFileBytes = 200_000_000;

    /// <summary>How long <see cref="SubmitAsync"/> watches a new batch validate, to catch a token-queue refusal. Default 30 seconds.</summary>
    public TimeSpan ValidationWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How far this machine's clock and OpenAI's may disagree, for <see cref="FindAsync"/>. Default 2 minutes.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromMinutes(2);

    /// <inheritdoc/>
    public string Name => "openai";

    /// <inheritdoc/>
    public BatchLimits Limits => new(MaxRequests, MaxFileBytes, _lm.Info.BatchEnqueuedTokenLimit);

    /// <summary>The batch endpoint of the model: "/v1/chat/completions" or "/v1/completions".</summary>
    public string Endpoint => _lm.Info.IsChatModel ? "/v1/chat/completions" : "/v1/completions";

    /// <inheritdoc/>
    public void WriteRequestLine(IBufferWriter<byte> output, string customId, LmPrompt prompt, int numCompletions)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(customId);
        ArgumentNullException.ThrowIfNull(prompt);
        using var w = new Utf8JsonWriter(output);
        w.WriteStartObject();
        w.WriteString("custom_id"u8, customId);
        w.WriteString("method"u8, "POST"u8);
        w.WriteString("url"u8, Endpoint);
        w.WritePropertyName("body"u8);
        OpenAiLm.WriteBody(w, _lm.Info, prompt, numCompletions, prompt.MaxTokens ?? _lm.DefaultTokensGenerated, _lm.UsesLegacyMaxTokens);
        w.WriteEndObject();
    }

    /// <summary>The prompt's input tokens (what OpenAI counts against the queue), however many samples it asks for.</summary>
    public int EstimateEnqueuedTokens(LmPrompt prompt, int numCompletions) => _lm.EstimateTokensInPrompt(prompt);

    /// <inheritdoc/>
    public async Task<string> SubmitAsync(string localId, string requestFile, int requestCount, CancellationToken cancellationToken)
    {
        string fileId = await UploadAsync(localId, requestFile, cancellationToken).ConfigureAwait(false);
        string batchId;
        try
        {
            batchId = await CreateAsync(localId, fileId, cancellationToken).ConfigureAwait(false);
        }
        catch (LmException)
        {
            await TryDeleteFileAsync(fileId, cancellationToken).ConfigureAwait(false);
            throw;
        }

        // Watch it validate: a refusal for lack of room in the token queue shows up here.
        var started = DateTimeOffset.UtcNow;
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            using var doc = await GetBatchAsync(batchId, cancellationToken).ConfigureAwait(false);
            var batch = doc.RootElement;
            string status = Str(batch, "status") ?? string.Empty;
            if (status == "failed" && ErrorCodes(batch).Contains("token_limit_exceeded"))
            {
                await TryDeleteFileAsync(fileId, cancellationToken).ConfigureAwait(false);
                throw new LmBatchQueueFullException(ErrorsText(batch) ?? "OpenAI's enqueued token limit for this model is reached.");
            }

            if (status != "validating" || DateTimeOffset.UtcNow - started + delay > ValidationWait)
            {
                return batchId;
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(2).Ticks, delay.Ticks * 2));
        }
    }

    /// <inheritdoc/>
    public async Task<string?> FindAsync(BatchSubmissionRecord submission, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var found = await FindCoreAsync(submission.LocalId, submission.RecordedAt, cancellationToken).ConfigureAwait(false);
        if (found is null)
        {
            // Never made into a batch (a crash between the upload and the create): its uploaded request file, if any,
            // would stay at OpenAI forever once the chunk is submitted again under a new upload.
            await DeleteUploadsOfAsync(submission.LocalId, cancellationToken).ConfigureAwait(false);
        }

        return found;
    }

    /// <summary>Deletes the batch files uploaded for <paramref name="localId"/> (named <c>{localId}.jsonl</c> by <see cref="UploadAsync"/>).</summary>
    private async Task DeleteUploadsOfAsync(string localId, CancellationToken cancellationToken)
    {
        string name = localId + ".jsonl";
        var ids = new List<string>();
        string? after = null;
        while (true)
        {
            string path = "files?purpose=batch&limit=10000" + (after is null ? string.Empty : "&after=" + Uri.EscapeDataString(after));
            using var response = await _pipeline.SendAsync(new LmHttpCall(() => new HttpRequestMessage(HttpMethod.Get, Url(path))), cancellationToken).ConfigureAwait(false);
            using var doc = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
            var root = doc.RootElement;
            string? last = null;
            if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
            {
                foreach (var file in data.EnumerateArray())
                {
                    last = Str(file, "id") ?? last;
                    if (Str(file, "filename") == name && Str(file, "id") is { } id)
                    {
                        ids.Add(id);
                    }
                }
            }

            after = Str(root, "last_id") ?? last;
            if (!(root.TryGetProperty("has_more", out var more) && more.ValueKind == JsonValueKind.True) || after is null)
            {
                break;
            }
        }

        foreach (var id in ids)
        {
            await TryDeleteFileAsync(id, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async Task<BatchJobStatus> GetStatusAsync(string batchId, CancellationToken cancellationToken)
    {
        JsonDocument doc;
        try
        {
            doc = await GetBatchAsync(batchId, cancellationToken).ConfigureAwait(false);
        }
        catch (LmProviderException e) when (e.Error.StatusCode == 404)
        {
            return new BatchJobStatus(BatchState.Failed, Message: "the batch no longer exists at OpenAI");
        }

        using (doc)
        {
            var batch = doc.RootElement;
            string status = Str(batch, "status") ?? "unknown";
            var state = status switch
            {
                "validating" => BatchState.Validating,
                "in_progress" => BatchState.InProgress,
                "finalizing" => BatchState.Finalizing,
                "cancelling" => BatchState.Cancelling,
                "completed" => BatchState.Completed,
                "failed" => BatchState.Failed,
                "expired" => BatchState.Expired,
                "cancelled" => BatchState.Cancelled,
                _ => throw new LmException($"OpenAI batch {batchId} has an unknown status \"{status}\"."),
            };
            int? completed = null, failed = null;
            if (batch.TryGetProperty("request_counts", out var counts) && counts.ValueKind == JsonValueKind.Object)
            {
                completed = Int(counts, "completed");
                failed = Int(counts, "failed");
            }

            string? message = state == BatchState.Failed ? ErrorsText(batch) : null;
            return new BatchJobStatus(state, completed, failed, message);
        }
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<BatchLineResult> ReadResultsAsync(
        string batchId, Func<string, (LmPrompt Prompt, int NumCompletions)?> lookup, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        BatchFiles files;
        try
        {
            files = await FilesOfAsync(batchId, cancellationToken).ConfigureAwait(false);
        }
        catch (LmProviderException e) when (e.Error.StatusCode == 404)
        {
            OpenAiLog.BatchGone(_logger, batchId);
            yield break;
        }

        foreach (string? fileId in (string?[])[files.Output, files.Error])
        {
            if (fileId is null)
            {
                continue;
            }

            HttpResponseMessage? opened;
            try
            {
                opened = await _pipeline.SendAsync(
                new LmHttpCall(() => new HttpRequestMessage(HttpMethod.Get, Url("files/" + Uri.EscapeDataString(fileId) + "/content"))) { Completion = HttpCompletionOption.ResponseHeadersRead },
                cancellationToken).ConfigureAwait(false);
            }
            catch (LmProviderException e) when (e.Error.StatusCode == 404)
            {
                OpenAiLog.BatchFileGone(_logger, fileId, batchId);
                continue;
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

                var result = ReadLine(batchId, line, lookup);
                if (result is not null)
                {
                    yield return result;
                }
            }
        }
    }

    /// <summary>Deletes the batch's input, output and error files; files already gone are fine.</summary>
    public async Task CleanupAsync(string batchId, CancellationToken cancellationToken)
    {
        BatchFiles files;
        try
        {
            files = await FilesOfAsync(batchId, cancellationToken).ConfigureAwait(false);
        }
        catch (LmProviderException e) when (e.Error.StatusCode == 404)
        {
            return;
        }

        foreach (string? id in (string?[])[files.Input, files.Output, files.Error])
        {
            if (id is not null)
            {
                await DeleteFileAsync(id, cancellationToken).ConfigureAwait(false);
            }
        }

    }

    private BatchLineResult? ReadLine(string batchId, string line, Func<string, (LmPrompt Prompt, int NumCompletions)?> lookup)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        if (Str(root, "custom_id") is not { } customId || lookup(customId) is not { } known)
        {
            return null;
        }

        if (!root.TryGetProperty("response", out var response) || response.ValueKind != JsonValueKind.Object)
        {
            // {"error":{"code":"batch_expired"|"batch_cancelled",…}}: not run; the orchestration submits it again.
            return null;
        }

        int status = Int(response, "status_code") ?? 0;
        string? requestId = Str(response, "request_id");
        response.TryGetProperty("body", out var body);
        if (status == 200 && body.ValueKind == JsonValueKind.Object)
        {
            var predictions = OpenAiLm.ReadResponse(JsonMarshal.GetRawUtf8Value(body).ToArray(), known.Prompt, _lm.Info, known.NumCompletions, requestId, batchId);
            return new BatchLineResult(customId, predictions);
        }

        if (status is >= 400 and < 500 && !LmHttpErrors.IsRetryableStatus(status))
        {
            // Rejected (a bad request, a prompt over the context window, an unknown model): a failed prediction, cached
            // only when the error table says it is permanent. 429s and 5xx have no result and are submitted again.
            var error = LmHttpErrors.ToError("OpenAI", status, LmHttpErrors.ReadBody(body.ValueKind == JsonValueKind.Undefined ? [] : JsonMarshal.GetRawUtf8Value(body)), requestId);
            return new BatchLineResult(customId, [LmPrediction.FromError(known.Prompt, error)]);
        }

        OpenAiLog.BatchRequestFailed(_logger, customId, batchId, status);
        return null;
    }

    private async Task<string> UploadAsync(string localId, string requestFile, CancellationToken cancellationToken)
    {
        using var response = await _pipeline.SendAsync(
            new LmHttpCall(() =>
            {
                var content = new MultipartFormDataContent();
                content.Add(new StringContent("batch"), "purpose");
                var file = new StreamContent(new FileStream(requestFile, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan | FileOptions.Asynchronous), 1 << 16);
                file.Headers.ContentType = new MediaTypeHeaderValue("application/jsonl");
                content.Add(file, "file", localId + ".jsonl");
                return new HttpRequestMessage(HttpMethod.Post, Url("files")) { Content = content };
            }),
            cancellationToken).ConfigureAwait(false);
        using var doc = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        return Str(doc.RootElement, "id") ?? throw new LmException("OpenAI accepted the batch file but answered without its id.");
    }

    private async Task<string> CreateAsync(string localId, string fileId, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("input_file_id"u8, fileId);
            w.WriteString("endpoint"u8, Endpoint);
            w.WriteString("completion_window"u8, "24h"u8);
            w.WriteStartObject("metadata"u8);
            w.WriteString(LocalIdMetadataKey, localId);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        byte[] body = buffer.WrittenSpan.ToArray();
        var startedAt = DateTimeOffset.UtcNow;
        var call = new LmHttpCall(() =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, Url("batches")) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return request;
        })
        {
            SafeToRetry = false, // a second create would run (and bill) the batch twice
        };
        try
        {
            return await _pipeline.SendAsync(
                call,
                async (response, token) =>
                {
                    using var doc = await ReadJsonAsync(response, token).ConfigureAwait(false);
                    return Str(doc.RootElement, "id") ?? throw new LmException("OpenAI created a batch but answered without its id.");
                },
                async token =>
                {
                    // No clear answer: the batch may exist. Look before creating it again.
                    OpenAiLog.BatchCreateUnclear(_logger);
                    return await FindCoreAsync(localId, startedAt, token).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (LmProviderException e) when (e.Error.ProviderCode == "token_limit_exceeded" || e.Message.Contains("enqueued token limit", StringComparison.OrdinalIgnoreCase))
        {
            throw new LmBatchQueueFullException(e.Error.Message, e);
        }
    }

    private async Task<string?> FindCoreAsync(string localId, DateTimeOffset since, CancellationToken cancellationToken)
    {
        long from = (since - ClockSkew).ToUnixTimeSeconds();
        string? after = null;
        while (true)
        {
            string path = "batches?limit=100" + (after is null ? string.Empty : "&after=" + Uri.EscapeDataString(after));
            using var response = await _pipeline.SendAsync(new LmHttpCall(() => new HttpRequestMessage(HttpMethod.Get, Url(path))), cancellationToken).ConfigureAwait(false);
            using var doc = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
            var root = doc.RootElement;
            bool older = false;
            string? last = null;
            if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
            {
                foreach (var batch in data.EnumerateArray())
                {
                    last = Str(batch, "id") ?? last;
                    // A batch refused for the token queue never ran: the same local id is submitted again after it.
                    bool refused = Str(batch, "status") == "failed" && ErrorCodes(batch).Contains("token_limit_exceeded");
                    if (!refused && batch.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object
                        && Str(meta, LocalIdMetadataKey) == localId && Str(batch, "id") is { } id)
                    {
                        OpenAiLog.BatchFound(_logger, id, localId);
                        return id;
                    }

                    if (batch.TryGetProperty("created_at", out var created) && created.TryGetInt64(out long at) && at < from)
                    {
                        older = true; // newest first: the rest are older still
                    }
                }
            }

            bool hasMore = root.TryGetProperty("has_more", out var more) && more.ValueKind == JsonValueKind.True;
            after = Str(root, "last_id") ?? last;
            if (older || !hasMore || after is null)
            {
                return null;
            }
        }
    }

    private async Task<BatchFiles> FilesOfAsync(string batchId, CancellationToken cancellationToken)
    {
        using var doc = await GetBatchAsync(batchId, cancellationToken).ConfigureAwait(false);
        var b = doc.RootElement;
        return new BatchFiles(Str(b, "input_file_id"), Str(b, "output_file_id"), Str(b, "error_file_id"));
    }

    /// <inheritdoc/>
    public async Task CancelAsync(string batchId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(batchId);
        try
        {
            using var response = await _pipeline.SendAsync(
                new LmHttpCall(() => new HttpRequestMessage(HttpMethod.Post, Url("batches/" + Uri.EscapeDataString(batchId) + "/cancel"))),
                cancellationToken).ConfigureAwait(false);
        }
        catch (LmProviderException e) when (e.Error.StatusCode == 404)
        {
            // Gone already: nothing left to cancel.
        }
    }

    private async Task<JsonDocument> GetBatchAsync(string batchId, CancellationToken cancellationToken)
    {
        using var response = await _pipeline.SendAsync(new LmHttpCall(() => new HttpRequestMessage(HttpMethod.Get, Url("batches/" + Uri.EscapeDataString(batchId)))), cancellationToken).ConfigureAwait(false);
        return await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task DeleteFileAsync(string fileId, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _pipeline.SendAsync(new LmHttpCall(() => new HttpRequestMessage(HttpMethod.Delete, Url("files/" + Uri.EscapeDataString(fileId)))), cancellationToken).ConfigureAwait(false);
        }
        catch (LmProviderException e) when (e.Error.StatusCode == 404)
        {
            // Already deleted.
        }
    }

    private async Task TryDeleteFileAsync(string fileId, CancellationToken cancellationToken)
    {
        try
        {
            await DeleteFileAsync(fileId, cancellationToken).ConfigureAwait(false);
        }
        catch (LmProviderException e)
        {
            OpenAiLog.FileDeleteFailed(_logger, e, fileId);
        }
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        return await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private Uri Url(string relative)
    {
        int q = relative.IndexOf('?', StringComparison.Ordinal);
        string query = _query.Length == 0 ? string.Empty : _query;
        if (q >= 0)
        {
            query = query.Length == 0 ? relative[q..] : query + "&" + relative[(q + 1)..];
            relative = relative[..q];
        }

        return new Uri(_baseUrl + "/" + relative + query);
    }

    private static HashSet<string> ErrorCodes(JsonElement batch)
    {
        var codes = new HashSet<string>(StringComparer.Ordinal);
        if (batch.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object
            && errors.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
        {
            foreach (var e in data.EnumerateArray())
            {
                if (Str(e, "code") is { } code)
                {
                    codes.Add(code);
                }
            }
        }

        return codes;
    }

    private static string? ErrorsText(JsonElement batch)
    {
        if (batch.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object
            && errors.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
        {
            var parts = data.EnumerateArray().Take(5).Select(e =>
                (Str(e, "code") ?? "error") + (Int(e, "line") is { } line ? $" (line {line.ToString(CultureInfo.InvariantCulture)})" : string.Empty) + ": " + (Str(e, "message") ?? "(no message)"));
            string text = string.Join("; ", parts);
            return text.Length == 0 ? null : text;
        }

        return null;
    }

    private static string? Str(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Int(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) ? n : null;

    private sealed record BatchFiles(string? Input, string? Output, string? Error);
}
