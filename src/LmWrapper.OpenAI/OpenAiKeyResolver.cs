namespace LmWrapper.OpenAI;

/// <summary>Finds the API key: explicit, else OPENAI_API_KEY, else ~/oai_key.txt. Knows where it looked, never says the key.</summary>
internal static class OpenAiKeyResolver
{
    public const string EnvironmentVariable = "OPENAI_API_KEY";
    public const string KeyFileName = "oai_key.txt";

    /// <summary>The key and a description of where it came from, or null with a description of where it looked.</summary>
    public static (string? Key, string Source) Resolve(string? explicitKey, OpenAiOptions options)
    {
        if (!string.IsNullOrWhiteSpace(explicitKey))
        {
            return (explicitKey.Trim(), "the apiKey argument");
        }

        var env = options.GetEnvironmentVariable ?? Environment.GetEnvironmentVariable;
        string? fromEnv = env(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            return (fromEnv.Trim(), $"the {EnvironmentVariable} environment variable");
        }

        string home = options.HomeDirectory ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string path = Path.Combine(home, KeyFileName);
        try
        {
            if (File.Exists(path))
            {
                string fromFile = File.ReadAllText(path).Trim();
                if (fromFile.Length > 0)
                {
                    return (fromFile, path);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, $"the apiKey argument (none given), the {EnvironmentVariable} environment variable (not set) and {path} (unreadable: {e.Message})");
        }

        return (null, $"the apiKey argument (none given), the {EnvironmentVariable} environment variable (not set) and {path} (missing or empty)");
    }
}
