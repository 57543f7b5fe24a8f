using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

/// <summary>Tools and structured output on Claude, through the fake Messages API: requests, tool_use answers, replies, cache, batch, streaming.</summary>
public sealed class ClaudeToolsTests : ClaudeBatchTestBase
{
    private static readonly LmToolDefinition Weather = LmToolDefinition.FromJson(
        "get_weather",
        "The weather in a city",
        """{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer","minimum":1}},"required":["city","days"]}""");

    private static readonly LmToolDefinition Clock = LmToolDefinition.FromJson(
        "get_time", null, """{"type":"object","properties":{"zone":{"type":"string","enum":["UTC","CET"]}},"required":["zone"]}""");

    private static LmPrompt Ask(string text) => new(text) { Tools = [Weather, Clock], MaxTokens = 50, Temperature = 0 };

    public sealed record CityFacts(string Name, int Population, List<string> Landmarks);

    [Fact]
    public async Task AToolUseBlockBecomesAToolCallAndTheReplySendsToolUseAndToolResultBlocks()
    {
        using var lm = Model();
        var p = await lm.PredictAsync(Ask("Please call get_weather for Paris"));
        Assert.False(p.HasErrors, p.ErrorMessage);
        Assert.Equal("tool_use", p.FinishReason);
        var call = Assert.Single(p.ToolCalls);
        Assert.Equal("get_weather", call.Name);
        Assert.StartsWith("toolu_", call.Id, StringComparison.Ordinal);
        Assert.True(call.GetArguments().GetProperty("days").GetInt32() >= 1);
        Assert.Equal(string.Empty, p.CompletionText);

        var tools = LastBody["tools"]!.AsArray();
        Assert.Equal("get_weather", tools[0]!["name"]!.GetValue<string>());
        Assert.Equal("The weather in a city", tools[0]!["description"]!.GetValue<string>());
        Assert.Equal("object", tools[0]!["input_schema"]!["type"]!.GetValue<string>());
        Assert.False(tools[1]!.AsObject().ContainsKey("description"));

        var answer = await lm.PredictAsync(p.MakeReplyPrompt([LmChatTurn.ToolResult(call.Id, "Sunny, 24 C")]));
        Assert.False(answer.HasErrors, answer.ErrorMessage);
        Assert.Equal("Tool results: Sunny, 24 C", answer.CompletionText);
        var messages = LastBody["messages"]!.AsArray();
        Assert.Equal(3, messages.Count);
        var use = messages[1]!["content"]![0]!;
        Assert.Equal("tool_use", use["type"]!.GetValue<string>());
        Assert.Equal(call.Id, use["id"]!.GetValue<string>());
        Assert.Equal(call.Arguments, use["input"]!.ToJsonString());
        var result = messages[2]!["content"]![0]!;
        Assert.Equal("tool_result", result["type"]!.GetValue<string>());
        Assert.Equal(call.Id, result["tool_use_id"]!.GetValue<string>());
        Assert.Equal("Sunny, 24 C", result["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task AToolCallMadeWhileThinkingGoesBackWithItsSignedThinkingFirst()
    {
        using var lm = Model(ClaudeModelNames.ClaudeSonnet4);
        var p = await lm.PredictAsync(Ask("Please call get_weather") with { MaxTokens = 4000, ThinkingBudgetTokens = 2048, Temperature = 1 });
        Assert.False(p.HasErrors, p.ErrorMessage);
        Assert.NotNull(p.ReasoningBlocks);
        var call = Assert.Single(p.ToolCalls);

        var reply = p.MakeReplyPrompt([LmChatTurn.ToolResult(call.Id, "Snow")]);
        Assert.Equal(p.ReasoningBlocks, reply.Chat![1].ReasoningBlocks);
        Assert.Equal(p.ToolCalls, reply.Chat[1].ToolCalls);
        int sentBack = -1;
        Server.Responder = r =>
        {
            sentBack = r.ThinkingBlocksSentBack;
            return FakeAnthropicServer.DefaultResponder(r);
        };
        var answer = await lm.PredictAsync(reply);
        Assert.False(answer.HasErrors, answer.ErrorMessage);
        Assert.Equal(1, sentBack); // the fake checked the signature
        var content = LastBody["messages"]![1]!["content"]!.AsArray();
        Assert.Equal("thinking", content[0]!["type"]!.GetValue<string>());
        Assert.Equal("tool_use", content[1]!["type"]!.GetValue<string>());
        Assert.Equal("Tool results: Snow", answer.CompletionText);
    }

    [Fact]
    public async Task AResponderCanScriptParallelToolUseAndTheResultsShareOneUserMessage()
    {
        using var lm = Model();
        Server.Responder = r => r.Messages[^1].ToolResults.Count > 0
            ? FakeAnthropicServer.DefaultResponder(r)
            : new FakeAnthropicReply("unused") { ToolCalls = [new("get_weather", """{"city":"Oslo","days":2}"""), new("get_time", """{"zone":"CET"}""")] };
        var handlers = new Dictionary<string, Func<JsonElement, CancellationToken, Task<string>>>
        {
            ["get_weather"] = (_, _) => Task.FromResult("rain"),
            ["get_time"] = (_, _) => Task.FromResult("noon"),
        };
        var final = await lm.RunToolsAsync(Ask("Weather and time in Oslo?"), handlers);
        Assert.Equal("Tool results: rain; noon", final.CompletionText);
        var messages = LastBody["messages"]!.AsArray();
        Assert.Equal(3, messages.Count);
        Assert.Equal(2, messages[1]!["content"]!.AsArray().Count);
        var results = messages[2]!["content"]!.AsArray();
        Assert.Equal(2, results.Count);
        Assert.All(results, b => Assert.Equal("tool_result", b!["type"]!.GetValue<string>()));
    }

    [Fact]
    public void TheOfflineEstimateCountsToolDefinitionsAndASchema()
    {
        int plain = ClaudeLm.EstimateTokensOffline(new LmPrompt("Weather?")).InputTokens;
        Assert.True(ClaudeLm.EstimateTokensOffline(Ask("Weather?")).InputTokens > plain);
        Assert.True(ClaudeLm.EstimateTokensOffline(new LmPrompt("Weather?") { ResponseFormat = LmResponseFormat.ForType<CityFacts>() }).InputTokens > plain);
    }

    [Fact]
    public async Task ToolChoiceMapsToClaudesAnyToolAndNone()
    {
        using var lm = Model();
        var named = await lm.PredictAsync(Ask("What time is it?") with { ToolChoice = LmToolChoice.Named("get_time") });
        Assert.Equal("tool", LastBody["tool_choice"]!["type"]!.GetValue<string>());
        Assert.Equal("get_time", LastBody["tool_choice"]!["name"]!.GetValue<string>());
        Assert.Equal("UTC", Assert.Single(named.ToolCalls).GetArguments().GetProperty("zone").GetString());

        var required = await lm.PredictAsync(Ask("Anything") with { ToolChoice = LmToolChoice.Required });
        Assert.Equal("any", LastBody["tool_choice"]!["type"]!.GetValue<string>());
        Assert.True(required.HasToolCalls);

        var none = await lm.PredictAsync(Ask("Please call get_weather") with { ToolChoice = LmToolChoice.None });
        Assert.Equal("none", LastBody["tool_choice"]!["type"]!.GetValue<string>());
        Assert.False(none.HasToolCalls);
    }

    [Fact]
    public async Task TheToolLoopRunsOnClaudeAndARerunComesWholeFromTheCache()
    {
        var handlers = new Dictionary<string, Func<JsonElement, CancellationToken, Task<string>>>
        {
            ["get_weather"] = (args, _) => Task.FromResult("Rain for " + args.GetProperty("days").GetInt32() + " days"),
            ["get_time"] = (_, _) => Task.FromResult("12:00"),
        };
        using (var lm = Model())
        {
            var final = await lm.RunToolsAsync(Ask("Please call get_weather"), handlers);
            Assert.Equal("Tool results: Rain for 1 days", final.CompletionText);
        }

        int sent = MessageRequests.Count;
        using var rerun = Model();
        var again = await rerun.RunToolsAsync(Ask("Please call get_weather"), handlers);
        Assert.True(again.WasCached);
        Assert.Equal(sent, MessageRequests.Count);
    }

    [Fact]
    public async Task AStreamedToolUseIsRebuiltFromInputJsonDeltas()
    {
        using var lm = Model();
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
        Assert.Equal("tool_use", streamed.FinishReason);
        Assert.Equal(whole.Usage, streamed.Usage);
    }

    [Fact]
    public async Task AResponseFormatIsAForcedToolWhoseInputIsTheAnswer()
    {
        using var lm = Model();
        var facts = await lm.PredictAsync<CityFacts>(new LmPrompt("Facts about Oslo") { MaxTokens = 100 });
        Assert.NotNull(facts.Landmarks);
        Assert.Equal("tool", LastBody["tool_choice"]!["type"]!.GetValue<string>());
        Assert.Equal("CityFacts", LastBody["tool_choice"]!["name"]!.GetValue<string>());
        var tool = Assert.Single(LastBody["tools"]!.AsArray())!;
        Assert.Equal("CityFacts", tool["name"]!.GetValue<string>());
        Assert.False(tool["input_schema"]!["additionalProperties"]!.GetValue<bool>());

        Server.Responder = _ => new FakeAnthropicReply("""{"name":"Oslo","population":700000,"landmarks":["Opera"]}""");
        var p = await lm.PredictAsync(new LmPrompt("More facts about Oslo") { MaxTokens = 100, ResponseFormat = LmResponseFormat.ForType<CityFacts>() });
        Assert.False(p.HasToolCalls);
        Assert.Equal("end_turn", p.FinishReason);
        Assert.Equal(700000, p.GetCompletionJson().GetProperty("population").GetInt32());

        var json = await lm.PredictAsync(new LmPrompt("Any JSON") { MaxTokens = 100, ResponseFormat = LmResponseFormat.JsonObject });
        Assert.Equal(ClaudeRequestToolName, LastBody["tool_choice"]!["name"]!.GetValue<string>());
        Assert.Equal(JsonValueKind.Object, json.GetCompletionJson().ValueKind);

        string? streamedText = null;
        await foreach (var update in lm.PredictStreamingAsync(new LmPrompt("Streamed facts") { MaxTokens = 100, ResponseFormat = LmResponseFormat.ForType<CityFacts>(), Cache = false }))
        {
            streamedText += update.Text;
            if (update.Prediction is { } done)
            {
                Assert.Equal(done.CompletionText, streamedText);
                Assert.Equal("Oslo", done.GetCompletionJson().GetProperty("name").GetString());
            }
        }
    }

    private const string ClaudeRequestToolName = "json_answer";

    [Fact]
    public async Task BatchRequestsCarryToolsAndAResponseFormatsForcedTool()
    {
        List<LmPrompt> prompts =
        [
            Ask("Please call get_time"),
            new LmPrompt("Facts as JSON") { ResponseFormat = LmResponseFormat.ForType<CityFacts>(), MaxTokens = 100, Temperature = 0 },
        ];
        using (var lm = BatchModel())
        {
            var results = lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
            Assert.All(results, r => Assert.False(r.HasErrors, r.ErrorMessage));
            Assert.Equal("get_time", Assert.Single(results[0].ToolCalls).Name);
            Assert.Equal(0, results[1].GetCompletionJson().GetProperty("population").GetInt32());
            var sent = ParamsOf(Assert.Single(CreateRequests)).Values.Select(v => JsonNode.Parse(v)!).ToList();
            Assert.Contains(sent, s => s["tools"]?[0]?["name"]?.GetValue<string>() == "get_weather");
            Assert.Contains(sent, s => s["tool_choice"]?["name"]?.GetValue<string>() == "CityFacts");
        }

        using var rerun = BatchModel();
        var cached = rerun.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        Assert.All(cached, r => Assert.True(r.WasCached));
        Assert.Equal("get_time", Assert.Single(cached[0].ToolCalls).Name);
        Assert.Single(CreateRequests);
    }

    [Fact]
    public async Task WhatClaudeCannotCombineIsRefusedBeforeSending()
    {
        using var lm = Model(ClaudeModelNames.ClaudeSonnet4);
        int before = MessageRequests.Count;
        LmPrompt[] bad =
        [
            Ask("x") with { ResponseFormat = LmResponseFormat.JsonObject },
            Ask("x") with { ToolChoice = LmToolChoice.Required, ThinkingBudgetTokens = 2048, MaxTokens = 4000, Temperature = 1 },
            new LmPrompt("x") { ResponseFormat = LmResponseFormat.JsonObject, ThinkingBudgetTokens = 2048, MaxTokens = 4000 },
            new LmPrompt([LmChatTurn.User("hi"), LmChatTurn.Tool("12:00")]),
            new LmPrompt([LmChatTurn.User("hi"), LmChatTurn.AssistantToolCalls([new LmToolCall("toolu_1", "get_time", "[1]")]), LmChatTurn.ToolResult("toolu_1", "x")]) { Tools = [Clock] },
        ];
        foreach (var prompt in bad)
        {
            await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(prompt));
        }

        Assert.Equal(before, MessageRequests.Count);
    }

    [Theory]
    [InlineData("""[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_a","name":"f","input":{}}]},{"role":"user","content":"no result"}]""", "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_a")]
    [InlineData("""[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_x","content":"1"}]}]""", "unexpected `tool_use_id` found in `tool_result` blocks: toolu_x")]
    [InlineData("""[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_a","name":"f","input":{}}]},{"role":"user","content":[{"type":"text","text":"first"},{"type":"tool_result","tool_use_id":"toolu_a","content":"1"}]}]""", "must come first")]
    public async Task TheFakeChecksToolBlocksAsClaudeDoes(string messages, string says)
    {
        var (status, text) = await PostAsync("""{"model":"claude-3-5-haiku-20241022","max_tokens":50,"tools":[{"name":"f","input_schema":{"type":"object"}}],"messages":""" + messages + "}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(says, text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(""","tools":[{"name":"a b","input_schema":{"type":"object"}}]""", "String should match pattern")]
    [InlineData(""","tools":[{"name":"f"}]""", "input_schema: Field required")]
    [InlineData(""","tools":[{"name":"f","input_schema":{"type":"string"}}]""", "Input should be 'object'")]
    [InlineData(""","tool_choice":{"type":"any"}""", "tool_choice may only be specified while providing tools")]
    [InlineData(""","tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"g"}""", "Tool 'g' not found")]
    public async Task TheFakeChecksToolsAndToolChoice(string extra, string says)
    {
        var (status, text) = await PostAsync("""{"model":"claude-3-5-haiku-20241022","max_tokens":50,"messages":[{"role":"user","content":"hi"}]""" + extra + "}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(says, text, StringComparison.Ordinal);
    }

    private async Task<(HttpStatusCode Status, string Text)> PostAsync(string body)
    {
        using var http = new HttpClient { BaseAddress = Server.BaseUrl };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-api-key", FakeAnthropicServer.DefaultApiKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await http.SendAsync(request);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        return (response.StatusCode, json["error"]?["message"]?.GetValue<string>() ?? json.ToJsonString());
    }
}
