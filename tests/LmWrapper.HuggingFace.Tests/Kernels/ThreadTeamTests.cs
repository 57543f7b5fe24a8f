using LmWrapper.HuggingFace.Kernels;

namespace LmWrapper.HuggingFace.Tests.Kernels;

/// <summary>The kernels' thread team: every index runs exactly once, and failures come back to the caller.</summary>
public sealed class ThreadTeamTests
{
    [Theory]
    [InlineData(1, 100)]
    [InlineData(2, 1)]
    [InlineData(2, 7)]
    [InlineData(3, 1000)]
    public void EveryIndexRunsExactlyOnceInEveryRun(int threads, int count)
    {
        using var team = new ThreadTeam(threads);
        for (int run = 0; run < 50; run++)
        {
            var hits = new int[count];
            team.For(count, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void TheBodysExceptionIsRethrownWithItsTypeAndTheTeamStillWorks()
    {
        using var team = new ThreadTeam(2);
        int ran = 0;
        var e = Assert.Throws<InvalidOperationException>(() => team.For(64, i =>
        {
            Interlocked.Increment(ref ran);
            if (i == 17)
            {
                throw new InvalidOperationException("index 17");
            }
        }));
        Assert.Equal("index 17", e.Message);
        Assert.Equal(64, ran); // the other indices still ran
        int after = 0;
        team.For(10, _ => Interlocked.Increment(ref after));
        Assert.Equal(10, after);
    }

    [Fact]
    public void RunsFromSeveralThreadsAtOnceAllComplete()
    {
        using var team = new ThreadTeam(2);
        var totals = new int[4];
        Parallel.For(0, 4, c =>
        {
            for (int run = 0; run < 100; run++)
            {
                team.For(9, _ => Interlocked.Increment(ref totals[c]));
            }
        });
        Assert.All(totals, t => Assert.Equal(900, t));
    }
}
