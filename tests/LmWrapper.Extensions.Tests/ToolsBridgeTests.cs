using System.ComponentModel;
using System.Text.Json;
using LmWrapper.Caching;
using LmWrapper.Extensions.AI;
using Microsoft.Extensions.AI;

namespace LmWrapper.Extensions.Tests;

/// <summary>Tools and structured output across the Microsoft.Extensions.AI bridge, both ways.</summary>
public sealed class ToolsBridgeTests
{
    public sealed record Forecast(string City, int Days, List<string> Skies);

    [Description("The weather in a city")]
    private static string GetWeather([Description("The city")] string city) => $"Rain in {city}";

    [Fact]
    public async Task UseFunctionInvocationRunsFunctionsOverAnyLanguageModelAndTheStepsAreCached()
    {
        using var cache = LmCache.OpenInMemory();
        var lm = new MockLm(options: new LanguageModelOptions { Cache = cache, CacheByDefault = true }, isChatModel: true);
        int ran = 0;
        var weather = AIFunctionFactory.Create((string city) => { ran++; return GetWeather(city); }, "get_weather", "The weather in a city");
        IChatClient client = new ChatClientBuilder(lm.AsChatClient()).UseFunctionInvocation().Build();

        var response = await client.GetResponseAsync("Please call get_weather", new ChatOptions { Tools = [weather] });
        Assert.Equal("Rain in text", response.Text);
        Assert.Equal(1, ran);
        Assert.Equal(2, lm.CallCount);
        Assert.Contains(response.Messages, m => m.Contents.OfType<FunctionCallContent>().Any(c => c.Name == "get_weather"));

        var again = await client.GetResponseAsync("Please call get_weather", new ChatOptions { Tools = [weather] });
        Assert.Equal("Rain in text", again.Text);
        Assert.Equal(2, lm.CallCount); // both steps came from the cache
    }

    [Fact]
    public async Task StreamingThroughTheBridgeEndsWithTheFunctionCallsSoFunctionInvocationStreamsToo()
    {
        var lm = new MockLm(isChatModel: true);
        var weather = AIFunctionFactory.Create((string city) => GetWeather(city), "get_weather");
        IChatClient client = new ChatClientBuilder(lm.AsChatClient()).UseFunctionInvocation().Build();
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync("Please call get_weather", new ChatOptions { Tools = [weather] }))
        {
            updates.Add(update);
        }

        Assert.Contains(updates, u => u.Contents.OfType<FunctionCallContent>().Any(c => c.Name == "get_weather"));
        Assert.Equal("Rain in text", string.Concat(updates.Where(u => u.Role == ChatRole.Assistant).Select(u => u.Text)));
    }

    [Fact]
    public void ChatOptionsMapToThePromptsToolsChoiceAndFormatAndMessagesToToolTurns()
    {
        var lm = new MockLm(isChatModel: true);
        var client = lm.AsChatClient();
        var weather = AIFunctionFactory.Create(GetWeather, "get_weather");
        List<ChatMessage> messages =
        [
            new(ChatRole.User, "Weather?"),
            new(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Oslo" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call_1", "Sunny")]),
        ];
        var prompt = client.ToPrompt(messages, new ChatOptions
        {
            Tools = [weather],
            ToolMode = ChatToolMode.RequireSpecific("get_weather"),
            ResponseFormat = ChatResponseFormat.ForJsonSchema<Forecast>(),
        });
        var tool = Assert.Single(prompt.Tools!);
        Assert.Equal("get_weather", tool.Name);
        Assert.Equal("The weather in a city", tool.Description);
        Assert.Equal("string", tool.Parameters.GetProperty("properties").GetProperty("city").GetProperty("type").GetString());
        Assert.Equal(LmToolChoice.Named("get_weather"), prompt.ToolChoice);
        Assert.Equal(LmResponseFormatKind.JsonSchema, prompt.ResponseFormat!.Kind);
        var call = Assert.Single(prompt.Chat![1].ToolCalls!);
        Assert.Equal("call_1", call.Id);
        Assert.Equal("Oslo", call.GetArguments().GetProperty("city").GetString());
        Assert.Equal("call_1", prompt.Chat[2].ToolCallId);
        Assert.Equal("Sunny", prompt.Chat[2].Content);
        prompt.Validate();

        Assert.Equal(LmToolChoice.Required, client.ToPrompt(messages, new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.RequireAny }).ToolChoice);
        Assert.Equal(LmToolChoice.None, client.ToPrompt(messages, new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.None }).ToolChoice);
        Assert.Equal(LmResponseFormat.JsonObject, client.ToPrompt(messages, new ChatOptions { ResponseFormat = ChatResponseFormat.Json }).ResponseFormat);
    }

    [Fact]
    public async Task GetResponseOfTWorksThroughTheBridge()
    {
        var lm = new MockLm(isChatModel: true);
        var response = await lm.AsChatClient().GetResponseAsync<Forecast>("The forecast for Oslo");
        Assert.NotNull(response.Result);
        Assert.NotNull(response.Result.Skies);
    }

    [Fact]
    public async Task AChatClientAsALanguageModelSendsToolsAndReadsFunctionCalls()
    {
        var inner = new RecordingChatClient((messages, options) =>
            messages[^1].Role == ChatRole.Tool
                ? new ChatResponse(new ChatMessage(ChatRole.Assistant, "It is " + messages[^1].Contents.OfType<FunctionResultContent>().Single().Result)) { FinishReason = ChatFinishReason.Stop }
                : new ChatResponse(new ChatMessage(ChatRole.Assistant, [new FunctionCallContent("c9", "get_weather", new Dictionary<string, object?> { ["city"] = "Rome" })])) { FinishReason = ChatFinishReason.ToolCalls });
        using var lm = inner.AsLanguageModel();
        Assert.True(lm.ModelInfo.Has(LmCapabilities.Tools | LmCapabilities.StructuredOutput));
        var tool = LmTools.FromDelegate(GetWeather, "get_weather").ToLmToolDefinition();
        var p = await lm.PredictAsync(new LmPrompt("Weather in Rome?") { Tools = [tool], ToolChoice = LmToolChoice.Required, Cache = false });
        var sent = inner.Calls.Last().Options!;
        Assert.Equal("get_weather", Assert.IsAssignableFrom<AIFunctionDeclaration>(Assert.Single(sent.Tools!)).Name);
        Assert.IsType<RequiredChatToolMode>(sent.ToolMode);
        Assert.Equal("tool_calls", p.FinishReason);
        var call = Assert.Single(p.ToolCalls);
        Assert.Equal("c9", call.Id);
        Assert.Equal("Rome", call.GetArguments().GetProperty("city").GetString());

        var answer = await lm.PredictAsync(p.MakeReplyPrompt([LmChatTurn.ToolResult("c9", "sunny")]));
        Assert.Equal("It is sunny", answer.CompletionText);
        var messages = inner.Calls.Last().Messages;
        Assert.Equal("c9", Assert.Single(messages[1].Contents.OfType<FunctionCallContent>()).CallId);
        Assert.Equal("c9", Assert.Single(messages[2].Contents.OfType<FunctionResultContent>()).CallId);

        await lm.PredictAsync(new LmPrompt("Forecast") { ResponseFormat = LmResponseFormat.ForType<Forecast>(), Cache = false });
        var format = Assert.IsType<ChatResponseFormatJson>(inner.Calls.Last().Options!.ResponseFormat);
        Assert.Equal("Forecast", format.SchemaName);
        Assert.Equal("object", format.Schema!.Value.GetProperty("type").GetString());
    }

    [Fact]
    public async Task TheToolLoopTakesAiFunctionsAndTheirDefinitions()
    {
        var lm = new MockLm(isChatModel: true);
        var final = await lm.RunToolsAsync(new LmPrompt("Please call get_weather"), [LmTools.FromDelegate(GetWeather, "get_weather")]);
        Assert.Equal("Rain in text", final.CompletionText);
        Assert.Equal("get_weather", Assert.Single(final.Prompt.Tools!).Name);
        Assert.Equal("The weather in a city", final.Prompt.Tools![0].Description);
    }
}
