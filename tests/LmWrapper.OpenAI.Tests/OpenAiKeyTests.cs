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

    [Fact]
    public void ATwoLineKeyFileIsRefusedAtGetNamingTheFileNotTheKey()
    {
        var e = Assert.Throws<LmAuthenticationException>(() => LmWith(null, null, "sk-file-3333\nX-Injected: evil-5555"));
        Assert.Contains(Path.Combine(_home, "oai_key.txt"), e.Message);
        Assert.Contains("control character", e.Message);
        Assert.DoesNotContain("3333", e.Message);
        Assert.DoesNotContain("5555", e.Message);
        Assert.Empty(Server.Requests);
    }

    [Theory]
    [InlineData("sk-explicit-1111\r\nX-Injected: 1")]
    [InlineData("sk-explicit-1111\u0000")]
    public void AKeyArgumentWithAControlCharacterIsRefused(string key)
    {
        var e = Assert.Throws<LmAuthenticationException>(() => LmWith(key, null, null));
        Assert.Contains("the apiKey argument", e.Message);
        Assert.DoesNotContain("1111", e.Message);
    }

    [Fact]
    public void AControlCharacterInAnEnvironmentKeyIsRefused()
    {
        var e = Assert.Throws<LmAuthenticationException>(() => LmWith(null, "sk-env-2222\rX: y", null));
        Assert.Contains("OPENAI_API_KEY", e.Message);
        Assert.DoesNotContain("2222", e.Message);
    }

    [Fact]
    public void OrganizationAndProjectWithLineBreaksAreRefusedNamingTheSetting()
    {
        var org = Assert.Throws<ArgumentException>(() => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-explicit-1111", options: Options() with { Organization = "org-abc\r\nX-Injected: 1" }));
        Assert.Equal("Organization", org.ParamName);
        Assert.DoesNotContain("X-Injected", org.Message);
        var project = Assert.Throws<ArgumentException>(() => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-explicit-1111", options: Options() with { Project = "proj\n" + "x" }));
        Assert.Equal("Project", project.ParamName);
        var fromEnvironment = Assert.Throws<ArgumentException>(() => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-explicit-1111", options: Options() with
        {
            GetEnvironmentVariable = name => name == "OPENAI_ORGANIZATION" ? "org\nX: 1" : null,
        }));
        Assert.Equal("OPENAI_ORGANIZATION", fromEnvironment.ParamName);
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public void InvalidRetryAndTimeoutSettingsAreRefusedAtGetNamingTheSetting()
    {
        var delay = Assert.Throws<ArgumentOutOfRangeException>(() => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-explicit-1111", options: Options() with
        {
            Retry = Retry.LmRetryPolicy.Default with { InitialDelay = TimeSpan.FromSeconds(-1) },
        }));
        Assert.Equal("InitialDelay", delay.ParamName);
        var jitter = Assert.Throws<ArgumentOutOfRangeException>(() => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-explicit-1111", options: Options() with
        {
            Retry = Retry.LmRetryPolicy.Default with { Jitter = double.NaN },
        }));
        Assert.Equal("Jitter", jitter.ParamName);
        var timeout = Assert.Throws<ArgumentOutOfRangeException>(() => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-explicit-1111", options: Options() with { RequestTimeout = TimeSpan.Zero }));
        Assert.Equal("RequestTimeout", timeout.ParamName);
        Assert.Contains("RequestTimeout", timeout.Message);
        Assert.Empty(Server.Requests);
    }
}
