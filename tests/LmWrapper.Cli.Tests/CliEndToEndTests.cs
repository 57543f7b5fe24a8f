using System.Collections.Concurrent;
using System.Text.Json;
using LmWrapper.Testing;

namespace LmWrapper.Cli.Tests;

/// <summary>The CLI as a child process, against the fake OpenAI server (and offline models).</summary>
public class CliEndToEndTests
{
    private const string Model = "openai:gpt-4o-mini";

    private static Dictionary<string, string?> Env(FakeOpenAiServer server) => new()
    {
        ["OPENAI_API_KEY"] = FakeOpenAiServer.DefaultApiKey,
        ["OPENAI_BASE_URL"] = server.BaseUrl,
    };

    private static JsonElement[] Results(string path) =>
        [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    private static string[] WriteQuestions(string path, int count)
    {
        var texts = Enumerable.Range(1, count).Select(i => $"What is {i}+{i}?").ToArray();
        File.WriteAllLines(path, texts.Select((t, i) => JsonSerializer.Serialize(new { text = t, max_tokens = 20, temperature = 0, metadata = new { id = i + 1 } })));
        return texts;
    }

    private static string[] Run(TempDir dir, params string[] more) =>
        ["run", "--model", Model, "--input", dir.File("in.jsonl"), "--output", dir.File("out.jsonl"), "--cache-dir", dir.File("cache"), .. more];

    private static async Task WaitUntilAsync(Func<bool> condition, CliProcess process, string what)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Waited in vain for {what}. stderr:\n{process.StdErr}");
            }

            await Task.Delay(50);
        }
    }

    private static int LineCount(string path)
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var r = new StreamReader(s);
        return r.ReadToEnd().Count(c => c == '\n');
    }

    [Fact]
    public async Task Run_writes_every_answer_in_input_order_with_usage_cost_and_metadata()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync();
        using var dir = new TempDir();
        var texts = WriteQuestions(dir.File("in.jsonl"), 6);

        var (code, _, stderr) = await CliProcess.RunAsync(dir.Path, Env(server), Run(dir));

        Assert.True(code == 0, stderr);
        var results = Results(dir.File("out.jsonl"));
        Assert.Equal(6, results.Length);
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(i + 1, results[i].GetProperty("line").GetInt32());
            Assert.Equal(i + 1, results[i].GetProperty("metadata").GetProperty("id").GetInt32());
            Assert.Equal($"{i + 1}+{i + 1} is equal to {2 * (i + 1)}.", results[i].GetProperty("completion_text").GetString());
            Assert.True(results[i].GetProperty("usage").GetProperty("output_tokens").GetInt32() > 0);
            Assert.True(results[i].GetProperty("cost").GetDecimal() > 0);
            Assert.False(results[i].GetProperty("cached").GetBoolean());
        }

        Assert.Equal(6, server.Requests.Count(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal)));
        Assert.Contains("6 written this run", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_killed_midway_and_rerun_completes_the_output_in_order_and_pays_for_no_prompt_twice()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync();
        using var dir = new TempDir();
        var texts = WriteQuestions(dir.File("in.jsonl"), 12);
        var paid = new ConcurrentDictionary<string, int>();
        using var gate = new ManualResetEventSlim();
        int blocked = 0;
        server.Responder = request =>
        {
            string text = request.LastUserText;
            if (text == texts[5] && Interlocked.Exchange(ref blocked, 1) == 0)
            {
                // The first ask for line 6 hangs until the first run is dead, then fails: it is never paid.
                gate.Wait(TimeSpan.FromMinutes(2));
                throw new InvalidOperationException("abandoned");
            }

            paid.AddOrUpdate(text, 1, (_, n) => n + 1);
            return FakeOpenAiServer.DefaultResponder(request);
        };

        using (var first = CliProcess.Start(dir.Path, Env(server), Run(dir, "--concurrency", "4")))
        {
            // Lines 1-5 are written; line 6 hangs; 7-12 are answered (and cached) but cannot be written before 6.
            await WaitUntilAsync(() => LineCount(dir.File("out.jsonl")) == 5 && paid.Count == 11, first, "5 lines and 11 answers");
            first.Kill();
            await first.WaitAsync(TimeSpan.FromMinutes(1));
        }

        gate.Set();
        Assert.Equal(5, Results(dir.File("out.jsonl")).Length);

        var (code, _, stderr) = await CliProcess.RunAsync(dir.Path, Env(server), Run(dir, "--concurrency", "4"));

        Assert.True(code == 0, stderr);
        var results = Results(dir.File("out.jsonl"));
        Assert.Equal(Enumerable.Range(1, 12), results.Select(r => r.GetProperty("line").GetInt32()));
        Assert.All(texts, t => Assert.Equal(1, paid.GetValueOrDefault(t)));
        Assert.Equal(11, paid.Count(p => p.Key != texts[5]));

        // The second run sent only line 6; lines 7-12 came from the cache.
        Assert.Equal([false, false, false, false, false, false, true, true, true, true, true, true], results.Select(r => r.GetProperty("cached").GetBoolean()));
        var requestsPerText = server.Requests
            .Where(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal))
            .GroupBy(r => r.Json.GetProperty("messages")[0].GetProperty("content").GetString())
            .ToDictionary(g => g.Key!, g => g.Count());
        Assert.All(texts.Where(t => t != texts[5]), t => Assert.Equal(1, requestsPerText[t]));
    }

    [Fact]
    public async Task Ctrl_c_writes_what_was_done_and_exits_with_130()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // SIGINT is sent with kill(1)
        }

        await using var server = await FakeOpenAiServer.StartNewAsync();
        using var dir = new TempDir();
        var texts = WriteQuestions(dir.File("in.jsonl"), 6);
        using var gate = new ManualResetEventSlim();
        server.Responder = request =>
        {
            if (request.LastUserText == texts[3])
            {
                gate.Wait(TimeSpan.FromMinutes(2));
                throw new InvalidOperationException("abandoned");
            }

            return FakeOpenAiServer.DefaultResponder(request);
        };

        int code;
        string stderr;
        using (var run = CliProcess.Start(dir.Path, Env(server), Run(dir)))
        {
            await WaitUntilAsync(() => LineCount(dir.File("out.jsonl")) == 3, run, "3 lines");
            await Task.Delay(300); // the child has its signal handler long before its first answer; this is only margin
            run.Interrupt();
            code = await run.WaitAsync(TimeSpan.FromMinutes(1));
            stderr = run.StdErr;
        }

        gate.Set();
        Assert.Equal(130, code);
        Assert.Equal([1, 2, 3], Results(dir.File("out.jsonl")).Select(r => r.GetProperty("line").GetInt32()));
        Assert.Contains("Interrupted", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_lines_are_skipped_as_errors_or_stop_the_run_before_anything_is_sent()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync();
        using var dir = new TempDir();
        const string hot = "{\"text\": \"What is 2+2?\", \"temperature\": \"hot\"}";
        int hotColumn = hot.IndexOf("\"hot\"", StringComparison.Ordinal) + 1;
        File.WriteAllLines(dir.File("in.jsonl"), ["{\"text\": \"What is 1+1?\"}", hot, "{\"text\": \"What is 3+3?\""]);

        var (stopCode, _, stopErr) = await CliProcess.RunAsync(dir.Path, Env(server), Run(dir, "--on-error", "stop"));

        Assert.Equal(2, stopCode);
        Assert.Contains($"line 2, column {hotColumn}:", stopErr, StringComparison.Ordinal);
        Assert.Contains("line 3, column 24: not valid JSON", stopErr, StringComparison.Ordinal);
        Assert.DoesNotContain(server.Requests, r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal));
        Assert.False(File.Exists(dir.File("out.jsonl")));

        var (skipCode, _, skipErr) = await CliProcess.RunAsync(dir.Path, Env(server), Run(dir, "--on-error", "skip"));

        Assert.Equal(1, skipCode);
        var results = Results(dir.File("out.jsonl"));
        Assert.Equal([1, 2, 3], results.Select(r => r.GetProperty("line").GetInt32()));
        Assert.Equal("1+1 is equal to 2.", results[0].GetProperty("completion_text").GetString());
        Assert.Equal(hotColumn, results[1].GetProperty("column").GetInt32());
        Assert.Equal("input", results[2].GetProperty("error_kind").GetString());
        Assert.Contains("Failed lines (2): 2, 3", skipErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Max_cost_below_the_estimate_refuses_to_start()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync();
        using var dir = new TempDir();
        WriteQuestions(dir.File("in.jsonl"), 3);

        var (code, _, stderr) = await CliProcess.RunAsync(dir.Path, Env(server), Run(dir, "--max-cost", "0.000001"));

        Assert.Equal(2, code);
        Assert.Contains("--max-cost", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(server.Requests, r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal));

        var (ok, _, okErr) = await CliProcess.RunAsync(dir.Path, Env(server), Run(dir, "--max-cost", "1"));
        Assert.True(ok == 0, okErr);
    }

    [Fact]
    public async Task Usage_errors_exit_with_2()
    {
        using var dir = new TempDir();
        var noKey = new Dictionary<string, string?> { ["HOME"] = dir.Path };
        Assert.Equal(2, (await CliProcess.RunAsync(dir.Path, noKey, "run", "--model", "mock:", "--input", "missing.jsonl", "--output", "o.jsonl", "--cache-dir", dir.Path)).ExitCode);
        Assert.Equal(2, (await CliProcess.RunAsync(dir.Path, noKey, "run", "--model", "nope:x", "--input", "a", "--output", "b")).ExitCode);
        Assert.Equal(2, (await CliProcess.RunAsync(dir.Path, noKey, "run", "--input", "a", "--output", "b")).ExitCode);
        Assert.Equal(2, (await CliProcess.RunAsync(dir.Path, noKey, "predict", "--model", "openai:gpt-4o-mini", "hi")).ExitCode); // no key
        Assert.Equal(2, (await CliProcess.RunAsync(dir.Path, noKey, "predict", "--model", "openai:no-such-model", "hi")).ExitCode);
        var help = await CliProcess.RunAsync(dir.Path, noKey, "run", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("Examples:", help.StdOut, StringComparison.Ordinal);
        Assert.Contains("--max-cost", help.StdOut, StringComparison.Ordinal);
        var rootHelp = await CliProcess.RunAsync(dir.Path, noKey, "--help");
        Assert.Equal(0, rootHelp.ExitCode);
        Assert.All(["run", "predict", "estimate", "tokens", "models", "cache", "batches"], c => Assert.Contains("\n  " + c + " ", rootHelp.StdOut.ReplaceLineEndings("\n"), StringComparison.Ordinal));
        Assert.Equal(2, (await CliProcess.RunAsync(dir.Path, noKey)).ExitCode); // no command
    }

    [Fact]
    public async Task Mock_model_predicts_and_runs_offline()
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string?>();
        var predict = await CliProcess.RunAsync(dir.Path, env, "predict", "--model", "mock:", "--cache-dir", dir.File("cache"), "Hello there friend");
        Assert.Equal(0, predict.ExitCode);
        Assert.Equal("Hello there friend", predict.StdOut.Trim());

        File.WriteAllLines(dir.File("in.jsonl"), ["{\"text\": \"one two\"}", "{\"messages\": [{\"role\": \"user\", \"content\": \"three\"}], \"metadata\": \"m\"}"]);
        var run = await CliProcess.RunAsync(dir.Path, env, "run", "--model", "mock:", "--input", "in.jsonl", "--output", "out.jsonl", "--cache-dir", dir.File("cache"));
        Assert.True(run.ExitCode == 0, run.StdErr);
        var results = Results(dir.File("out.jsonl"));
        Assert.Equal(["one two", "three"], results.Select(r => r.GetProperty("completion_text").GetString()));
        Assert.Equal("m", results[1].GetProperty("metadata").GetString());
        Assert.Equal(JsonValueKind.Null, results[0].GetProperty("cost").ValueKind); // the mock has no prices
    }

    [Fact]
    public async Task Claude_runs_and_predicts_through_the_fake_anthropic_server()
    {
        await using var server = new Testing.Anthropic.FakeAnthropicServer();
        await server.StartAsync();
        using var dir = new TempDir();
        var env = new Dictionary<string, string?>
        {
            ["ANTHROPIC_API_KEY"] = Testing.Anthropic.FakeAnthropicServer.DefaultApiKey,
            ["ANTHROPIC_BASE_URL"] = server.BaseUrl.ToString(),
        };
        const string claude = "claude:claude-3-5-haiku-20241022";
        File.WriteAllLines(dir.File("in.jsonl"), [
            "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 20}",
            "{\"text\": \"Bye\", \"max_tokens\": 20, \"metadata\": 2}",
            "{\"text\": \"x\", \"echo\": true}", // Claude cannot echo: refused before anything is sent
        ]);

        var run = await CliProcess.RunAsync(dir.Path, env, "run", "--model", claude, "--input", "in.jsonl", "--output", "out.jsonl", "--cache-dir", dir.File("cache"));

        Assert.Equal(1, run.ExitCode);
        var results = Results(dir.File("out.jsonl"));
        Assert.Equal(["Echo: Hi", "Echo: Bye"], results.Take(2).Select(r => r.GetProperty("completion_text").GetString()));
        Assert.True(results[0].GetProperty("cost").GetDecimal() > 0);
        Assert.Equal("input", results[2].GetProperty("error_kind").GetString());
        Assert.Contains("Echo", results[2].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, server.Requests.Count(r => r.Path.EndsWith("/messages", StringComparison.Ordinal)));

        var predict = await CliProcess.RunAsync(dir.Path, env, "predict", "--model", claude, "--system", "Be brief.", "--json", "--cache-dir", dir.File("cache"), "Hi");
        Assert.True(predict.ExitCode == 0, predict.StdErr);
        using var doc = JsonDocument.Parse(predict.StdOut);
        Assert.Equal("Echo: Hi", doc.RootElement.GetProperty("completion_text").GetString());
    }

    [Fact]
    public async Task The_embedded_local_model_predicts_and_runs()
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string?>();
        string model = "hf:" + Path.Combine(CliProcess.RepoRoot, "samples", "models", "stories260K");
        var predict = await CliProcess.RunAsync(dir.Path, env, "predict", "--model", model, "--max-tokens", "27", "--temperature", "0", "--cache-dir", dir.File("cache"), "Once upon a time");
        Assert.True(predict.ExitCode == 0, predict.StdErr);
        Assert.Equal(", there was a little girl named Lily. She loved to play outside in the park.", predict.StdOut.Trim());

        File.Copy(Path.Combine(CliProcess.RepoRoot, "samples", "prompts.jsonl"), dir.File("prompts.jsonl"));
        var run = await CliProcess.RunAsync(dir.Path, env, "run", "--model", model, "--input", "prompts.jsonl", "--output", "predictions.jsonl", "--cache-dir", dir.File("cache"));
        Assert.True(run.ExitCode == 0, run.StdErr);
        int inputLines = File.ReadAllLines(dir.File("prompts.jsonl")).Count(l => l.Trim().Length > 0);
        var results = Results(dir.File("predictions.jsonl"));
        Assert.Equal(inputLines, results.Length);
        Assert.All(results, r => Assert.False(string.IsNullOrEmpty(r.GetProperty("completion_text").GetString())));
        Assert.All(results, r => Assert.Equal(0m, r.GetProperty("cost").GetDecimal()));
    }

    [Fact]
    public async Task Estimate_tokens_models_and_cache_commands_work()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync();
        using var dir = new TempDir();
        var env = Env(server);
        WriteQuestions(dir.File("in.jsonl"), 3);

        var estimate = await CliProcess.RunAsync(dir.Path, env, "estimate", "--model", Model, "--input", "in.jsonl", "--cache-dir", dir.File("cache"));
        Assert.True(estimate.ExitCode == 0, estimate.StdErr);
        Assert.Contains("prompts:           3", estimate.StdOut, StringComparison.Ordinal);
        Assert.Contains("max output tokens: 60", estimate.StdOut, StringComparison.Ordinal);
        Assert.Contains("cost, batch:", estimate.StdOut, StringComparison.Ordinal);

        var tokens = await CliProcess.RunAsync(dir.Path, env, "tokens", "--model", Model, "--json", "--cache-dir", dir.File("cache"), "hello world");
        Assert.True(tokens.ExitCode == 0, tokens.StdErr);
        using (var doc = JsonDocument.Parse(tokens.StdOut))
        {
            Assert.Equal(2, doc.RootElement.GetProperty("count").GetInt32());
            Assert.Equal(["hello", " world"], doc.RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        }

        var models = await CliProcess.RunAsync(dir.Path, env, "models", "--provider", "openai");
        Assert.Equal(0, models.ExitCode);
        Assert.Contains(models.StdOut.Split('\n'), l => l.StartsWith("openai:gpt-4o-mini\t128000\t", StringComparison.Ordinal));
        Assert.DoesNotContain("claude:", models.StdOut, StringComparison.Ordinal);

        Assert.Equal(0, (await CliProcess.RunAsync(dir.Path, env, Run(dir))).ExitCode);
        var stats = await CliProcess.RunAsync(dir.Path, env, "cache", "stats", "--cache-dir", dir.File("cache"));
        Assert.Contains("entries:         3", stats.StdOut, StringComparison.Ordinal);
        var clear = await CliProcess.RunAsync(dir.Path, env, "cache", "clear", "--model", Model, "--cache-dir", dir.File("cache"));
        Assert.True(clear.ExitCode == 0, clear.StdErr);
        Assert.Contains("Removed 3 entries", clear.StdOut, StringComparison.Ordinal);
        var evict = await CliProcess.RunAsync(dir.Path, env, "cache", "evict", "--older-than", "forever", "--cache-dir", dir.File("cache"));
        Assert.Equal(2, evict.ExitCode);
    }

    [Fact]
    public async Task A_batch_run_killed_while_its_batch_runs_is_listed_collected_and_completed_by_a_rerun_without_a_second_batch()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStageDuration = TimeSpan.FromSeconds(2) });
        using var dir = new TempDir();
        WriteQuestions(dir.File("in.jsonl"), 4);
        string[] args = Run(dir, "--window", "batch", "--poll-interval", "0.2");

        await KillOnceTheBatchIsJournaledAsync(dir, server, args);

        var list = await CliProcess.RunAsync(dir.Path, Env(server), "batches", "list", "--cache-dir", dir.File("cache"));
        Assert.Equal(0, list.ExitCode);
        var row = Assert.Single(list.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)).Split('\t');
        Assert.Equal("openai", row[1]);
        Assert.StartsWith("batch_", row[3], StringComparison.Ordinal); // the provider's id was recorded before the kill
        Assert.Equal("4", row[6]);

        // collect waits for the batch and stores its answers without writing an output or sending anything new.
        var collect = await CliProcess.RunAsync(
            dir.Path, Env(server), "batches", "collect", "--model", Model, "--input", dir.File("in.jsonl"), "--poll-interval", "0.2", "--cache-dir", dir.File("cache"));
        Assert.True(collect.ExitCode == 0, collect.StdErr);
        Assert.Contains("Collected 4 prompts from 1 batches", collect.StdOut, StringComparison.Ordinal);

        var (code, _, stderr) = await CliProcess.RunAsync(dir.Path, Env(server), args);

        Assert.True(code == 0, stderr);
        Assert.Single(server.Batches);
        Assert.Contains("4 from the cache", stderr, StringComparison.Ordinal);
        var results = Results(dir.File("out.jsonl"));
        Assert.Equal([1, 2, 3, 4], results.Select(r => r.GetProperty("line").GetInt32()));
        Assert.Equal("1+1 is equal to 2.", results[0].GetProperty("completion_text").GetString());
        Assert.DoesNotContain(server.Requests, r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal));
        var after = await CliProcess.RunAsync(dir.Path, Env(server), "batches", "list", "--cache-dir", dir.File("cache"));
        Assert.Contains("No pending batches", after.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancelled_batch_is_asked_to_cancel_at_the_provider_and_a_rerun_still_answers_every_line()
    {
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStageDuration = TimeSpan.FromSeconds(30) });
        using var dir = new TempDir();
        WriteQuestions(dir.File("in.jsonl"), 3);
        string[] args = Run(dir, "--window", "batch", "--poll-interval", "0.2");

        await KillOnceTheBatchIsJournaledAsync(dir, server, args);

        var cancel = await CliProcess.RunAsync(dir.Path, Env(server), "batches", "cancel", "--model", Model, "--cache-dir", dir.File("cache"));
        Assert.True(cancel.ExitCode == 0, cancel.StdErr);
        string id = Assert.Single(server.Batches).Id;
        Assert.Contains("Asked to cancel " + id, cancel.StdOut, StringComparison.Ordinal);
        Assert.Contains(server.Requests, r => r.Method == "POST" && r.Path.EndsWith("/batches/" + id + "/cancel", StringComparison.Ordinal));
        Assert.Contains(server.Batches.Single().Status, new[] { "cancelling", "cancelled" });

        // The rerun finds the cancelled batch with nothing answered and submits its prompts again: every line answered.
        var (code, _, stderr) = await CliProcess.RunAsync(dir.Path, Env(server), Run(dir, "--window", "asap"));
        Assert.True(code == 0, stderr);
        var results = Results(dir.File("out.jsonl"));
        Assert.Equal([1, 2, 3], results.Select(r => r.GetProperty("line").GetInt32()));
    }

    /// <summary>Starts a batch run and kills it once the journal (in the cache file, read here by a second connection) has the provider's batch id.</summary>
    private static async Task KillOnceTheBatchIsJournaledAsync(TempDir dir, FakeOpenAiServer server, string[] args)
    {
        using var first = CliProcess.Start(dir.Path, Env(server), args);
        using var journal = Caching.LmCache.Open(Path.Combine(dir.File("cache"), Caching.LmCache.DefaultFileName));
        await WaitUntilAsync(() => journal.ListBatchJobs() is [{ ProviderId: not null }], first, "the batch id in the journal");
        first.Kill();
        await first.WaitAsync(TimeSpan.FromMinutes(1));
    }
}
