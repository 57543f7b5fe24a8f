namespace LmWrapper.OpenAI;

/// <summary>Where OpenAI's key is looked for (by <see cref="LmApiKey"/>): OPENAI_API_KEY, then ~/oai_key.txt.</summary>
internal static class OpenAiKeyResolver
{
    public const string EnvironmentVariable = "OPENAI_API_KEY";
    public const string KeyFileName = "oai_key.txt";
}
