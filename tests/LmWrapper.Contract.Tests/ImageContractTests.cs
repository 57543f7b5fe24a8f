using LmWrapper.Anthropic;
using LmWrapper.Caching;
using LmWrapper.HuggingFace;
using LmWrapper.OpenAI;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;
using LmWrapper.TestSupport;

namespace LmWrapper.Contract.Tests;

/// <summary>
/// Images, the same way for every provider: a model takes them exactly where its <see cref="LanguageModel.ModelInfo"/>
/// has <see cref="LmCapabilities.Vision"/>, and then caches the answer under the image's bytes and counts the image in
/// its estimates; a model without vision (legacy completion models, text-only chat models, local models) refuses the
/// prompt with an <see cref="LmPromptException"/> before anything is sent.
/// </summary>
public sealed class ImageContractTests : IAsyncLifetime
{
    private FakeOpenAiServer _openAi = null!;
    private readonly FakeAnthropicServer _anthropic = new();

    public static TheoryData<string, bool> Models => new()
    {
        { "openai/gpt-4o-mini", true },
        { "openai/gpt-3.5-turbo", false },
        { "openai/davinci-002", false },
        { "anthropic/3.5-haiku", true },
        { "local/stories", false },
        { "mock", true },
    };

    public async Task InitializeAsync()
    {
        _openAi = await FakeOpenAiServer.StartNewAsync();
        await _anthropic.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _openAi.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    private int Requests => _openAi.Requests.Count + _anthropic.Requests.Count;

    private LanguageModel Model(string which, LmCache cache)
    {
        var shared = new LanguageModelOptions { Cache = cache, CacheByDefault = true };
        OpenAiLm OpenAi(string name) => OpenAiLm.Get(name, FakeOpenAiServer.DefaultApiKey, options: new OpenAiOptions
        {
            BaseUrl = new Uri(_openAi.BaseUrl), Retry = Provider.FastRetry, ModelOptions = shared, GetEnvironmentVariable = _ => null,
        });
        return which switch
        {
            "openai/gpt-4o-mini" => OpenAi(OpenAiModelNames.Gpt4oMini),
            "openai/gpt-3.5-turbo" => OpenAi(OpenAiModelNames.Gpt35Turbo),
            "openai/davinci-002" => OpenAi(OpenAiModelNames.Davinci002),
            "anthropic/3.5-haiku" => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, new ClaudeOptions
            {
                BaseUrl = _anthropic.BaseUrl, Retry = Provider.FastRetry, ModelOptions = shared, GetEnvironmentVariable = _ => null,
            }),
            "local/stories" => HuggingFaceLm.Get(Stories(), new HuggingFaceLmOptions { Threads = 2, ModelOptions = shared }),
            "mock" => new MockLm(options: shared, isChatModel: true),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
    }

    private static LmPrompt Ask(LmImage image) => new([LmChatTurn.User("What is in this picture?", image)]) { MaxTokens = 8, Temperature = 0 };

    [Theory]
    [MemberData(nameof(Models))]
    public async Task ImagesAreTakenExactlyWhereModelInfoSaysVision_CachedByBytes_OrRefusedBeforeSending(string which, bool vision)
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Model(which, cache);
        Assert.Equal(vision, lm.ModelInfo.Has(LmCapabilities.Vision));
        var png = LmImage.FromFile(TestImages.PathOf(TestImages.Png));
        var prompt = Ask(png);
        int before = Requests;
        if (!vision)
        {
            var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(prompt));
            Assert.Equal(nameof(LmPrompt.Chat), e.FieldName);
            Assert.Contains("does not take images", e.Message, StringComparison.Ordinal);
            Assert.Throws<LmPromptException>(() => lm.EstimateCost(prompt));
            await Assert.ThrowsAsync<LmPromptException>(async () =>
            {
                await foreach (var _ in lm.PredictStreamingAsync(prompt))
                {
                }
            });
            Assert.Throws<LmPromptException>(() => lm.PredictMany([prompt], CompletionWindow.Asap).ToList());
            Assert.Equal(before, Requests);
            return;
        }

        var first = await lm.PredictAsync(prompt);
        Assert.False(first.HasErrors, first.ErrorMessage);
        int after = Requests;
        var again = await lm.PredictAsync(Ask(LmImage.FromBytes(TestImages.Bytes(TestImages.Png))));
        Assert.True(again.WasCached);
        Assert.Equal(first.CompletionText, again.CompletionText);
        Assert.Equal(after, Requests);
        var other = await lm.PredictAsync(Ask(LmImage.FromFile(TestImages.PathOf(TestImages.Gif))));
        Assert.False(other.WasCached);

        var textOnly = new LmPrompt([LmChatTurn.User("What is in this picture?")]) { MaxTokens = 8, Temperature = 0 };
        Assert.True(lm.EstimateTokensInPrompt(prompt) > lm.EstimateTokensInPrompt(textOnly));
    }

    private static string Stories()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "models", "stories260K");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("tests/fixtures/models/stories260K not found above " + AppContext.BaseDirectory);
    }
}
