using System.Globalization;
using LmWrapper;
using LmWrapper.Batching;
using LmWrapper.Caching;
using LmWrapper.OpenAI;

// run <baseUrl> <apiKey> <cacheFile> <workDir> <count> <maxRequests>: PredictMany of prompts "What is i+1?" (i < count)
//   with CompletionWindow.BatchAny through gpt-4o-mini at baseUrl, caching in cacheFile; checks every answer, prints
//   "answered <n>" as results come and "done" at the end. Exit code 0 only when every answer is right.
if (args.Length != 7 || args[0] != "run")
{
    Console.Error.WriteLine("usage: run <baseUrl> <apiKey> <cacheFile> <workDir> <count> <maxRequests>");
    return 2;
}

string baseUrl = args[1], apiKey = args[2], cacheFile = args[3], workDir = args[4];
int count = int.Parse(args[5], CultureInfo.InvariantCulture);
int maxRequests = int.Parse(args[6], CultureInfo.InvariantCulture);
using var cache = LmCache.Open(cacheFile);
var options = new OpenAiOptions
{
    BaseUrl = new Uri(baseUrl),
    GetEnvironmentVariable = _ => null,
    HomeDirectory = workDir,
    Retry = new LmWrapper.Retry.LmRetryPolicy { MaxRetries = 20, InitialDelay = TimeSpan.FromMilliseconds(5), MaxDelay = TimeSpan.FromMilliseconds(50), MaxTotalWait = TimeSpan.FromSeconds(20) },
    ModelOptions = new LanguageModelOptions
    {
        Cache = cache,
        CacheByDefault = true,
        Batch = new BatchOptions
        {
            PollInterval = TimeSpan.FromMilliseconds(5),
            MaxPollInterval = TimeSpan.FromMilliseconds(40),
            WorkingDirectory = workDir,
            Limits = new BatchLimits(maxRequests, 200_000_000),
            MaxAttempts = 10,
        },
    },
};
using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, apiKey, options: options);
var prompts = Enumerable.Range(0, count).Select(i => new LmPrompt($"What is {i}+1?") { MaxTokens = 20, Temperature = 0 }).ToList();
int n = 0;
foreach (var p in lm.PredictMany(prompts, CompletionWindow.BatchAny))
{
    string expected = $"{n}+1 is equal to {n + 1}.";
    if (p.HasErrors || p.CompletionText != expected)
    {
        Console.Error.WriteLine($"prompt {n}: expected \"{expected}\", got \"{p.CompletionText}\" ({p.ErrorMessage})");
        return 1;
    }

    n++;
    if (n % 100 == 0)
    {
        Console.WriteLine($"answered {n}");
    }
}

Console.WriteLine("done");
return 0;
