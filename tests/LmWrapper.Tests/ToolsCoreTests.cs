using System.Text.Json;
using LmWrapper.Caching;
using LmWrapper.Tools;

namespace LmWrapper.Tests;

/// <summary>Tools and structured output in the core: keys, equality, JSON, validation, schemas, the mock, the loop and typed answers.</summary>
public sealed class ToolsCoreTests
{
    private static readonly LmToolDefinition Weather = LmToolDefinition.FromJson(
        "get_weather", "The weather", """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""");

    private static readonly LmToolDefinition Clock = LmToolDefinition.FromJson("get_time", null, """{"type":"object","properties":{}}""");

    private static readonly LmToolCall Call = new("call_1", "get_weather", """{"city":"Oslo"}""");

    public sealed record Forecast(string City, int Days, bool Windy, List<string> Skies, Place? Near);

    public sealed record Place(string Name, double Km);

    private static LmPrompt Conversation() => new([
        LmChatTurn.User("Weather?"),
        LmChatTurn.AssistantToolCalls([Call]),
        LmChatTurn.ToolResult("call_1", "Sunny"),
    ])
    { Tools = [Weather, Clock], ToolChoice = LmToolChoice.Auto, ResponseFormat = LmResponseFormat.JsonObject };

    [Fact]
    public void OldKeysStayAndEveryToolFieldChangesTheKey()
    {
        // A prompt without tool fields keeps the key it had before tools existed (pinned in ReasoningFieldsTests too).
        Assert.Equal("764b1721fd150c9144b086c87155ea08", CacheKey.Compute("openai/gpt-4o-mini", new LmPrompt("What is 2+2?") { MaxTokens = 10 }).ToString());

        var baseline = new LmPrompt([LmChatTurn.User("Weather?"), LmChatTurn.AssistantToolCalls([Call]), LmChatTurn.ToolResult("call_1", "Sunny")]);
        LmPrompt[] variants =
        [
            baseline with { Tools = [Weather] },
            baseline with { Tools = [Weather, Clock] },
            baseline with { Tools = [LmToolDefinition.FromJson("get_weather", "Other words", Weather.ParametersJson)] },
            baseline with { Tools = [Weather], ToolChoice = LmToolChoice.Required },
            baseline with { Tools = [Weather], ToolChoice = LmToolChoice.Named("get_weather") },
            baseline with { ResponseFormat = LmResponseFormat.JsonObject },
            baseline with { ResponseFormat = LmResponseFormat.ForType<Forecast>() },
            new LmPrompt([LmChatTurn.User("Weather?"), LmChatTurn.AssistantToolCalls([Call with { Arguments = """{"city":"Rome"}""" }]), LmChatTurn.ToolResult("call_1", "Sunny")]),
            new LmPrompt([LmChatTurn.User("Weather?"), LmChatTurn.Assistant("x"), LmChatTurn.Tool("Sunny")]),
        ];
        var keys = variants.Select(v => CacheKey.Compute("m", v)).Append(CacheKey.Compute("m", baseline)).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
    }

    [Fact]
    public void PromptsWithTheSameToolsMadeSeparatelyAreEqualAndShareAKey()
    {
        var a = Conversation();
        var b = new LmPrompt([
            LmChatTurn.User("Weather?"),
            LmChatTurn.AssistantToolCalls([new LmToolCall("call_1", "get_weather", """{"city":"Oslo"}""")]),
            LmChatTurn.ToolResult("call_1", "Sunny"),
        ])
        {
            Tools = [LmToolDefinition.FromJson("get_weather", "The weather", Weather.ParametersJson), Clock],
            ToolChoice = LmToolChoice.Auto,
            ResponseFormat = LmResponseFormat.JsonObject,
        };
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(CacheKey.Compute("m", a), CacheKey.Compute("m", b));
        Assert.NotEqual(a, b with { ToolChoice = LmToolChoice.None });
        Assert.NotEqual(a, b with { Tools = [Weather] });
    }

    [Fact]
    public void PromptAndPredictionJsonKeepEveryToolField()
    {
        var prompt = Conversation() with { ResponseFormat = LmResponseFormat.ForType<Forecast>(), ToolChoice = LmToolChoice.Named("get_time") };
        var back = LmPrompt.FromJson(prompt.ToJson());
        Assert.Equal(prompt, back);
        Assert.Equal(Call, back.Chat![1].ToolCalls![0]);
        Assert.Equal("call_1", back.Chat[2].ToolCallId);

        var prediction = new LmPrediction { CompletionText = string.Empty, Prompt = prompt, FinishReason = "tool_calls", ToolCalls = [Call] };
        var read = LmPrediction.FromJson(prediction.ToJson());
        Assert.Equal([Call], read.ToolCalls);
        Assert.True(read.HasToolCalls);
        Assert.Contains("\"tool_calls\"", prediction.ToJson(), StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => LmPrompt.FromJson("""{"text":"x","tools":[{"name":"bad name","parameters":{"type":"object"}}]}"""));
        Assert.Throws<FormatException>(() => LmPrompt.FromJson("""{"text":"x","tool_choice":{"type":"sometimes"}}"""));
    }

    [Fact]
    public async Task TheCacheKeepsToolCallsAndAReplyCarriesThemOnTheAssistantTurn()
    {
        using var cache = LmCache.OpenInMemory();
        var lm = new MockLm(options: new LanguageModelOptions { Cache = cache, CacheByDefault = true }, isChatModel: true);
        var prompt = new LmPrompt("Please call get_weather") { Tools = [Weather] };
        var fresh = await lm.PredictAsync(prompt);
        var cached = await lm.PredictAsync(prompt);
        Assert.True(cached.WasCached);
        Assert.Equal(1, lm.CallCount);
        Assert.Equal(fresh.ToolCalls, cached.ToolCalls);
        Assert.Equal("tool_calls", cached.FinishReason);
        Assert.Equal("get_weather", cached.ToolCalls[0].Name);
        Assert.Null(JsonSchemaShape.Check(cached.ToolCalls[0].GetArguments(), Weather.Parameters));

        var reply = cached.MakeReplyPrompt([LmChatTurn.ToolResult(cached.ToolCalls[0].Id, "Sunny")]);
        Assert.Equal(cached.ToolCalls, reply.Chat![1].ToolCalls);
        Assert.Equal(string.Empty, reply.Chat[1].Content);
        Assert.Equal("Sunny", (await lm.PredictAsync(reply)).CompletionText);
    }

    [Theory]
    [InlineData("duplicate")]
    [InlineData("choice-without-tools")]
    [InlineData("named-unknown")]
    [InlineData("result-without-call")]
    [InlineData("unanswered-call")]
    [InlineData("call-id-on-user")]
    [InlineData("calls-on-user")]
    [InlineData("answered-twice")]
    public void MalformedToolUseIsAPromptExceptionNamingTheField(string what)
    {
        LmPrompt prompt = what switch
        {
            "duplicate" => new LmPrompt("x") { Tools = [Weather, Weather] },
            "choice-without-tools" => new LmPrompt("x") { ToolChoice = LmToolChoice.Required },
            "named-unknown" => new LmPrompt("x") { Tools = [Weather], ToolChoice = LmToolChoice.Named("get_time") },
            "result-without-call" => new LmPrompt([LmChatTurn.User("x"), LmChatTurn.ToolResult("call_1", "r")]),
            "unanswered-call" => new LmPrompt([LmChatTurn.User("x"), LmChatTurn.AssistantToolCalls([Call]), LmChatTurn.User("y")]),
            "call-id-on-user" => new LmPrompt([LmChatTurn.User("x") with { ToolCallId = "call_1" }]),
            "calls-on-user" => new LmPrompt([LmChatTurn.User("x") with { ToolCalls = [Call] }]),
            "answered-twice" => new LmPrompt([LmChatTurn.User("x"), LmChatTurn.AssistantToolCalls([Call]), LmChatTurn.ToolResult("call_1", "a"), LmChatTurn.ToolResult("call_1", "b")]),
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };
        var e = Assert.Throws<LmPromptException>(prompt.Validate);
        Assert.Equal(what switch { "duplicate" => "Tools", "choice-without-tools" or "named-unknown" => "ToolChoice", _ => "Chat" }, e.FieldName);
        Conversation().Validate(); // the well-formed one passes
    }

    [Fact]
    public void BadDefinitionsAndFormatsAreRefusedWhenMade()
    {
        Assert.Contains("^[a-zA-Z0-9_-]{1,64}$", Assert.Throws<LmPromptException>(() => LmToolDefinition.FromJson("has space", null, "{}")).Message, StringComparison.Ordinal);
        Assert.Throws<LmPromptException>(() => LmToolDefinition.FromJson(new string('a', 65), null, "{}"));
        Assert.Throws<LmPromptException>(() => LmToolDefinition.FromJson("f", null, "[1]"));
        Assert.Throws<LmPromptException>(() => LmToolDefinition.FromJson("f", null, "{not json"));
        Assert.Throws<LmPromptException>(() => LmToolChoice.Named("a b"));

        using var open = JsonDocument.Parse("""{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}""");
        var e = Assert.Throws<LmPromptException>(() => LmResponseFormat.ForJsonSchema(open.RootElement, "x"));
        Assert.Contains("additionalProperties", e.Message, StringComparison.Ordinal);
        Assert.Equal(LmResponseFormatKind.JsonSchema, LmResponseFormat.ForJsonSchema(open.RootElement, "x", strict: false).Kind);

        using var optional = JsonDocument.Parse("""{"type":"object","additionalProperties":false,"properties":{"a":{"type":"object","additionalProperties":false,"properties":{"b":{"type":"string"}}}},"required":["a"]}""");
        Assert.Contains("\"b\" at $.a", Assert.Throws<LmPromptException>(() => LmResponseFormat.ForJsonSchema(optional.RootElement, "x")).Message, StringComparison.Ordinal);

        using var array = JsonDocument.Parse("""{"type":"array"}""");
        Assert.Throws<LmPromptException>(() => LmResponseFormat.ForJsonSchema(array.RootElement, "x", strict: false));
        Assert.Throws<LmPromptException>(() => LmResponseFormat.ForJsonSchema(open.RootElement, "bad name", strict: false));
    }

    [Fact]
    public void ForTypeMakesAStrictSchemaThatItsOwnMinimalInstanceFitsAndDeserializes()
    {
        var format = LmResponseFormat.ForType<Forecast>();
        Assert.Equal("Forecast", format.Name);
        Assert.True(format.Strict);
        Assert.Null(JsonSchemaShape.StrictProblem(format.Schema));
        Assert.Equal(["city", "days", "windy", "skies", "near"], format.Schema.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("integer", format.Schema.GetProperty("properties").GetProperty("days").GetProperty("type").GetString());

        string sample = JsonSchemaShape.SampleJson(format.Schema);
        using var doc = JsonDocument.Parse(sample);
        Assert.Null(JsonSchemaShape.Check(doc.RootElement, format.Schema));
        var value = doc.RootElement.Deserialize<Forecast>(LmResponseFormat.DefaultJsonOptions)!;
        Assert.NotNull(value.Skies);
        Assert.Throws<LmPromptException>(() => LmResponseFormat.ForType<List<Forecast>>()); // not an object at the root
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"a":{"enum":["x","y"]},"b":{"type":"array","items":{"type":"integer"},"minItems":2}},"required":["a","b"]}""", """{"a":"z","b":[1,2]}""", "$.a must be one of")]
    [InlineData("""{"type":"object","properties":{"a":{"$ref":"#/$defs/n"}},"$defs":{"n":{"type":"number","minimum":3}},"required":["a"]}""", """{"a":"3"}""", "$.a must be \"number\"")]
    [InlineData("""{"type":"object","properties":{"a":{"anyOf":[{"type":"string"},{"type":"null"}]}},"required":["a"]}""", """{"a":1}""", "$.a fits none")]
    [InlineData("""{"type":"object","additionalProperties":false,"properties":{"a":{"type":"boolean"}},"required":["a"]}""", """{"a":true,"b":1}""", "\"b\", which the schema does not allow")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}""", """{}""", "lacks the required property \"a\"")]
    public void SchemaShapeSamplesFitAndBadInstancesAreNamed(string schemaJson, string badJson, string problem)
    {
        using var schema = JsonDocument.Parse(schemaJson);
        using var sample = JsonDocument.Parse(JsonSchemaShape.SampleJson(schema.RootElement));
        Assert.Null(JsonSchemaShape.Check(sample.RootElement, schema.RootElement));
        using var bad = JsonDocument.Parse(badJson);
        Assert.Contains(problem, JsonSchemaShape.Check(bad.RootElement, schema.RootElement), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheLoopChecksItsHandlersFirstAndNamesTheStepLimit()
    {
        var lm = new MockLm(isChatModel: true);
        var handlers = new Dictionary<string, Func<JsonElement, CancellationToken, Task<string>>> { ["get_weather"] = (a, _) => Task.FromResult("Rain in " + a.GetProperty("city").GetString()) };
        var missing = await Assert.ThrowsAsync<LmPromptException>(() => lm.RunToolsAsync(new LmPrompt("call get_weather") { Tools = [Weather, Clock] }, handlers));
        Assert.Contains("get_time", missing.Message, StringComparison.Ordinal);
        Assert.Equal(0, lm.CallCount);

        var done = await lm.RunToolsAsync(new LmPrompt("call get_weather") { Tools = [Weather] }, handlers);
        Assert.Equal("Rain in text", done.CompletionText);
        Assert.Equal(2, lm.CallCount);

        // A handler whose result asks again keeps the mock calling: the limit stops it with a typed error.
        var again = new Dictionary<string, Func<JsonElement, CancellationToken, Task<string>>> { ["get_weather"] = (_, _) => Task.FromResult("x") };
        var echoCalls = new MockLm(p => "call get_weather", isChatModel: true);
        var prompt = new LmPrompt([LmChatTurn.User("call get_weather")]) { Tools = [Weather] };
        var limit = await Assert.ThrowsAsync<LmToolLoopException>(() => echoCalls.RunToolsAsync(prompt with { ToolChoice = LmToolChoice.Required }, again, maxSteps: 1));
        Assert.Contains("maxSteps = 1", limit.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PredictAsyncOfTDeserializesAndATypedErrorCarriesTheRawText()
    {
        var lm = new MockLm(p => """{"city":"Oslo","days":"many"}""", isChatModel: true);
        var e = await Assert.ThrowsAsync<LmStructuredOutputException>(() => lm.PredictAsync<Forecast>(new LmPrompt("Forecast as JSON") { ResponseFormat = LmResponseFormat.JsonObject }));
        Assert.Equal("""{"city":"Oslo","days":"many"}""", e.RawText);

        var fitted = await lm.PredictAsync<Forecast>(new LmPrompt("Forecast"));
        Assert.NotNull(fitted.Skies); // the mock answered a minimal instance of the schema, as its text did not fit

        var broken = new LmPrediction { CompletionText = "{\"city\":", Prompt = new LmPrompt("x") { ResponseFormat = LmResponseFormat.JsonObject }, FinishReason = "length" };
        var cut = Assert.Throws<LmStructuredOutputException>(() => broken.GetCompletionJson());
        Assert.Contains("MaxTokens", cut.Message, StringComparison.Ordinal);
        Assert.Equal("{\"city\":", cut.RawText);
    }

    [Fact]
    public async Task AModelWithoutTheCapabilitiesRefusesBeforeAnything()
    {
        var lm = new CountingLm(new LanguageModelOptions());
        var tools = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(new LmPrompt("x") { Tools = [Weather] }));
        Assert.Equal("Tools", tools.FieldName);
        var format = await Assert.ThrowsAsync<LmPromptException>(() => lm.PredictAsync(new LmPrompt("x") { ResponseFormat = LmResponseFormat.JsonObject }));
        Assert.Equal("ResponseFormat", format.FieldName);
        Assert.Equal(0, lm.CallCount);
    }
}
