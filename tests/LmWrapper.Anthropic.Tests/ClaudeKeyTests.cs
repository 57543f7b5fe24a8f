using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

/// <summary>Key lookup: the argument, ANTHROPIC_API_KEY, ~/anthropic_key.txt — with an injected environment and home.</summary>
public sealed class ClaudeKeyTests : ClaudeTestBase, IDisposable
{
    private readonly string _home = Path.Combine(Path.GetTempPath(), "lmwrapper-claude-home-" + Guid.NewGuid().ToString("N"));

    public ClaudeKeyTests() => Directory.CreateDirectory(_home);

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private ClaudeOptions Lookup(string? envKey) => Options() with
    {
        GetEnvironmentVariable = name => name == "ANTHROPIC_API_KEY" ? envKey : null,
        HomeDirectory = _home,
    };

    private void WriteKeyFile(string key) => File.WriteAllText(Path.Combine(_home, "anthropic_key.txt"), key + "\n");

    [Fact]
    public void TheArgumentComesFirst()
    {
        Server.AcceptApiKey("from-arg");
        WriteKeyFile("from-file");
        using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "from-arg", Lookup("from-env"));
        Assert.Equal("the apiKey argument", lm.ApiKeySource);
        lm.Predict(new LmPrompt("q"));
        Assert.Equal("from-arg", MessageRequests[0].Headers["x-api-key"]);
    }

    [Fact]
    public void ThenTheEnvironmentVariable()
    {
        Server.AcceptApiKey("from-env");
        WriteKeyFile("from-file");
        using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, null, Lookup("from-env"));
        Assert.Contains("ANTHROPIC_API_KEY", lm.ApiKeySource, StringComparison.Ordinal);
        lm.Predict(new LmPrompt("q"));
        Assert.Equal("from-env", MessageRequests[0].Headers["x-api-key"]);
    }

    [Fact]
    public void ThenTheKeyFileTrimmed()
    {
        Server.AcceptApiKey("from-file");
        WriteKeyFile("  from-file  ");
        using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, null, Lookup(envKey: "  "));
        Assert.Contains("anthropic_key.txt", lm.ApiKeySource, StringComparison.Ordinal);
        lm.Predict(new LmPrompt("q"));
        Assert.Equal("from-file", MessageRequests[0].Headers["x-api-key"]);
    }

    [Fact]
    public void NoKeyAnywhereSaysWhereItLooked()
    {
        WriteKeyFile("   ");
        var e = Assert.Throws<LmAuthenticationException>(() => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, null, Lookup(null)));
        Assert.Contains("apiKey argument", e.Message, StringComparison.Ordinal);
        Assert.Contains("ANTHROPIC_API_KEY", e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_home, "anthropic_key.txt"), e.Message, StringComparison.Ordinal);
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public void ARejectedKeyIsAnAuthenticationErrorThatNamesTheSourceButNotTheKey()
    {
        const string Secret = "sk-ant-this-key-is-wrong-123";
        using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, null, Lookup(Secret));
        var e = Assert.Throws<LmAuthenticationException>(() => lm.Predict(new LmPrompt("q")));
        Assert.Contains("ANTHROPIC_API_KEY", e.Message, StringComparison.Ordinal);
        Assert.Contains("401", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, e.ToString(), StringComparison.Ordinal);
        Assert.Single(Server.Requests); // not retried
        Assert.Equal(0, Cache.GetStats().Entries);
    }

    [Fact]
    public void ARevokedKeyFailsInPredictManyForTheWholeRun()
    {
        Server.AcceptApiKey("soon-revoked");
        using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "soon-revoked", Lookup(null));
        Assert.False(lm.Predict(new LmPrompt("first")).HasErrors);
        Server.RevokeApiKey("soon-revoked");
        Assert.Throws<LmAuthenticationException>(() => lm.PredictMany([new LmPrompt("a"), new LmPrompt("b")]).ToList());
    }

    [Fact]
    public void APermissionErrorIsAnAuthenticationError()
    {
        Server.InjectFault(FakeAnthropicFault.PermissionDenied());
        using var lm = Model();
        var e = Assert.Throws<LmAuthenticationException>(() => lm.Predict(new LmPrompt("q")));
        Assert.Contains("403", e.Message, StringComparison.Ordinal);
        Assert.Contains("permission_error", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheBaseUrlComesFromAnthropicBaseUrlWhenTheOptionsLeaveItUnset()
    {
        using var lm = ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, options: Options() with
        {
            BaseUrl = null,
            GetEnvironmentVariable = name => name switch
            {
                "ANTHROPIC_BASE_URL" => Server.BaseUrl.AbsoluteUri,
                "ANTHROPIC_API_KEY" => FakeAnthropicServer.DefaultApiKey,
                _ => null,
            },
        });
        Assert.False(lm.Predict("What is 2+2?").HasErrors);
        Assert.Single(MessageRequests);
        Assert.Contains("@", lm.ModelIdentity, StringComparison.Ordinal);
    }

    [Fact]
    public void ATwoLineKeyFileIsRefusedAtGetNamingTheFileNotTheKey()
    {
        WriteKeyFile("sk-ant-4444\nX-Injected: evil-6666");
        var e = Assert.Throws<LmAuthenticationException>(() => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, null, Lookup(null)));
        Assert.Contains("anthropic_key.txt", e.Message, StringComparison.Ordinal);
        Assert.Contains("control character", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("4444", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("6666", e.Message, StringComparison.Ordinal);
        Assert.Empty(MessageRequests);
    }

    [Fact]
    public void AKeyArgumentWithCrLfIsRefused()
    {
        var e = Assert.Throws<LmAuthenticationException>(() => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "sk-ant-7777\r\nX-Injected: 1", Lookup(null)));
        Assert.Contains("the apiKey argument", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("7777", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("2023-06-01\r\nX-Injected: 1")]
    public void ABadAnthropicVersionIsRefusedNamingTheSetting(string version)
    {
        var e = Assert.Throws<ArgumentException>(() => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, Options() with { AnthropicVersion = version }));
        Assert.Equal("AnthropicVersion", e.ParamName);
        Assert.Contains("AnthropicVersion", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://example.com/")]
    [InlineData("not a url")]
    [InlineData("file:///etc/passwd")]
    public void ANonHttpAnthropicBaseUrlIsRefusedAtGetNamingTheVariable(string url)
    {
        var e = Assert.Throws<ArgumentException>(() => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, Options() with
        {
            BaseUrl = null,
            GetEnvironmentVariable = name => name == "ANTHROPIC_BASE_URL" ? url : null,
        }));
        Assert.Equal("ANTHROPIC_BASE_URL", e.ParamName);
        Assert.Contains("http", e.Message, StringComparison.Ordinal);
        Assert.Empty(MessageRequests);
    }

    [Fact]
    public void ANonHttpBaseUrlOptionIsRefusedNamingBaseUrl()
    {
        var e = Assert.Throws<ArgumentException>(() => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, Options() with { BaseUrl = new Uri("ftp://example.com/") }));
        Assert.Equal("BaseUrl", e.ParamName);
    }
}
