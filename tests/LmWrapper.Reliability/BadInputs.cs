using System.Text;
using LmWrapper.Anthropic;
using LmWrapper.Caching;
using LmWrapper.HuggingFace;
using LmWrapper.HuggingFace.ChatTemplates;
using LmWrapper.HuggingFace.Hub;
using LmWrapper.HuggingFace.Safetensors;
using LmWrapper.Internals;
using LmWrapper.OpenAI;
using LmWrapper.Retry;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Reliability;

/// <summary>
/// The hostile-input table: prompts, configuration, files (safetensors, tokenizer.json, config.json, chat templates, hub
/// file names) and cache files. Each case must give its typed exception, whose message names the field, setting, file or
/// line, before any request reaches a server.
/// </summary>
public static class BadInputs
{
    /// <summary>Every case.</summary>
    public static IReadOnlyList<BadInputCase> Cases { get; } = Build();

    /// <summary>Runs one case; null when it behaved, else what was wrong.</summary>
    /// <param name="c">The case.</param>
    /// <param name="context">The fakes and scratch folder.</param>
    public static async Task<string?> CheckAsync(BadInputCase c, BadInputContext context)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(context);
        int before = context.RequestsSent;
        Exception? thrown = null;
        try
        {
            await c.Act(context);
        }
        catch (Exception e)
        {
            thrown = e;
        }

        int sent = context.RequestsSent - before;
        if (thrown is null)
        {
            return $"{c.Name}: no exception (expected {c.Exception.Name}); {sent} request(s) sent";
        }

        if (!c.Exception.IsInstanceOfType(thrown))
        {
            return $"{c.Name}: {thrown.GetType().Name} instead of {c.Exception.Name}: {thrown.Message}";
        }

        if (!thrown.Message.Contains(c.Names, StringComparison.OrdinalIgnoreCase))
        {
            return $"{c.Name}: the message does not name \"{c.Names}\": {thrown.Message}";
        }

        return sent != 0 ? $"{c.Name}: {sent} request(s) reached a server before the refusal" : null;
    }

    private static BadInputCase OpenAiPrompt(string name, string names, Func<LmPrompt> make) =>
        new("openai prompt: " + name, typeof(LmPromptException), names, async c =>
        {
            using var lm = c.Gpt();
            await lm.PredictAsync(make());
        });

    private static BadInputCase ClaudePrompt(string name, string names, Func<LmPrompt> make) =>
        new("claude prompt: " + name, typeof(LmPromptException), names, async c =>
        {
            using var lm = c.Haiku();
            await lm.PredictAsync(make());
        });

    private static BadInputCase OpenAiMany(string name, string names, Func<LmPrompt> make) =>
        new("openai PredictMany: " + name, typeof(LmPromptException), names, async c =>
        {
            using var lm = c.Gpt();
            await foreach (var _ in lm.PredictManyAsync([new LmPrompt("fine") { MaxTokens = 5 }, make()], CompletionWindow.BatchAny))
            {
            }
        });

    private static BadInputCase Setting(string name, Type exception, string names, Action<BadInputContext> act) =>
        new("setting: " + name, exception, names, c =>
        {
            act(c);
            return Task.CompletedTask;
        });

    private static BadInputCase File(string name, Type exception, string names, Action<BadInputContext> act) =>
        new("file: " + name, exception, names, c =>
        {
            act(c);
            return Task.CompletedTask;
        });

    private static Dictionary<string, string> Env(params string[] pairs)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < pairs.Length; i += 2)
        {
            d[pairs[i]] = pairs[i + 1];
        }

        return d;
    }

    /// <summary>A safetensors file: a declared header length, the header text and data bytes.</summary>
    private static byte[] Safetensors(string header, int dataBytes, long? declaredLength = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), declaredLength ?? json.Length);
        json.CopyTo(bytes, 8);
        return bytes;
    }

    private static void OpenSafetensors(BadInputContext c, byte[] bytes)
    {
        using var f = SafetensorsFile.Open(c.WriteFile("model.safetensors", bytes));
    }

    private static void LoadTokenizer(BadInputContext c, string json) => HuggingFaceTokenizer.FromFile(c.WriteFile("tokenizer.json", json));

    private static string ModelFolder(BadInputContext c, string configJson)
    {
        string dir = Path.Combine(c.Folder, "model-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        System.IO.File.WriteAllText(Path.Combine(dir, "config.json"), configJson);
        System.IO.File.WriteAllText(Path.Combine(dir, "tokenizer.json"), Fuzzers.BaseTokenizerJson());
        return dir;
    }

    private static void Render(string template)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        ChatTemplate.Parse(template).Render([LmChatTurn.User("hi")], cancellationToken: cts.Token);
    }

    private static List<BadInputCase> Build()
    {
        string tenMegabytes = new('a', 10 << 20);
        string bigWords = string.Join(' ', Enumerable.Repeat("word", 1_300_000));
        var cases = new List<BadInputCase>
        {
            // Prompts, OpenAI.
            OpenAiPrompt("empty text", "Text", () => new LmPrompt(string.Empty)),
            OpenAiPrompt("10 MB prompt that cannot fit", "context window", () => new LmPrompt(bigWords)),
            OpenAiPrompt("MaxTokens 0", "MaxTokens", () => new LmPrompt("hi") { MaxTokens = 0 }),
            OpenAiPrompt("MaxTokens -1", "MaxTokens", () => new LmPrompt("hi") { MaxTokens = -1 }),
            OpenAiPrompt("MaxTokens past the model's output", "MaxTokens", () => new LmPrompt("hi") { MaxTokens = 1_000_000 }),
            OpenAiPrompt("Temperature NaN", "Temperature", () => new LmPrompt("hi") { Temperature = double.NaN }),
            OpenAiPrompt("Temperature -1", "Temperature", () => new LmPrompt("hi") { Temperature = -1 }),
            OpenAiPrompt("Temperature 3", "Temperature", () => new LmPrompt("hi") { Temperature = 3 }),
            OpenAiPrompt("Temperature infinity", "Temperature", () => new LmPrompt("hi") { Temperature = double.PositiveInfinity }),
            OpenAiPrompt("TopP NaN", "TopP", () => new LmPrompt("hi") { TopP = double.NaN }),
            OpenAiPrompt("TopP 1.5", "TopP", () => new LmPrompt("hi") { TopP = 1.5 }),
            OpenAiPrompt("TopP -0.1", "TopP", () => new LmPrompt("hi") { TopP = -0.1 }),
            OpenAiPrompt("NumCompletions 0", "NumCompletions", () => new LmPrompt("hi") { NumCompletions = 0 }),
            OpenAiPrompt("NumCompletions -3", "NumCompletions", () => new LmPrompt("hi") { NumCompletions = -3 }),
            OpenAiPrompt("NumCompletions 129", "NumCompletions", () => new LmPrompt("hi") { NumCompletions = 129 }),
            OpenAiPrompt("Logprobs -1", "Logprobs", () => new LmPrompt("hi") { Logprobs = -1 }),
            OpenAiPrompt("Logprobs 50", "Logprobs", () => new LmPrompt("hi") { Logprobs = 50 }),
            OpenAiPrompt("five stop sequences", "Stop", () => new LmPrompt("hi") { Stop = ["a", "b", "c", "d", "e"] }),
            OpenAiPrompt("PresencePenalty 3", "PresencePenalty", () => new LmPrompt("hi") { PresencePenalty = 3 }),
            OpenAiPrompt("PresencePenalty NaN", "PresencePenalty", () => new LmPrompt("hi") { PresencePenalty = double.NaN }),
            OpenAiPrompt("FrequencyPenalty -3", "FrequencyPenalty", () => new LmPrompt("hi") { FrequencyPenalty = -3 }),
            OpenAiPrompt("Echo on a chat model", "Echo", () => new LmPrompt("hi") { Echo = true }),
            OpenAiPrompt("AddBosToken on an API model", "AddBosToken", () => new LmPrompt("hi") { AddBosToken = true }),
            OpenAiPrompt("model internals on an API model", "Internals", () => new LmPrompt("hi") { Internals = new ModelInternalsRequest { HiddenStates = true } }),
            OpenAiPrompt("lone high surrogate", "surrogate", () => new LmPrompt("a\ud800b")),
            OpenAiPrompt("lone low surrogate", "surrogate", () => new LmPrompt("a\udc00b")),
            OpenAiPrompt("empty chat", "Chat", () => new LmPrompt(Array.Empty<LmChatTurn>())),
            OpenAiPrompt("system turn after a user turn", "system", () => new LmPrompt([LmChatTurn.User("a"), LmChatTurn.System("b")])),
            OpenAiPrompt("tool turn", "Chat", () => new LmPrompt([LmChatTurn.User("a"), new LmChatTurn(LmChatRole.Tool, "b")])),
            OpenAiPrompt("empty stop sequence", "Stop", () => new LmPrompt("hi") { Stop = [string.Empty] }),
            OpenAiPrompt("tool result answering no call", "call_x", () => new LmPrompt([LmChatTurn.User("a"), LmChatTurn.ToolResult("call_x", "b")])),
            OpenAiPrompt("tool call left unanswered", "call_1", () => new LmPrompt([LmChatTurn.User("a"), LmChatTurn.AssistantToolCalls([new LmToolCall("call_1", "t", "{}")]), LmChatTurn.User("b")])),
            OpenAiPrompt("tool choice naming no tool", "ToolChoice", () => new LmPrompt("hi") { Tools = [LmToolDefinition.FromJson("t", null, "{}")], ToolChoice = LmToolChoice.Named("other") }),
            OpenAiPrompt("JSON object format without the word JSON", "json", () => new LmPrompt("hi") { ResponseFormat = LmResponseFormat.JsonObject }),
            OpenAiMany("one bad prompt among good ones", "Prompt 1", () => new LmPrompt("hi") { MaxTokens = -5 }),
            OpenAiMany("a prompt that cannot fit", "Prompt 1", () => new LmPrompt(bigWords)),

            // Prompts, Claude.
            ClaudePrompt("empty text", "Text", () => new LmPrompt(string.Empty)),
            ClaudePrompt("10 MB prompt that cannot fit", "context window", () => new LmPrompt(tenMegabytes)),
            ClaudePrompt("Temperature 1.5", "Temperature", () => new LmPrompt("hi") { Temperature = 1.5 }),
            ClaudePrompt("Temperature NaN", "Temperature", () => new LmPrompt("hi") { Temperature = double.NaN }),
            ClaudePrompt("NumCompletions 1000 (fan-out cap)", "NumCompletions", () => new LmPrompt("hi") { NumCompletions = 1000 }),
            ClaudePrompt("Logprobs 5", "Logprobs", () => new LmPrompt("hi") { Logprobs = 5 }),
            ClaudePrompt("Echo", "Echo", () => new LmPrompt("hi") { Echo = true }),
            ClaudePrompt("PresencePenalty", "PresencePenalty", () => new LmPrompt("hi") { PresencePenalty = 0.5 }),
            ClaudePrompt("Seed", "Seed", () => new LmPrompt("hi") { Seed = 3 }),
            ClaudePrompt("MaxTokens past the model's output", "MaxTokens", () => new LmPrompt("hi") { MaxTokens = 10_000_000 }),
            ClaudePrompt("two user turns in a row", "alternate", () => new LmPrompt([LmChatTurn.User("a"), LmChatTurn.User("b")])),
            ClaudePrompt("lone surrogate", "surrogate", () => new LmPrompt("a\ud800")),
            ClaudePrompt("tool turn", "Chat", () => new LmPrompt([LmChatTurn.User("a"), new LmChatTurn(LmChatRole.Tool, "b")])),
            ClaudePrompt("response format with tools", "ResponseFormat", () => new LmPrompt("hi") { Tools = [LmToolDefinition.FromJson("t", null, "{}")], ResponseFormat = LmResponseFormat.JsonObject }),
            ClaudePrompt("tool call arguments that are not an object", "JSON object", () => new LmPrompt([LmChatTurn.User("a"), LmChatTurn.AssistantToolCalls([new LmToolCall("toolu_1", "t", "[1]")]), LmChatTurn.ToolResult("toolu_1", "b")]) { Tools = [LmToolDefinition.FromJson("t", null, "{}")] }),

            // Prompts, any model (the base class's checks, here through MockLm).
            new("mock prompt: NumCompletions 129 (fan-out cap)", typeof(LmPromptException), "NumCompletions", async _ =>
            {
                using var lm = new MockLm(p => p.Text!);
                await lm.PredictAsync(new LmPrompt("hi") { NumCompletions = 129 });
            }),
            new("mock prompt: more words than the context window", typeof(LmPromptException), "context window", async _ =>
            {
                using var lm = new MockLm(p => p.Text!, tokenLimit: 100);
                await lm.PredictAsync(new LmPrompt(string.Join(' ', Enumerable.Repeat("w", 150))));
            }),

            // Configuration, OpenAI.
            Setting("OpenAI key with a line break", typeof(LmAuthenticationException), "control character", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc\r\nX-Injected: 1", options: c.OpenAiOptions())),
            Setting("OpenAI key with NUL", typeof(LmAuthenticationException), "control character", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc\0", options: c.OpenAiOptions())),
            Setting("OpenAI key missing", typeof(LmAuthenticationException), "OPENAI_API_KEY", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, null, options: c.OpenAiOptions(Env()))),
            Setting("OpenAI key whitespace", typeof(LmAuthenticationException), "OPENAI_API_KEY", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "   ", options: c.OpenAiOptions(Env()))),
            Setting("OPENAI_API_KEY two lines", typeof(LmAuthenticationException), "OPENAI_API_KEY", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, null, options: c.OpenAiOptions(Env("OPENAI_API_KEY", "sk-one\nsk-two")))),
            Setting("Organization with a line break", typeof(ArgumentException), "Organization", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions() with { Organization = "org\r\nX: 1" })),
            Setting("Project with a line break", typeof(ArgumentException), "Project", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions() with { Project = "p\n" })),
            Setting("OpenAI BaseUrl ftp", typeof(ArgumentException), "BaseUrl", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions() with { BaseUrl = new Uri("ftp://example.com/v1") })),
            Setting("OPENAI_BASE_URL ftp", typeof(ArgumentException), "OPENAI_BASE_URL", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions(Env("OPENAI_BASE_URL", "ftp://example.com/v1")))),
            Setting("OPENAI_BASE_URL not a URL", typeof(ArgumentException), "OPENAI_BASE_URL", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions(Env("OPENAI_BASE_URL", "not a url")))),
            Setting("OPENAI_BASE_URL file scheme", typeof(ArgumentException), "OPENAI_BASE_URL", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions(Env("OPENAI_BASE_URL", "file:///etc/passwd")))),
            Setting("OpenAI RequestTimeout 0", typeof(ArgumentOutOfRangeException), "RequestTimeout", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions() with { RequestTimeout = TimeSpan.Zero })),
            Setting("OpenAI TotalTimeout negative", typeof(ArgumentOutOfRangeException), "TotalTimeout", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions() with { TotalTimeout = TimeSpan.FromSeconds(-1) })),
            Setting("OpenAI retry delay negative", typeof(ArgumentOutOfRangeException), "InitialDelay", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions() with { Retry = new LmRetryPolicy { InitialDelay = TimeSpan.FromSeconds(-1) } })),
            Setting("OpenAI retry jitter NaN", typeof(ArgumentOutOfRangeException), "Jitter", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions() with { Retry = new LmRetryPolicy { Jitter = double.NaN } })),
            Setting("OpenAI MaxRetries -1", typeof(ArgumentOutOfRangeException), "MaxRetries", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions() with { Retry = new LmRetryPolicy { MaxRetries = -1 } })),
            Setting("OpenAI MaxTotalWait negative", typeof(ArgumentOutOfRangeException), "MaxTotalWait", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions() with { Retry = new LmRetryPolicy { MaxTotalWait = TimeSpan.FromSeconds(-1) } })),
            Setting("MaxConcurrency 0", typeof(ArgumentOutOfRangeException), "MaxConcurrency", c => OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, "sk-abc", options: c.OpenAiOptions() with { ModelOptions = new LanguageModelOptions { MaxConcurrency = 0 } })),
            Setting("unknown OpenAI model", typeof(ArgumentException), "gpt-99-turbo", c => OpenAiLm.Get("gpt-99-turbo", "sk-abc", options: c.OpenAiOptions())),
            Setting("empty OpenAI model name", typeof(ArgumentException), "model", c => OpenAiLm.Get(string.Empty, "sk-abc", options: c.OpenAiOptions())),

            // Configuration, Claude.
            Setting("Claude key with a line break", typeof(LmAuthenticationException), "control character", c => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "sk-ant\nX: 1", c.ClaudeOptions())),
            Setting("Claude key missing", typeof(LmAuthenticationException), "ANTHROPIC_API_KEY", c => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, null, c.ClaudeOptions(Env()))),
            Setting("Claude key file with two lines", typeof(LmAuthenticationException), "anthropic_key.txt", c =>
            {
                System.IO.File.WriteAllText(Path.Combine(c.Folder, "anthropic_key.txt"), "sk-ant-one\nsk-ant-two\n");
                try
                {
                    ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, null, c.ClaudeOptions(Env()));
                }
                finally
                {
                    System.IO.File.Delete(Path.Combine(c.Folder, "anthropic_key.txt"));
                }
            }),
            Setting("AnthropicVersion empty", typeof(ArgumentException), "AnthropicVersion", c => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "sk-ant", c.ClaudeOptions() with { AnthropicVersion = string.Empty })),
            Setting("AnthropicVersion with a line break", typeof(ArgumentException), "AnthropicVersion", c => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "sk-ant", c.ClaudeOptions() with { AnthropicVersion = "2023-06-01\r\nX: 1" })),
            Setting("ANTHROPIC_BASE_URL ftp", typeof(ArgumentException), "ANTHROPIC_BASE_URL", c => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "sk-ant", c.ClaudeOptions(Env("ANTHROPIC_BASE_URL", "ftp://example.com")))),
            Setting("ANTHROPIC_BASE_URL relative", typeof(ArgumentException), "ANTHROPIC_BASE_URL", c => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "sk-ant", c.ClaudeOptions(Env("ANTHROPIC_BASE_URL", "/v1")))),
            Setting("Claude BaseUrl ftp", typeof(ArgumentException), "BaseUrl", c => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "sk-ant", c.ClaudeOptions() with { BaseUrl = new Uri("ftp://example.com") })),
            Setting("Claude RequestTimeout 0", typeof(ArgumentOutOfRangeException), "RequestTimeout", c => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "sk-ant", c.ClaudeOptions() with { RequestTimeout = TimeSpan.Zero })),
            Setting("Claude retry jitter 2", typeof(ArgumentOutOfRangeException), "Jitter", c => ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, "sk-ant", c.ClaudeOptions() with { Retry = new LmRetryPolicy { Jitter = 2 } })),
            Setting("unknown Claude model", typeof(ArgumentException), "claude-99", c => ClaudeLm.Get("claude-99", "sk-ant", c.ClaudeOptions())),

            // Safetensors.
            File("safetensors shorter than its length prefix", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, [1, 2, 3])),
            File("safetensors header length past the end", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{}", 0, declaredLength: 4096))),
            File("safetensors header length huge", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{}", 0, declaredLength: long.MaxValue))),
            File("safetensors header length negative", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{}", 0, declaredLength: -8))),
            File("safetensors header not JSON", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("not json at all", 0))),
            File("safetensors header an array", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("[1,2]", 0))),
            File("safetensors offsets past the end", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8))),
            File("safetensors overlapping tensors", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12))),
            File("safetensors negative offsets", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8))),
            File("safetensors reversed offsets", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8))),
            File("safetensors huge dims", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[9223372036854775807,4],\"data_offsets\":[0,8]}}", 8))),
            File("safetensors negative dim", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8))),
            File("safetensors shape and size disagree", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8))),
            File("safetensors unknown dtype", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{\"w\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8))),
            File("safetensors missing data_offsets", typeof(SafetensorsException), "model.safetensors", c => OpenSafetensors(c, Safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8))),

            // tokenizer.json.
            File("tokenizer.json not JSON", typeof(FormatException), "tokenizer.json", c => LoadTokenizer(c, "{ this is not json")),
            File("tokenizer.json truncated", typeof(FormatException), "tokenizer.json", c => LoadTokenizer(c, Fuzzers.BaseTokenizerJson()[..200])),
            File("tokenizer.json unknown model type", typeof(NotSupportedException), "Nope", c => LoadTokenizer(c, Fuzzers.BaseTokenizerJson().Replace("\"type\":\"BPE\"", "\"type\":\"Nope\"", StringComparison.Ordinal))),
            File("tokenizer.json without a model", typeof(FormatException), "tokenizer.json", c => LoadTokenizer(c, "{\"version\":\"1.0\"}")),
            File("tokenizer.json vocab an array", typeof(FormatException), "tokenizer.json", c => LoadTokenizer(c, "{\"model\":{\"type\":\"BPE\",\"vocab\":[1,2],\"merges\":[]}}")),
            File("tokenizer.json merges with unknown tokens", typeof(FormatException), "tokenizer.json", c => LoadTokenizer(c, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"x y\"]}}")),
            File("tokenizer.json added token id negative", typeof(FormatException), "tokenizer.json", c => LoadTokenizer(c, Fuzzers.BaseTokenizerJson().Replace("\"id\":300", "\"id\":-5", StringComparison.Ordinal))),

            // config.json.
            File("config.json not JSON", typeof(HuggingFaceModelException), "config.json", c => HuggingFaceLm.Get(ModelFolder(c, "{ nope"))),
            File("config.json unknown model_type", typeof(HuggingFaceModelException), "model_type", c => HuggingFaceLm.Get(ModelFolder(c, "{\"model_type\":\"mystery\"}"))),
            File("config.json negative hidden_size", typeof(HuggingFaceModelException), "hidden_size", c => HuggingFaceLm.Get(ModelFolder(c, "{\"model_type\":\"llama\",\"hidden_size\":-8,\"num_hidden_layers\":1,\"num_attention_heads\":1,\"intermediate_size\":4,\"vocab_size\":300}"))),

            // Chat templates.
            File("chat template syntax error", typeof(ChatTemplateSyntaxException), "line 2", _ => ChatTemplate.Parse("ok\n{% if x %}oops{% endfor %}")),
            File("chat template unclosed tag", typeof(ChatTemplateSyntaxException), "line 1", _ => ChatTemplate.Parse("{{ messages")),
            File("chat template 20,000 nested ifs", typeof(ChatTemplateLimitException), "deep", _ => ChatTemplate.Parse(string.Concat(Enumerable.Repeat("{% if true %}", 20_000)))),
            File("chat template 5,000 nested parentheses", typeof(ChatTemplateLimitException), "deep", _ => ChatTemplate.Parse("{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}")),
            File("chat template nested loops forever", typeof(ChatTemplateLimitException), "steps", _ => Render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")),
            File("chat template string times a billion", typeof(ChatTemplateLimitException), "characters", _ => Render("{{ 'abc' * 1000000000 }}")),
            File("tokenizer_config.json not JSON", typeof(ChatTemplateException), "tokenizer_config.json", c => ChatTemplate.FromTokenizerConfig(c.WriteFile("tokenizer_config.json", "{ no"))),

            // Hub file names that would leave the cache.
            File("hub file name with ..", typeof(HuggingFaceHubException), "..", c => new HuggingFaceHub(new HuggingFaceHubOptions { CacheDirectory = c.Folder, Offline = true }).TryGetCachedFile("org/model", "../../etc/passwd")),
            File("hub file name absolute", typeof(HuggingFaceHubException), "/etc/passwd", c => new HuggingFaceHub(new HuggingFaceHubOptions { CacheDirectory = c.Folder, Offline = true }).TryGetCachedFile("org/model", "/etc/passwd")),
            File("hub repo id with ..", typeof(HuggingFaceHubException), "..", c => new HuggingFaceHub(new HuggingFaceHubOptions { CacheDirectory = c.Folder, Offline = true }).TryGetCachedFile("../..", "config.json")),

            // Cache files.
            File("cache file that is not SQLite", typeof(LmCacheException), "cache.sqlite3", c => LmCache.Open(c.WriteFile("cache.sqlite3", "this is not a database, and it must not be replaced")).Dispose()),
            File("cache file cut short", typeof(LmCacheException), "cache.sqlite3", c => LmCache.Open(c.WriteFile("cache.sqlite3", Encoding.ASCII.GetBytes("SQLite format 3\0" + new string('\u0001', 200)))).Dispose()),
            File("cache path is a folder", typeof(LmCacheException), "cache.sqlite3", c =>
            {
                string dir = Path.Combine(c.Folder, Guid.NewGuid().ToString("N"), "cache.sqlite3");
                Directory.CreateDirectory(dir);
                LmCache.Open(dir).Dispose();
            }),
            File("cache EvictOlderThan negative", typeof(ArgumentOutOfRangeException), "maxAge", _ =>
            {
                using var cache = LmCache.OpenInMemory();
                cache.EvictOlderThan(TimeSpan.FromDays(-1));
            }),
            File("cache EvictToMaxBytes negative", typeof(ArgumentOutOfRangeException), "maxBytes", _ =>
            {
                using var cache = LmCache.OpenInMemory();
                cache.EvictToMaxBytes(-1);
            }),
        };
        return cases;
    }
}
