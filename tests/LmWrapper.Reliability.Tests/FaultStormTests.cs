using LmWrapper.Reliability;
using Xunit.Abstractions;

namespace LmWrapper.Reliability.Tests;

/// <summary>Fault storms against each fake: every prompt ends right or as a typed error, within its budget, paid as retries justify.</summary>
public sealed class FaultStormTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("openai", 2201)]
    [InlineData("claude", 2202)]
    public async Task EveryPromptEndsRightOrAsATypedErrorWithinItsBudget(string provider, int seed)
    {
        var counts = ReliabilityCounts.FromEnvironment();
        var r = await FaultStorm.RunAsync(provider, counts.StormRequests, seed);
        output.WriteLine(FaultStorm.Describe(r));
        Assert.Equal(0, r.Thrown);
        Assert.Equal(0, r.Wrong);
        Assert.Equal(r.Prompts, r.Correct + r.TypedErrors);
        Assert.True(r.FaultsInjected >= r.Prompts / 4, FaultStorm.Describe(r));
        Assert.True(r.Correct > r.Prompts / 2, "most prompts should survive the storm: " + FaultStorm.Describe(r));
        Assert.Equal(0, r.PaidBeyondJustified);

        // Bounded: no call ran past its total-time limit (plus scheduling slack on a loaded machine).
        Assert.True(r.MaxCallSeconds <= r.BudgetSeconds + 10, FaultStorm.Describe(r));

        // Flat memory: the working set after the last thousand is within 256 MB of the first.
        Assert.True(r.WorkingSetMb[^1] - r.WorkingSetMb[0] < 256, FaultStorm.Describe(r));
    }
}
