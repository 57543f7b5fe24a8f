using LmWrapper.Anthropic;
using LmWrapper.OpenAI;
using LmWrapper.Retry;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Reliability;

/// <summary>What the hostile-input cases run against: both fakes (to count what was sent) and a scratch folder.</summary>
public sealed class BadInputContext : IAsyncDisposable
{
    private BadInputContext(FakeOpenAiServer openAi, FakeAnthropicServer claude, string folder)
    {
        OpenAi = openAi;
        Claude = claude;
        Folder = folder;
    }

    /// <summary>The fake OpenAI server.</summary>
    public FakeOpenAiServer OpenAi { get; }

    /// <summary>The fake Anthropic server.</summary>
    public FakeAnthropicServer Claude { get; }

    /// <summary>A scratch folder (also the home folder for key lookup: it holds no key file).</summary>
    public string Folder { get; }

    /// <summary>Requests both fakes have received.</summary>
    public int RequestsSent => OpenAi.Requests.Count + Claude.Requests.Count;

    /// <summary>Starts both fakes.</summary>
    public static async Task<BadInputContext> StartAsync()
    {
        var openAi = await FakeOpenAiServer.StartNewAsync();
        var claude = new FakeAnthropicServer();
        await claude.StartAsync();
        string folder = Path.Combine(Path.GetTempPath(), "lmwrapper-bad-inputs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return new BadInputContext(openAi, claude, folder);
    }

    /// <summary>OpenAI options over the fake with no environment, no key file and no retries.</summary>
    /// <param name="environment">The environment variables the model sees.</param>
    public OpenAiOptions OpenAiOptions(IReadOnlyDictionary<string, string>? environment = null) => new()
    {
        BaseUrl = environment is null ? new Uri(OpenAi.BaseUrl) : null,
        GetEnvironmentVariable = name => environment?.GetValueOrDefault(name),
        HomeDirectory = Folder,
        Retry = LmRetryPolicy.None,
        ModelOptions = new LanguageModelOptions { CacheByDefault = false },
    };

    /// <summary>Claude options over the fake with no environment, no key file and no retries.</summary>
    /// <param name="environment">The environment variables the model sees.</param>
    public ClaudeOptions ClaudeOptions(IReadOnlyDictionary<string, string>? environment = null) => new()
    {
        BaseUrl = environment is null ? Claude.BaseUrl : null,
        GetEnvironmentVariable = name => environment?.GetValueOrDefault(name),
        HomeDirectory = Folder,
        Retry = LmRetryPolicy.None,
        ModelOptions = new LanguageModelOptions { CacheByDefault = false },
    };

    /// <summary>gpt-4o-mini over the fake.</summary>
    public OpenAiLm Gpt() => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: OpenAiOptions());

    /// <summary>Claude 3.5 Haiku over the fake.</summary>
    public ClaudeLm Haiku() => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, ClaudeOptions());

    /// <summary>A new file in the scratch folder with these bytes; its path.</summary>
    /// <param name="name">The file's name.</param>
    /// <param name="bytes">Its bytes.</param>
    public string WriteFile(string name, byte[] bytes)
    {
        string dir = Path.Combine(Folder, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A new file in the scratch folder with this text; its path.</summary>
    /// <param name="name">The file's name.</param>
    /// <param name="text">Its text.</param>
    public string WriteFile(string name, string text) => WriteFile(name, System.Text.Encoding.UTF8.GetBytes(text));

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await OpenAi.DisposeAsync();
        await Claude.DisposeAsync();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
