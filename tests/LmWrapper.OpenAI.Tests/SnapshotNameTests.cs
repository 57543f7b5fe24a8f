namespace LmWrapper.OpenAI.Tests;

public sealed class SnapshotNameTests
{
    // The dated snapshots (and the aliases they pin) that the Python original's OpenAiModelNames lists.
    [Theory]
    [InlineData(OpenAiModelNames.Gpt4o20240513, "gpt-4o-2024-05-13", OpenAiModelNames.Gpt4o)]
    [InlineData(OpenAiModelNames.Gpt4o20241120, "gpt-4o-2024-11-20", OpenAiModelNames.Gpt4o)]
    [InlineData(OpenAiModelNames.Gpt4oMini20240718, "gpt-4o-mini-2024-07-18", OpenAiModelNames.Gpt4oMini)]
    [InlineData(OpenAiModelNames.O1Mini20240912, "o1-mini-2024-09-12", OpenAiModelNames.O1Mini)]
    [InlineData(OpenAiModelNames.O4Mini20250416, "o4-mini-2025-04-16", OpenAiModelNames.O4Mini)]
    [InlineData(OpenAiModelNames.O1Preview20240912, "o1-preview-2024-09-12", OpenAiModelNames.O1Preview)]
    [InlineData(OpenAiModelNames.Gpt41106Preview, "gpt-4-1106-preview", OpenAiModelNames.Gpt4Turbo)]
    public void TheSnapshotsThePythonOriginalListsAreKnownLikeTheirFamily(string constant, string name, string family)
    {
        Assert.Equal(name, constant);
        var snapshot = OpenAiModelRegistry.Get(name);
        var alias = OpenAiModelRegistry.Get(family);
        Assert.Equal(name, snapshot.Name);
        Assert.Equal(alias.IsChatModel, snapshot.IsChatModel);
        Assert.Equal(alias.IsReasoningModel, snapshot.IsReasoningModel);
        Assert.Equal(alias.Encoding, snapshot.Encoding);
        Assert.Equal(alias.ContextWindow, snapshot.ContextWindow);
        Assert.NotNull(snapshot.Prices);
    }

    [Fact]
    public void TheFirstGpt4oSnapshotHasItsOwnLimitsAndPrices()
    {
        var first = OpenAiModelRegistry.Get(OpenAiModelNames.Gpt4o20240513);
        Assert.Equal(4_096, first.MaxOutputTokens);
        Assert.Equal(5.00m, first.Prices!.InputPerMillion);
        Assert.True(OpenAiModelRegistry.TryGet(OpenAiModelNames.Gpt4o20241120, out var later));
        Assert.Equal(16_384, later.MaxOutputTokens); // [NotNullWhen(true)]: no null-forgiving needed
        Assert.False(OpenAiModelRegistry.TryGet("gpt-4o-1999-01-01", out var none));
        Assert.Null(none);
    }
}
