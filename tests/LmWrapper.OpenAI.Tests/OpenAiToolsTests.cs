using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

/// <summary>Tools and structured output on OpenAI chat models, through the fake server: requests, answers, replies, cache, batch, streaming.</summary>
public sealed class OpenAiToolsTests : OpenAiBatchTestBase
{
    private static readonly LmToolDefinition Weather = LmToolDefinition.FromJson(
        "get_weather",
        "The weather in a city",
        """{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer","minimum":1}},"required":["city","days"]}""");

    private static readonly LmToolDefinition Clock = LmToolDefinition.FromJson(
        "get_time", null, """{"type":"object","properties":{"zone":{"type":"string","enum":["UTC","CET"]}},"required":["zone"]}""");

    private static LmPrompt Ask(string text) => new(text) { Tools = [Weather, Clock], MaxTokens = 50, Temperature = 0 };

    public sealed record CityFacts(string Name, int Population, bool IsCapital, List<string> Landmarks);

    [Fact]
    public async Task AToolCallComesBackWithItsIdNameAndSchemaShapedArgumentsAndTheReplyPromptIsValid()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var p = await lm.PredictAsync(Ask("Please call get_weather for Paris"));
        Assert.False(p.HasErrors, p.ErrorMessage);
        Assert.True(p.HasToolCalls);
        Assert.Equal("tool_calls", p.FinishReason);
        var call = Assert.Single(p.ToolCalls);
        Assert.Equal("get_weather", call.Name);
        Assert.StartsWith("call_", call.Id, StringComparison.Ordinal);
        var args = call.GetArguments();
        Assert.Equal(JsonValueKind.String, args.GetProperty("city").ValueKind);
        Assert.True(args.GetProperty("days").GetInt32() >= 1);

        var sent = LastRequest.Json;
        var tool = sent.GetProperty("tools")[0];
        Assert.Equal("function", tool.GetProperty("type").GetString());
        Assert.Equal("get_weather", tool.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("The weather in a city", tool.GetProperty("function").GetProperty("description").GetString());
        Assert.Equal("object", tool.GetProperty("function").GetProperty("parameters").GetProperty("type").GetString());
        Assert.False(sent.TryGetProperty("tool_choice", out _));

        var reply = p.MakeReplyPrompt([LmChatTurn.ToolResult(call.Id, "Sunny, 24 C")]);
        var answer = await lm.PredictAsync(reply);
        Assert.False(answer.HasErrors, answer.ErrorMessage);
        Assert.False(answer.HasToolCalls);
        Assert.Equal("Tool results: Sunny, 24 C", answer.CompletionText);
        var messages = LastRequest.Json.GetProperty("messages");
        Assert.Equal(3, messages.GetArrayLength());
        Assert.Equal(JsonValueKind.Null, messages[1].GetProperty("content").ValueKind);
        Assert.Equal(call.Id, messages[1].GetProperty("tool_calls")[0].GetProperty("id").GetString());
        Assert.Equal(call.Arguments, messages[1].GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("tool", messages[2].GetProperty("role").GetString());
        Assert.Equal(call.Id, messages[2].GetProperty("tool_call_id").GetString());
    }

    [Fact]
    public async Task ToolChoiceIsSentAsOpenAiSpellsItAndANamedChoiceForcesThatTool()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var named = await lm.PredictAsync(Ask("What time is it?") with { ToolChoice = LmToolChoice.Named("get_time") });
        Assert.Equal("get_time", Assert.Single(named.ToolCalls).Name);
        Assert.Equal("UTC", named.ToolCalls[0].GetArguments().GetProperty("zone").GetString());
        var choice = LastRequest.Json.GetProperty("tool_choice");
        Assert.Equal("function", choice.GetProperty("type").GetString());
        Assert.Equal("get_time", choice.GetProperty("function").GetProperty("name").GetString());

        var required = await lm.PredictAsync(Ask("Anything") with { ToolChoice = LmToolChoice.Required });
        Assert.Equal("required", LastRequest.Json.GetProperty("tool_choice").GetString());
        Assert.True(required.HasToolCalls);

        var none = await lm.PredictAsync(Ask("Please call get_weather") with { ToolChoice = LmToolChoice.None });
        Assert.Equal("none", LastRequest.Json.GetProperty("tool_choice").GetString());
        Assert.False(none.HasToolCalls);
        Assert.NotEmpty(none.CompletionText);
    }

    [Fact]
    public async Task TheToolLoopRunsTheHandlersAndARerunIsAnsweredWholeFromTheCache()
    {
        int ran = 0;
        var handlers = new Dictionary<string, Func<JsonElement, CancellationToken, Task<string>>>
        {
            ["get_weather"] = (args, _) =>
            {
                Interlocked.Increment(ref ran);
                return Task.FromResult($"Rain in {args.GetProperty("city").GetString()}");
            },
            ["get_time"] = (_, _) => Task.FromResult("12:00"),
        };

        using (var lm = BatchLm())
        {
            var final = await lm.RunToolsAsync(Ask("Please call get_weather"), handlers, maxSteps: 4);
            Assert.False(final.HasErrors, final.ErrorMessage);
            Assert.Equal("Tool results: Rain in text", final.CompletionText);
            Assert.Equal(3, final.Prompt.Chat!.Count);
            Assert.False(final.WasCached);
        }

        int requests = Server.Requests.Count;
        Assert.Equal(1, ran);
        using (var rerun = BatchLm())
        {
            var again = await rerun.RunToolsAsync(Ask("Please call get_weather"), handlers, maxSteps: 4);
            Assert.True(again.WasCached);
            Assert.Equal("Tool results: Rain in text", again.CompletionText);
        }

        Assert.Equal(requests, Server.Requests.Count); // nothing was sent again: both steps came from the cache
    }

    [Fact]
    public async Task TheLoopStopsAtTheStepLimitWithATypedError()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);

        // Each answer is a tool result the fake reports, never asking again: with "required" reset after step 1 the
        // loop ends; a responder that always says "call get_time" keeps it going until the limit.
        Server.Responder = _ => "ok";
        var handlers = new Dictionary<string, Func<JsonElement, CancellationToken, Task<string>>>
        {
            ["get_weather"] = (_, _) => Task.FromResult("call get_time"),
            ["get_time"] = (_, _) => Task.FromResult("call get_time"),
        };
        var loop = await Assert.ThrowsAsync<LmToolLoopException>(() => lm.RunToolsAsync(
            new LmPrompt([LmChatTurn.User("call get_time")]) { Tools = [Weather, Clock], ToolChoice = LmToolChoice.Required, MaxTokens = 20 },
            handlers,
            maxSteps: 1));
        Assert.Contains("maxSteps = 1", loop.Message, StringComparison.Ordinal);
        Assert.True(loop.LastPrediction!.HasToolCalls);
    }

    [Fact]
    public async Task AStreamedToolCallIsRebuiltIntoTheSameToolCalls()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var prompt = Ask("Please call get_weather for Rome") with { Cache = false };
        LmPrediction? streamed = null;
        await foreach (var update in lm.PredictStreamingAsync(prompt))
        {
            streamed = update.Prediction ?? streamed;
        }

        var whole = await lm.PredictAsync(prompt);
        Assert.NotNull(streamed);
        Assert.False(streamed!.HasErrors, streamed.ErrorMessage);
        Assert.Equal(whole.ToolCalls, streamed.ToolCalls);
        Assert.Equal("tool_calls", streamed.FinishReason);
        Assert.Equal(whole.Usage, streamed.Usage);
    }

    [Fact]
    public async Task BatchLinesCarryToolsAndResponseFormatsAndTheCacheKeepsTheToolCalls()
    {
        var schema = LmResponseFormat.ForType<CityFacts>();
        List<LmPrompt> prompts =
        [
            Ask("Please call get_weather"),
            Ask("Please call get_time"),
            new LmPrompt("Facts about Oslo as JSON") { ResponseFormat = schema, MaxTokens = 80, Temperature = 0 },
        ];
        using (var lm = BatchLm())
        {
            var results = lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
            Assert.All(results, r => Assert.False(r.HasErrors, r.ErrorMessage));
            Assert.Equal("get_weather", Assert.Single(results[0].ToolCalls).Name);
            Assert.Equal("get_time", Assert.Single(results[1].ToolCalls).Name);
            Assert.Equal(0, results[2].GetCompletionJson().GetProperty("population").GetInt32());
            Assert.Contains(Server.Requests, r => r.Path.EndsWith("/batches", StringComparison.Ordinal));
        }

        using var rerun = BatchLm();
        var cached = rerun.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        Assert.All(cached, r => Assert.True(r.WasCached));
        Assert.Equal("get_weather", Assert.Single(cached[0].ToolCalls).Name);
        Assert.Equal("tool_calls", cached[0].FinishReason);
        var facts = JsonSerializer.Deserialize<CityFacts>(cached[2].CompletionText, LmResponseFormat.DefaultJsonOptions)!;
        Assert.NotNull(facts.Landmarks);
    }

    [Fact]
    public async Task AResponderCanScriptParallelToolCallsAndTheLoopAnswersEach()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        Server.Responder = r => r.Messages[^1].Role == "tool"
            ? FakeOpenAiServer.DefaultResponder(r)
            : new FakeOpenAiReply(string.Empty) { ToolCalls = [new("get_weather", """{"city":"Oslo","days":2}"""), new("get_time", """{"zone":"CET"}""")] };
        var seen = new List<string>();
        var handlers = new Dictionary<string, Func<JsonElement, CancellationToken, Task<string>>>
        {
            ["get_weather"] = (a, _) => { seen.Add(a.GetProperty("city").GetString()!); return Task.FromResult("rain"); },
            ["get_time"] = (a, _) => { seen.Add(a.GetProperty("zone").GetString()!); return Task.FromResult("noon"); },
        };
        var final = await lm.RunToolsAsync(Ask("Weather and time in Oslo?"), handlers);
        Assert.Equal(["Oslo", "CET"], seen);
        Assert.Equal("Tool results: rain; noon", final.CompletionText);
        var calls = final.Prompt.Chat![1].ToolCalls!;
        Assert.Equal(2, calls.Count);
        Assert.NotEqual(calls[0].Id, calls[1].Id);
    }

    [Fact]
    public void TheTokenEstimateCountsToolDefinitionsCallsAndASchema()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        int plain = lm.EstimateTokensInPrompt(new LmPrompt("Weather?"));
        Assert.True(lm.EstimateTokensInPrompt(Ask("Weather?")) > plain);
        Assert.True(lm.EstimateTokensInPrompt(new LmPrompt("Weather?") { ResponseFormat = LmResponseFormat.ForType<CityFacts>() }) > plain);
    }

    [Fact]
    public async Task PredictManyAsapAnswersToolPromptsInOrderAndDuplicatesAreSentOnce()
    {
        using var lm = BatchLm();
        int before = Server.Requests.Count;
        var prompts = new[] { Ask("Please call get_time"), Ask("Please call get_weather"), Ask("Please call get_time"), Ask("No tools needed") };
        var results = await lm.PredictManyAsync(prompts, CompletionWindow.Asap).ToListAsync();
        Assert.Equal(["get_time", "get_weather", "get_time"], results.Take(3).Select(r => Assert.Single(r.ToolCalls).Name));
        Assert.False(results[3].HasToolCalls);
        Assert.Equal(results[0].ToolCalls, results[2].ToolCalls);
        Assert.Equal(3, Server.Requests.Count - before);
    }

    [Fact]
    public async Task AJsonSchemaFormatIsSentStrictAndPredictAsyncOfTDeserializesTheAnswer()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        var facts = await lm.PredictAsync<CityFacts>(new LmPrompt("Give facts about Oslo") { MaxTokens = 100 });
        Assert.NotNull(facts);
        Assert.NotNull(facts.Landmarks);
        var format = LastRequest.Json.GetProperty("response_format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.Equal("CityFacts", format.GetProperty("json_schema").GetProperty("name").GetString());
        Assert.True(format.GetProperty("json_schema").GetProperty("strict").GetBoolean());
        var schema = format.GetProperty("json_schema").GetProperty("schema");
        Assert.False(schema.GetProperty("additionalProperties").GetBoolean());
        Assert.Equal(4, schema.GetProperty("required").GetArrayLength());

        // The responder's own JSON is kept when it fits the schema.
        Server.Responder = _ => """{"name":"Oslo","population":700000,"isCapital":true,"landmarks":["Opera"]}""";
        var real = await lm.PredictAsync<CityFacts>(new LmPrompt("Facts about Oslo, please") { MaxTokens = 100 });
        Assert.Equal(new CityFacts("Oslo", 700000, true, ["Opera"]).Name, real.Name);
        Assert.Equal(700000, real.Population);
        Assert.Equal(["Opera"], real.Landmarks);
    }

    [Fact]
    public async Task JsonObjectModeNeedsTheWordJsonAndIsRefusedBeforeSendingWithoutIt()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        int before = Server.Requests.Count;
        var e = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(new LmPrompt("Describe Oslo") { ResponseFormat = LmResponseFormat.JsonObject }));
        Assert.Equal(nameof(LmPrompt.ResponseFormat), e.FieldName);
        Assert.Equal(before, Server.Requests.Count);

        var ok = await lm.PredictAsync(new LmPrompt("Describe Oslo as JSON") { ResponseFormat = LmResponseFormat.JsonObject, MaxTokens = 100 });
        Assert.Equal("json_object", LastRequest.Json.GetProperty("response_format").GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Object, ok.GetCompletionJson().ValueKind);
    }

    [Fact]
    public async Task BadToolUseIsRefusedBeforeAnythingIsSent()
    {
        using var lm = Lm(OpenAiModelNames.Gpt4oMini);
        using var instruct = Lm(OpenAiModelNames.Gpt35TurboInstruct);
        int before = Server.Requests.Count;
        var call = new LmToolCall("call_1", "get_time", "{}");
        LmPrompt[] bad =
        [
            Ask("x") with { ToolChoice = LmToolChoice.Named("nope") },
            new LmPrompt([LmChatTurn.User("hi"), LmChatTurn.ToolResult("call_9", "12:00")]) { Tools = [Clock] },
            new LmPrompt([LmChatTurn.User("hi"), LmChatTurn.AssistantToolCalls([call]), LmChatTurn.User("and?")]) { Tools = [Clock] },
            new LmPrompt([LmChatTurn.User("hi"), LmChatTurn.Tool("12:00")]),
        ];
        foreach (var prompt in bad)
        {
            await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(prompt));
        }

        var completion = await Assert.ThrowsAsync<LmPromptException>(() => instruct.PredictAsync(Ask("Please call get_time")));
        Assert.Contains("does not take tools", completion.Message, StringComparison.Ordinal);
        Assert.Equal(before, Server.Requests.Count);
        Assert.Throws<LmPromptException>(() => LmToolDefinition.FromJson("bad name", null, """{"type":"object"}"""));
        Assert.Throws<LmPromptException>(() => LmToolDefinition.FromJson("ok", null, """{"type":"string"}"""));
    }

    [Theory]
    [InlineData("""{"role":"tool","tool_call_id":"call_x","content":"12:00"}""", "must be a response to a preceeding message with 'tool_calls'")]
    [InlineData("""{"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"f","arguments":"{}"}}]}""", "did not have response messages: call_a")]
    public async Task TheFakeRejectsToolMessagesThatDoNotAnswerACallAsOpenAiDoes(string message, string says)
    {
        string body = $$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"},{{message}}]}""";
        var (status, text) = await PostAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(says, text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"tool_choice":"required"}""", "only allowed when 'tools' are specified")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"a b","parameters":{"type":"object"}}}]}""", "does not match pattern")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"string"}}}]}""", "must be a JSON Schema of 'type:")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}""", "not found in 'tools'")]
    [InlineData("""{"response_format":{"type":"json_object"}}""", "must contain the word 'json'")]
    [InlineData("""{"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string"}}}}}}""", "additionalProperties")]
    [InlineData("""{"response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object"}}}}""", "response_format.json_schema.name")]
    public async Task TheFakeRejectsMalformedToolsChoicesAndFormats(string extra, string says)
    {
        string body = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],""" + extra[1..];
        var (status, text) = await PostAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(says, text, StringComparison.Ordinal);
    }

    private async Task<(HttpStatusCode Status, string Text)> PostAsync(string body)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, Server.BaseUrl.TrimEnd('/') + "/chat/completions")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
