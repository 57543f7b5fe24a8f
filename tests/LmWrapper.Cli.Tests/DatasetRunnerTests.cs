using System.Text.Json;
using LmWrapper.Caching;
using LmWrapper.Cli.Running;

namespace LmWrapper.Cli.Tests;

public class DatasetRunnerTests
{
    private static string[] Lines(string path) => File.ReadAllLines(path).Where(l => l.Length > 0).ToArray();

    private static JsonElement[] Results(string path) => [.. Lines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    private static async Task<RunSummary> RunAsync(LanguageModel lm, string input, string output, decimal? maxCost = null, OnErrorMode onError = OnErrorMode.Skip)
    {
        var runner = new DatasetRunner(lm, new RunSettings(input, output, CompletionWindow.Asap, maxCost, onError), new RunStatus(), TextWriter.Null);
        return await runner.RunAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Results_come_in_input_order_with_line_numbers_and_metadata_even_when_answers_arrive_out_of_order()
    {
        using var dir = new TempDir();
        string input = dir.File("in.jsonl");
        var texts = Enumerable.Range(1, 12).Select(i => $"prompt {i}").ToArray();
        File.WriteAllLines(input, texts.Select((t, i) => JsonSerializer.Serialize(new { text = t, metadata = new { i } })).Prepend(string.Empty));

        // Earlier prompts take longer, so later answers arrive first.
        using var lm = new MockLm(async (p, ct) => { await Task.Delay(60 - (5 * int.Parse(p.Text!.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)), ct); return p.Text!.ToUpperInvariant(); }, options: new LanguageModelOptions { Cache = LmCache.OpenInMemory(), CacheByDefault = true });
        var summary = await RunAsync(lm, input, dir.File("out.jsonl"));

        var results = Results(dir.File("out.jsonl"));
        Assert.Equal(12, results.Length);
        for (int i = 0; i < 12; i++)
        {
            Assert.Equal(i + 2, results[i].GetProperty("line").GetInt32()); // line 1 is blank
            Assert.Equal(i, results[i].GetProperty("metadata").GetProperty("i").GetInt32());
            Assert.Equal(texts[i].ToUpperInvariant(), results[i].GetProperty("completion_text").GetString());
            Assert.False(results[i].GetProperty("cached").GetBoolean());
        }

        Assert.Equal(ExitCodes.Success, summary.ExitCode);
        Assert.Equal(12, summary.Written);
    }

    [Fact]
    public async Task A_rerun_completes_the_output_without_asking_the_model_again_for_what_is_there_or_cached()
    {
        using var dir = new TempDir();
        using var cache = LmCache.OpenInMemory();
        string input = dir.File("in.jsonl");
        string output = dir.File("out.jsonl");
        File.WriteAllLines(input, Enumerable.Range(1, 6).Select(i => $"{{\"text\": \"p{i}\", \"max_tokens\": 1}}"));
        using var lm = new PricedTestLm(cache);

        await RunAsync(lm, input, output);
        Assert.Equal(6, lm.Calls);
        var first = Lines(output);

        // A run killed after three lines, one of them torn: the output keeps two, the cache has all six.
        File.WriteAllText(output, first[0] + "\n" + first[1] + "\n" + first[2][..10]);
        var summary = await RunAsync(lm, input, output);

        Assert.Equal(6, lm.Calls);
        var results = Results(output);
        Assert.Equal([1, 2, 3, 4, 5, 6], results.Select(r => r.GetProperty("line").GetInt32()));
        Assert.Equal([false, false, true, true, true, true], results.Select(r => r.GetProperty("cached").GetBoolean()));
        Assert.Equal(0m, results[3].GetProperty("cost").GetDecimal());
        Assert.Equal(0.001m, results[3].GetProperty("cache_saving").GetDecimal());
        Assert.Equal(2, summary.AlreadyDone);
        Assert.Equal(4, summary.Written);
        Assert.Equal(0m, summary.Spend);
        Assert.Equal(0.004m, summary.CacheSaving);

        // A third run has nothing left to do.
        var third = await RunAsync(lm, input, output);
        Assert.Equal(0, third.Written);
        Assert.Equal(6, Lines(output).Length);
    }

    [Fact]
    public async Task Bad_lines_are_recorded_in_place_under_skip_and_stop_everything_under_stop()
    {
        using var dir = new TempDir();
        using var cache = LmCache.OpenInMemory();
        string input = dir.File("in.jsonl");
        File.WriteAllLines(input, ["{\"text\": \"a\"}", "{\"text\": \"b\", \"max_tokens\": -1}", "[1, 2]", "{\"text\": \"d\"}"]);
        using var lm = new PricedTestLm(cache);

        await Assert.ThrowsAsync<CliUsageException>(() => RunAsync(lm, input, dir.File("stop.jsonl"), onError: OnErrorMode.Stop));
        Assert.Equal(0, lm.Calls);
        Assert.False(File.Exists(dir.File("stop.jsonl")));

        var summary = await RunAsync(lm, input, dir.File("skip.jsonl"));
        var results = Results(dir.File("skip.jsonl"));
        Assert.Equal([1, 2, 3, 4], results.Select(r => r.GetProperty("line").GetInt32()));
        Assert.Equal("input", results[1].GetProperty("error_kind").GetString());
        Assert.Equal("input", results[2].GetProperty("error_kind").GetString());
        Assert.Equal(1, results[2].GetProperty("column").GetInt32());
        Assert.Equal([2, 3], summary.FailedLines);
        Assert.Equal(ExitCodes.SomeFailed, summary.ExitCode);
        Assert.Equal(2, lm.Calls);
    }

    [Fact]
    public async Task A_failed_prompt_is_written_and_stops_the_run_under_stop()
    {
        using var dir = new TempDir();
        using var cache = LmCache.OpenInMemory();
        string input = dir.File("in.jsonl");
        File.WriteAllLines(input, ["{\"text\": \"a\"}", "{\"text\": \"fail b\"}", "{\"text\": \"c\"}"]);
        using var lm = new PricedTestLm(cache);

        var summary = await RunAsync(lm, input, dir.File("out.jsonl"), onError: OnErrorMode.Stop);

        var results = Results(dir.File("out.jsonl"));
        Assert.Equal(2, results.Length);
        Assert.Equal("server", results[1].GetProperty("error_kind").GetString());
        Assert.True(summary.StoppedOnError);
        Assert.Equal(ExitCodes.SomeFailed, summary.ExitCode);
    }

    [Fact]
    public async Task Max_cost_refuses_an_estimate_above_it_and_stops_sending_when_the_spend_reaches_it()
    {
        using var dir = new TempDir();
        using var cache = LmCache.OpenInMemory();
        string input = dir.File("in.jsonl");
        File.WriteAllLines(input, Enumerable.Range(1, 10).Select(i => $"{{\"text\": \"p{i}\", \"max_tokens\": 1}}"));
        using var lm = new PricedTestLm(cache);

        // The estimate (10 prompts × 1 output token at $1/M) is $0.00001, above a limit of $0.000001.
        var refused = await Assert.ThrowsAsync<CliUsageException>(() => RunAsync(lm, input, dir.File("refused.jsonl"), maxCost: 0.000001m));
        Assert.Contains("--max-cost", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, lm.Calls);

        // Each answer really costs $0.001 (1000 output tokens): the spend reaches $0.0025 at the third.
        var summary = await RunAsync(lm, input, dir.File("out.jsonl"), maxCost: 0.0025m);
        Assert.Equal(3, Lines(dir.File("out.jsonl")).Length);
        Assert.Equal(7, summary.NotRunForBudget);
        Assert.Equal(0.003m, summary.Spend);
        Assert.Equal(ExitCodes.SomeFailed, summary.ExitCode);
        Assert.InRange(lm.Calls, 3, 4); // sent in slices of 4 × MaxConcurrency (1): nothing past the first slice

        // A rerun with a higher limit completes the output; the three answers already paid come from the cache.
        var rest = await RunAsync(lm, input, dir.File("out.jsonl"), maxCost: 1m);
        Assert.Equal(7, rest.Written);
        Assert.Equal(Enumerable.Range(1, 10), Results(dir.File("out.jsonl")).Select(r => r.GetProperty("line").GetInt32()));
        Assert.Equal(10, lm.Calls);
    }

    [Fact]
    public async Task An_output_of_another_input_is_refused()
    {
        using var dir = new TempDir();
        using var cache = LmCache.OpenInMemory();
        File.WriteAllLines(dir.File("in.jsonl"), ["{\"text\": \"a\"}"]);
        File.WriteAllLines(dir.File("out.jsonl"), ["{\"line\": 7, \"completion_text\": \"x\"}"]);
        using var lm = new PricedTestLm(cache);

        var e = await Assert.ThrowsAsync<CliUsageException>(() => RunAsync(lm, dir.File("in.jsonl"), dir.File("out.jsonl")));
        Assert.Contains("line 7", e.Message, StringComparison.Ordinal);
    }
}
