using LmWrapper.Anthropic;
using LmWrapper.Caching;
using LmWrapper.HuggingFace;
using LmWrapper.OpenAI;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Contract.Tests;

/// <summary>
/// ReasoningEffort and ThinkingBudgetTokens, the same way for every provider: a model takes each exactly where its
/// <see cref="LanguageModel.ModelInfo"/> says so (the mock takes and ignores both), refuses it otherwise before anything
/// is sent, and what it takes is cached with its reasoning tokens and blocks, billed once, and continues in a reply.
/// </summary>
public sealed class ReasoningContractTests : IAsyncLifetime
{
    private FakeOpenAiServer _openAi = null!;
    private readonly FakeAnthropicServer _anthropic = new();

    public static TheoryData<string> Models => new() { "openai/gpt-5", "openai/gpt-4o-mini", "anthropic/sonnet-4", "anthropic/3.5-haiku", "local/stories", "mock" };

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

    private int Requests => _openAi.Requests.Count + _anthropic.RequestsTo("/v1/messages").Count;

    private LanguageModel Model(string which, LmCache cache)
    {
        var shared = new LanguageModelOptions { Cache = cache, CacheByDefault = true };
        OpenAiLm OpenAi(string name) => OpenAiLm.Get(name, FakeOpenAiServer.DefaultApiKey, options: new OpenAiOptions
        {
            BaseUrl = new Uri(_openAi.BaseUrl), Retry = Provider.FastRetry, ModelOptions = shared, GetEnvironmentVariable = _ => null,
        });
        ClaudeLm Claude(ClaudeModelInfo model) => ClaudeLm.Get(model, FakeAnthropicServer.DefaultApiKey, new ClaudeOptions
        {
            BaseUrl = _anthropic.BaseUrl, Retry = Provider.FastRetry, ModelOptions = shared, GetEnvironmentVariable = _ => null,
        });
        return which switch
        {
            "openai/gpt-5" => OpenAi(OpenAiModelNames.Gpt5),
            "openai/gpt-4o-mini" => OpenAi(OpenAiModelNames.Gpt4oMini),
            "anthropic/sonnet-4" => Claude(ClaudeModelNames.ClaudeSonnet4),
            "anthropic/3.5-haiku" => Claude(ClaudeModelNames.Claude35Haiku),
            "local/stories" => HuggingFaceLm.Get(Stories(), new HuggingFaceLmOptions { Threads = 2, ModelOptions = shared }),
            "mock" => new MockLm(options: shared),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task EachReasoningFieldIsTakenExactlyWhereModelInfoSaysCachedBilledOnceAndContinued(string which)
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Model(which, cache);
        var cases = new (LmCapabilities Capability, string Field, LmPrompt Prompt)[]
        {
            (LmCapabilities.ReasoningEffort, nameof(LmPrompt.ReasoningEffort), new LmPrompt("What is 2+2?") { MaxTokens = 3000, ReasoningEffort = LmReasoningEffort.High }),
            (LmCapabilities.ThinkingBudget, nameof(LmPrompt.ThinkingBudgetTokens), new LmPrompt("What is 2+2?") { MaxTokens = 3000, ThinkingBudgetTokens = 1024 }),
        };
        int taken = 0;
        foreach (var (capability, field, prompt) in cases)
        {
            int before = Requests;
            if (!lm.ModelInfo.Has(capability) && lm is not MockLm)
            {
                var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(prompt));
                Assert.Equal(field, e.FieldName);
                Assert.Throws<LmPromptException>(() => lm.EstimateCost(prompt));
                Assert.Equal(before, Requests);
                continue;
            }

            taken++;
            var fresh = await lm.PredictAsync(prompt);
            Assert.False(fresh.HasErrors, fresh.ErrorMessage);
            var cached = await lm.PredictAsync(prompt);
            Assert.True(cached.WasCached);
            Assert.Equal(fresh.Usage, cached.Usage);
            Assert.Equal(fresh.ReasoningBlocks, cached.ReasoningBlocks);
            Assert.Equal(fresh.Reasoning, cached.Reasoning);
            Assert.NotEqual(CacheKey.Compute(lm.ModelIdentity, prompt), CacheKey.Compute(lm.ModelIdentity, prompt with { ReasoningEffort = null, ThinkingBudgetTokens = null }));
            if (lm.ModelInfo.Prices is { } prices)
            {
                // Reasoning is billed inside the output tokens, once.
                Assert.Equal(prices.CostOf(fresh.Usage!), lm.CostOf(fresh));
                Assert.Equal(prices.CostOf(fresh.Usage! with { ReasoningTokens = 0 }), lm.CostOf(fresh));
            }

            if (capability == LmCapabilities.ReasoningEffort && lm is not MockLm)
            {
                Assert.True(fresh.Usage!.ReasoningTokens > 0);
            }

            if (capability == LmCapabilities.ThinkingBudget && lm is not MockLm)
            {
                Assert.NotNull(fresh.Reasoning);
            }

            var reply = await lm.PredictAsync(cached.MakeReplyPrompt("Are you sure?"));
            Assert.False(reply.HasErrors, reply.ErrorMessage);
            Assert.Equal(cached.ReasoningBlocks, reply.Prompt.Chat![1].ReasoningBlocks);
        }

        Assert.Equal(which switch { "mock" => 2, "openai/gpt-5" or "anthropic/sonnet-4" => 1, _ => 0 }, taken);
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
