using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using LmWrapper.Caching;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Reliability;

/// <summary>
/// Crash safety: a child process running PredictMany is killed at seeded random points (once the fake server has seen a
/// random number of its requests, plus a random few milliseconds) and rerun until it completes. Rounds of fresh prompts
/// and a fresh cache repeat until the kill points are used up. The "cli" modes run the <c>lmwrapper run</c> command on a
/// JSONL file against the fake OpenAI server instead, rerunning the same command into the same output file.
/// </summary>
public static class KillPoints
{
    /// <summary>The modes: provider and window.</summary>
    public static IReadOnlyList<(string Provider, string Window)> Modes { get; } =
        [("openai", "asap"), ("openai", "batch"), ("claude", "asap"), ("claude", "batch"), ("cli", "asap"), ("cli", "batch")];

    /// <summary>Runs one mode.</summary>
    /// <param name="provider">"openai" or "claude" (PredictMany in the harness's child), or "cli" (the lmwrapper command on OpenAI).</param>
    /// <param name="window">"asap" or "batch".</param>
    /// <param name="killPoints">How many kills.</param>
    /// <param name="promptsPerRound">Prompts per round.</param>
    /// <param name="seed">The seed of the kill points (printed in the log).</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    public static async Task<KillReport> RunAsync(string provider, string window, int killPoints, int promptsPerRound, int seed, CancellationToken cancellationToken = default)
    {
        string dir = Path.Combine(Path.GetTempPath(), "lmwrapper-kill-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var paid = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var log = new StringBuilder($"mode {provider}/{window}, seed {seed.ToString(CultureInfo.InvariantCulture)}\n");
        var random = new Random(seed);
        FakeOpenAiServer? openAi = null;
        FakeAnthropicServer? claude = null;
        try
        {
            string baseUrl, key;
            Func<int> requestCount;
            bool cli = provider == "cli";
            if (provider is "openai" or "cli")
            {
                openAi = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStageDuration = TimeSpan.FromMilliseconds(30) }, cancellationToken);
                openAi.Responder = r =>
                {
                    paid.AddOrUpdate(r.LastUserText, 1, (_, n) => n + 1);
                    return FakeOpenAiServer.DefaultResponder(r);
                };
                baseUrl = openAi.BaseUrl;
                key = FakeOpenAiServer.DefaultApiKey;
                requestCount = () => openAi.Requests.Count;
            }
            else
            {
                // Answers take 10 ms, as a (very fast) real one would take longer than none: kills then land among stored answers.
                claude = new FakeAnthropicServer { BatchProcessingTime = TimeSpan.FromMilliseconds(30), ResponseDelay = TimeSpan.FromMilliseconds(10) };
                await claude.StartAsync(cancellationToken);
                claude.Responder = r =>
                {
                    string text = r.Messages.LastOrDefault(m => m.Role == "user")?.Text ?? string.Empty;
                    paid.AddOrUpdate(text, 1, (_, n) => n + 1);
                    return FakeAnthropicServer.DefaultResponder(r);
                };
                baseUrl = claude.BaseUrl.AbsoluteUri;
                key = FakeAnthropicServer.DefaultApiKey;
                requestCount = () => claude.Requests.Count;
            }

            int kills = 0, runs = 0, rounds = 0, lost = 0, paidTwice = 0, repaidAfterKill = 0, orphans = 0, answeredOnce = 0, prompts = 0;
            bool integrityOk = true;
            int killSpan = window == "asap" ? promptsPerRound : 40;
            while (kills < killPoints)
            {
                int first = rounds * 100_000;
                rounds++;
                prompts += promptsPerRound;
                string roundDir = Path.Combine(dir, "round" + rounds.ToString(CultureInfo.InvariantCulture));
                Directory.CreateDirectory(roundDir);
                string cacheFile = Path.Combine(roundDir, cli ? LmCache.DefaultFileName : "cache.sqlite3");
                if (cli)
                {
                    File.WriteAllLines(Path.Combine(roundDir, "in.jsonl"), Enumerable.Range(first, promptsPerRound).Select(CliInputLine));
                }

                var answeredBefore = new HashSet<int>();
                bool done = false;
                for (int run = 1; !done; run++)
                {
                    if (run > killPoints + 8)
                    {
                        throw new InvalidOperationException("the child never completed:\n" + log);
                    }

                    runs++;
                    var paidAtStart = new Dictionary<string, int>(paid, StringComparer.Ordinal);
                    // The command resumes one output file; the harness's child writes one per run.
                    string outFile = cli ? Path.Combine(roundDir, "out.jsonl") : Path.Combine(roundDir, $"out{run.ToString(CultureInfo.InvariantCulture)}.txt");
                    int before = requestCount();
                    using var child = Process.Start(cli
                        ? CliStartInfo(window, baseUrl, key, roundDir, outFile)
                        : StartInfo(provider, window, baseUrl, key, cacheFile, roundDir, first, promptsPerRound, outFile))!;
                    var stdout = child.StandardOutput.ReadToEndAsync(cancellationToken);
                    var stderr = child.StandardError.ReadToEndAsync(cancellationToken);
                    bool killed = false;
                    if (kills < killPoints && run <= 4)
                    {
                        int threshold = before + random.Next(1, killSpan);
                        int extraMs = random.Next(0, 15);
                        var wait = Stopwatch.StartNew();
                        while (requestCount() < threshold && !child.HasExited && wait.Elapsed < TimeSpan.FromSeconds(60))
                        {
                            await Task.Delay(1, cancellationToken);
                        }

                        await Task.Delay(extraMs, cancellationToken);
                        if (!child.HasExited)
                        {
                            child.Kill(entireProcessTree: true);
                            killed = true;
                            kills++;
                        }
                    }

                    if (!child.WaitForExit(TimeSpan.FromSeconds(120)))
                    {
                        child.Kill(entireProcessTree: true);
                        throw new InvalidOperationException("the child hung:\n" + log);
                    }

                    string said = (await stdout) + (await stderr);
                    var answered = !File.Exists(outFile) ? []
                        : cli ? CliAnswered(outFile, first)
                        : File.ReadAllLines(outFile).Where(l => l.Length > 0).Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToList();

                    // A prompt whose answer a caller already saw must never be paid for again.
                    foreach (int i in answeredBefore)
                    {
                        string text = ChildPredict.Prompt(i).Text!;
                        if (paid.GetValueOrDefault(text) > paidAtStart.GetValueOrDefault(text))
                        {
                            paidTwice++;
                        }
                    }

                    answeredBefore.UnionWith(answered);
                    log.Append(CultureInfo.InvariantCulture, $"round {rounds} run {run}: {(killed ? "killed" : "ran")} (exit {child.ExitCode}, requests {before}->{requestCount()}, answered {answered.Count}) {said.Trim().Split('\n').LastOrDefault()}\n");
                    if (child.ExitCode == 0 && run == 1)
                    {
                        // A whole run fitted under the threshold: aim the next kills within what a whole run sends.
                        killSpan = Math.Max(2, (requestCount() - before) * 3 / 4);
                    }

                    if (child.ExitCode == 0)
                    {
                        done = true;
                        var expected = Enumerable.Range(first, promptsPerRound).ToList();
                        answeredOnce += answered.SequenceEqual(expected) ? promptsPerRound : 0;
                        lost += expected.Except(answered).Count();
                        paidTwice += answered.Count - answered.Distinct().Count(); // answered twice in one output
                    }
                    else if (!killed)
                    {
                        throw new InvalidOperationException($"the child failed on its own:\n{said}\n{log}");
                    }
                }

                using (var cache = LmCache.Open(cacheFile))
                {
                    var problems = cache.CheckIntegrity();
                    integrityOk &= problems.Count == 0;
                    int rows = cache.PendingBatchCount();
                    orphans += rows;
                    if (rows > 0)
                    {
                        log.Append(CultureInfo.InvariantCulture, $"round {rounds}: {rows} journal row(s) left\n");
                    }
                }

                int files = Directory.EnumerateFiles(roundDir, "lmw_*.jsonl", SearchOption.AllDirectories).Count();
                orphans += files;
                if (files > 0)
                {
                    log.Append(CultureInfo.InvariantCulture, $"round {rounds}: {files} request file(s) left\n");
                }
            }

            // Paid for: a batch request in two batches, or an immediate request paid again after a kill lost its answer.
            if (window == "batch")
            {
                var ids = openAi is not null
                    ? openAi.Batches.SelectMany(b => b.CustomIds).ToList()
                    : claude!.CreatedBatches.SelectMany(b => b.CustomIds).ToList();
                paidTwice += ids.Count - ids.Distinct(StringComparer.Ordinal).Count();
                int left = openAi is not null ? openAi.FileIds.Count : claude!.BatchIds.Count;
                orphans += left;
                if (left > 0)
                {
                    log.Append(CultureInfo.InvariantCulture, $"{left} {(openAi is not null ? "provider file(s)" : "provider batch(es)")} left: {string.Join(", ", openAi is not null ? openAi.FileIds : claude!.BatchIds)}\n");
                }
            }
            else
            {
                repaidAfterKill = paid.Values.Count(n => n > 1);
            }

            log.Append(CultureInfo.InvariantCulture, $"kills {kills}, runs {runs}, rounds {rounds}, prompts {prompts}, lost {lost}, paid twice {paidTwice}, re-paid after a kill (answer in flight) {repaidAfterKill}, orphans {orphans}, integrity {(integrityOk ? "ok" : "FAILED")}\n");
            return new KillReport(provider + "/" + window, seed, kills, runs, prompts, answeredOnce, lost, paidTwice, repaidAfterKill, integrityOk, orphans, log.ToString());
        }
        finally
        {
            if (openAi is not null)
            {
                await openAi.DisposeAsync();
            }

            if (claude is not null)
            {
                await claude.DisposeAsync();
            }

            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>The JSONL input line of prompt <paramref name="i"/> for the command (the same prompt as <see cref="ChildPredict.Prompt"/>).</summary>
    private static string CliInputLine(int i)
    {
        var prompt = ChildPredict.Prompt(i);
        return System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["text"] = prompt.Text!,
            ["max_tokens"] = prompt.MaxTokens!.Value,
            ["temperature"] = prompt.Temperature,
            ["metadata"] = new Dictionary<string, int> { ["i"] = i },
        });
    }

    /// <summary>
    /// The prompts the command's output file answers rightly, in file order (a torn last line, which the next run cuts
    /// off, is not an answer); a line that is not a right answer counts as unanswered.
    /// </summary>
    private static List<int> CliAnswered(string outFile, int first)
    {
        var answered = new List<int>();
        foreach (var line in File.ReadAllLines(outFile))
        {
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(line);
                var root = doc.RootElement;
                int i = first + root.GetProperty("line").GetInt32() - 1;
                if (root.TryGetProperty("completion_text", out var text) && text.GetString() == ChildPredict.Expected("openai", i))
                {
                    answered.Add(i);
                }
            }
            catch (System.Text.Json.JsonException)
            {
            }
        }

        return answered;
    }

    /// <summary>
    /// <c>dotnet LmWrapper.Cli.dll run …</c> in <paramref name="roundDir"/>, whose temp folder is <paramref name="roundDir"/>
    /// too, so batch request files left behind are counted.
    /// </summary>
    private static ProcessStartInfo CliStartInfo(string window, string baseUrl, string key, string roundDir, string outFile)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = roundDir };
        foreach (var a in new[]
        {
            CliDll, "run", "--model", "openai:" + LmWrapper.OpenAI.OpenAiModelNames.Gpt4oMini, "--input", Path.Combine(roundDir, "in.jsonl"), "--output", outFile,
            "--window", window, "--poll-interval", "0.05", "--cache-dir", roundDir,
        })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["OPENAI_BASE_URL"] = baseUrl;
        psi.Environment["OPENAI_API_KEY"] = key;
        psi.Environment["TMPDIR"] = roundDir;
        return psi;
    }

    /// <summary>The built <c>lmwrapper</c> (src/LmWrapper.Cli/bin/&lt;Configuration&gt;/&lt;tfm&gt;/LmWrapper.Cli.dll, built as a reference of this project).</summary>
    public static string CliDll
    {
        get
        {
            var tfm = new DirectoryInfo(Path.GetDirectoryName(ChildDll)!);
            var dir = tfm;
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LmWrapper.slnx")))
            {
                dir = dir.Parent;
            }

            string path = Path.Combine(dir?.FullName ?? ".", "src", "LmWrapper.Cli", "bin", tfm.Parent!.Name, tfm.Name, "LmWrapper.Cli.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("The built LmWrapper.Cli.dll was not found; build src/LmWrapper.Cli.", path);
        }
    }

    /// <summary>The child process's start info (this assembly, run with <c>dotnet</c>).</summary>
    private static ProcessStartInfo StartInfo(string provider, string window, string baseUrl, string key, string cacheFile, string workDir, int first, int count, string outFile)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { ChildDll, "predict", provider, window, baseUrl, key, cacheFile, workDir, first.ToString(CultureInfo.InvariantCulture), count.ToString(CultureInfo.InvariantCulture), outFile })
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    /// <summary>This assembly: the child process.</summary>
    public static string ChildDll => typeof(KillPoints).Assembly.Location;
}
