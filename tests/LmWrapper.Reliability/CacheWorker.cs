using System.Globalization;
using LmWrapper.Caching;

namespace LmWrapper.Reliability;

/// <summary>
/// The child's <c>cache-worker</c> mode: threads of mixed reads, writes, removals and evictions on one cache file shared
/// with other processes. "Keep" prompts (k0…k79) are never removed by anyone; "churn" prompts (c0…c39) are removed and
/// asked again. Every answer must be right; no exception (a "database is locked" included) may reach the caller; and
/// inside one PredictMany a prompt is never paid for twice.
/// </summary>
public static class CacheWorker
{
    /// <summary>How many keep prompts there are.</summary>
    public const int KeepPrompts = 80;

    /// <summary>How many churn prompts there are.</summary>
    public const int ChurnPrompts = 40;

    /// <summary>The model name every worker uses (so all share cache keys).</summary>
    public const string ModelName = "reliability-stress";

    /// <summary>What the mock answers.</summary>
    /// <param name="text">The prompt's text.</param>
    public static string Answer(string text) => text + " answered";

    /// <summary>The prompt for a text.</summary>
    /// <param name="text">The text.</param>
    public static LmPrompt Prompt(string text) => new(text) { MaxTokens = 5 };

    /// <summary>Runs the mode; the exit code.</summary>
    /// <param name="cacheFile">The shared cache file.</param>
    /// <param name="seed">The seed of this process's operations.</param>
    /// <param name="threads">Threads.</param>
    /// <param name="operations">Operations per thread.</param>
    /// <param name="outFile">Where "stored kN" lines go.</param>
    public static int Run(string cacheFile, int seed, int threads, int operations, string outFile)
    {
        using var shared = LmCache.Open(cacheFile);
        using var output = new StreamWriter(new FileStream(outFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var gate = new Lock();
        int failures = 0;
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var random = new Random(seed * 1000 + t);

            // Half the threads have their own connection to the file; the others share the process's.
            using var own = t % 2 == 0 ? LmCache.Open(cacheFile) : null;
            var cache = own ?? shared;
            using var lm = new MockLm(p => Answer(p.Text!), ModelName, new LanguageModelOptions { Cache = cache, CacheByDefault = true });
            try
            {
                for (int op = 0; op < operations; op++)
                {
                    int roll = random.Next(100);
                    if (roll < 50)
                    {
                        var texts = Enumerable.Range(0, 8).Select(_ => random.Next(3) == 0 ? $"c{random.Next(ChurnPrompts)}" : $"k{random.Next(KeepPrompts)}").ToList();
                        int before = lm.CallCount;
                        var answers = lm.PredictMany(texts.Select(Prompt)).ToList();
                        int paid = lm.CallCount - before;
                        int distinct = texts.Distinct(StringComparer.Ordinal).Count();
                        if (paid > distinct)
                        {
                            throw new InvalidOperationException($"PredictMany of {distinct} distinct prompts paid {paid} calls");
                        }

                        for (int i = 0; i < texts.Count; i++)
                        {
                            if (answers[i].HasErrors || answers[i].CompletionText != Answer(texts[i]))
                            {
                                throw new InvalidOperationException($"wrong answer for {texts[i]}: {answers[i].CompletionText} {answers[i].ErrorMessage}");
                            }
                        }

                        lock (gate)
                        {
                            foreach (var text in texts.Where(x => x[0] == 'k').Distinct(StringComparer.Ordinal))
                            {
                                output.WriteLine("stored " + text);
                            }
                        }
                    }
                    else if (roll < 65)
                    {
                        lm.RemovePromptFromCache(Prompt($"c{random.Next(ChurnPrompts)}"));
                    }
                    else if (roll < 75)
                    {
                        cache.EvictOlderThan(TimeSpan.FromHours(1)); // nothing is that old: the write path, under contention
                    }
                    else if (roll < 85)
                    {
                        _ = cache.GetStats();
                    }
                    else
                    {
                        string text = $"k{random.Next(KeepPrompts)}";
                        var p = lm.Predict(Prompt(text));
                        if (p.HasErrors || p.CompletionText != Answer(text))
                        {
                            throw new InvalidOperationException($"wrong answer for {text}");
                        }

                        lock (gate)
                        {
                            output.WriteLine("stored " + text);
                        }
                    }
                }
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref failures);
                lock (gate)
                {
                    Console.Error.WriteLine($"thread {t.ToString(CultureInfo.InvariantCulture)}: {e.GetType().Name}: {e.Message}");
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        if (failures > 0)
        {
            return 1;
        }

        Console.WriteLine("ok");
        return 0;
    }
}
