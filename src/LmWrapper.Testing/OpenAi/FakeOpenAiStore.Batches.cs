using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using static LmWrapper.Testing.FakeRequestReader;

namespace LmWrapper.Testing;

/// <summary>
/// The fake's /v1/batches: batches validate their input like OpenAI's, move through validating → in_progress →
/// finalizing → completed on the server's clock (<see cref="FakeOpenAiServerOptions.BatchStageDuration"/> or
/// <see cref="FakeOpenAiServerOptions.BatchStagePolls"/>), run their requests through the same code as
/// /v1/chat/completions and /v1/completions, and write real output and error files. They can be cancelled (by the API or
/// from outside), expire with partial results, fail as a whole, or have failed lines (<see cref="FakeOpenAiBatchPlan"/>),
/// and a model's queue of enqueued tokens can be capped (<see cref="FakeOpenAiServerOptions.BatchEnqueuedTokenLimit"/>).
/// </summary>
internal sealed partial class FakeOpenAiStore
{
    private static readonly string[] ActiveStatuses = ["validating", "in_progress", "finalizing"];

    private sealed class StoredBatch
    {
        public required string Id { get; init; }

        public required string Endpoint { get; init; }

        public required string InputFileId { get; init; }

        public required long CreatedAt { get; init; }

        public required long Sequence { get; init; }

        public string? MetadataJson { get; init; }

        public string? LocalId { get; init; }

        public string? Model { get; init; }

        public string[]? CustomIds { get; init; }

        public int RequestCount { get; init; }

        public long EnqueuedTokens { get; init; }

        public FakeOpenAiBatchPlan Plan { get; set; } = FakeOpenAiBatchPlan.Complete;

        /// <summary>Why the batch fails when its validation ends (line errors, or the token queue), or null.</summary>
        public List<(string Code, string Message, int? Line)>? Errors { get; set; }

        public string Status { get; set; } = "validating";

        public DateTimeOffset StageStarted { get; set; } = DateTimeOffset.UtcNow;

        public int StagePolls { get; set; }

        public int? Answered { get; set; }

        public long? InProgressAt { get; set; }

        public long? FinalizingAt { get; set; }

        public long? CompletedAt { get; set; }

        public long? FailedAt { get; set; }

        public long? ExpiredAt { get; set; }

        public long? CancellingAt { get; set; }

        public long? CancelledAt { get; set; }

        public string? OutputFileId { get; set; }

        public string? ErrorFileId { get; set; }

        public int Completed { get; set; }

        public int Failed { get; set; }

        public bool IsActive => ActiveStatuses.Contains(Status) && Errors is null;
    }

    public byte[] CreateBatch(byte[] body)
    {
        using var doc = ParseObject(body);
        var root = doc.RootElement;
        RejectUnknown(root, BatchParams);
        string inputFileId = String(root, "input_file_id") ?? throw Missing("input_file_id");
        string endpoint = String(root, "endpoint") ?? throw Missing("endpoint");
        string window = String(root, "completion_window") ?? throw Missing("completion_window");
        if (!BatchEndpoints.Contains(endpoint))
        {
            throw new FakeApiError(400, $"Invalid value: '{endpoint}'. Supported values are: '/v1/responses', '/v1/chat/completions', '/v1/embeddings', '/v1/completions', and '/v1/moderations'.", param: "endpoint", code: "invalid_value");
        }

        if (window != "24h")
        {
            throw new FakeApiError(400, $"Invalid value: '{window}'. Supported values are: '24h'.", param: "completion_window", code: "invalid_value");
        }

        if (!_files.TryGetValue(inputFileId, out var file))
        {
            throw new FakeApiError(404, $"No such File object: {inputFileId}", param: "input_file_id");
        }

        if (file.Purpose != "batch")
        {
            throw new FakeApiError(400, $"Invalid 'input_file_id': '{inputFileId}'. The file's purpose must be 'batch' but was '{file.Purpose}'.", param: "input_file_id", code: "invalid_value");
        }

        string? metadata = null;
        string? localId = null;
        if (root.TryGetProperty("metadata", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            if (m.ValueKind != JsonValueKind.Object || m.EnumerateObject().Any(p => p.Value.ValueKind != JsonValueKind.String))
            {
                throw InvalidType("metadata", "an object with string values", m);
            }

            if (m.EnumerateObject().Count() > 16)
            {
                throw new FakeApiError(400, "Invalid 'metadata': too many properties. Expected an object with at most 16 properties.", param: "metadata", code: "object_above_max_properties");
            }

            metadata = m.GetRawText();
            localId = String(m, "lmwrapper_local_id");
        }

        var scan = ScanInput(file, endpoint);
        long seq = Interlocked.Increment(ref _sequence);
        var batch = new StoredBatch
        {
            Id = "batch_" + RandomId(32),
            Endpoint = endpoint,
            InputFileId = inputFileId,
            CreatedAt = Now(),
            Sequence = seq,
            MetadataJson = metadata,
            LocalId = localId,
            Model = scan.Model,
            CustomIds = _server.Options.KeepBatchCustomIds ? [.. scan.CustomIds] : null,
            RequestCount = scan.Count,
            EnqueuedTokens = scan.Tokens,
            Errors = scan.Errors.Count > 0 ? scan.Errors : null,
        };

        lock (_batches)
        {
            if (batch.Errors is null && _server.Options.BatchEnqueuedTokenLimit is { } cap)
            {
                long enqueued = _batches.Values.Where(b => b.Model == batch.Model).Sum(b =>
                {
                    lock (b)
                    {
                        return b.IsActive ? b.EnqueuedTokens : 0;
                    }
                });
                if (enqueued + batch.EnqueuedTokens > cap)
                {
                    batch.Errors =
                    [
                        ("token_limit_exceeded", $"Enqueued token limit reached for {batch.Model} in organization org-fake. Limit: {cap.ToString("N0", CultureInfo.InvariantCulture)} enqueued tokens. Please try again once some in_progress batches have been completed.", null),
                    ];
                }
            }

            _batches[batch.Id] = batch;
        }

        if (_server.BatchPlanner is { } planner)
        {
            batch.Plan = planner(Info(batch)) ?? FakeOpenAiBatchPlan.Complete;
        }

        return Write(w => WriteBatch(w, batch));
    }

    public byte[] GetBatch(string id)
    {
        var batch = FindBatch(id);
        Advance(batch, poll: true);
        return Write(w => WriteBatch(w, batch));
    }

    public byte[] CancelBatch(string id)
    {
        var batch = FindBatch(id);
        Advance(batch, poll: false);
        lock (batch)
        {
            if (batch.Status is "validating" or "in_progress" or "finalizing")
            {
                StartCancelling(batch, answered: null);
            }
            else if (batch.Status != "cancelling")
            {
                throw new FakeApiError(409, $"Cannot cancel a batch with status '{batch.Status}'.", param: null, code: "batch_cannot_be_cancelled");
            }
        }

        return Write(w => WriteBatch(w, batch));
    }

    public byte[] ListBatches(IQueryCollection query)
    {
        var batches = _batches.Values.OrderByDescending(b => b.Sequence).ToList();
        foreach (var b in batches)
        {
            Advance(b, poll: false);
        }

        var page = Page(batches, b => b.Id, query, defaultLimit: 20, maxLimit: 100);
        return WriteList(page.Items, page.HasMore, b => b.Id, WriteBatch);
    }

    /// <summary>Every batch, oldest first, as it stands now.</summary>
    public IReadOnlyList<FakeOpenAiBatchInfo> Batches => [.. _batches.Values.OrderBy(b => b.Sequence).Select(Info)];

    /// <summary>Cancels a batch from outside (as from the dashboard): the first <paramref name="answered"/> requests ran.</summary>
    public void CancelFromOutside(string id, int? answered)
    {
        var batch = FindBatch(id);
        lock (batch)
        {
            if (ActiveStatuses.Contains(batch.Status))
            {
                StartCancelling(batch, answered);
            }
        }
    }

    /// <summary>Expires a running batch now: the first <paramref name="answered"/> requests ran.</summary>
    public void ExpireNow(string id, int? answered)
    {
        var batch = FindBatch(id);
        lock (batch)
        {
            if (ActiveStatuses.Contains(batch.Status))
            {
                End(batch, "expired", answered ?? batch.RequestCount / 2, "batch_expired", "This request could not be executed before the completion window expired.");
                batch.ExpiredAt = Now();
            }
        }
    }

    private StoredBatch FindBatch(string id) =>
        _batches.TryGetValue(id, out var b) ? b : throw new FakeApiError(404, $"No batch found with id '{id}'.", param: null, code: null);

    private static void StartCancelling(StoredBatch batch, int? answered)
    {
        batch.Answered = answered ?? batch.Status switch
        {
            "validating" => 0,
            "in_progress" => batch.RequestCount / 2,
            _ => batch.RequestCount,
        };
        batch.Status = "cancelling";
        batch.CancellingAt = Now();
        batch.StageStarted = DateTimeOffset.UtcNow;
        batch.StagePolls = 0;
    }

    /// <summary>Moves a batch along its stages as far as the server's clock says it has got.</summary>
    private void Advance(StoredBatch batch, bool poll)
    {
        var options = _server.Options;
        lock (batch)
        {
            if (poll)
            {
                batch.StagePolls++;
            }

            while (batch.Status is "validating" or "in_progress" or "finalizing" or "cancelling")
            {
                bool over = options.BatchStagePolls > 0
                    ? batch.StagePolls >= options.BatchStagePolls
                    : DateTimeOffset.UtcNow - batch.StageStarted >= options.BatchStageDuration;
                if (!over)
                {
                    return;
                }

                NextStage(batch);
                batch.StageStarted = DateTimeOffset.UtcNow;
                batch.StagePolls = 0;
                if (options.BatchStagePolls > 0)
                {
                    return; // one stage per look
                }
            }
        }
    }

    private void NextStage(StoredBatch batch)
    {
        switch (batch.Status)
        {
            case "validating" when batch.Errors is not null:
                batch.Status = "failed";
                batch.FailedAt = Now();
                break;
            case "validating" when batch.Plan.Ending == FakeOpenAiBatchEnding.Fail:
                batch.Errors = [(batch.Plan.FailureCode, batch.Plan.FailureMessage, null)];
                batch.Status = "failed";
                batch.FailedAt = Now();
                break;
            case "validating":
                batch.Status = "in_progress";
                batch.InProgressAt = Now();
                break;
            case "in_progress" when batch.Plan.Ending == FakeOpenAiBatchEnding.Expire:
                End(batch, "expired", batch.Plan.Answered ?? batch.RequestCount / 2, "batch_expired", "This request could not be executed before the completion window expired.");
                batch.ExpiredAt = Now();
                break;
            case "in_progress" when batch.Plan.Ending == FakeOpenAiBatchEnding.Cancel:
                StartCancelling(batch, batch.Plan.Answered ?? batch.RequestCount / 2);
                break;
            case "in_progress":
                batch.Status = "finalizing";
                batch.FinalizingAt = Now();
                break;
            case "finalizing":
                End(batch, "completed", batch.RequestCount, null, null);
                batch.CompletedAt = Now();
                break;
            case "cancelling":
                End(batch, "cancelled", batch.Answered ?? 0, "batch_cancelled", "This request was not executed because the batch was cancelled.");
                batch.CancelledAt = Now();
                break;
        }
    }

    /// <summary>Runs the first <paramref name="answered"/> requests, writes the output and error files, and ends the batch.</summary>
    private void End(StoredBatch batch, string status, int answered, string? unansweredCode, string? unansweredMessage)
    {
        batch.Status = status;
        if (!_files.TryGetValue(batch.InputFileId, out var input))
        {
            return; // the input is gone: nothing ran
        }

        var output = new ArrayBufferWriter<byte>(4096);
        var errors = new ArrayBufferWriter<byte>(1024);
        int index = 0;
        using (var stream = input.Open())
        using (var reader = new StreamReader(stream, Encoding.UTF8))
        {
            while (reader.ReadLine() is { } line)
            {
                if (line.Trim().Length == 0)
                {
                    continue;
                }

                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                string customId = String(root, "custom_id") ?? string.Empty;
                if (index++ >= answered)
                {
                    if (unansweredCode is not null)
                    {
                        WriteLine(errors, customId, null, null, (unansweredCode, unansweredMessage!));
                        batch.Failed++;
                    }

                    continue;
                }

                var (statusCode, body) = Run(batch, customId, root.GetProperty("body"));
                if (statusCode == 200)
                {
                    WriteLine(output, customId, statusCode, body, null);
                    batch.Completed++;
                }
                else
                {
                    WriteLine(errors, customId, statusCode, body, null);
                    batch.Failed++;
                }
            }
        }

        if (output.WrittenCount > 0)
        {
            batch.OutputFileId = StoreGenerated(batch.Id + "_output.jsonl", output.WrittenSpan);
        }

        if (errors.WrittenCount > 0)
        {
            batch.ErrorFileId = StoreGenerated(batch.Id + "_error.jsonl", errors.WrittenSpan);
        }
    }

    private (int Status, byte[] Body) Run(StoredBatch batch, string customId, JsonElement body)
    {
        if (batch.Plan.FailLine?.Invoke(customId) == true)
        {
            return (400, ErrorBody(new FakeApiError(400, "The request was rejected (an injected failure of this line).", code: "invalid_request")));
        }

        byte[] bytes = JsonMarshal.GetRawUtf8Value(body).ToArray();
        try
        {
            return (200, batch.Endpoint == "/v1/chat/completions" ? FakeOpenAiGeneration.Chat(_server, bytes) : FakeOpenAiGeneration.Completions(_server, bytes));
        }
        catch (FakeApiError e)
        {
            return (e.Status, ErrorBody(e));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return (500, ErrorBody(new FakeApiError(500, "The server had an error while processing your request. (" + e.GetType().Name + ": " + e.Message + ")", "server_error")));
        }
    }

    private static byte[] ErrorBody(FakeApiError e) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", e.Message);
        w.WriteString("type", e.Type);
        FakeOpenAiServer.WriteNullable(w, "param", e.Param);
        FakeOpenAiServer.WriteNullable(w, "code", e.Code);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    private static void WriteLine(ArrayBufferWriter<byte> target, string customId, int? status, byte[]? body, (string Code, string Message)? error)
    {
        using (var w = new Utf8JsonWriter(target, FakeOpenAiServer.JsonOptions))
        {
            w.WriteStartObject();
            w.WriteString("id", "batch_req_" + RandomId(32));
            w.WriteString("custom_id", customId);
            if (status is { } s)
            {
                w.WriteStartObject("response");
                w.WriteNumber("status_code", s);
                w.WriteString("request_id", RandomId(32).ToLowerInvariant());
                w.WritePropertyName("body");
                w.WriteRawValue(body!, skipInputValidation: true);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("response");
            }

            if (error is { } e)
            {
                w.WriteStartObject("error");
                w.WriteString("code", e.Code);
                w.WriteString("message", e.Message);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("error");
            }

            w.WriteEndObject();
        }

        target.Write("\n"u8);
    }

    private string StoreGenerated(string filename, ReadOnlySpan<byte> content)
    {
        string id = "file-" + RandomId(22);
        long seq = Interlocked.Increment(ref _sequence);
        StoredFile file;
        if (_server.Options.FileStorageDirectory is { } dir)
        {
            Directory.CreateDirectory(dir);
            string path = Path.Combine(dir, id);
            using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(content);
            }

            file = new StoredFile(id, null, path, content.Length, filename, "batch_output", Now(), seq);
        }
        else
        {
            file = new StoredFile(id, content.ToArray(), null, content.Length, filename, "batch_output", Now(), seq);
        }

        _files[id] = file;
        return id;
    }

    private static void Forget(StoredFile file)
    {
        if (file.DiskPath is { } path)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Checks an uploaded batch file as OpenAI does at upload: JSON lines with custom_id, method, url and body.</summary>
    private static void ValidateBatchLines(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        int line = 0;
        while (reader.ReadLine() is { } raw)
        {
            line++;
            if (raw.Trim().Length == 0)
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(raw);
                var r = doc.RootElement;
                if (r.ValueKind != JsonValueKind.Object || !Has(r, "custom_id") || !Has(r, "method") || !Has(r, "url") || !Has(r, "body"))
                {
                    throw new FakeApiError(400, $"Invalid batch input on line {line}: each line needs 'custom_id', 'method', 'url' and 'body'.", param: "file", code: "invalid_batch_input");
                }
            }
            catch (JsonException)
            {
                throw new FakeApiError(400, $"Invalid batch input on line {line}: not valid JSON.", param: "file", code: "invalid_batch_input");
            }
        }
    }

    /// <summary>
    /// What a batch's validation finds in its input, as OpenAI's does: each line's url must be the batch's endpoint,
    /// custom ids unique, one model throughout, at most 50,000 requests; and the input tokens it would enqueue.
    /// </summary>
    private (int Count, string? Model, List<string> CustomIds, long Tokens, List<(string Code, string Message, int? Line)> Errors) ScanInput(StoredFile file, string endpoint)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var order = new List<string>();
        var errors = new List<(string, string, int?)>();
        string? model = null;
        long tokens = 0;
        int count = 0, line = 0;
        bool keep = _server.Options.KeepBatchCustomIds;
        using var stream = file.Open();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (reader.ReadLine() is { } raw)
        {
            line++;
            if (raw.Trim().Length == 0)
            {
                continue;
            }

            count++;
            using var doc = JsonDocument.Parse(raw);
            var r = doc.RootElement;
            string customId = String(r, "custom_id") ?? string.Empty;
            if (!ids.Add(customId))
            {
                errors.Add(("duplicate_custom_id", "The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.", line));
            }
            else if (keep)
            {
                order.Add(customId);
            }

            if (String(r, "url") != endpoint)
            {
                errors.Add(("invalid_url", $"The URL provided for this request does not match the batch endpoint {endpoint}.", line));
            }

            var body = r.TryGetProperty("body", out var b) ? b : default;
            string? lineModel = body.ValueKind == JsonValueKind.Object ? String(body, "model") : null;
            if (lineModel is null)
            {
                errors.Add(("missing_required_parameter", "Missing required parameter: 'body.model'.", line));
            }
            else if (model is null)
            {
                model = lineModel;
            }
            else if (model != lineModel)
            {
                errors.Add(("mismatched_model", "The provided model is different from the model provided in other requests of this batch. Each batch may only use one model.", line));
            }

            tokens += InputTokens(body);
        }

        if (count > MaxBatchRequests)
        {
            errors.Insert(0, ("too_many_requests", $"The batch input file has {count} requests; a batch may have at most {MaxBatchRequests}.", null));
        }

        if (count == 0)
        {
            errors.Add(("empty_file", "The batch input file is empty.", null));
        }

        if (!keep)
        {
            ids.Clear();
        }

        return (count, model, order, tokens, errors);
    }

    private static long InputTokens(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return 0;
        }

        if (body.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            long total = 3;
            foreach (var m in messages.EnumerateArray())
            {
                total += 3 + FakeTokens.Count(String(m, "role") ?? string.Empty) + (m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? FakeTokens.Count(c.GetString()!) : 0);
            }

            return total;
        }

        return body.TryGetProperty("prompt", out var p) && p.ValueKind == JsonValueKind.String ? FakeTokens.Count(p.GetString()!) : 0;
    }

    private static FakeOpenAiBatchInfo Info(StoredBatch b)
    {
        string status;
        lock (b)
        {
            status = b.Status;
        }

        return new FakeOpenAiBatchInfo(b.Id, b.Endpoint, b.InputFileId, b.Model, b.LocalId, b.CustomIds ?? [], b.EnqueuedTokens, status, DateTimeOffset.FromUnixTimeSeconds(b.CreatedAt));
    }

    private static void WriteBatch(Utf8JsonWriter w, StoredBatch b)
    {
        lock (b)
        {
            w.WriteStartObject();
            w.WriteString("id", b.Id);
            w.WriteString("object", "batch");
            w.WriteString("endpoint", b.Endpoint);
            if (b.Status == "failed" && b.Errors is { } errors)
            {
                w.WriteStartObject("errors");
                w.WriteString("object", "list");
                w.WriteStartArray("data");
                foreach (var (code, message, line) in errors.Take(1000))
                {
                    w.WriteStartObject();
                    w.WriteString("code", code);
                    w.WriteString("message", message);
                    w.WriteNull("param");
                    WriteTime(w, "line", line);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("errors");
            }

            w.WriteString("input_file_id", b.InputFileId);
            w.WriteString("completion_window", "24h");
            w.WriteString("status", b.Status);
            FakeOpenAiServer.WriteNullable(w, "output_file_id", b.OutputFileId);
            FakeOpenAiServer.WriteNullable(w, "error_file_id", b.ErrorFileId);
            w.WriteNumber("created_at", b.CreatedAt);
            WriteTime(w, "in_progress_at", b.InProgressAt);
            w.WriteNumber("expires_at", b.CreatedAt + 86_400);
            WriteTime(w, "finalizing_at", b.FinalizingAt);
            WriteTime(w, "completed_at", b.CompletedAt);
            WriteTime(w, "failed_at", b.FailedAt);
            WriteTime(w, "expired_at", b.ExpiredAt);
            WriteTime(w, "cancelling_at", b.CancellingAt);
            WriteTime(w, "cancelled_at", b.CancelledAt);
            w.WriteStartObject("request_counts");
            bool counted = b.Status is not "validating" || b.Completed + b.Failed > 0;
            w.WriteNumber("total", counted ? b.RequestCount : 0);
            w.WriteNumber("completed", b.Completed);
            w.WriteNumber("failed", b.Failed);
            w.WriteEndObject();
            if (b.MetadataJson is { } meta)
            {
                w.WritePropertyName("metadata");
                w.WriteRawValue(meta);
            }
            else
            {
                w.WriteNull("metadata");
            }

            w.WriteEndObject();
        }
    }

    private static void WriteTime(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
