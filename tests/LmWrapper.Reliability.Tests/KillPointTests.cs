using LmWrapper.Reliability;
using Xunit.Abstractions;

namespace LmWrapper.Reliability.Tests;

/// <summary>Crash safety: PredictMany (and the lmwrapper run command) killed at seeded points and rerun loses nothing and pays nothing twice.</summary>
public sealed class KillPointTests(ITestOutputHelper output)
{
    public static TheoryData<string, string, int> Modes() => new()
    {
        { "openai", "asap", 1301 },
        { "openai", "batch", 1302 },
        { "claude", "asap", 1303 },
        { "claude", "batch", 1304 },
        { "cli", "asap", 1305 },
        { "cli", "batch", 1306 },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task KilledAtSeededPointsAndRerunEveryPromptIsAnsweredOnceAndPaidOnce(string provider, string window, int seed)
    {
        var counts = ReliabilityCounts.FromEnvironment();
        var report = await KillPoints.RunAsync(provider, window, counts.KillPoints, counts.KillPrompts, seed);
        output.WriteLine(report.Log);
        Assert.Equal(counts.KillPoints, report.Kills);
        Assert.Equal(0, report.PromptsLost);
        Assert.Equal(report.Prompts, report.AnsweredOnce);
        Assert.Equal(0, report.PaidTwice);
        Assert.True(report.IntegrityOk, report.Log);
        Assert.Equal(0, report.Orphans);
        if (window == "batch")
        {
            Assert.Equal(0, report.RepaidAfterKill);
        }
    }
}
