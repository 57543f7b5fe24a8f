using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using static LmWrapper.Testing.FakeRequestReader;

namespace LmWrapper.Testing;

/// <summary>The fake's /v1/files and /v1/batches: objects stored in memory, in the published shapes.</summary>
internal sealed partial class FakeOpenAiStore
{
    private static readonly HashSet<string> Purposes = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"];
    private static readonly string[] BatchEndpoints = ["/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations"];
    private static readonly HashSet<string> BatchParams = ["input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"];
    private const long MaxBatchFileBytes = 200L * 1024 * 1024;
    private const int MaxBatchRequests = 50_000;

    private readonly ConcurrentDictionary<string, StoredFile> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StoredBatch> _batches = new(StringComparer.Ordinal);
    private readonly FakeOpenAiServer _server;
    private long _sequence;

    public FakeOpenAiStore(FakeOpenAiServer server)
    {
        _server = server;
    }

    /// <summary>A stored file: its bytes in memory, or on disk (<see cref="FakeOpenAiServerOptions.FileStorageDirectory"/>).</summary>
    private sealed record StoredFile(string Id, byte[]? Bytes, string? DiskPath, long Length, string Filename, string Purpose, long CreatedAt, long Sequence)
    {
        public Stream Open() => Bytes is { } b ? new MemoryStream(b, writable: false) : new FileStream(DiskPath!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);

        public byte[] ReadAll() => Bytes ?? File.ReadAllBytes(DiskPath!);
    }

    public IReadOnlyCollection<string> FileIds => [.. _files.Keys];

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

        if (purpose == "batch" && !file.FileName.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            throw new FakeApiError(400, "Invalid file format for Batch API. Must be .jsonl", param: "file", code: "invalid_file_format");
        }

        if (purpose == "batch" && file.Length > MaxBatchFileBytes)
        {
            throw new FakeApiError(400, $"File is too large ({file.Length} bytes); batch input files may be at most 200 MB.", param: "file", code: "file_too_large");
        }

        string id = "file-" + RandomId(22);
        StoredFile stored;
        long seq = Interlocked.Increment(ref _sequence);
        if (_server.Options.FileStorageDirectory is { } dir)
        {
            Directory.CreateDirectory(dir);
            string path = Path.Combine(dir, id);
            await using (var target = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16, useAsync: true))
            {
                await file.CopyToAsync(target).ConfigureAwait(false);
            }

            stored = new StoredFile(id, null, path, file.Length, file.FileName, purpose, Now() + seq, seq);
        }
        else
        {
            using var ms = new MemoryStream();
            await file.CopyToAsync(ms).ConfigureAwait(false);
            byte[] content = ms.ToArray();
            stored = new StoredFile(id, content, null, content.Length, file.FileName, purpose, Now() + seq, seq);
        }

        if (purpose == "batch")
        {
            try
            {
                using var stream = stored.Open();
                ValidateBatchLines(stream);
            }
            catch
            {
                Forget(stored);
                throw;
            }
        }

        _files[stored.Id] = stored;
        return Write(w => WriteFile(w, stored));
    }

    public byte[] GetFile(string id) => Write(w => WriteFile(w, FindFile(id)));

    public byte[] FileContent(string id) => FindFile(id).ReadAll();

    public byte[] DeleteFile(string id)
    {
        if (!_files.TryRemove(id, out var file))
        {
            throw NoSuchFile(id);
        }

        Forget(file);
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
        w.WriteNumber("bytes", f.Length);
        w.WriteNumber("created_at", f.CreatedAt);
        w.WriteNull("expires_at");
        w.WriteString("filename", f.Filename);
        w.WriteString("purpose", f.Purpose);
        w.WriteString("status", "processed");
        w.WriteNull("status_details");
        w.WriteEndObject();
    }

    private StoredFile FindFile(string id) => _files.TryGetValue(id, out var f) ? f : throw NoSuchFile(id);

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
