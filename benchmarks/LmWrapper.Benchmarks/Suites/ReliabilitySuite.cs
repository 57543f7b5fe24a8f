using System.Diagnostics;
using System.Globalization;
using LmWrapper.Reliability;

namespace LmWrapper.Benchmarks.Suites;

/// <summary>
/// Reliability and security by numbers (issue 13), with the harness the tests use (tests/LmWrapper.Reliability): kill
/// points on PredictMany (immediate and batch, OpenAI and Claude), fault storms against both fakes, the shared-cache
/// stress, the hostile-input table, the three fuzzers and the secrets probe. Default counts take a few minutes;
/// <c>--soak</c> runs the full ones. The baseline is the count each check must reach: lost, paid-twice and secret counts
/// must be 0.
/// </summary>
public sealed class ReliabilitySuite : IBenchmarkSuite
{
    public string Name => "reliability";

    public string Description => "kill points, fault storms, shared cache, hostile inputs, fuzzing, secrets (--soak for full counts)";

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var counts = args.Contains("--soak") ? ReliabilityCounts.Soak : ReliabilityCounts.Default;
        var results = new Dictionary<string, double>();
        var total = Stopwatch.StartNew();

        // 1. Crash safety.
        int kills = 0, killRuns = 0, lost = 0, paidTwice = 0, repaid = 0, orphans = 0, integrityFailures = 0, killPrompts = 0, seed = 1301;
        var watch = Stopwatch.StartNew();
        foreach (var (provider, window) in KillPoints.Modes)
        {
            var r = await KillPoints.RunAsync(provider, window, counts.KillPoints, counts.KillPrompts, seed++, cancellationToken);
            Console.WriteLine($"kill points {r.Mode} (seed {r.Seed}): {r.Kills} kills, {r.Runs} runs, {r.Prompts} prompts, lost {r.PromptsLost}, paid twice {r.PaidTwice}, re-paid in flight {r.RepaidAfterKill}, orphans {r.Orphans}, integrity {(r.IntegrityOk ? "ok" : "FAILED")}");
            kills += r.Kills;
            killRuns += r.Runs;
            killPrompts += r.Prompts;
            lost += r.PromptsLost + (r.Prompts - r.AnsweredOnce - r.PromptsLost);
            paidTwice += r.PaidTwice;
            repaid += r.RepaidAfterKill;
            orphans += r.Orphans;
            integrityFailures += r.IntegrityOk ? 0 : 1;
        }

        results["kill_points"] = kills;
        results["kill_runs"] = killRuns;
        results["kill_prompts"] = killPrompts;
        results["kill_repaid_in_flight"] = repaid;
        results["kill_orphans"] = orphans;
        results["kill_s"] = Math.Round(watch.Elapsed.TotalSeconds, 1);

        // 2. Fault storms.
        int faults = 0, stormPrompts = 0, stormWrong = 0, stormThrown = 0, stormTyped = 0, beyond = 0;
        double maxCall = 0, memoryGrowth = 0;
        watch.Restart();
        foreach (var (provider, s) in new[] { ("openai", 2201), ("claude", 2202) })
        {
            var r = await FaultStorm.RunAsync(provider, counts.StormRequests, s, cancellationToken);
            Console.WriteLine(FaultStorm.Describe(r));
            faults += r.FaultsInjected;
            stormPrompts += r.Prompts;
            stormWrong += r.Wrong;
            stormThrown += r.Thrown;
            stormTyped += r.TypedErrors;
            beyond += r.PaidBeyondJustified;
            lost += r.Thrown; // a prompt whose call threw came back as nothing
            maxCall = Math.Max(maxCall, r.MaxCallSeconds);
            memoryGrowth = Math.Max(memoryGrowth, r.WorkingSetMb[^1] - r.WorkingSetMb[0]);
        }

        results["faults_injected"] = faults;
        results["storm_prompts"] = stormPrompts;
        results["storm_typed_errors"] = stormTyped;
        results["storm_wrong_answers"] = stormWrong;
        results["storm_paid_beyond_justified"] = beyond;
        results["storm_longest_call_s"] = maxCall;
        results["storm_working_set_growth_mb"] = Math.Round(memoryGrowth, 1);
        results["storm_s"] = Math.Round(watch.Elapsed.TotalSeconds, 1);
        paidTwice += beyond;

        // 3. The shared cache.
        watch.Restart();
        var cache = await CacheStorm.RunAsync(counts.CacheProcesses, counts.CacheThreads, counts.CacheOperations, 3301);
        Console.WriteLine($"shared cache: {cache.Processes} processes × {cache.Threads} threads × {cache.Operations} operations: {cache.LostWrites} lost writes, {cache.FailedProcesses} failed, integrity {(cache.IntegrityOk ? "ok" : "FAILED")}");
        results["cache_processes_failed"] = cache.FailedProcesses;
        results["cache_lost_writes"] = cache.LostWrites;
        integrityFailures += cache.IntegrityOk ? 0 : 1;
        lost += cache.LostWrites;
        results["cache_s"] = Math.Round(watch.Elapsed.TotalSeconds, 1);

        // 4. Hostile inputs.
        watch.Restart();
        int named = 0;
        await using (var context = await BadInputContext.StartAsync())
        {
            foreach (var c in BadInputs.Cases)
            {
                string? problem = await BadInputs.CheckAsync(c, context);
                if (problem is null)
                {
                    named++;
                }
                else
                {
                    Console.WriteLine("bad input not named: " + problem);
                }
            }
        }

        results["bad_inputs"] = BadInputs.Cases.Count;
        results["bad_inputs_named"] = named;
        results["bad_inputs_s"] = Math.Round(watch.Elapsed.TotalSeconds, 1);

        // 5. Fuzzing.
        watch.Restart();
        int fuzzed = 0, undocumented = 0;
        foreach (var r in new[] { Fuzzers.Safetensors(counts.FuzzInputs, 5101), Fuzzers.TokenizerJson(counts.FuzzInputs, 5102), Fuzzers.Jinja(counts.FuzzInputs, 5103) })
        {
            Console.WriteLine($"fuzz {r.Target} (seed {r.Seed}): {r.Inputs} inputs, {r.Accepted} accepted, {r.Refused} refused, {r.Undocumented} undocumented, slowest {r.SlowestMs} ms");
            fuzzed += r.Inputs;
            undocumented += r.Undocumented;
            results[$"fuzz_{r.Target.Replace(".json", string.Empty, StringComparison.Ordinal)}_slowest_ms"] = r.SlowestMs;
        }

        results["fuzz_inputs"] = fuzzed;
        results["fuzz_undocumented"] = undocumented;
        results["fuzz_s"] = Math.Round(watch.Elapsed.TotalSeconds, 1);

        // 6. Secrets.
        var secrets = await SecretsProbe.RunAsync();
        Console.WriteLine($"secrets: {secrets.ArtifactsSearched} artifacts searched, {secrets.SecretsFound} found{(secrets.Where.Count > 0 ? ": " + string.Join("; ", secrets.Where) : string.Empty)}; files not owner-only: {secrets.FilesNotOwnerOnly.Count}");
        results["secrets_artifacts_searched"] = secrets.ArtifactsSearched;
        results["files_not_owner_only"] = secrets.FilesNotOwnerOnly.Count;

        results["prompts_lost"] = lost;
        results["paid_twice"] = paidTwice;
        results["secrets_found"] = secrets.SecretsFound;
        results["integrity_failures"] = integrityFailures;
        results["soak"] = counts.IsSoak ? 1 : 0;
        results["total_s"] = Math.Round(total.Elapsed.TotalSeconds, 1);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reliability ({(counts.IsSoak ? "soak" : "default")} counts) done in {total.Elapsed.TotalSeconds:0} s"));
        return results;
    }
}
