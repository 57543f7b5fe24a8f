using System.Text.Json;
using LmWrapper.Caching;
using LmWrapper.HuggingFace.Generation;
using LmWrapper.HuggingFace.Tests.JsonDecoding;
using static LmWrapper.TestSupport.StreamCollector;

namespace LmWrapper.HuggingFace.Tests.Inference;

/// <summary>
/// Tools on local models: a tiny random Qwen3 with the real Qwen3 tokenizer and chat template (which reads <c>tools</c>)
/// renders the tools, calls and results, generates forced calls under the tools' schemas, and parses Hermes/Qwen
/// <c>&lt;tool_call&gt;</c> blocks; models whose template has no tools refuse them before anything runs.
/// </summary>
public sealed class HuggingFaceToolsTests
{
    private const string WeatherSchema = """{"type":"object","properties":{"city":{"type":"string","maxLength":12},"days":{"type":"integer"}},"required":["city","days"],"additionalProperties":false}""";

    private const string TimeSchema = """{"type":"object","properties":{"zone":{"enum":["UTC","CET","PST"]},"precise":{"type":"boolean"}},"required":["zone"]}""";

    // A $ref to the parameters' own $defs: it must still resolve once the parameters sit inside the call's schema.
    private const string EventSchema = """{"type":"object","properties":{"when":{"$ref":"#/$defs/day"},"tags":{"type":"array","items":{"type":"string","maxLength":6},"maxItems":2}},"required":["when","tags"],"$defs":{"day":{"type":"object","properties":{"d":{"type":"integer"}},"required":["d"],"additionalProperties":false}}}""";

    private static readonly LmToolDefinition Weather = LmToolDefinition.FromJson("get_weather", "The weather in a city", WeatherSchema);
    private static readonly LmToolDefinition Time = LmToolDefinition.FromJson("get_time", null, TimeSchema);
    private static readonly LmToolDefinition Event = LmToolDefinition.FromJson("add_event", "Adds an event", EventSchema);

    private static readonly Dictionary<string, string> Schemas = new(StringComparer.Ordinal)
    {
        ["get_weather"] = WeatherSchema,
        ["get_time"] = TimeSchema,
        ["add_event"] = EventSchema,
    };

    private static string Qwen3ToolsFolder()
    {
        // The tools system prompt is long: a wider context than the reasoning tests' qwen3-chat.
        var spec = RandomModels.Specs["qwen3"] with { VocabSize = 151669, HiddenSize = 16, NumHeads = 2, NumKvHeads = 1, HeadDim = 8, IntermediateSize = 16, MaxPositions = 1024, TokenizerFolder = HfFormatsFixtures.Path("tokenizers", "qwen3"), BosTokenId = null, EosTokenId = 151645 };
        return RandomModels.Folder("qwen3-tools", spec);
    }

    private static LmPrompt Ask(LmToolChoice? choice, double temperature = 0, int? seed = null) =>
        new([LmChatTurn.User("What is the weather in Oslo? Or the time, or add an event.")])
        {
            Tools = [Weather, Time, Event],
            ToolChoice = choice,
            MaxTokens = 80,
            Temperature = temperature,
            Seed = seed,
        };

    private static void AssertValidCall(LmPrediction p, int number = 0, string? name = null)
    {
        Assert.False(p.HasErrors, p.ErrorMessage);
        Assert.True(p.HasToolCalls, $"no tool call: {p.CompletionText} ({p.FinishReason})");
        var call = Assert.Single(p.ToolCalls);
        Assert.Equal($"call_{number}", call.Id);
        Assert.Equal("tool_calls", p.FinishReason);
        Assert.Equal(string.Empty, p.CompletionText);
        if (name is not null)
        {
            Assert.Equal(name, call.Name);
        }

        SchemaChecker.AssertMatches(Schemas[call.Name], call.Arguments);
        Assert.Equal(JsonValueKind.Object, call.GetArguments().ValueKind);
    }

    [Fact]
    public void TheToolsTemplateGivesTheCapabilityAndOthersRefuseToolsBeforeRunning()
    {
        using var qwen3 = RandomModels.Load(Qwen3ToolsFolder());
        Assert.True(qwen3.ModelInfo.Has(LmCapabilities.Tools));

        // Llama 3.0's template has no tools; stories260K has no template at all.
        var spec = RandomModels.Specs["llama"] with { TokenizerFolder = HfFormatsFixtures.Path("tokenizers", "llama3"), VocabSize = 128256, HiddenSize = 16, NumHeads = 2, NumKvHeads = 1, IntermediateSize = 16 };
        using var llama3 = RandomModels.Load(RandomModels.Folder("llama3-chat-reasoning", spec));
        using var stories = RandomModels.Load(HfFormatsFixtures.Path("models", "stories260K"));
        foreach (var lm in new[] { llama3, stories })
        {
            Assert.False(lm.ModelInfo.Has(LmCapabilities.Tools));
            var prompt = lm.IsChatModel ? new LmPrompt([LmChatTurn.User("Hi")]) : new LmPrompt("Hi");
            var e = Assert.Throws<LmPromptException>(() => lm.Predict(prompt with { Tools = [Weather], MaxTokens = 2 }));
            Assert.Equal(nameof(LmPrompt.Tools), e.FieldName);
            Assert.Contains("does not take tools", e.Message, StringComparison.Ordinal);
        }

        // In completion mode the template is not used, so neither are tools.
        using var plain = HuggingFaceLm.Get(Qwen3ToolsFolder(), new HuggingFaceLmOptions { Threads = 2, UseChatMode = false, ModelOptions = new LanguageModelOptions { CacheByDefault = false } });
        Assert.False(plain.ModelInfo.Has(LmCapabilities.Tools));
    }

    [Fact]
    public void TheToolsCallsAndResultsAreRenderedByTheTemplate()
    {
        using var lm = RandomModels.Load(Qwen3ToolsFolder());
        string Rendered(LmPrompt p) => lm.Tokenizer.Decode(lm.Encode(p).Ids);

        var ask = Ask(null);
        string withTools = Rendered(ask);
        Assert.Contains("<tools>", withTools, StringComparison.Ordinal);
        Assert.Contains("""{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city", "parameters": {"type": "object", "properties": {"city": """, withTools, StringComparison.Ordinal);
        Assert.Contains("""{"type": "function", "function": {"name": "get_time", "parameters": """, withTools, StringComparison.Ordinal);
        Assert.Contains("\"$ref\": \"#/$defs/day\"", withTools, StringComparison.Ordinal); // the tool as given, not the re-rooted constraint
        Assert.DoesNotContain("<tools>", Rendered(new LmPrompt([LmChatTurn.User("What is the weather in Oslo? Or the time, or add an event.")])), StringComparison.Ordinal);

        // The same as transformers' apply_chat_template(messages, tools=...) would be given: calls with dict arguments, results with their ids.
        var reply = new LmPrompt([
            LmChatTurn.User("Weather in Oslo?"),
            LmChatTurn.AssistantToolCalls([new LmToolCall("call_0", "get_weather", """{"city":"Oslo","days":1}""")]),
            LmChatTurn.ToolResult("call_0", "12 C, rain"),
        ]) { Tools = [Weather] };
        string dialog = Rendered(reply);
        Assert.Contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": 1}}\n</tool_call>", dialog, StringComparison.Ordinal);
        Assert.Contains("<|im_start|>user\n<tool_response>\n12 C, rain\n</tool_response><|im_end|>\n<|im_start|>assistant\n", dialog, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.0, null)]
    [InlineData(1.0, 7)]
    [InlineData(1.3, 8)]
    public void RequiredGivesOneValidCallOfOneOfTheTools(double temperature, int? seed)
    {
        using var lm = RandomModels.Load(Qwen3ToolsFolder());
        var prompt = Ask(LmToolChoice.Required, temperature, seed);
        var p = lm.Predict(prompt);
        AssertValidCall(p);
        if (seed is not null)
        {
            // Seeded calls are reproducible.
            Assert.Equal(p.ToolCalls, lm.Predict(prompt with { }).ToolCalls);
        }
    }

    [Theory]
    [InlineData("get_weather", 0.0, null)]
    [InlineData("get_time", 1.0, 3)]
    [InlineData("add_event", 1.0, 5)]
    [InlineData("add_event", 0.0, null)]
    public void NamedGivesAValidCallOfThatTool(string name, double temperature, int? seed)
    {
        using var lm = RandomModels.Load(Qwen3ToolsFolder());
        var p = lm.Predict(Ask(LmToolChoice.Named(name), temperature, seed) with { NumCompletions = 2 });
        Assert.Equal(2, p.Completions.Count);
        foreach (var c in p.Completions)
        {
            AssertValidCall(c, name: name);
        }
    }

    [Fact]
    public void AToolResultContinuesTheDialogAndTheNextCallIsNumberedOn()
    {
        using var lm = RandomModels.Load(Qwen3ToolsFolder());
        var first = lm.Predict(Ask(LmToolChoice.Named("get_weather")));
        AssertValidCall(first, 0, "get_weather");
        var reply = first.MakeReplyPrompt([LmChatTurn.ToolResult(first.ToolCalls[0].Id, "12 C, rain")]);
        Assert.Contains("<tool_response>\n12 C, rain\n</tool_response>", lm.Tokenizer.Decode(lm.Encode(reply).Ids), StringComparison.Ordinal);

        var answer = lm.Predict(reply with { ToolChoice = null, MaxTokens = 5 });
        Assert.False(answer.HasErrors, answer.ErrorMessage);
        var again = lm.Predict(reply with { ToolChoice = LmToolChoice.Required });
        AssertValidCall(again, number: 1);
    }

    [Fact]
    public async Task RunToolsRunsTheHandlerAndEndsWithAnAnswerOrTheLoopLimit()
    {
        using var lm = RandomModels.Load(Qwen3ToolsFolder());
        var seen = new List<JsonElement>();
        var handlers = new Dictionary<string, Func<JsonElement, CancellationToken, Task<string>>>
        {
            ["get_weather"] = (args, ct) =>
            {
                seen.Add(args.Clone());
                return Task.FromResult("12 C, rain");
            },
            ["get_time"] = (args, ct) => Task.FromResult("12:00"),
            ["add_event"] = (args, ct) => Task.FromResult("added"),
        };

        // Named applies to the first step only; after it, the random model answers freely (it may or may not call again).
        var prompt = Ask(LmToolChoice.Named("get_weather")) with { MaxTokens = 40 };
        try
        {
            var final = await lm.RunToolsAsync(prompt, handlers, maxSteps: 3);
            Assert.False(final.HasToolCalls);
            Assert.False(final.HasErrors, final.ErrorMessage);
        }
        catch (LmToolLoopException e)
        {
            Assert.Contains("maxSteps = 3", e.Message, StringComparison.Ordinal);
        }

        Assert.NotEmpty(seen);
        SchemaChecker.AssertMatches(WeatherSchema, seen[0].GetRawText());
    }

    [Fact]
    public async Task ForcedCallsSurviveTheCacheStreamingAndBatches()
    {
        using var dir = new TempDir();
        using var cache = LmCache.Open(dir.File("cache.sqlite3"));
        using var lm = RandomModels.Load(Qwen3ToolsFolder(), new LanguageModelOptions { Cache = cache, CacheByDefault = true });
        var prompts = new[] { Ask(LmToolChoice.Required, 1.0, 1), Ask(LmToolChoice.Named("add_event"), 0.9, 2), Ask(LmToolChoice.None) with { MaxTokens = 6 } };
        var many = lm.PredictMany(prompts, CompletionWindow.BatchAny).ToList();
        AssertValidCall(many[0]);
        AssertValidCall(many[1], name: "add_event");
        Assert.False(many[2].HasToolCalls); // None: tools rendered, nothing parsed or forced

        using var fresh = RandomModels.Load(Qwen3ToolsFolder());
        for (int i = 0; i < prompts.Length; i++)
        {
            var cached = lm.Predict(prompts[i]);
            Assert.True(cached.WasCached);
            Assert.Equal(many[i].ToolCalls, cached.ToolCalls);
            Assert.Equal(many[i].FinishReason, cached.FinishReason);

            // Alone (another model object, no cache) it is the same as in the batch.
            var alone = fresh.Predict(prompts[i]);
            Assert.Equal(many[i].ToolCalls, alone.ToolCalls);
            Assert.Equal(many[i].CompletionText, alone.CompletionText);
        }

        // Streaming: nothing of the call's JSON is sent as text, and the final prediction is Predict's.
        var (updates, streamed) = await CollectAsync(fresh, prompts[1]);
        Assert.Equal(many[1].ToolCalls, streamed.ToolCalls);
        Assert.Equal("tool_calls", streamed.FinishReason);
        Assert.Equal(string.Empty, string.Concat(updates.Select(u => u.Text)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("required")]
    public void ToolsWithAResponseFormatAreRefusedBeforeRunning(string? choice)
    {
        // Both would constrain the same output; the combination is refused (as Claude refuses it), not silently half-applied.
        using var lm = RandomModels.Load(Qwen3ToolsFolder());
        var prompt = Ask(choice is null ? null : LmToolChoice.Required) with { ResponseFormat = LmResponseFormat.JsonObject };
        var e = Assert.Throws<LmPromptException>(() => lm.Predict(prompt));
        Assert.Equal(nameof(LmPrompt.ResponseFormat), e.FieldName);
        Assert.Contains("Tools", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AForcedCallWhoseToolSchemaIsOutsideTheSubsetIsRefusedBeforeRunning()
    {
        using var lm = RandomModels.Load(Qwen3ToolsFolder());
        var coded = LmToolDefinition.FromJson("lookup", null, """{"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z]+$"}}}""");
        var prompt = new LmPrompt([LmChatTurn.User("Look it up")]) { Tools = [coded, Weather], ToolChoice = LmToolChoice.Required, MaxTokens = 20 };
        var e = Assert.Throws<LmPromptException>(() => lm.Predict(prompt));
        Assert.Equal(nameof(LmPrompt.Tools), e.FieldName);
        Assert.Contains("'pattern'", e.Message, StringComparison.Ordinal);

        // Only the forced tool's schema is compiled: naming the other one, or leaving the choice to the model, runs.
        Assert.False(lm.Predict(prompt with { ToolChoice = LmToolChoice.Named("get_weather") }).HasErrors);
        Assert.False(lm.Predict(prompt with { ToolChoice = null, MaxTokens = 3 }).HasErrors);
    }

    [Fact]
    public void AnAutoSamplesToolCallBlocksBecomeCallsAndAreNeverStreamedAsText()
    {
        // The path a generated sample takes (the random model will not write a <tool_call> block itself): prediction
        // building, and the stream's hold-back fed the same pieces.
        using var lm = RandomModels.Load(Qwen3ToolsFolder());
        var prompt = Ask(LmToolChoice.Auto);
        string[] pieces = ["Sure", ". ", "<tool_call>", "\n{\"name\": \"get_time\", ", "\"arguments\": {\"zone\": \"UTC\"}}\n", "</tool_call>", "\n"];
        var sample = new GeneratedSample { Tokens = [.. pieces.Select((_, i) => i + 10)], Pieces = [.. pieces], Logprobs = [.. pieces.Select(_ => -0.5)], FinishReason = "stop" };
        var p = PredictionBuilder.Build(prompt, lm.Encode(prompt), new GenerationResult { Samples = [sample] }, sample, lm.Tokenizer, lm.TokenText);
        Assert.Equal("Sure. ", p.CompletionText);
        Assert.Equal("tool_calls", p.FinishReason);
        var call = Assert.Single(p.ToolCalls);
        Assert.Equal(("call_0", "get_time"), (call.Id, call.Name));
        Assert.Equal("UTC", call.GetArguments().GetProperty("zone").GetString());

        var hold = new StreamHoldBack(0, [LocalToolCalls.OpenTag], withLogprobs: false);
        var streamed = pieces.Select(piece => hold.Add(piece, -0.5)?.Text ?? string.Empty).ToList();
        Assert.DoesNotContain(streamed, t => t.Contains('<', StringComparison.Ordinal));
        Assert.Equal(p.CompletionText, string.Concat(streamed) + hold.Finish(p).Text);

        // With None the same text stays text.
        var none = prompt with { ToolChoice = LmToolChoice.None };
        var kept = PredictionBuilder.Build(none, lm.Encode(none), new GenerationResult { Samples = [sample] }, sample, lm.Tokenizer, lm.TokenText);
        Assert.Equal(string.Concat(pieces), kept.CompletionText);
        Assert.False(kept.HasToolCalls);
        Assert.Equal("stop", kept.FinishReason);

        // A forced call's JSON is held back whole: nothing before the final update, which carries every token.
        var all = new StreamHoldBack(0, null, withLogprobs: false, holdAll: true);
        Assert.All(pieces, piece => Assert.Null(all.Add(piece, -0.5)));
        Assert.Equal(pieces.Length, all.Finish(p).Tokens!.Count);
    }

    [Fact]
    public void ToolCallBlocksAreParsedOutOfFreeText()
    {
        LmToolDefinition[] tools = [Weather, Time];
        string text = "<think>\nWeather first.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": 2}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": \"{\\\"zone\\\": \\\"CET\\\"}\"}\n</tool_call>";
        var calls = LocalToolCalls.ParseBlocks(text, tools, out string rest);
        Assert.NotNull(calls);
        Assert.Equal(["get_weather", "get_time"], calls.Select(c => c.Name));
        Assert.Equal("Oslo", JsonDocument.Parse(calls[0].Arguments).RootElement.GetProperty("city").GetString());
        Assert.Equal("CET", JsonDocument.Parse(calls[1].Arguments).RootElement.GetProperty("zone").GetString()); // arguments given as JSON text
        Assert.Equal("<think>\nWeather first.\n</think>\n\n", rest);

        // An unclosed last block (generation ended at </tool_call>'s start) still counts; missing arguments are {}.
        calls = LocalToolCalls.ParseBlocks("Sure. <tool_call>{\"name\": \"get_time\"}", tools, out rest);
        Assert.Equal(("get_time", "{}"), Assert.Single(calls!));
        Assert.Equal("Sure. ", rest);

        // Invalid JSON, an unknown tool, or arguments that are not an object: the text stays as is, no calls.
        foreach (var bad in new[]
        {
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \n</tool_call>",
            "<tool_call>{\"name\": \"get_weather\", \"arguments\": {}}</tool_call> <tool_call>{\"name\": \"send_mail\", \"arguments\": {}}</tool_call>",
            "<tool_call>{\"name\": \"get_weather\", \"arguments\": [1]}</tool_call>",
            "No calls here.",
        })
        {
            Assert.Null(LocalToolCalls.ParseBlocks(bad, tools, out rest));
            Assert.Equal(bad, rest);
        }
    }

    [Fact]
    public void OnlyAutoParsesTextAndCallsAreNumberedAfterTheDialogsCalls()
    {
        string text = "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"days\": 1}}</tool_call>";
        var dialog = new LmChatTurn[]
        {
            LmChatTurn.User("Weather?"),
            LmChatTurn.AssistantToolCalls([new LmToolCall("call_0", "get_weather", "{}"), new LmToolCall("call_1", "get_time", "{}")]),
            LmChatTurn.ToolResult("call_0", "rain"),
            LmChatTurn.ToolResult("call_1", "noon"),
        };
        foreach (var choice in new[] { null, LmToolChoice.Auto })
        {
            var (calls, rest) = LocalToolCalls.Extract(new LmPrompt(dialog) { Tools = [Weather, Time], ToolChoice = choice }, text)!.Value;
            Assert.Equal("call_2", Assert.Single(calls).Id);
            Assert.Equal(string.Empty, rest);
        }

        Assert.Null(LocalToolCalls.Extract(new LmPrompt(dialog) { Tools = [Weather, Time], ToolChoice = LmToolChoice.None }, text));
        Assert.Null(LocalToolCalls.Extract(new LmPrompt(dialog), text));
    }
}
