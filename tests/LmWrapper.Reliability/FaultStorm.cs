using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using LmWrapper.Anthropic;
using LmWrapper.OpenAI;
using LmWrapper.Retry;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Reliability;

/// <summary>
/// Fault storms: prompts sent 16 at a time through a real client to a fake server that meets a seeded mix of faults
/// (429 with and without hints, 500/502/503, Claude's 529, timeouts, connections dropped, bodies cut off, malformed and
/// wrong-shaped JSON, HTML with the wrong content type, huge bodies). Faults are queued in waves, one wave per hundred
/// prompts, and met by whichever requests come next (retries included).
/// </summary>
public static class FaultStorm
{
    /// <summary>The per-attempt timeout the storm's clients use.</summary>
    public static TimeSpan RequestTimeout { get; } = TimeSpan.FromSeconds(1);

    /// <summary>The per-call total limit the storm's clients use.</summary>
    public static TimeSpan TotalTimeout { get; } = TimeSpan.FromSeconds(20);

    private static readonly LmRetryPolicy Retry = new()
    {
        MaxRetries = 6,
        InitialDelay = TimeSpan.FromMilliseconds(1),
        MaxDelay = TimeSpan.FromMilliseconds(20),
        MaxTotalWait = TimeSpan.FromSeconds(10),
    };

    /// <summary>Runs a storm against one fake.</summary>
    /// <param name="provider">"openai" or "claude".</param>
    /// <param name="prompts">How many prompts.</param>
    /// <param name="seed">The seed of the fault mix.</param>
    /// <param name="cancellationToken">Cancels the storm.</param>
    public static async Task<StormReport> RunAsync(string provider, int prompts, int seed, CancellationToken cancellationToken = default)
    {
        var random = new Random(seed);
        var paid = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var byKind = new Dictionary<string, int>(StringComparer.Ordinal);
        int billable = 0, injected = 0;
        FakeOpenAiServer? openAi = null;
        FakeAnthropicServer? claude = null;
        string home = Path.Combine(Path.GetTempPath(), "lmwrapper-storm-" + Guid.NewGuid().ToString("N"));
        LanguageModel lm;
        Action<int> injectWave;
        var modelOptions = new LanguageModelOptions { CacheByDefault = false, MaxConcurrency = 16 };
        if (provider == "openai")
        {
            openAi = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { RequestsPerMinute = 10_000_000, RecordRequests = false }, cancellationToken);
            openAi.Responder = r =>
            {
                paid.AddOrUpdate(r.LastUserText, 1, (_, n) => n + 1);
                return FakeOpenAiServer.DefaultResponder(r);
            };
            lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: new OpenAiOptions
            {
                BaseUrl = new Uri(openAi.BaseUrl),
                GetEnvironmentVariable = _ => null,
                HomeDirectory = home,
                Retry = Retry,
                RequestTimeout = RequestTimeout,
                TotalTimeout = TotalTimeout,
                ModelOptions = modelOptions,
            });
            string huge = "{\"junk\":\"" + new string('x', 3 << 20) + "\"}";
            injectWave = count =>
            {
                for (int i = 0; i < count; i++)
                {
                    int roll = random.Next(100);
                    (string name, FakeOpenAiFault fault, bool paysOnce) = roll switch
                    {
                        < 15 => ("429_hint", FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(5)) with { SendRateLimitHeaders = false }, false),
                        < 25 => ("429_no_hint", FakeOpenAiFault.RateLimit(null, sendRetryAfterMs: false, sendRetryAfter: false) with { SendRateLimitHeaders = false }, false),
                        < 35 => ("500", FakeOpenAiFault.ServerError(500), false),
                        < 42 => ("502", FakeOpenAiFault.ServerError(502), false),
                        < 50 => ("503", FakeOpenAiFault.ServerError(503), false),
                        < 52 => ("timeout", FakeOpenAiFault.Slow(TimeSpan.FromSeconds(1.5)), true),
                        < 62 => ("dropped", FakeOpenAiFault.DropConnection(), false),
                        < 72 => ("truncated_body", FakeOpenAiFault.TruncatedBody(), true),
                        < 78 => ("html_wrong_content_type", FakeOpenAiFault.MalformedBody(), false),
                        < 84 => ("malformed_json", FakeOpenAiFault.RawBody("{\"id\": \"chatcmpl-x\", \"choices\": [{\"message\""), false),
                        < 90 => ("wrong_shape_json", FakeOpenAiFault.RawBody("{\"id\":\"chatcmpl-x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":12},\"finish_reason\":\"stop\"}]}"), false),
                        < 95 => ("no_choices_json", FakeOpenAiFault.RawBody("{\"unexpected\":true}"), false),
                        _ => ("huge_body", FakeOpenAiFault.RawBody(huge), false),
                    };
                    openAi.EnqueueFault(fault with { PathPrefix = "/v1/chat/completions" });
                    byKind[name] = byKind.GetValueOrDefault(name) + 1;
                    billable += paysOnce ? 1 : 0;
                    injected++;
                }
            };
        }
        else
        {
            claude = new FakeAnthropicServer();
            await claude.StartAsync(cancellationToken);
            claude.Responder = r =>
            {
                paid.AddOrUpdate(r.Messages.LastOrDefault(m => m.Role == "user")?.Text ?? string.Empty, 1, (_, n) => n + 1);
                return FakeAnthropicServer.DefaultResponder(r);
            };
            lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, new ClaudeOptions
            {
                BaseUrl = claude.BaseUrl,
                GetEnvironmentVariable = _ => null,
                HomeDirectory = home,
                Retry = Retry,
                RequestTimeout = RequestTimeout,
                TotalTimeout = TotalTimeout,
                ModelOptions = modelOptions,
            });
            injectWave = count =>
            {
                for (int i = 0; i < count; i++)
                {
                    int roll = random.Next(100);
                    (string name, FakeAnthropicFault fault, bool paysOnce) = roll switch
                    {
                        < 12 => ("429_hint", FakeAnthropicFault.RateLimited(TimeSpan.FromMilliseconds(5)), false),
                        < 20 => ("429_no_hint", FakeAnthropicFault.RateLimited(), false),
                        < 30 => ("529_overloaded", FakeAnthropicFault.Overloaded(), false),
                        < 38 => ("500", FakeAnthropicFault.ServerError(), false),
                        < 43 => ("502", FakeAnthropicFault.Error(502, "api_error", "Bad gateway"), false),
                        < 48 => ("503", FakeAnthropicFault.Error(503, "api_error", "Service unavailable"), false),
                        < 50 => ("timeout", FakeAnthropicFault.Slow(TimeSpan.FromSeconds(1.5)), true),
                        < 62 => ("dropped", FakeAnthropicFault.DropConnection(), false),
                        < 70 => ("dropped_after_handling", FakeAnthropicFault.DropAfterHandling(), true),
                        < 82 => ("truncated_body", FakeAnthropicFault.TruncatedBody(), false),
                        _ => ("html_wrong_content_type", FakeAnthropicFault.MalformedBody(), false),
                    };
                    claude.InjectFault(fault with { PathPrefix = "/v1/messages" });
                    byKind[name] = byKind.GetValueOrDefault(name) + 1;
                    billable += paysOnce ? 1 : 0;
                    injected++;
                }
            };
        }

        int correct = 0, typed = 0, wrong = 0, thrown = 0;
        long maxTicks = 0;
        string? firstThrown = null;
        var workingSet = new List<double>();
        try
        {
            const int Wave = 100;
            for (int start = 0; start < prompts; start += Wave)
            {
                int count = Math.Min(Wave, prompts - start);
                injectWave(count * 3 / 10);
                await Parallel.ForEachAsync(
                    Enumerable.Range(start, count),
                    new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
                    async (i, ct) =>
                    {
                        var prompt = ChildPredict.Prompt(i);
                        var watch = Stopwatch.StartNew();
                        try
                        {
                            var p = await lm.PredictAsync(prompt, ct);
                            if (p.HasErrors)
                            {
                                Interlocked.Increment(ref typed);
                            }
                            else if (p.CompletionText == ChildPredict.Expected(provider, i))
                            {
                                Interlocked.Increment(ref correct);
                            }
                            else
                            {
                                Interlocked.Increment(ref wrong);
                                Interlocked.CompareExchange(ref firstThrown, $"prompt {i}: wrong text \"{p.CompletionText}\"", null);
                            }
                        }
                        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                        {
                            Interlocked.Increment(ref thrown);
                            Interlocked.CompareExchange(ref firstThrown, $"prompt {i}: {e.GetType().Name}: {e.Message}", null);
                        }

                        long ticks = watch.Elapsed.Ticks;
                        long seen;
                        while (ticks > (seen = Interlocked.Read(ref maxTicks)) && Interlocked.CompareExchange(ref maxTicks, ticks, seen) != seen)
                        {
                        }
                    });
                if ((start + count) % 1000 == 0 || start + count == prompts)
                {
                    using var self = Process.GetCurrentProcess();
                    workingSet.Add(Math.Round(self.WorkingSet64 / (1024.0 * 1024.0), 1));
                }
            }
        }
        finally
        {
            lm.Dispose();
            if (openAi is not null)
            {
                await openAi.DisposeAsync();
            }

            if (claude is not null)
            {
                await claude.DisposeAsync();
            }
        }

        return new StormReport(
            provider,
            seed,
            prompts,
            injected,
            byKind,
            correct,
            typed,
            wrong,
            thrown,
            paid.Values.Sum(),
            billable,
            Math.Round(TimeSpan.FromTicks(maxTicks).TotalSeconds, 3),
            TotalTimeout.TotalSeconds,
            workingSet,
            firstThrown);
    }

    /// <summary>A one-line summary.</summary>
    /// <param name="r">The report.</param>
    public static string Describe(StormReport r) => string.Create(
        CultureInfo.InvariantCulture,
        $"{r.Provider} storm (seed {r.Seed}): {r.Prompts} prompts, {r.FaultsInjected} faults ({string.Join(", ", r.FaultsByKind.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => k.Key + " " + k.Value))}); "
        + $"{r.Correct} right, {r.TypedErrors} typed errors, {r.Wrong} wrong, {r.Thrown} thrown; paid {r.PaidRequests} (billable faults {r.BillableFaults}, beyond justified {r.PaidBeyondJustified}); "
        + $"longest call {r.MaxCallSeconds} s of {r.BudgetSeconds} s; working set {string.Join("/", r.WorkingSetMb)} MB{(r.FirstThrown is null ? string.Empty : "; first problem: " + r.FirstThrown)}");
}
