using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace LmWrapper.Testing.HuggingFace;

/// <summary>
/// A fake Hugging Face hub on 127.0.0.1 (a free port) for offline tests: it serves the hub's model-info endpoint
/// (<c>GET /api/models/{repo}/revision/{rev}</c>) and file endpoint (<c>GET/HEAD /{repo}/resolve/{rev}/{file}</c>,
/// with <c>X-Repo-Commit</c>, <c>ETag</c>, and for LFS files <c>X-Linked-Etag</c>/<c>X-Linked-Size</c> and a redirect
/// to a storage URL that honours Range requests) from repositories registered in code. It answers gated, private and
/// missing repositories, revisions and files as the hub does (status and <c>X-Error-Code</c>), can inject faults
/// (a dropped connection mid-file, 5xx answers, slow responses), and records every request.
/// </summary>
/// <example>
/// <code>
/// await using var hub = await FakeHuggingFaceHub.StartAsync();
/// hub.AddRepository("org/tiny").AddFile("config.json", "{}").AddFile("model.safetensors", bytes);
/// var options = new HuggingFaceHubOptions { Endpoint = hub.Endpoint, CacheDirectory = tempDir, Offline = false, Token = null };
/// </code>
/// </example>
public sealed class FakeHuggingFaceHub : IAsyncDisposable
{
    private WebApplication _app = null!;
    private readonly ConcurrentDictionary<string, FakeHubRepository> _repos = new(StringComparer.Ordinal);
    private readonly List<FakeHubRequest> _requests = [];
    private readonly object _lock = new();
    private readonly Dictionary<string, long> _drops = new(StringComparer.Ordinal);
    private readonly List<(int Status, string? PathContains)> _failures = [];

    private FakeHuggingFaceHub()
    {
    }

    /// <summary>The base address, e.g. <c>http://127.0.0.1:54321</c>; use it as <c>HF_ENDPOINT</c>.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>The token gated and private repositories accept (sent as <c>Authorization: Bearer …</c>).</summary>
    public string AcceptedToken { get; set; } = "hf_fake_token_for_tests";

    /// <summary>A delay before every response (to test timeouts and cancellation).</summary>
    public TimeSpan ResponseDelay { get; set; }

    /// <summary>A delay between 16 KiB chunks of file bodies (a slow connection).</summary>
    public TimeSpan ChunkDelay { get; set; }

    /// <summary>Every request received so far, in order.</summary>
    public IReadOnlyList<FakeHubRequest> Requests
    {
        get
        {
            lock (_lock) return _requests.ToList();
        }
    }

    /// <summary>Starts the server on 127.0.0.1 with a free port.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running fake hub; dispose it to stop.</returns>
    public static async Task<FakeHuggingFaceHub> StartAsync(CancellationToken cancellationToken = default)
    {
        var hub = new FakeHuggingFaceHub();
        (hub._app, string address) = await LoopbackHost.StartAsync(hub.HandleAsync, configure: null, cancellationToken).ConfigureAwait(false);
        hub.Endpoint = new Uri(address);
        return hub;
    }

    /// <summary>Registers a repository (replacing one with the same id).</summary>
    /// <param name="repoId">The id, e.g. <c>org/name</c>.</param>
    /// <param name="commitSha">The first commit's 40-hex id; random when null.</param>
    /// <param name="gated">Whether files need the accepted token.</param>
    /// <returns>The repository, to add files to.</returns>
    public FakeHubRepository AddRepository(string repoId, string? commitSha = null, bool gated = false)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        var repo = new FakeHubRepository(repoId, commitSha) { Gated = gated };
        _repos[repoId] = repo;
        return repo;
    }

    /// <summary>The next GET of a file with this path (in any repository) sends only the first bytes, then drops the connection.</summary>
    /// <param name="filePath">The file path inside the repository, e.g. <c>model.safetensors</c>.</param>
    /// <param name="afterBytes">How many body bytes to send before dropping.</param>
    public void DropConnectionOnce(string filePath, long afterBytes)
    {
        lock (_lock) _drops[filePath] = afterBytes;
    }

    /// <summary>The next <paramref name="count"/> requests (whose path contains <paramref name="pathContains"/>, if given) get an error status.</summary>
    /// <param name="statusCode">The status to answer, e.g. 500 or 503.</param>
    /// <param name="count">How many requests.</param>
    /// <param name="pathContains">Only requests whose path contains this.</param>
    public void FailNextRequests(int statusCode, int count = 1, string? pathContains = null)
    {
        lock (_lock)
        {
            for (int i = 0; i < count; i++) _failures.Add((statusCode, pathContains));
        }
    }

    /// <summary>Forgets the recorded requests.</summary>
    public void ClearRequests()
    {
        lock (_lock) _requests.Clear();
    }

    /// <summary>Stops the server.</summary>
    /// <returns>A task that completes when it has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        await LoopbackHost.StopAsync(_app).ConfigureAwait(false);
    }

    // ----- request handling -----

    private async Task HandleAsync(HttpContext ctx)
    {
        string raw = ctx.Features.Get<IHttpRequestFeature>()!.RawTarget;
        int q = raw.IndexOf('?', StringComparison.Ordinal);
        string rawPath = q >= 0 ? raw[..q] : raw;
        string path = Uri.UnescapeDataString(rawPath);
        bool aborted = false;
        try
        {
            if (ResponseDelay > TimeSpan.Zero) await Task.Delay(ResponseDelay, ctx.RequestAborted).ConfigureAwait(false);
            if (TakeFailure(path) is int failStatus)
            {
                ctx.Response.StatusCode = failStatus;
                await ctx.Response.WriteAsync("Injected failure", ctx.RequestAborted).ConfigureAwait(false);
                return;
            }
            bool isGet = HttpMethods.IsGet(ctx.Request.Method), isHead = HttpMethods.IsHead(ctx.Request.Method);
            if (!isGet && !isHead)
            {
                ctx.Response.StatusCode = 405;
                return;
            }
            if (rawPath.StartsWith("/api/models/", StringComparison.Ordinal) && isGet)
            {
                await ModelInfoAsync(ctx, rawPath["/api/models/".Length..]).ConfigureAwait(false);
                return;
            }
            if (rawPath.StartsWith("/lfs/", StringComparison.Ordinal))
            {
                aborted = await LfsAsync(ctx, rawPath["/lfs/".Length..], isHead).ConfigureAwait(false);
                return;
            }
            int r = rawPath.IndexOf("/resolve/", StringComparison.Ordinal);
            if (r > 0)
            {
                aborted = await ResolveAsync(ctx, Uri.UnescapeDataString(rawPath[1..r]), rawPath[(r + "/resolve/".Length)..], isHead).ConfigureAwait(false);
                return;
            }
            await ErrorAsync(ctx, 404, null, "Not Found").ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _requests.Add(new FakeHubRequest(ctx.Request.Method, path, ctx.Request.Headers.Range.FirstOrDefault(),
                    ctx.Request.Headers.Authorization.FirstOrDefault(), ctx.Response.StatusCode, aborted));
            }
        }
    }

    private int? TakeFailure(string path)
    {
        lock (_lock)
        {
            int i = _failures.FindIndex(f => f.PathContains is null || path.Contains(f.PathContains, StringComparison.Ordinal));
            if (i < 0) return null;
            int status = _failures[i].Status;
            _failures.RemoveAt(i);
            return status;
        }
    }

    private static Task ErrorAsync(HttpContext ctx, int status, string? errorCode, string message)
    {
        ctx.Response.StatusCode = status;
        if (errorCode is not null) ctx.Response.Headers["X-Error-Code"] = errorCode;
        ctx.Response.Headers["X-Error-Message"] = message;
        if (HttpMethods.IsHead(ctx.Request.Method)) return Task.CompletedTask;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, string> { ["error"] = message }), ctx.RequestAborted);
    }

    private bool HasToken(HttpContext ctx) =>
        string.Equals(ctx.Request.Headers.Authorization.FirstOrDefault(), "Bearer " + AcceptedToken, StringComparison.Ordinal);

    /// <summary>Access checks as the hub makes them. Returns the repository, or null after writing the error.</summary>
    private async Task<FakeHubRepository?> AuthorizeAsync(HttpContext ctx, string repoId, bool forFiles)
    {
        bool authHeader = ctx.Request.Headers.Authorization.Count > 0;
        if (!_repos.TryGetValue(repoId, out var repo) || (repo.Private && !HasToken(ctx)))
        {
            await ErrorAsync(ctx, authHeader ? 404 : 401, "RepoNotFound", "Repository not found").ConfigureAwait(false);
            return null;
        }
        if (repo.Gated && forFiles && !HasToken(ctx))
        {
            if (authHeader)
                await ErrorAsync(ctx, 403, "GatedRepo", $"Access to model {repoId} is restricted and you are not in the authorized list. Visit {Endpoint}/{repoId} to ask for access.").ConfigureAwait(false);
            else
                await ErrorAsync(ctx, 401, "GatedRepo", $"Access to model {repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.").ConfigureAwait(false);
            return null;
        }
        return repo;
    }

    private async Task ModelInfoAsync(HttpContext ctx, string rest)
    {
        int r = rest.LastIndexOf("/revision/", StringComparison.Ordinal);
        string repoId = Uri.UnescapeDataString(r >= 0 ? rest[..r] : rest);
        string revision = r >= 0 ? Uri.UnescapeDataString(rest[(r + "/revision/".Length)..]) : "main";
        var repo = await AuthorizeAsync(ctx, repoId, forFiles: false).ConfigureAwait(false);
        if (repo is null) return;
        if (!repo.TryResolve(revision, out string sha, out var files))
        {
            await ErrorAsync(ctx, 404, "RevisionNotFound", $"Invalid rev id: {revision}").ConfigureAwait(false);
            return;
        }
        var body = new Dictionary<string, object?>
        {
            ["_id"] = sha[..24],
            ["id"] = repoId,
            ["modelId"] = repoId,
            ["sha"] = sha,
            ["private"] = repo.Private,
            ["gated"] = repo.Gated ? "manual" : false,
            ["disabled"] = false,
            ["tags"] = Array.Empty<string>(),
            ["siblings"] = files.Keys.Order(StringComparer.Ordinal).Select(f => new Dictionary<string, string> { ["rfilename"] = f }).ToArray(),
        };
        ctx.Response.ContentType = "application/json; charset=utf-8";
        await ctx.Response.WriteAsync(JsonSerializer.Serialize(body), ctx.RequestAborted).ConfigureAwait(false);
    }

    private async Task<bool> ResolveAsync(HttpContext ctx, string repoId, string rest, bool isHead)
    {
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            await ErrorAsync(ctx, 404, null, "Not Found").ConfigureAwait(false);
            return false;
        }
        string revision = Uri.UnescapeDataString(rest[..slash]);
        string file = Uri.UnescapeDataString(rest[(slash + 1)..]);
        var repo = await AuthorizeAsync(ctx, repoId, forFiles: true).ConfigureAwait(false);
        if (repo is null) return false;
        if (!repo.TryResolve(revision, out string sha, out var files))
        {
            await ErrorAsync(ctx, 404, "RevisionNotFound", $"Invalid rev id: {revision}").ConfigureAwait(false);
            return false;
        }
        ctx.Response.Headers["X-Repo-Commit"] = sha;
        if (!files.TryGetValue(file, out var content))
        {
            await ErrorAsync(ctx, 404, "EntryNotFound", $"{file} does not exist on \"{revision}\"").ConfigureAwait(false);
            return false;
        }
        if (FakeHubRepository.IsLfs(file, content))
        {
            string sha256 = FakeHubRepository.Sha256(content);
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers["X-Linked-Etag"] = $"\"{sha256}\"";
            ctx.Response.Headers["X-Linked-Size"] = content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            ctx.Response.Headers.ETag = $"\"{FakeHubRepository.GitBlobSha1(content)}\"";
            ctx.Response.Headers.Location = $"{Endpoint}lfs/{sha256}?filename={Uri.EscapeDataString(file)}".Replace("//lfs/", "/lfs/", StringComparison.Ordinal);
            return false;
        }
        ctx.Response.Headers.ETag = $"\"{FakeHubRepository.GitBlobSha1(content)}\"";
        return await ServeBytesAsync(ctx, content, file, isHead).ConfigureAwait(false);
    }

    private async Task<bool> LfsAsync(HttpContext ctx, string sha256, bool isHead)
    {
        byte[]? content = _repos.Values.Select(r => r.FindBlob(sha256)).FirstOrDefault(c => c is not null);
        if (content is null)
        {
            await ErrorAsync(ctx, 404, null, "Not Found").ConfigureAwait(false);
            return false;
        }
        string file = ctx.Request.Query["filename"].FirstOrDefault() ?? sha256;
        ctx.Response.Headers.ETag = $"\"{sha256}\"";
        return await ServeBytesAsync(ctx, content, file, isHead).ConfigureAwait(false);
    }

    /// <summary>Writes the bytes, honouring Range; returns true when a fault dropped the connection.</summary>
    private async Task<bool> ServeBytesAsync(HttpContext ctx, byte[] content, string file, bool isHead)
    {
        long start = 0, end = content.Length - 1;
        string? range = ctx.Request.Headers.Range.FirstOrDefault();
        ctx.Response.Headers.AcceptRanges = "bytes";
        ctx.Response.ContentType = "application/octet-stream";
        if (range is not null)
        {
            if (!TryParseRange(range, content.Length, out start, out end))
            {
                ctx.Response.StatusCode = 416;
                ctx.Response.Headers.ContentRange = $"bytes */{content.Length}";
                return false;
            }
            ctx.Response.StatusCode = 206;
            ctx.Response.Headers.ContentRange = $"bytes {start}-{end}/{content.Length}";
        }
        long length = end - start + 1;
        ctx.Response.ContentLength = length;
        if (isHead) return false;

        long? dropAfter = null;
        lock (_lock)
        {
            if (_drops.Remove(file, out long after)) dropAfter = after;
        }
        long sent = 0;
        const int chunk = 16 * 1024;
        while (sent < length)
        {
            int n = (int)Math.Min(chunk, length - sent);
            if (dropAfter is long limit && sent + n > limit) n = (int)Math.Max(0, limit - sent);
            if (n > 0)
            {
                await ctx.Response.Body.WriteAsync(content.AsMemory((int)(start + sent), n), ctx.RequestAborted).ConfigureAwait(false);
                sent += n;
            }
            if (dropAfter is long l && sent >= l)
            {
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
                ctx.Abort();
                return true;
            }
            if (ChunkDelay > TimeSpan.Zero) await Task.Delay(ChunkDelay, ctx.RequestAborted).ConfigureAwait(false);
        }
        return false;
    }

    private static bool TryParseRange(string header, long length, out long start, out long end)
    {
        start = 0;
        end = length - 1;
        if (!header.StartsWith("bytes=", StringComparison.Ordinal) || header.Contains(',', StringComparison.Ordinal)) return false;
        string spec = header["bytes=".Length..].Trim();
        int dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0) return false;
        string a = spec[..dash], b = spec[(dash + 1)..];
        if (a.Length == 0)
        {
            if (!long.TryParse(b, out long suffix) || suffix <= 0) return false;
            start = Math.Max(0, length - suffix);
            return length > 0;
        }
        if (!long.TryParse(a, out start) || start >= length) return false;
        if (b.Length > 0)
        {
            if (!long.TryParse(b, out end) || end < start) return false;
            end = Math.Min(end, length - 1);
        }
        return true;
    }
}
