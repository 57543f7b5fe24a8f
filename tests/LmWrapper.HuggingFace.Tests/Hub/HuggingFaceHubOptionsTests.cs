using LmWrapper.HuggingFace.Hub;

namespace LmWrapper.HuggingFace.Tests.Hub;

public class HuggingFaceHubOptionsTests
{
    private static HuggingFaceHubOptions From(params (string Key, string Value)[] vars)
    {
        var d = vars.ToDictionary(v => v.Key, v => v.Value);
        return HuggingFaceHubOptions.FromEnvironment(k => d.GetValueOrDefault(k));
    }

    [Fact]
    public void DefaultsFollowHuggingFaceHub()
    {
        var o = From(("HOME", "/home/u"));
        Assert.Equal(new Uri("https://huggingface.co"), o.Endpoint);
        Assert.Equal(Path.Combine("/home/u", ".cache", "huggingface", "hub"), o.CacheDirectory);
        Assert.False(o.Offline);
        Assert.False(o.CheckForUpdates);
    }

    [Fact]
    public void CacheLocationPrecedence()
    {
        Assert.Equal("/x/hub", From(("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg"), ("HF_HOME", "/hf"), ("HF_HUB_CACHE", "/x/hub")).CacheDirectory);
        Assert.Equal(Path.Combine("/hf", "hub"), From(("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg"), ("HF_HOME", "/hf")).CacheDirectory);
        Assert.Equal(Path.Combine("/xdg", "huggingface", "hub"), From(("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg")).CacheDirectory);
        Assert.Equal(Path.Combine("/home/u", "models"), From(("HOME", "/home/u"), ("HF_HUB_CACHE", "~/models")).CacheDirectory);
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("true", true)]
    [InlineData("YES", true)]
    [InlineData("on", true)]
    [InlineData("0", false)]
    [InlineData("", false)]
    public void OfflineUsesTheTruthyValues(string value, bool expected) =>
        Assert.Equal(expected, From(("HOME", "/h"), ("HF_HUB_OFFLINE", value)).Offline);

    [Fact]
    public void EndpointAndTokenComeFromTheEnvironmentOrTheTokenFile()
    {
        var o = From(("HOME", "/h"), ("HF_ENDPOINT", "http://127.0.0.1:9/"), ("HF_TOKEN", "hf_secret_value"));
        Assert.Equal(new Uri("http://127.0.0.1:9"), o.Endpoint);
        Assert.Equal("hf_secret_value", o.Token);
        Assert.DoesNotContain("hf_secret_value", o.ToString());
        Assert.Contains("Token = set", o.ToString());

        using var home = new TempDir();
        File.WriteAllText(home.File("token"), "hf_from_file\n");
        Assert.Equal("hf_from_file", From(("HOME", "/h"), ("HF_HOME", home.Path)).Token);
        Assert.Null(From(("HOME", home.Path + "/nothing-here")).Token);
    }
}
