using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

public sealed class OpenAiKeylessServerTests : OpenAiTestBase
{
    protected override FakeOpenAiServerOptions ServerOptions => new() { ValidApiKeys = [] };

    [Fact]
    public async Task AServerThatNeedsNoKeyWorksWithRequireApiKeyOff()
    {
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, options: Options() with { RequireApiKey = false });
        var p = await lm.PredictAsync(new LmPrompt("What is 1+1?") { MaxTokens = 10 });
        Assert.Equal("1+1 is equal to 2.", p.CompletionText);
        Assert.Equal("-key", LastRequest.ApiKeySuffix);
    }
}
