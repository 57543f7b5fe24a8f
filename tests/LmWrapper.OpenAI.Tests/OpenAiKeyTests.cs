using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

public sealed class OpenAiKeyTests : OpenAiTestBase, IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("lmwrapper-home-").FullName;

    protected override FakeOpenAiServerOptions ServerOptions => new() { ValidApiKeys = ["sk-explicit-1111", "sk-env-2222", "sk-file-3333"] };

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private OpenAiLm LmWith(string? explicitKey, string? envKey, string? fileKey)
    {
        if (fileKey is not null)
        {
            File.WriteAllText(Path.Combine(_home, "oai_key.txt"), fileKey + "\n");
        }

        return OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, explicitKey, options: Options() with
        {
            GetEnvironmentVariable = name => name == "OPENAI_API_KEY" ? envKey : null,
            HomeDirectory = _home,
        });
    }

    [Theory]
    [InlineData("sk-explicit-1111", "sk-env-2222", "sk-file-3333", "1111")]
    [InlineData(null, "sk-env-2222", "sk-file-3333", "2222")]
    [InlineData(null, null, "sk-file-3333", "3333")]
    [InlineData(null, "  ", "sk-file-3333", "3333")]
    public async Task KeyComesFromArgumentThenEnvironmentThenHomeFile(string? explicitKey, string? envKey, string? fileKey, string suffix)
    {
        using var lm = LmWith(explicitKey, envKey, fileKey);
        var p = await lm.PredictAsync(new LmPrompt("hi") { MaxTokens = 3 });
        Assert.False(p.HasErrors, p.ErrorMessage);
        Assert.Equal(suffix, LastRequest.ApiKeySuffix);
    }

    [Fact]
    public void MissingKeySaysWhereItLookedAtGetAndSendsNothing()
    {
        var e = Assert.Throws<LmAuthenticationException>(() => LmWith(null, null, null));
        Assert.Contains("OPENAI_API_KEY", e.Message);
        Assert.Contains(Path.Combine(_home, "oai_key.txt"), e.Message);
        Assert.Contains("apiKey", e.Message);
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public async Task RejectedKeySaysWhereItCameFromButNeverTheKey()
    {
        using var lm = LmWith(null, "sk-env-WRONG-9999", null);
        var e = await Assert.ThrowsAsync<LmAuthenticationException>(() => lm.PredictAsync(new LmPrompt("hi") { MaxTokens = 3 }));
        Assert.Contains("OPENAI_API_KEY", e.Message);
        Assert.Contains("401", e.Message);
        Assert.Contains("invalid_api_key", e.Message);
        Assert.DoesNotContain("WRONG", e.Message);
        Assert.DoesNotContain("9999", e.Message);
        Assert.Single(Server.Requests); // an auth failure is not retried
    }

    [Fact]
    public async Task RejectedKeyStopsPredictMany()
    {
        using var lm = LmWith("sk-nope-0000", null, null);
        await Assert.ThrowsAsync<LmAuthenticationException>(async () =>
        {
            await foreach (var _ in lm.PredictManyAsync([new LmPrompt("a") { MaxTokens = 2 }, new LmPrompt("b") { MaxTokens = 2 }]))
            {
            }
        });
    }

    [Fact]
    public async Task OrganizationProjectAndAzureStyleHeadersAreSent()
    {
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-explicit-1111", options: Options() with { Organization = "org-abc", Project = "proj_xyz" });
        await lm.PredictAsync(new LmPrompt("hi") { MaxTokens = 3 });
        Assert.Equal("org-abc", LastRequest.Headers["openai-organization"]);
        Assert.Equal("proj_xyz", LastRequest.Headers["openai-project"]);
        Assert.False(LastRequest.Headers.ContainsKey("api-key"));

        using var azure = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-explicit-1111", options: Options() with { UseApiKeyHeader = true });
        var p = await azure.PredictAsync(new LmPrompt("hi") { MaxTokens = 3 });
        Assert.False(p.HasErrors, p.ErrorMessage);
        Assert.Equal("1111", LastRequest.ApiKeySuffix);
        Assert.False(LastRequest.Headers.ContainsKey("openai-organization"));
    }
}
