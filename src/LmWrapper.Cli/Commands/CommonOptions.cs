using System.CommandLine;
using LmWrapper.Cli.Models;

namespace LmWrapper.Cli.Commands;

/// <summary>The options several commands share (each command gets its own instances).</summary>
internal static class CommonOptions
{
    /// <summary><c>--model</c>, required.</summary>
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = $"The model: {ModelSpec.Syntax}.",
        Required = true,
    };

    /// <summary><c>--base-url</c>.</summary>
    public static Option<Uri?> BaseUrl() => new("--base-url")
    {
        Description = "The API's base address, for an OpenAI-compatible server (include /v1). Default: OPENAI_BASE_URL / ANTHROPIC_BASE_URL, else the provider's.",
        CustomParser = r =>
        {
            string text = r.Tokens[0].Value;
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            {
                return uri;
            }

            r.AddError($"--base-url must be an http(s) address, such as http://localhost:8000/v1, not \"{text}\".");
            return null;
        },
    };

    /// <summary><c>--cache-dir</c>.</summary>
    public static Option<string?> CacheDir() => new("--cache-dir")
    {
        Description = "The folder of the response cache (cache.sqlite3). Default: LMWRAPPER_CACHE_DIR, else .lmwrapper_cache in the project root.",
    };

    /// <summary><c>--input</c>.</summary>
    public static Option<string> Input() => new("--input", "-i")
    {
        Description = "The JSONL file of prompts: one {\"text\": …} or {\"messages\": […]} object per line, with LmPrompt fields in snake_case and free \"metadata\" (\"-\" for standard input).",
        Required = true,
    };

    /// <summary>Builds model settings from the shared options.</summary>
    /// <param name="result">The parse result.</param>
    /// <param name="baseUrl">The <c>--base-url</c> option.</param>
    /// <param name="cacheDir">The <c>--cache-dir</c> option.</param>
    public static ModelSettings Settings(ParseResult result, Option<Uri?> baseUrl, Option<string?> cacheDir)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new ModelSettings { BaseUrl = result.GetValue(baseUrl), CacheDirectory = result.GetValue(cacheDir) };
    }
}
