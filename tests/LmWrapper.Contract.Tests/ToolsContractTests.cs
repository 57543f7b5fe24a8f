using System.Text.Json;
using LmWrapper.Anthropic;
using LmWrapper.Caching;
using LmWrapper.HuggingFace;
using LmWrapper.OpenAI;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;
using LmWrapper.Tools;

namespace LmWrapper.Contract.Tests;

/// <summary>
/// Tools and structured output, the same way for every provider: a model takes them exactly where its
/// <see cref="LanguageModel.ModelInfo"/> says (<see cref="LmCapabilities.Tools"/>, <see cref="LmCapabilities.StructuredOutput"/>)
/// and refuses them otherwise before anything is sent; what it takes answers tool calls whose arguments fit the schema,
/// caches them, streams them, continues after tool results, runs the tool loop (a rerun from the cache), and answers
/// schema-valid JSON that <see cref="LanguageModel.PredictAsync{T}(LmPrompt, CancellationToken)"/> deserializes.
/// </summary>
public sealed class ToolsContractTests : IAsyncLifetime
{
    private static readonly LmToolDefinition Weather = LmToolDefinition.FromJson(
        "get_weather",
        "The weather in a city",
        """{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer","minimum":1}},"required":["city","days"]}""");

    private FakeOpenAiServer _openAi = null!;
    private readonly FakeAnthropicServer _anthropic = new();

    public sealed record Forecast(string City, int Days, List<string> Skies);

    public static TheoryData<string> Models => new() { "openai/gpt-4o-mini", "openai/instruct", "anthropic/3.5-haiku", "local/stories", "mock" };

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
        return which switch
        {
            "openai/gpt-4o-mini" => OpenAi(OpenAiModelNames.Gpt4oMini),
            "openai/instruct" => OpenAi(OpenAiModelNames.Gpt35TurboInstruct),
            "anthropic/3.5-haiku" => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, new ClaudeOptions
            {
                BaseUrl = _anthropic.BaseUrl, Retry = Provider.FastRetry, ModelOptions = shared, GetEnvironmentVariable = _ => null,
            }),
            "local/stories" => HuggingFaceLm.Get(Stories(), new HuggingFaceLmOptions { Threads = 2, ModelOptions = shared }),
            "mock" => new MockLm(options: shared, isChatModel: true),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task ToolsAreTakenExactlyWhereModelInfoSaysAndBehaveTheSameEverywhere(string which)
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Model(which, cache);
        var prompt = new LmPrompt("Please call get_weather for Oslo") { Tools = [Weather], MaxTokens = 60, Temperature = 0 };
        int before = Requests;
        if (!lm.ModelInfo.Has(LmCapabilities.Tools))
        {
            var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(prompt));
            Assert.Equal(nameof(LmPrompt.Tools), e.FieldName);
            var turns = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(new LmPrompt(
                [LmChatTurn.User("hi"), LmChatTurn.AssistantToolCalls([new LmToolCall("c1", "get_weather", "{}")]), LmChatTurn.ToolResult("c1", "sun")])));
            Assert.Equal(nameof(LmPrompt.Chat), turns.FieldName);
            Assert.Equal(before, Requests);
            Assert.True(which is "openai/instruct" or "local/stories", which);
            return;
        }

        var fresh = await lm.PredictAsync(prompt);
        Assert.False(fresh.HasErrors, fresh.ErrorMessage);
        var call = Assert.Single(fresh.ToolCalls);
        Assert.Equal("get_weather", call.Name);
        Assert.Null(JsonSchemaShape.Check(call.GetArguments(), Weather.Parameters));
        Assert.Contains(fresh.FinishReason, new[] { "tool_calls", "tool_use" });

        var cached = await lm.PredictAsync(prompt);
        Assert.True(cached.WasCached);
        Assert.Equal(fresh.ToolCalls, cached.ToolCalls);
        Assert.Equal(fresh.FinishReason, cached.FinishReason);
        Assert.NotEqual(CacheKey.Compute(lm.ModelIdentity, prompt), CacheKey.Compute(lm.ModelIdentity, prompt with { Tools = null }));

        LmPrediction? streamed = null;
        await foreach (var update in lm.PredictStreamingAsync(prompt with { Cache = false }))
        {
            streamed = update.Prediction ?? streamed;
        }

        Assert.Equal(fresh.ToolCalls, streamed!.ToolCalls);

        var answer = await lm.PredictAsync(fresh.MakeReplyPrompt([LmChatTurn.ToolResult(call.Id, "Sunny")]));
        Assert.False(answer.HasErrors, answer.ErrorMessage);
        Assert.False(answer.HasToolCalls);
        Assert.Contains("Sunny", answer.CompletionText, StringComparison.Ordinal);

        var handlers = new Dictionary<string, Func<JsonElement, CancellationToken, Task<string>>> { ["get_weather"] = (_, _) => Task.FromResult("Sunny") };
        var looped = await lm.RunToolsAsync(prompt, handlers);
        Assert.Equal(answer.CompletionText, looped.CompletionText);
        int afterLoop = Requests;
        var again = await lm.RunToolsAsync(prompt, handlers);
        Assert.True(again.WasCached);
        Assert.Equal(afterLoop, Requests);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task StructuredOutputIsTakenExactlyWhereModelInfoSaysAndAnswersSchemaValidJson(string which)
    {
        using var cache = LmCache.OpenInMemory();
        using var lm = Model(which, cache);
        var prompt = new LmPrompt("Give the forecast for Oslo as JSON") { MaxTokens = 100, Temperature = 0 };
        int before = Requests;
        if (!lm.ModelInfo.Has(LmCapabilities.StructuredOutput))
        {
            var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync<Forecast>(prompt));
            Assert.Equal(nameof(LmPrompt.ResponseFormat), e.FieldName);
            Assert.Equal(before, Requests);
            return;
        }

        var forecast = await lm.PredictAsync<Forecast>(prompt);
        Assert.NotNull(forecast.City);
        Assert.NotNull(forecast.Skies);
        var withFormat = prompt with { ResponseFormat = LmResponseFormat.ForType<Forecast>() };
        var p = await lm.PredictAsync(withFormat);
        Assert.True(p.WasCached); // PredictAsync<T> made exactly this prompt
        Assert.Null(JsonSchemaShape.Check(p.GetCompletionJson(), withFormat.ResponseFormat!.Schema));

        var obj = await lm.PredictAsync(prompt with { ResponseFormat = LmResponseFormat.JsonObject });
        Assert.Equal(JsonValueKind.Object, obj.GetCompletionJson().ValueKind);
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
