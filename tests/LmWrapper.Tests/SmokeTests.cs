namespace LmWrapper.Tests;

public class SmokeTests
{
    [Fact]
    public void MockEchoes() => Assert.Equal("hi there", new MockLm().Predict("hi there").CompletionText);
}
