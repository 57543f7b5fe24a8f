using LmWrapper.Reliability;

namespace LmWrapper.Reliability.Tests;

/// <summary>The fakes and scratch folder the hostile-input rows share.</summary>
public sealed class BadInputFixture : IAsyncLifetime
{
    public BadInputContext Context { get; private set; } = null!;

    public async Task InitializeAsync() => Context = await BadInputContext.StartAsync();

    public async Task DisposeAsync() => await Context.DisposeAsync();
}

/// <summary>The hostile-input table: each row gives its typed exception naming the field, file or line, and sends nothing.</summary>
public sealed class BadInputTests(BadInputFixture fixture) : IClassFixture<BadInputFixture>
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var c in BadInputs.Cases)
        {
            data.Add(c.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public async Task IsRefusedWithATypedExceptionNamingTheProblemBeforeAnythingIsSent(string name)
    {
        var c = BadInputs.Cases.Single(x => x.Name == name);
        string? problem = await BadInputs.CheckAsync(c, fixture.Context);
        Assert.True(problem is null, problem);
    }

    [Fact]
    public void TheTableHasAtLeastEightyDistinctCases()
    {
        Assert.True(BadInputs.Cases.Count >= 80, $"{BadInputs.Cases.Count} cases");
        Assert.Equal(BadInputs.Cases.Count, BadInputs.Cases.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count());
    }
}
