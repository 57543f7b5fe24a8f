using LmWrapper.Http;
using LmWrapper.Retry;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LmWrapper.HuggingFace.Hub;

/// <summary>
/// Resolves models like transformers' <c>from_pretrained</c>: a folder path is used as is; a hub id
/// (<c>org/name</c>, optional revision, default <c>main</c>) is found in the Hugging Face cache
/// (<c>models--org--name/{refs,snapshots,blobs}</c>, shared with Python's huggingface_hub) or downloaded into it.
/// </summary>
/// <remarks>
/// Downloads use the hub's own endpoints (<c>/api/models/{repo}/revision/{rev}</c> and
/// <c>/{repo}/resolve/{rev}/{file}</c>), store each file once as <c>blobs/{etag}</c> with a relative symlink
/// from <c>snapshots/{commit}/{file}</c> (a copy where links are not allowed), resume interrupted downloads from
/// <c>blobs/{etag}.incomplete</c> with Range requests, and check sizes, LFS sha256 etags and commits.
/// </remarks>
public sealed partial class HuggingFaceHub : IDisposable
{
    /// <summary>The files a causal language model needs, besides the shards an index names.</summary>
    public static readonly IReadOnlyList<string> CausalLmFiles =
    [
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "chat_template.jinja",
        SingleWeights,
        IndexWeights,
    ];

    private const string SingleWeights = "model.safetensors";
    private const string IndexWeights = "model.safetensors.index.json";

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> BlobLocks = new(StringComparer.Ordinal);

    private readonly HttpClient _http;
    private readonly LmHttpPipeline _pipeline;

    /// <summary>Creates a hub client.</summary>
    /// <param name="options">Where to cache and download from; read from the environment when null.</param>
    public HuggingFaceHub(HuggingFaceHubOptions? options = null)
    {
        Options = options ?? new HuggingFaceHubOptions();
        var handler = Options.HttpHandler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _http = new HttpClient(handler, disposeHandler: Options.HttpHandler is null) { Timeout = TimeSpan.FromMinutes(5) };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("lmwrapper/0.1");
        _pipeline = new LmHttpPipeline(_http, new LmHttpPipelineSettings
        {
            ProviderName = $"The Hugging Face hub ({Options.Endpoint})",
            Retry = new LmRetryPolicy
            {
                MaxRetries = Options.MaxRetries,
                InitialDelay = Options.RetryDelay,
                MaxDelay = Options.RetryDelay * 64,
                MaxTotalWait = TimeSpan.FromHours(1),
                Jitter = 0,
            },
            RequestTimeout = Timeout.InfiniteTimeSpan, // the client's own 5 minutes
        });
    }

    /// <summary>The options in force.</summary>
    public HuggingFaceHubOptions Options { get; }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")]
    private static partial Regex RepoIdRegex();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitRegex();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Regex();

    /// <summary>Whether a string has the form of a hub model id (<c>name</c> or <c>org/name</c>).</summary>
    /// <param name="value">The candidate.</param>
    /// <returns>True for a well-formed id.</returns>
    public static bool IsRepoId(string value) =>
        value is not null && RepoIdRegex().IsMatch(value) && !value.Contains("--", StringComparison.Ordinal) && !value.Contains("..", StringComparison.Ordinal);

    /// <summary>The cache folder name of a model repository: <c>models--org--name</c>.</summary>
    /// <param name="repoId">The hub id.</param>
    /// <returns>The folder name.</returns>
    public static string RepoFolderName(string repoId) => "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);

    /// <summary>The cache folder of a model repository.</summary>
    /// <param name="repoId">The hub id.</param>
    /// <returns>The full path (which may not exist yet).</returns>
    public string RepoCachePath(string repoId) => Path.Combine(Options.CacheDirectory, RepoFolderName(repoId));

    /// <summary>
    /// Turns a folder path or a hub id into a local folder with the model's files (<see cref="CausalLmFiles"/> that
    /// exist in the repository, plus every shard of a sharded checkpoint), downloading what the cache lacks.
    /// </summary>
    /// <param name="pathOrRepoId">A model folder, or a hub id such as <c>openai-community/gpt2</c>.</param>
    /// <param name="revision">A branch, tag or commit; <c>main</c> when null. Ignored for a folder.</param>
    /// <param name="progress">Receives download progress.</param>
    /// <param name="cancellationToken">Cancels the resolution; a partial download is kept and resumed next time.</param>
    /// <returns>The local folder: the folder itself, or <c>snapshots/{commit}</c> in the cache.</returns>
    /// <exception cref="HubOfflineException">Offline and not in the cache.</exception>
    /// <exception cref="HubRepositoryNotFoundException">No such repository (or it is private).</exception>
    /// <exception cref="HubGatedRepositoryException">The repository is gated and the token lacks access.</exception>
    /// <exception cref="HubEntryNotFoundException">No such revision, or no config.json.</exception>
    /// <exception cref="HubNoWeightsException">The repository has no safetensors weights.</exception>
    /// <exception cref="HuggingFaceHubException">Any other failure, with what to do.</exception>
    public async Task<string> ResolveModelAsync(string pathOrRepoId, string? revision = null, IProgress<HubDownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pathOrRepoId);
        if (Directory.Exists(pathOrRepoId)) return Path.GetFullPath(pathOrRepoId);
        if (!IsRepoId(pathOrRepoId))
            throw new HuggingFaceHubException($"'{pathOrRepoId}' is neither an existing folder nor a hub model id (like 'org/name').");
        string repo = pathOrRepoId;
        string rev = CheckRevision(revision ?? "main");
        string repoDir = RepoCachePath(repo);

        string? cachedCommit = CommitFromCache(repoDir, rev);
        if (cachedCommit is not null && (Options.Offline || !Options.CheckForUpdates) && SnapshotIsComplete(repoDir, cachedCommit, strict: !Options.Offline, out _))
            return SnapshotPath(repoDir, cachedCommit);
        if (Options.Offline)
        {
            string what = cachedCommit is null
                ? $"'{repo}' (revision '{rev}') is not in the Hugging Face cache at '{Options.CacheDirectory}'"
                : $"the cached snapshot of '{repo}' (revision '{rev}', commit {cachedCommit}) lacks {MissingDescription(repoDir, cachedCommit)}";
            throw new HubOfflineException(
                $"{what}, and offline mode (HF_HUB_OFFLINE=1) forbids downloading it. Run once with network access (unset HF_HUB_OFFLINE), "
                + "copy the model into the cache, or pass the path of a folder that holds it.", repo);
        }

        var (commit, siblings) = await GetRevisionInfoAsync(repo, rev, cancellationToken).ConfigureAwait(false);
        if (!CommitRegex().IsMatch(rev) || rev != commit) WriteRef(repoDir, rev, commit);
        var files = new HashSet<string>(siblings, StringComparer.Ordinal);
        if (!files.Contains("config.json"))
            throw new HubEntryNotFoundException($"'{repo}' (revision '{rev}') has no config.json, so it is not a transformers model repository.", repo, null);
        bool single = files.Contains(SingleWeights);
        if (!single && !files.Contains(IndexWeights))
        {
            var other = siblings.Where(f => f.EndsWith(".bin", StringComparison.Ordinal) || f.EndsWith(".pth", StringComparison.Ordinal)
                                            || f.EndsWith(".gguf", StringComparison.Ordinal) || f.EndsWith(".onnx", StringComparison.Ordinal)
                                            || f.EndsWith(".safetensors", StringComparison.Ordinal)).ToList();
            throw new HubNoWeightsException(
                $"'{repo}' (revision '{rev}') has no safetensors weights ({SingleWeights} or {IndexWeights})"
                + (other.Count > 0 ? $"; it has {string.Join(", ", other.Take(5))}" : "")
                + ". LmWrapper loads safetensors only: pick a repository or revision (e.g. a 'refs/pr/N' conversion) that has them, or convert the model with transformers' save_pretrained(safe_serialization=True).", repo);
        }

        foreach (string file in CausalLmFiles)
        {
            if (file == (single ? IndexWeights : SingleWeights)) continue;
            if (files.Contains(file))
                await DownloadToSnapshotAsync(repo, repoDir, commit, file, progress, cancellationToken).ConfigureAwait(false);
            else
                MarkMissing(repoDir, commit, file);
        }
        if (!single)
        {
            string indexPath = Path.Combine(SnapshotPath(repoDir, commit), IndexWeights);
            foreach (string shard in ShardsOf(indexPath, repo))
                await DownloadToSnapshotAsync(repo, repoDir, commit, shard, progress, cancellationToken).ConfigureAwait(false);
        }
        return SnapshotPath(repoDir, commit);
    }

    /// <summary>
    /// Gets one file of a repository into the cache (like huggingface_hub's <c>hf_hub_download</c>) and returns its path
    /// inside <c>snapshots/{commit}</c>.
    /// </summary>
    /// <param name="repoId">The hub id.</param>
    /// <param name="fileName">The file, relative to the repository root.</param>
    /// <param name="revision">A branch, tag or commit; <c>main</c> when null.</param>
    /// <param name="progress">Receives download progress.</param>
    /// <param name="cancellationToken">Cancels the download; the partial file is kept and resumed next time.</param>
    /// <returns>The local path of the file.</returns>
    /// <exception cref="HubOfflineException">Offline and not in the cache.</exception>
    /// <exception cref="HubEntryNotFoundException">No such file or revision.</exception>
    /// <exception cref="HuggingFaceHubException">Any other failure.</exception>
    public async Task<string> DownloadFileAsync(string repoId, string fileName, string? revision = null, IProgress<HubDownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        ArgumentNullException.ThrowIfNull(fileName);
        if (!IsRepoId(repoId)) throw new HuggingFaceHubException($"'{repoId}' is not a hub model id (like 'org/name').");
        CheckFileName(fileName);
        string rev = CheckRevision(revision ?? "main");
        string repoDir = RepoCachePath(repoId);
        string? cached = TryGetCachedFile(repoId, fileName, rev);
        if (cached is not null && (Options.Offline || !Options.CheckForUpdates)) return cached;
        if (Options.Offline)
            throw new HubOfflineException(
                $"'{fileName}' of '{repoId}' (revision '{rev}') is not in the Hugging Face cache at '{Options.CacheDirectory}', and offline mode (HF_HUB_OFFLINE=1) forbids downloading it. "
                + "Run once with network access (unset HF_HUB_OFFLINE) or pass a local folder.", repoId);
        var meta = await HeadAsync(repoId, rev, fileName, repoDir, cancellationToken).ConfigureAwait(false);
        string commit = meta.Commit is not null ? CheckCommit(meta.Commit, repoId) : CommitRegex().IsMatch(rev) ? rev : throw new HuggingFaceHubException(
            $"The hub did not say which commit '{rev}' of '{repoId}' is (no X-Repo-Commit header); is HF_ENDPOINT ({Options.Endpoint}) a Hugging Face hub?", repoId);
        if (!CommitRegex().IsMatch(rev) || rev != commit) WriteRef(repoDir, rev, commit);
        return await StoreAsync(repoId, repoDir, commit, fileName, meta, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The cached path of a file, without any network access, or null when it is not cached.</summary>
    /// <param name="repoId">The hub id.</param>
    /// <param name="fileName">The file, relative to the repository root.</param>
    /// <param name="revision">A branch, tag or commit; <c>main</c> when null.</param>
    /// <returns>The path inside <c>snapshots/{commit}</c>, or null.</returns>
    /// <exception cref="HuggingFaceHubException">The id is not a hub id, or the file name is absolute or has <c>..</c>, <c>.</c> or empty parts (it could leave the cache folder).</exception>
    public string? TryGetCachedFile(string repoId, string fileName, string? revision = null)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        ArgumentNullException.ThrowIfNull(fileName);
        if (!IsRepoId(repoId)) throw new HuggingFaceHubException($"'{repoId}' is not a hub model id (like 'org/name').");
        CheckFileName(fileName);
        string repoDir = RepoCachePath(repoId);
        string? commit = CommitFromCache(repoDir, CheckRevision(revision ?? "main"));
        if (commit is null) return null;
        string path = Path.Combine(SnapshotPath(repoDir, commit), fileName);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Releases the HTTP client.</summary>
    public void Dispose() => _http.Dispose();

    // ----- cache layout -----

    private static string SnapshotPath(string repoDir, string commit) => Path.Combine(repoDir, "snapshots", commit);

    private static void CheckFileName(string fileName)
    {
        if (fileName.Length == 0 || Path.IsPathRooted(fileName) || fileName.Split('/', '\\').Any(p => p is "" or "." or ".."))
            throw new HuggingFaceHubException($"'{fileName}' is not a valid file name inside a repository.");
    }

    /// <summary>Revisions become paths under <c>refs/</c>: allow branch, tag and <c>refs/pr/N</c> names, nothing that could leave the folder.</summary>
    private static string CheckRevision(string revision)
    {
        if (revision.Length == 0 || revision.Contains('\\') || revision.StartsWith('/') || revision.Split('/').Any(p => p is "" or "." or ".."))
            throw new HuggingFaceHubException($"'{revision}' is not a valid revision (a branch, tag or commit id).");
        return revision;
    }

    private static string CheckCommit(string? commit, string repo)
    {
        if (commit is null || !CommitRegex().IsMatch(commit))
            throw new HuggingFaceHubException($"The hub answered commit id '{commit}' for '{repo}', which is not a 40-hex git commit; is HF_ENDPOINT a Hugging Face hub?", repo);
        return commit;
    }

    private static string? CommitFromCache(string repoDir, string revision)
    {
        if (CommitRegex().IsMatch(revision) && Directory.Exists(SnapshotPath(repoDir, revision))) return revision;
        string refPath = Path.Combine(repoDir, "refs", revision);
        if (!File.Exists(refPath)) return null;
        string commit = File.ReadAllText(refPath).Trim();
        return CommitRegex().IsMatch(commit) ? commit : null;
    }

    private static void WriteRef(string repoDir, string revision, string commit)
    {
        string refPath = Path.Combine(repoDir, "refs", revision);
        Directory.CreateDirectory(Path.GetDirectoryName(refPath)!);
        if (File.Exists(refPath) && File.ReadAllText(refPath).Trim() == commit) return;
        File.WriteAllText(refPath, commit);
    }

    private static void MarkMissing(string repoDir, string commit, string file)
    {
        string marker = Path.Combine(repoDir, ".no_exist", commit, file);
        Directory.CreateDirectory(Path.GetDirectoryName(marker)!);
        if (!File.Exists(marker)) File.WriteAllBytes(marker, []);
    }

    private static bool IsMarkedMissing(string repoDir, string commit, string file) =>
        File.Exists(Path.Combine(repoDir, ".no_exist", commit, file));

    /// <summary>
    /// Whether a snapshot holds config.json and complete weights; when strict, also that every other wanted file
    /// is either present or known (from <c>.no_exist</c>) to be absent from the repository.
    /// </summary>
    private static bool SnapshotIsComplete(string repoDir, string commit, bool strict, out List<string> missing)
    {
        string snap = SnapshotPath(repoDir, commit);
        missing = [];
        if (!File.Exists(Path.Combine(snap, "config.json"))) missing.Add("config.json");
        if (!File.Exists(Path.Combine(snap, SingleWeights)))
        {
            string index = Path.Combine(snap, IndexWeights);
            if (!File.Exists(index)) missing.Add($"{SingleWeights} (or {IndexWeights})");
            else
            {
                try
                {
                    missing.AddRange(ShardsOf(index, "").Where(s => !File.Exists(Path.Combine(snap, s))));
                }
                catch (HuggingFaceHubException)
                {
                    missing.Add(IndexWeights + " (unreadable)");
                }
            }
        }
        if (strict)
        {
            foreach (string f in CausalLmFiles)
            {
                if (f is SingleWeights or IndexWeights or "config.json") continue;
                if (!File.Exists(Path.Combine(snap, f)) && !IsMarkedMissing(repoDir, commit, f)) missing.Add(f);
            }
        }
        return missing.Count == 0;
    }

    private static string MissingDescription(string repoDir, string commit)
    {
        SnapshotIsComplete(repoDir, commit, strict: false, out var missing);
        return string.Join(", ", missing);
    }

    private static List<string> ShardsOf(string indexPath, string repo)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (!doc.RootElement.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                throw new HuggingFaceHubException($"'{indexPath}' has no weight_map.", repo);
            var shards = wm.EnumerateObject().Select(p => p.Value.GetString() ?? "").Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            foreach (var s in shards) CheckFileName(s);
            return shards;
        }
        catch (JsonException ex)
        {
            throw new HuggingFaceHubException($"'{indexPath}' is not valid JSON: {ex.Message}", repo, null, ex);
        }
    }

    // ----- HTTP -----

    private sealed record FileMetadata(string? Commit, string Etag, long? Size, Uri DownloadUrl);

    private Uri ApiUrl(string repo, string rev) =>
        new($"{Options.Endpoint.ToString().TrimEnd('/')}/api/models/{repo}/revision/{Uri.EscapeDataString(rev)}");

    private Uri ResolveUrl(string repo, string rev, string file) =>
        new($"{Options.Endpoint.ToString().TrimEnd('/')}/{repo}/resolve/{Uri.EscapeDataString(rev)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    private HttpRequestMessage NewRequest(HttpMethod method, Uri url)
    {
        var req = new HttpRequestMessage(method, url);
        // The token goes to the hub only, never to a CDN it redirects to.
        if (Options.Token is not null && string.Equals(url.Authority, Options.Endpoint.Authority, StringComparison.OrdinalIgnoreCase))
            req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Options.Token);
        req.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
        return req;
    }

    /// <summary>Sends a metadata request through the core's resilience layer (dropped connections, 429 and 5xx retried with backoff); any final answer is the caller's to read.</summary>
    private async Task<HttpResponseMessage> SendWithRetryAsync(Func<HttpRequestMessage> make, string repo, CancellationToken ct)
    {
        try
        {
            return await _pipeline.SendAsync(new LmHttpCall(make) { Completion = HttpCompletionOption.ResponseHeadersRead, ThrowOnErrorStatus = false }, ct).ConfigureAwait(false);
        }
        catch (LmProviderException ex)
        {
            throw new HuggingFaceHubException($"{ex.Message}. Check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache only.", repo, null, ex);
        }
    }

    private async Task<(string Commit, List<string> Siblings)> GetRevisionInfoAsync(string repo, string rev, CancellationToken ct)
    {
        var url = ApiUrl(repo, rev);
        using var resp = await SendWithRetryAsync(() => NewRequest(HttpMethod.Get, url), repo, ct).ConfigureAwait(false);
        if (!resp.IsSuccessStatusCode) throw await ErrorFor(resp, repo, rev, null, ct).ConfigureAwait(false);
        try
        {
            using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
            string sha = CheckCommit(doc.RootElement.GetProperty("sha").GetString(), repo);
            var siblings = doc.RootElement.TryGetProperty("siblings", out var s) && s.ValueKind == JsonValueKind.Array
                ? s.EnumerateArray().Select(x => x.GetProperty("rfilename").GetString()!).ToList()
                : [];
            return (sha, siblings);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new HuggingFaceHubException($"The hub's answer for {url} is not the expected model info JSON ({ex.Message}); is HF_ENDPOINT ({Options.Endpoint}) a Hugging Face hub?", repo, (int)resp.StatusCode, ex);
        }
    }

    private async Task<FileMetadata> HeadAsync(string repo, string rev, string file, string repoDir, CancellationToken ct)
    {
        var url = ResolveUrl(repo, rev, file);
        for (int hop = 0; hop < 5; hop++)
        {
            var current = url;
            using var resp = await SendWithRetryAsync(() => NewRequest(HttpMethod.Head, current), repo, ct).ConfigureAwait(false);
            int code = (int)resp.StatusCode;
            if (code is >= 300 and < 400 && resp.Headers.Location is { } loc)
            {
                // Relative redirects are renamed repositories: follow them. Absolute ones point at the file's storage.
                if (!loc.IsAbsoluteUri)
                {
                    url = new Uri(url, loc);
                    continue;
                }
                return Metadata(resp, repo, file, loc);
            }
            if (!resp.IsSuccessStatusCode)
            {
                var error = await ErrorFor(resp, repo, rev, file, ct).ConfigureAwait(false);
                if (error is HubEntryNotFoundException && resp.Headers.TryGetValues("X-Repo-Commit", out var c) && CommitRegex().IsMatch(c.First()))
                    MarkMissing(repoDir, c.First(), file);
                throw error;
            }
            return Metadata(resp, repo, file, url);
        }
        throw new HuggingFaceHubException($"Too many redirects resolving '{file}' of '{repo}'.", repo);
    }

    private static string? Header(HttpResponseMessage resp, string name) =>
        resp.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault() : resp.Content.Headers.TryGetValues(name, out var cv) ? cv.FirstOrDefault() : null;

    private FileMetadata Metadata(HttpResponseMessage resp, string repo, string file, Uri downloadUrl)
    {
        string? etag = Header(resp, "X-Linked-Etag") ?? Header(resp, "ETag");
        if (string.IsNullOrEmpty(etag))
            throw new HuggingFaceHubException($"The hub gave no ETag for '{file}' of '{repo}', so it cannot be cached reliably; is HF_ENDPOINT ({Options.Endpoint}) a Hugging Face hub?", repo);
        etag = NormalizeEtag(etag);
        if (etag.Length == 0 || etag.IndexOfAny(['/', '\\']) >= 0 || etag.Contains("..", StringComparison.Ordinal))
            throw new HuggingFaceHubException($"The hub gave an unusable ETag for '{file}' of '{repo}'.", repo);
        string? sizeText = Header(resp, "X-Linked-Size");
        long? size = long.TryParse(sizeText, out long s) ? s : resp.Content.Headers.ContentLength;
        return new FileMetadata(Header(resp, "X-Repo-Commit"), etag, size, downloadUrl);
    }

    /// <summary>huggingface_hub's etag normalization: drop a weak <c>W/</c> prefix and the quotes.</summary>
    internal static string NormalizeEtag(string etag)
    {
        etag = etag.Trim();
        if (etag.StartsWith("W/", StringComparison.Ordinal)) etag = etag[2..];
        return etag.Trim('"');
    }

    private async Task<HuggingFaceHubException> ErrorFor(HttpResponseMessage resp, string repo, string rev, string? file, CancellationToken ct)
    {
        int code = (int)resp.StatusCode;
        string? errorCode = Header(resp, "X-Error-Code");
        string? serverMessage = Header(resp, "X-Error-Message");
        if (serverMessage is null && resp.Content.Headers.ContentType?.MediaType == "application/json")
        {
            try
            {
                using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
                if (doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String) serverMessage = e.GetString();
            }
            catch (JsonException)
            {
            }
        }
        string hubSays = serverMessage is null ? "" : $" (the hub says: {serverMessage})";
        string page = $"{Options.Endpoint.ToString().TrimEnd('/')}/{repo}";
        bool hasToken = Options.Token is not null;
        if (errorCode == "GatedRepo" || (code == 403 && errorCode is null))
        {
            return new HubGatedRepositoryException(hasToken
                ? $"'{repo}' is a gated model and your token (HF_TOKEN) does not have access{hubSays}. Open {page} while signed in to that account, accept the licence (or request access), then try again."
                : $"'{repo}' is a gated model: downloading it needs an access token{hubSays}. Accept its licence at {page} with your Hugging Face account, then set HF_TOKEN (or HuggingFaceHubOptions.Token) to a token of that account.",
                repo, code);
        }
        if (errorCode == "RevisionNotFound")
            return new HubEntryNotFoundException($"Revision '{rev}' does not exist in '{repo}'{hubSays}. Check the branch, tag or commit name.", repo, code);
        if (errorCode == "EntryNotFound" || (code == 404 && file is not null && errorCode is null))
            return new HubEntryNotFoundException($"'{file}' does not exist in '{repo}' at revision '{rev}'{hubSays}.", repo, code);
        if (errorCode == "RepoNotFound" || code is 401 or 404)
        {
            return new HubRepositoryNotFoundException(
                $"Repository '{repo}' was not found on {Options.Endpoint}{(code == 401 ? " (or it is private and needs a token)" : "")}{hubSays}. Check the id"
                + (hasToken ? "; if it is private, make sure your token (HF_TOKEN) can read it." : "; if it is private, set HF_TOKEN to a token that can read it."),
                repo, code);
        }
        return new HuggingFaceHubException($"The hub answered {code} {resp.ReasonPhrase} for '{repo}'{(file is null ? "" : $" file '{file}'")} at revision '{rev}'{hubSays}.", repo, code);
    }

    // ----- downloading into the cache -----

    private async Task DownloadToSnapshotAsync(string repo, string repoDir, string commit, string file, IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        string pointer = Path.Combine(SnapshotPath(repoDir, commit), file);
        if (File.Exists(pointer)) return;
        var meta = await HeadAsync(repo, commit, file, repoDir, ct).ConfigureAwait(false);
        await StoreAsync(repo, repoDir, commit, file, meta, progress, ct).ConfigureAwait(false);
    }

    private async Task<string> StoreAsync(string repo, string repoDir, string commit, string file, FileMetadata meta, IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        if (meta.Commit is not null && meta.Commit != commit)
            throw new HuggingFaceHubException($"The hub served '{file}' of '{repo}' from commit {meta.Commit}, but commit {commit} was asked for; the repository changed during the download. Try again.", repo);
        string pointer = Path.Combine(SnapshotPath(repoDir, commit), file);
        if (File.Exists(pointer)) return pointer;
        string blob = Path.Combine(repoDir, "blobs", meta.Etag);
        // One download per blob at a time in this process (another process sharing the cache is kept out by the
        // exclusive .incomplete file and simply retries).
        var gate = BlobLocks.GetOrAdd(Path.GetFullPath(blob), _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (File.Exists(pointer)) return pointer;
            if (!File.Exists(blob)) await DownloadBlobAsync(repo, file, meta, blob, progress, ct).ConfigureAwait(false);
            else progress?.Report(new HubDownloadProgress(repo, file, new FileInfo(blob).Length, meta.Size, true));
            LinkOrCopy(blob, pointer);
            return pointer;
        }
        finally
        {
            gate.Release();
        }
    }

    private static void LinkOrCopy(string blob, string pointer)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
        var existing = new FileInfo(pointer);
        if (existing.LinkTarget is not null || existing.Exists) existing.Delete();
        try
        {
            File.CreateSymbolicLink(pointer, Path.GetRelativePath(Path.GetDirectoryName(pointer)!, blob));
            if (File.Exists(pointer)) return;
            File.Delete(pointer);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
        }
        File.Copy(blob, pointer, overwrite: true);
    }

    private async Task DownloadBlobAsync(string repo, string file, FileMetadata meta, string blob, IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        string incomplete = blob + ".incomplete";
        bool finishedElsewhere = false;
        try
        {
            await _pipeline.ExecuteAsync($"downloading '{file}' of '{repo}'", async token =>
            {
                if (File.Exists(blob))
                {
                    finishedElsewhere = true; // another process finished it meanwhile
                    return true;
                }
                long have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
                if (meta.Size is long total && have > total)
                {
                    File.Delete(incomplete);
                    have = 0;
                }
                if (meta.Size is long done && have == done && done > 0) return true;
                return await DownloadOnceAsync(repo, file, meta, incomplete, have, progress, token).ConfigureAwait(false);
            }, null, ct).ConfigureAwait(false);
        }
        catch (LmProviderException ex)
        {
            throw new HuggingFaceHubException($"{ex.Message} The partial file is kept; run again to resume.", repo, null, ex.InnerException ?? ex);
        }
        if (finishedElsewhere) return;

        long length = new FileInfo(incomplete).Length;
        if (meta.Size is long expected && length != expected)
        {
            File.Delete(incomplete);
            throw new HuggingFaceHubException($"Downloaded '{file}' of '{repo}' is {length} bytes but the hub said {expected}; the partial file was removed. Try again.", repo);
        }
        if (Sha256Regex().IsMatch(meta.Etag))
        {
            string actual;
            await using (var fs = new FileStream(incomplete, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
                actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(fs, ct).ConfigureAwait(false));
            if (actual != meta.Etag)
            {
                File.Delete(incomplete);
                throw new HuggingFaceHubException($"Downloaded '{file}' of '{repo}' has sha256 {actual} but the hub's etag is {meta.Etag}; the corrupt file was removed. Try again.", repo);
            }
        }
        File.Move(incomplete, blob, overwrite: true);
        progress?.Report(new HubDownloadProgress(repo, file, length, meta.Size, true));
    }

    /// <summary>One GET (with Range when resuming). Returns true when the file is complete; false to retry.</summary>
    private async Task<bool> DownloadOnceAsync(string repo, string file, FileMetadata meta, string incomplete, long have, IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        var url = meta.DownloadUrl;
        HttpResponseMessage resp;
        for (int hop = 0; ; hop++)
        {
            var req = NewRequest(HttpMethod.Get, url);
            if (have > 0) req.Headers.Range = new RangeHeaderValue(have, null);
            resp = await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            if ((int)resp.StatusCode is >= 300 and < 400 && resp.Headers.Location is { } loc && hop < 5)
            {
                url = loc.IsAbsoluteUri ? loc : new Uri(url, loc);
                resp.Dispose();
                continue;
            }
            break;
        }
        using (resp)
        {
            int code = (int)resp.StatusCode;
            if (code == 416 && have > 0)
            {
                File.Delete(incomplete);
                return false;
            }
            if (code >= 500 || code == 429) return false;
            if (!resp.IsSuccessStatusCode) throw await ErrorFor(resp, repo, "", file, ct).ConfigureAwait(false);
            bool append = code == 206 && have > 0;
            if (append && resp.Content.Headers.ContentRange?.From is long from && from != have)
                append = false;
            if (!append) have = 0;

            await using var output = new FileStream(incomplete, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using var input = await resp.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            var buffer = new byte[1 << 16];
            long written = have;
            var lastReport = DateTime.MinValue;
            while (true)
            {
                int n = await input.ReadAsync(buffer, ct).ConfigureAwait(false);
                if (n == 0) break;
                await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                written += n;
                if (progress is not null && DateTime.UtcNow - lastReport > TimeSpan.FromMilliseconds(100))
                {
                    lastReport = DateTime.UtcNow;
                    progress.Report(new HubDownloadProgress(repo, file, written, meta.Size, false));
                }
            }
            await output.FlushAsync(ct).ConfigureAwait(false);
            if (meta.Size is long total && written < total)
                throw new IOException($"the connection closed after {written} of {total} bytes");
            return true;
        }
    }
}
