using System.Text;
using LmWrapper.Anthropic;
using LmWrapper.Batching;
using LmWrapper.Caching;
using LmWrapper.OpenAI;
using LmWrapper.Retry;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Reliability;

/// <summary>
/// Secrets: recognisable keys go into OpenAI and Claude models that predict, batch, fail (server errors, a revoked key,
/// bad prompts) and log at Trace; then the cache database (with its -wal), batch request files (on disk while uploading,
/// and as the fake received them), the batch journal, the logs, every exception's message and full text, and the
/// <c>ToString()</c> of options and models are searched for the keys. Cache and batch files must be owner-only.
/// </summary>
public static class SecretsProbe
{
    /// <summary>The OpenAI key the probe injects.</summary>
    public const string OpenAiKey = "sk-proj-RELIABILITYSECRET0penAi7f3a9c";

    /// <summary>The Anthropic key the probe injects.</summary>
    public const string ClaudeKey = "sk-ant-api03-RELIABILITYSECRETc1aude2b8e";

    /// <summary>Runs the probe.</summary>
    public static async Task<SecretsReport> RunAsync()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lmwrapper-secrets-" + Guid.NewGuid().ToString("N"));
        string work = Path.Combine(dir, "batches");
        Directory.CreateDirectory(dir);
        var logger = new CapturingLogger();
        var texts = new List<(string Where, string Text)>();
        var notOwnerOnly = new List<string>();
        int requestFilesSeen = 0;
        var retry = new LmRetryPolicy { MaxRetries = 2, InitialDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) };
        var openAiServer = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { ValidApiKeys = [OpenAiKey], BatchStageDuration = TimeSpan.FromMilliseconds(20) });
        var claudeServer = new FakeAnthropicServer();
        claudeServer.AcceptApiKey(ClaudeKey);
        await claudeServer.StartAsync();
        string cacheFile = Path.Combine(dir, "cache.sqlite3");
        try
        {
            using (var cache = LmCache.Open(cacheFile))
            {
                var modelOptions = new LanguageModelOptions
                {
                    Cache = cache,
                    CacheByDefault = true,
                    Logger = logger,
                    Batch = new BatchOptions { WorkingDirectory = work, PollInterval = TimeSpan.FromMilliseconds(5), MaxPollInterval = TimeSpan.FromMilliseconds(20) },
                };
                var openAiOptions = new OpenAiOptions
                {
                    BaseUrl = new Uri(openAiServer.BaseUrl),
                    GetEnvironmentVariable = _ => null,
                    HomeDirectory = dir,
                    Retry = retry,
                    Organization = "org-reliability",
                    ModelOptions = modelOptions,
                };
                var claudeOptions = new ClaudeOptions
                {
                    BaseUrl = claudeServer.BaseUrl,
                    GetEnvironmentVariable = _ => null,
                    HomeDirectory = dir,
                    Retry = retry,
                    ModelOptions = modelOptions,
                };
                texts.Add(("OpenAiOptions.ToString()", openAiOptions.ToString()));
                texts.Add(("ClaudeOptions.ToString()", claudeOptions.ToString()));
                using var gpt = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, OpenAiKey, options: openAiOptions);
                using var claude = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, ClaudeKey, claudeOptions);
                foreach (var lm in new LanguageModel[] { gpt, claude })
                {
                    texts.Add(($"{lm.GetType().Name}.ToString()", lm.ToString() ?? string.Empty));
                    texts.Add(($"{lm.GetType().Name}.ModelIdentity", lm.ModelIdentity));
                    texts.Add(($"{lm.GetType().Name}.ModelInfo", lm.ModelInfo.ToString()));
                    texts.Add(($"{lm.GetType().Name}.Options", lm.Options.ToString()));
                    var prompts = Enumerable.Range(0, 30).Select(i => new LmPrompt($"What is {i}+1?") { MaxTokens = 20, Temperature = 0 }).ToList();
                    texts.AddRange(lm.PredictMany(prompts.Take(10)).Select(p => ("prediction", p.ToString() + p.CompletionText + string.Join(",", p.ProviderData ?? new Dictionary<string, string>()))));

                    // A batch whose upload waits a while: the request file is on disk meanwhile.
                    if (lm is OpenAiLm)
                    {
                        openAiServer.EnqueueFault(FakeOpenAiFault.Slow(TimeSpan.FromMilliseconds(600)) with { PathPrefix = "/v1/files" });
                    }
                    else
                    {
                        claudeServer.InjectFault(FakeAnthropicFault.Slow(TimeSpan.FromMilliseconds(600)) with { PathPrefix = "/v1/messages/batches" });
                    }

                    var batch = Task.Run(() => lm.PredictMany(prompts.Skip(10), CompletionWindow.BatchAny).ToList());
                    var seen = new HashSet<string>(StringComparer.Ordinal);
                    while (!batch.IsCompleted)
                    {
                        if (Directory.Exists(work))
                        {
                            foreach (var file in Directory.EnumerateFiles(work))
                            {
                                try
                                {
                                    string text = await File.ReadAllTextAsync(file);
                                    if (seen.Add(file))
                                    {
                                        requestFilesSeen++;
                                        texts.Add(("batch request file " + Path.GetFileName(file), text));
                                        CheckOwnerOnly(file, notOwnerOnly);
                                    }
                                }
                                catch (IOException)
                                {
                                    // Deleted between listing and reading.
                                }
                            }
                        }

                        await Task.Delay(5);
                    }

                    texts.AddRange((await batch).Select(p => ("batch prediction", p.ToString() + p.CompletionText + string.Join(",", p.ProviderData ?? new Dictionary<string, string>()))));

                    // Failures: server errors past the retries, a bad prompt, a revoked key.
                    if (lm is OpenAiLm)
                    {
                        openAiServer.EnqueueFault(FakeOpenAiFault.ServerError(500), times: 5);
                        openAiServer.EnqueueFault(FakeOpenAiFault.BadKey());
                    }
                    else
                    {
                        claudeServer.InjectFault(FakeAnthropicFault.ServerError(), times: 5);
                        claudeServer.InjectFault(FakeAnthropicFault.Error(401, "authentication_error", "invalid x-api-key " + ClaudeKey[..12]));
                    }

                    var failed = await lm.PredictAsync(new LmPrompt("this one fails") { MaxTokens = 5 });
                    texts.Add(("failed prediction", failed.ToString() + failed.ErrorMessage + failed.Error));
                    foreach (var action in new Func<Task>[]
                    {
                        () => lm.PredictAsync(new LmPrompt("revoked") { MaxTokens = 5 }),
                        () => lm.PredictAsync(new LmPrompt("hi") { MaxTokens = -1 }),
                        () => lm.PredictAsync(new LmPrompt("hi") { Temperature = double.NaN }),
                    })
                    {
                        try
                        {
                            await action();
                        }
                        catch (Exception e)
                        {
                            texts.Add(("exception " + e.GetType().Name, e.ToString() + e.Message + string.Join(",", e.Data.Keys.Cast<object>())));
                        }
                    }
                }

                // Constructing with bad settings: the exceptions must not carry the key either.
                foreach (var make in new Action[]
                {
                    () => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, OpenAiKey + "\n", options: openAiOptions),
                    () => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, OpenAiKey, options: openAiOptions with { BaseUrl = new Uri("ftp://user:" + OpenAiKey + "@example.com/v1") }),
                    () => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, ClaudeKey + "\r\n", claudeOptions),
                    () => OpenAiLm.Get("no-such-model", OpenAiKey, options: openAiOptions),
                })
                {
                    try
                    {
                        make();
                    }
                    catch (Exception e)
                    {
                        texts.Add(("exception " + e.GetType().Name, e.ToString()));
                    }
                }

                CheckOwnerOnly(cacheFile, notOwnerOnly);
                CheckOwnerOnly(cacheFile + "-wal", notOwnerOnly);
                CheckOwnerOnly(cacheFile + "-shm", notOwnerOnly);
                texts.Add(("cache.ToString()", cache.ToString()));
                texts.Add(("cache -wal", ReadShared(cacheFile + "-wal")));
            }

            texts.Add(("cache database", ReadShared(cacheFile)));
            if (Directory.Exists(work))
            {
                foreach (var file in Directory.EnumerateFiles(work, "*", SearchOption.AllDirectories))
                {
                    texts.Add(("left in the working folder: " + file, ReadShared(file)));
                }
            }

            texts.AddRange(logger.Lines.Select(l => ("log", l)));
            texts.AddRange(openAiServer.Requests.Select(r => ("OpenAI request body as received " + r.Path, r.Body)));
            texts.AddRange(claudeServer.Requests.Select(r => ("Claude request body as received " + r.Path, r.Body)));
        }
        finally
        {
            await openAiServer.DisposeAsync();
            await claudeServer.DisposeAsync();
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        // Both keys hold the marker: a whole key or any part with the marker counts.
        const string Marker = "RELIABILITYSECRET";
        int found = 0;
        var where = new List<string>();
        foreach (var (w, text) in texts)
        {
            int n = Count(text, Marker);
            if (n > 0)
            {
                found += n;
                where.Add($"{w}: {n}");
            }
        }

        return new SecretsReport(found, texts.Count, where, notOwnerOnly, requestFilesSeen);
    }

    private static int Count(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }

    private static string ReadShared(string path)
    {
        if (!File.Exists(path))
        {
            return string.Empty;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        return Encoding.Latin1.GetString(ms.ToArray());
    }

    private static void CheckOwnerOnly(string path, List<string> notOwnerOnly)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path))
        {
            return;
        }

        var mode = File.GetUnixFileMode(path);
        if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
        {
            notOwnerOnly.Add($"{Path.GetFileName(path)} ({mode})");
        }
    }
}
