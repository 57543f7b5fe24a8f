using LmWrapper.Anthropic;
using LmWrapper.Batching;
using LmWrapper.Caching;
using LmWrapper.OpenAI;
using LmWrapper.Retry;

namespace LmWrapper.Reliability;

/// <summary>The child's <c>predict</c> mode: one PredictMany run of the kill-point checks.</summary>
public static class ChildPredict
{
    /// <summary>Fast retries, so that a run is short.</summary>
    public static LmRetryPolicy FastRetry { get; } = new()
    {
        MaxRetries = 20,
        InitialDelay = TimeSpan.FromMilliseconds(2),
        MaxDelay = TimeSpan.FromMilliseconds(40),
        MaxTotalWait = TimeSpan.FromSeconds(20),
    };

    /// <summary>The prompt number <paramref name="i"/> of a run.</summary>
    /// <param name="i">Its number.</param>
    public static LmPrompt Prompt(int i) => new($"What is {i}+1?") { MaxTokens = 20, Temperature = 0 };

    /// <summary>What the fake answers to <see cref="Prompt"/>.</summary>
    /// <param name="provider">"openai" or "claude".</param>
    /// <param name="i">The prompt's number.</param>
    public static string Expected(string provider, int i) =>
        provider == "openai" ? $"{i}+1 is equal to {i + 1}." : $"Echo: What is {i}+1?";

    /// <summary>Makes the model the child (and the checks afterwards) use.</summary>
    /// <param name="provider">"openai" or "claude".</param>
    /// <param name="baseUrl">The fake server.</param>
    /// <param name="apiKey">The key.</param>
    /// <param name="cache">The cache.</param>
    /// <param name="workDir">The batch working folder (and the home folder for key lookup).</param>
    public static LanguageModel Model(string provider, string baseUrl, string apiKey, LmCache cache, string workDir)
    {
        var modelOptions = new LanguageModelOptions
        {
            Cache = cache,
            CacheByDefault = true,
            MaxConcurrency = 8,
            Batch = new BatchOptions
            {
                PollInterval = TimeSpan.FromMilliseconds(5),
                MaxPollInterval = TimeSpan.FromMilliseconds(40),
                WorkingDirectory = workDir,
                Limits = new BatchLimits(40, 200_000_000),
                MaxAttempts = 10,
            },
        };
        return provider switch
        {
            "openai" => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, apiKey, options: new OpenAiOptions
            {
                BaseUrl = new Uri(baseUrl),
                GetEnvironmentVariable = _ => null,
                HomeDirectory = workDir,
                Retry = FastRetry,
                ModelOptions = modelOptions,
            }),
            "claude" => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, apiKey, new ClaudeOptions
            {
                BaseUrl = new Uri(baseUrl),
                GetEnvironmentVariable = _ => null,
                HomeDirectory = workDir,
                Retry = FastRetry,
                ModelOptions = modelOptions,
            }),
            _ => throw new ArgumentException($"unknown provider '{provider}'", nameof(provider)),
        };
    }

    /// <summary>Runs the mode; the exit code.</summary>
    /// <param name="provider">"openai" or "claude".</param>
    /// <param name="window">"asap" or "batch".</param>
    /// <param name="baseUrl">The fake server.</param>
    /// <param name="apiKey">The key.</param>
    /// <param name="cacheFile">The cache file.</param>
    /// <param name="workDir">The batch working folder.</param>
    /// <param name="first">The first prompt's number.</param>
    /// <param name="count">How many prompts.</param>
    /// <param name="outFile">Where answered prompt numbers are appended.</param>
    public static async Task<int> RunAsync(string provider, string window, string baseUrl, string apiKey, string cacheFile, string workDir, int first, int count, string outFile)
    {
        using var cache = LmCache.Open(cacheFile);
        using var lm = Model(provider, baseUrl, apiKey, cache, workDir);
        using var output = new StreamWriter(new FileStream(outFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        int n = first;
        await foreach (var p in lm.PredictManyAsync(Enumerable.Range(first, count).Select(Prompt), window == "batch" ? CompletionWindow.BatchAny : CompletionWindow.Asap))
        {
            string expected = Expected(provider, n);
            if (p.HasErrors || p.CompletionText != expected)
            {
                await Console.Error.WriteLineAsync($"prompt {n}: expected \"{expected}\", got \"{p.CompletionText}\" ({p.ErrorMessage})");
                return 1;
            }

            await output.WriteLineAsync(n.ToString(System.Globalization.CultureInfo.InvariantCulture));
            n++;
        }

        Console.WriteLine("done");
        return 0;
    }
}
