using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using static LmWrapper.Testing.FakeRequestReader;

namespace LmWrapper.Testing;

/// <summary>The fake's /v1/files and /v1/batches: objects stored in memory, in the published shapes.</summary>
internal sealed class FakeOpenAiStore
{
    private static readonly HashSet<string> Purposes = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"];
    private static readonly string[] BatchEndpoints = ["/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations"];
    private static readonly HashSet<string> BatchParams = ["input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"];

    private readonly ConcurrentDictionary<string, StoredFile> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StoredBatch> _batches = new(StringComparer.Ordinal);
    private long _sequence;

    private sealed record StoredFile(string Id, byte[] Content, string Filename, string Purpose, long CreatedAt, long Sequence);

    private sealed class StoredBatch
    {
        public required string Id { get; init; }

        public required string Endpoint { get; init; }

        public required string InputFileId { get; init; }

        public required long CreatedAt { get; init; }

        public required long Sequence { get; init; }

        public string? MetadataJson { get; init; }

        public string Status { get; set; } = "validating";

        public long? CancellingAt { get; set; }
    }

    public async Task<byte[]> UploadAsync(HttpRequest request)
    {
        if (!request.HasFormContentType)
        {
            throw new FakeApiError(400, "Invalid Content-Type header (application/json), expected multipart/form-data. (HINT: If you're using curl, you can pass -F 'key=value' to set multipart fields.)");
        }

        var form = await request.ReadFormAsync().ConfigureAwait(false);
        var file = form.Files.GetFile("file") ?? throw new FakeApiError(400, "Missing required parameter: 'file'.", param: "file", code: "missing_required_parameter");
        string purpose = form["purpose"].ToString();
        if (purpose.Length == 0)
        {
            throw new FakeApiError(400, "Missing required parameter: 'purpose'.", param: "purpose", code: "missing_required_parameter");
        }

        if (!Purposes.Contains(purpose))
        {
            throw new FakeApiError(400, $"Invalid value: '{purpose}'. Supported values are: 'assistants', 'batch', 'fine-tune', 'vision', 'user_data', and 'evals'.", param: "purpose", code: "invalid_value");
        }

        using var ms = new MemoryStream();
        await file.CopyToAsync(ms).ConfigureAwait(false);
        byte[] content = ms.ToArray();
        if (purpose == "batch")
        {
            ValidateBatchFile(file.FileName, content);
        }

        long seq = Interlocked.Increment(ref _sequence);
        var stored = new StoredFile("file-" + RandomId(22), content, file.FileName, purpose, Now() + seq, seq);
        _files[stored.Id] = stored;
        return Write(w => WriteFile(w, stored));
    }

    public byte[] GetFile(string id) => Write(w => WriteFile(w, FindFile(id)));

    public byte[] FileContent(string id) => FindFile(id).Content;

    public byte[] DeleteFile(string id)
    {
        if (!_files.TryRemove(id, out _))
        {
            throw NoSuchFile(id);
        }

        return Write(w =>
        {
            w.WriteStartObject();
            w.WriteString("id", id);
            w.WriteString("object", "file");
            w.WriteBoolean("deleted", true);
            w.WriteEndObject();
        });
    }

    public byte[] ListFiles(IQueryCollection query)
    {
        string purpose = query["purpose"].ToString();
        bool ascending = query["order"].ToString() == "asc";
        var files = _files.Values.Where(f => purpose.Length == 0 || f.Purpose == purpose);
        files = ascending ? files.OrderBy(f => f.Sequence) : files.OrderByDescending(f => f.Sequence);
        var page = Page(files.ToList(), f => f.Id, query, defaultLimit: 10000, maxLimit: 10000);
        return WriteList(page.Items, page.HasMore, f => f.Id, WriteFile);
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
        }

        long seq = Interlocked.Increment(ref _sequence);
        var batch = new StoredBatch
        {
            Id = "batch_" + RandomId(32),
            Endpoint = endpoint,
            InputFileId = inputFileId,
            CreatedAt = Now() + seq,
            Sequence = seq,
            MetadataJson = metadata,
        };
        _batches[batch.Id] = batch;
        return Write(w => WriteBatch(w, batch));
    }

    public byte[] GetBatch(string id) => Write(w => WriteBatch(w, FindBatch(id)));

    public byte[] CancelBatch(string id)
    {
        var batch = FindBatch(id);
        lock (batch)
        {
            if (batch.Status is "validating" or "in_progress" or "finalizing")
            {
                batch.Status = "cancelling";
                batch.CancellingAt = Now();
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
        var page = Page(batches, b => b.Id, query, defaultLimit: 20, maxLimit: 100);
        return WriteList(page.Items, page.HasMore, b => b.Id, WriteBatch);
    }

    private static (List<T> Items, bool HasMore) Page<T>(List<T> all, Func<T, string> id, IQueryCollection query, int defaultLimit, int maxLimit)
    {
        int limit = defaultLimit;
        string limitText = query["limit"].ToString();
        if (limitText.Length > 0 && (!int.TryParse(limitText, NumberStyles.Integer, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > maxLimit))
        {
            throw new FakeApiError(400, $"Invalid 'limit': expected an integer between 1 and {maxLimit}, but got '{limitText}'.", param: "limit", code: "invalid_value");
        }

        string after = query["after"].ToString();
        int start = 0;
        if (after.Length > 0)
        {
            start = all.FindIndex(x => id(x) == after) + 1;
        }

        var items = all.Skip(start).Take(limit).ToList();
        return (items, start + items.Count < all.Count);
    }

    private static byte[] WriteList<T>(List<T> items, bool hasMore, Func<T, string> id, Action<Utf8JsonWriter, T> write) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        foreach (var item in items)
        {
            write(w, item);
        }

        w.WriteEndArray();
        FakeOpenAiServer.WriteNullable(w, "first_id", items.Count > 0 ? id(items[0]) : null);
        FakeOpenAiServer.WriteNullable(w, "last_id", items.Count > 0 ? id(items[^1]) : null);
        w.WriteBoolean("has_more", hasMore);
        w.WriteEndObject();
    });

    private static void WriteFile(Utf8JsonWriter w, StoredFile f)
    {
        w.WriteStartObject();
        w.WriteString("id", f.Id);
        w.WriteString("object", "file");
        w.WriteNumber("bytes", f.Content.Length);
        w.WriteNumber("created_at", f.CreatedAt);
        w.WriteNull("expires_at");
        w.WriteString("filename", f.Filename);
        w.WriteString("purpose", f.Purpose);
        w.WriteString("status", "processed");
        w.WriteNull("status_details");
        w.WriteEndObject();
    }

    private static void WriteBatch(Utf8JsonWriter w, StoredBatch b)
    {
        string status;
        long? cancellingAt;
        lock (b)
        {
            status = b.Status;
            cancellingAt = b.CancellingAt;
        }

        w.WriteStartObject();
        w.WriteString("id", b.Id);
        w.WriteString("object", "batch");
        w.WriteString("endpoint", b.Endpoint);
        w.WriteNull("errors");
        w.WriteString("input_file_id", b.InputFileId);
        w.WriteString("completion_window", "24h");
        w.WriteString("status", status);
        w.WriteNull("output_file_id");
        w.WriteNull("error_file_id");
        w.WriteNumber("created_at", b.CreatedAt);
        w.WriteNull("in_progress_at");
        w.WriteNumber("expires_at", b.CreatedAt + 86_400);
        w.WriteNull("finalizing_at");
        w.WriteNull("completed_at");
        w.WriteNull("failed_at");
        w.WriteNull("expired_at");
        if (cancellingAt is { } c)
        {
            w.WriteNumber("cancelling_at", c);
        }
        else
        {
            w.WriteNull("cancelling_at");
        }

        w.WriteNull("cancelled_at");
        w.WriteStartObject("request_counts");
        w.WriteNumber("total", 0);
        w.WriteNumber("completed", 0);
        w.WriteNumber("failed", 0);
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

    private static void ValidateBatchFile(string filename, byte[] content)
    {
        if (!filename.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            throw new FakeApiError(400, "Invalid file format for Batch API. Must be .jsonl", param: "file", code: "invalid_file_format");
        }

        int line = 0;
        foreach (var raw in Encoding.UTF8.GetString(content).Split('\n'))
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

    private StoredFile FindFile(string id) => _files.TryGetValue(id, out var f) ? f : throw NoSuchFile(id);

    private StoredBatch FindBatch(string id) =>
        _batches.TryGetValue(id, out var b) ? b : throw new FakeApiError(404, $"No batch found with id '{id}'.", param: null, code: null);

    private static FakeApiError NoSuchFile(string id) => new(404, $"No such File object: {id}", param: "id");

    private static FakeApiError Missing(string name) =>
        new(400, $"Missing required parameter: '{name}'.", param: name, code: "missing_required_parameter");

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static string RandomId(int length)
    {
        const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        return string.Create(length, 0, (span, _) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = Alphabet[Random.Shared.Next(Alphabet.Length)];
            }
        });
    }

    private static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, FakeOpenAiServer.JsonOptions))
        {
            write(w);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
