namespace LmWrapper;

/// <summary>
/// An API key and where it came from. <see cref="Resolve"/> is the one key lookup every provider uses at <c>Get</c>:
/// the apiKey argument, else the provider's environment variable, else a file in the home folder (as the Python
/// lmwrapper does). <see cref="ToString"/> never shows the key.
/// </summary>
public sealed class LmApiKey
{
    private LmApiKey(string value, string source)
    {
        // A key goes into an HTTP header: a control character (a CR/LF from a two-line key file) would inject headers.
        if (ContainsControlCharacter(value))
        {
            throw new LmAuthenticationException(
                $"The API key from {source} contains a control character (a line break, tab or similar), which cannot be sent in an HTTP header. Check it holds just the one key, on one line.");
        }

        Value = value;
        Source = source;
    }

    /// <summary>The key itself. Never log it.</summary>
    public string Value { get; }

    /// <summary>Where the key came from ("the apiKey argument", "the OPENAI_API_KEY environment variable", a file path).</summary>
    public string Source { get; }

    /// <summary>Finds a key, or throws with where it looked.</summary>
    /// <param name="explicitKey">The apiKey argument, or null.</param>
    /// <param name="provider">The provider's name for the message ("OpenAI", "Anthropic").</param>
    /// <param name="environmentVariable">The environment variable to read ("OPENAI_API_KEY").</param>
    /// <param name="keyFileName">The file in the home folder to read ("oai_key.txt").</param>
    /// <param name="keysUrl">Where keys are made, for the message.</param>
    /// <param name="options">The provider's options (their environment and home folder).</param>
    /// <exception cref="LmAuthenticationException">No key was found, or the key file could not be read.</exception>
    internal static LmApiKey Resolve(string? explicitKey, string provider, string environmentVariable, string keyFileName, string keysUrl, LmProviderOptions options) =>
        TryResolve(explicitKey, environmentVariable, keyFileName, options, out string looked) ?? throw new LmAuthenticationException(
            $"No {provider} API key found. Looked at: {looked}. Pass apiKey, set {environmentVariable}, or put the key in ~/{keyFileName} (keys are at {keysUrl}).");

    /// <summary>Finds a key, or returns null with where it looked.</summary>
    internal static LmApiKey? TryResolve(string? explicitKey, string environmentVariable, string keyFileName, LmProviderOptions options, out string looked)
    {
        ArgumentNullException.ThrowIfNull(options);
        looked = string.Empty;
        if (!string.IsNullOrWhiteSpace(explicitKey))
        {
            return new LmApiKey(explicitKey.Trim(), "the apiKey argument");
        }

        if (options.Environment(environmentVariable) is { } fromEnvironment)
        {
            return new LmApiKey(fromEnvironment, $"the {environmentVariable} environment variable");
        }

        string home = options.HomeDirectory ?? System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);
        string file = Path.Combine(home, keyFileName);
        string fileState;
        try
        {
            string text = File.Exists(file) ? File.ReadAllText(file).Trim() : string.Empty;
            if (text.Length > 0)
            {
                return new LmApiKey(text, "the file " + file);
            }

            fileState = "missing or empty";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            fileState = "unreadable: " + e.Message;
        }

        looked = $"the apiKey argument (not given), the {environmentVariable} environment variable (not set) and the file {file} ({fileState})";
        return null;
    }

    /// <summary>Whether <paramref name="value"/> holds a control character (CR, LF, NUL, tab, DEL, C1 …).</summary>
    internal static bool ContainsControlCharacter(string value)
    {
        foreach (char c in value)
        {
            if (char.IsControl(c))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Checks a setting that is sent as an HTTP header value (an organization, a project, an API version): it must hold no
    /// control character, so it cannot inject headers.
    /// </summary>
    /// <param name="value">The value, or null (nothing to check).</param>
    /// <param name="setting">The setting's name for the message ("Organization", "OPENAI_PROJECT").</param>
    /// <exception cref="ArgumentException">The value holds a control character; the message names the setting, not the value.</exception>
    internal static void CheckHeaderValue(string? value, string setting)
    {
        if (value is not null && ContainsControlCharacter(value))
        {
            throw new ArgumentException(
                $"{setting} contains a control character (a line break, tab or similar), which cannot be sent in an HTTP header.", setting);
        }
    }

    /// <summary>
    /// A URL as it may be shown in a message: user info (<c>user:password@</c>) and the query (which may carry a key) are
    /// replaced by "***".
    /// </summary>
    /// <param name="url">The URL as given.</param>
    internal static string WithoutCredentials(string url)
    {
        if (url.Length == 0)
        {
            return url;
        }

        int scheme = url.IndexOf("://", StringComparison.Ordinal);
        int hostStart = scheme < 0 ? 0 : scheme + 3;
        int pathStart = url.IndexOfAny(['/', '?', '#'], hostStart);
        int hostEnd = pathStart < 0 ? url.Length : pathStart;
        int at = hostEnd > hostStart ? url.LastIndexOf('@', hostEnd - 1, hostEnd - hostStart) : -1;
        if (at >= 0)
        {
            url = url[..hostStart] + "***" + url[at..];
        }

        int query = url.IndexOf('?', StringComparison.Ordinal);
        return query < 0 ? url : url[..(query + 1)] + "***";
    }

    /// <summary>Where the key came from; never the key.</summary>
    public override string ToString() => "API key from " + Source;
}
