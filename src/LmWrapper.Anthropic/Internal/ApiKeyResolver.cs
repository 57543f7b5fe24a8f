namespace LmWrapper.Anthropic.Internal;

/// <summary>Finds the Anthropic API key: the argument, then ANTHROPIC_API_KEY, then ~/anthropic_key.txt (as the Python lmwrapper does).</summary>
internal static class ApiKeyResolver
{
    public const string EnvironmentVariable = "ANTHROPIC_API_KEY";
    public const string KeyFileName = "anthropic_key.txt";

    /// <summary>Returns the key and a description of where it came from (never the key itself).</summary>
    public static (string Key, string Source) Resolve(string? apiKey, ClaudeOptions options)
    {
        if (!string.IsNullOrWhiteSpace(apiKey))
        {
            return (apiKey.Trim(), "the apiKey argument");
        }

        var env = options.GetEnvironmentVariable ?? Environment.GetEnvironmentVariable;
        string? fromEnv = env(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            return (fromEnv.Trim(), $"the {EnvironmentVariable} environment variable");
        }

        string home = options.HomeDirectory ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string file = Path.Combine(home, KeyFileName);
        try
        {
            if (File.Exists(file))
            {
                string text = File.ReadAllText(file).Trim();
                if (text.Length > 0)
                {
                    return (text, $"the file {file}");
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LmAuthenticationException($"Could not read the Anthropic API key file {file}: {e.Message}", e);
        }

        throw new LmAuthenticationException(
            "No Anthropic API key found. Looked at: the apiKey argument (not given), "
            + $"the {EnvironmentVariable} environment variable (not set), and the file {file} (missing or empty). "
            + "Put your key in one of these places; keys are at https://console.anthropic.com/settings/keys.");
    }
}
