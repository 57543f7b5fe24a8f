namespace LmWrapper.HuggingFace.Hub;

/// <summary>
/// Where and how <see cref="HuggingFaceHub"/> finds and downloads models. The defaults come from the same
/// environment variables huggingface_hub reads (<c>HF_ENDPOINT</c>, <c>HF_HUB_CACHE</c>, <c>HF_HOME</c>,
/// <c>HF_HUB_OFFLINE</c>, <c>HF_TOKEN</c>) when the options are created; set properties to override them without
/// touching the environment.
/// </summary>
public sealed record HuggingFaceHubOptions
{
    /// <summary>The public hub.</summary>
    public static readonly Uri DefaultEndpoint = new("https://huggingface.co");

    /// <summary>The hub to download from (<c>HF_ENDPOINT</c>; default https://huggingface.co).</summary>
    public Uri Endpoint { get; init; } = EndpointFrom(Environment.GetEnvironmentVariable);

    /// <summary>
    /// The cache folder holding <c>models--org--name</c> folders: <c>HF_HUB_CACHE</c>, else <c>HF_HOME/hub</c>,
    /// else <c>$XDG_CACHE_HOME/huggingface/hub</c>, else <c>~/.cache/huggingface/hub</c>.
    /// </summary>
    public string CacheDirectory { get; init; } = DefaultCacheDirectory(Environment.GetEnvironmentVariable);

    /// <summary>Never use the network; resolve only from the cache (<c>HF_HUB_OFFLINE=1</c>).</summary>
    public bool Offline { get; init; } = OfflineFrom(Environment.GetEnvironmentVariable);

    /// <summary>The access token for gated and private repos (<c>HF_TOKEN</c>, else the token file <c>HF_HOME/token</c>). Never logged.</summary>
    public string? Token { get; init; } = ReadToken(Environment.GetEnvironmentVariable);

    /// <summary>
    /// When false (the default), a revision whose cached snapshot already holds every file is used without asking
    /// the hub; when true, the hub is asked which commit the revision points at now.
    /// </summary>
    public bool CheckForUpdates { get; init; }

    /// <summary>How many times one file download resumes after a dropped connection or a 5xx before giving up.</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>The first wait between retries; it doubles each time.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The HTTP handler to send requests through; a new <see cref="SocketsHttpHandler"/> when null. Redirects are followed by the hub client itself.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>Reads the options from this process's environment variables.</summary>
    /// <returns>The options.</returns>
    public static HuggingFaceHubOptions FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary>Reads the options from a given set of environment variables (for tests and hosts that sandbox the environment).</summary>
    /// <param name="getVariable">Returns a variable's value, or null when unset.</param>
    /// <returns>The options.</returns>
    public static HuggingFaceHubOptions FromEnvironment(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        return new HuggingFaceHubOptions
        {
            Endpoint = EndpointFrom(getVariable),
            CacheDirectory = DefaultCacheDirectory(getVariable),
            Offline = OfflineFrom(getVariable),
            Token = ReadToken(getVariable),
        };
    }

    private static Uri EndpointFrom(Func<string, string?> env) =>
        NonEmpty(env("HF_ENDPOINT")) is { } e ? new Uri(e.TrimEnd('/')) : DefaultEndpoint;

    private static bool OfflineFrom(Func<string, string?> env) => IsTrue(env("HF_HUB_OFFLINE")) || IsTrue(env("TRANSFORMERS_OFFLINE"));

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    /// <summary>huggingface_hub's truthy values: 1, ON, YES, TRUE (any case).</summary>
    private static bool IsTrue(string? v) => v is not null && v.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    private static string HfHome(Func<string, string?> env)
    {
        if (NonEmpty(env("HF_HOME")) is { } home) return ExpandHome(home, env);
        string xdg = NonEmpty(env("XDG_CACHE_HOME")) is { } x ? ExpandHome(x, env) : Path.Combine(UserHome(env), ".cache");
        return Path.Combine(xdg, "huggingface");
    }

    private static string DefaultCacheDirectory(Func<string, string?> env)
    {
        if (NonEmpty(env("HF_HUB_CACHE")) is { } cache) return ExpandHome(cache, env);
        if (NonEmpty(env("HUGGINGFACE_HUB_CACHE")) is { } legacy) return ExpandHome(legacy, env);
        return Path.Combine(HfHome(env), "hub");
    }

    private static string? ReadToken(Func<string, string?> env)
    {
        if (NonEmpty(env("HF_TOKEN")) is { } token) return token;
        if (NonEmpty(env("HUGGING_FACE_HUB_TOKEN")) is { } legacy) return legacy;
        string path = NonEmpty(env("HF_TOKEN_PATH")) is { } p ? ExpandHome(p, env) : Path.Combine(HfHome(env), "token");
        try
        {
            return File.Exists(path) ? NonEmpty(File.ReadAllText(path)) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string UserHome(Func<string, string?> env) =>
        NonEmpty(env("HOME")) ?? NonEmpty(env("USERPROFILE")) ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    private static string ExpandHome(string path, Func<string, string?> env) =>
        path == "~" ? UserHome(env) : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(UserHome(env), path[2..]) : path;

    /// <summary>Describes the options without the token.</summary>
    /// <returns>A description safe to log.</returns>
    public override string ToString() =>
        $"HuggingFaceHubOptions {{ Endpoint = {Endpoint}, CacheDirectory = {CacheDirectory}, Offline = {Offline}, Token = {(Token is null ? "none" : "set")}, CheckForUpdates = {CheckForUpdates} }}";
}
