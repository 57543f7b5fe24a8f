using System.Runtime.CompilerServices;

namespace LmWrapper;

/// <summary>
/// A language model for tests (yours and ours): it echoes the prompt, or answers with a function you give it. It goes
/// through the same validation, caching and ordering as every real model, and counts its calls.
/// </summary>
/// <remarks>
/// Its "tokens" are whitespace-separated words (each keeping its leading whitespace). It honours
/// <see cref="LmPrompt.Stop"/> (the completion is cut before the first stop sequence) and
/// <see cref="LmPrompt.MaxTokens"/> (the completion is cut to that many words, with finish reason "length").
/// It has no logprobs. By default it does not use the response cache; pass options with a cache to test caching.
/// <see cref="LanguageModel.PredictStreamingAsync"/> streams its answers word by word.
/// It accepts <see cref="LmPrompt.ReasoningEffort"/> and <see cref="LmPrompt.ThinkingBudgetTokens"/> (any valid value)
/// and ignores them: it does not reason, so its predictions have no reasoning blocks and no reasoning tokens. Those
/// fields are still part of the cache key, as for every model.
/// It takes images (<see cref="LmCapabilities.Vision"/>): the default echo answers a turn with images with its text followed
/// by each image's description (<see cref="LmImage.ToString"/>, such as <c>[image/png 2x2, 70 bytes, sha256 …]</c>), so
/// tests can see which images arrived.
/// <para>Tools and structured output (<see cref="LmCapabilities.Tools"/>, <see cref="LmCapabilities.StructuredOutput"/>):
/// given <see cref="LmPrompt.Tools"/>, it calls a tool when <see cref="LmPrompt.ToolChoice"/> is required (the first
/// tool) or names one, or when the last turn is a user turn (or the text) that says "call &lt;tool name&gt;"; the call's
/// arguments are a minimal instance of the tool's schema, its id "call_mock_&lt;turn&gt;_&lt;n&gt;", the completion empty and
/// the finish reason "tool_calls". After a tool result (and otherwise) it answers with its function as usual. With
/// <see cref="LmPrompt.ResponseFormat"/> it answers with its function's text when that is JSON fitting the format, and
/// otherwise with a minimal valid instance of the schema (<c>{}</c> for a JSON object).</para>
/// </remarks>
public sealed class MockLm : LanguageModel
{
    private readonly Func<LmPrompt, CancellationToken, Task<string>> _predict;
    private int _callCount;

    /// <summary>Creates a mock that answers with <paramref name="predict"/> (default: echo the prompt).</summary>
    /// <param name="predict">The answer for a prompt; null echoes (the text, or a chat's last turn).</param>
    /// <param name="name">Part of <see cref="ModelIdentity"/>: give different functions different names so their cached answers do not mix.</param>
    /// <param name="options">Shared model settings; null means no caching by default.</param>
    /// <param name="isChatModel">What <see cref="IsChatModel"/> reports.</param>
    /// <param name="tokenLimit">What <see cref="TokenLimit"/> reports.</param>
    public MockLm(
        Func<LmPrompt, string>? predict = null,
        string name = "echo",
        LanguageModelOptions? options = null,
        bool isChatModel = false,
        int tokenLimit = 4096)
        : this(predict is null ? null : (p, _) => Task.FromResult(predict(p)), name, options, isChatModel, tokenLimit)
    {
    }

    /// <summary>Creates a mock that answers with an asynchronous function.</summary>
    /// <param name="predictAsync">The answer for a prompt; null echoes.</param>
    /// <param name="name">Part of <see cref="ModelIdentity"/>.</param>
    /// <param name="options">Shared model settings; null means no caching by default.</param>
    /// <param name="isChatModel">What <see cref="IsChatModel"/> reports.</param>
    /// <param name="tokenLimit">What <see cref="TokenLimit"/> reports.</param>
    public MockLm(
        Func<LmPrompt, CancellationToken, Task<string>>? predictAsync,
        string name = "echo",
        LanguageModelOptions? options = null,
        bool isChatModel = false,
        int tokenLimit = 4096)
        : base(options ?? new LanguageModelOptions { CacheByDefault = false })
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokenLimit, 1);
        _predict = predictAsync ?? ((p, _) => Task.FromResult(p.Chat is { } chat ? Echo(chat[^1]) : p.Text!));
        Name = name;
        IsChatModel = isChatModel;
        TokenLimit = tokenLimit;
    }

    /// <summary>
    /// What the base reports, plus <see cref="LmCapabilities.Vision"/> (the mock takes images), <see cref="LmCapabilities.Tools"/>
    /// and <see cref="LmCapabilities.StructuredOutput"/>.
    /// </summary>
    public override LmModelInfo ModelInfo
    {
        get
        {
            var info = base.ModelInfo;
            return info with { Capabilities = info.Capabilities | LmCapabilities.Vision | LmCapabilities.Tools | LmCapabilities.StructuredOutput };
        }
    }

    /// <summary>The default answer to a chat: the last turn's text, then a description of each of its images.</summary>
    private static string Echo(LmChatTurn turn) =>
        turn.HasImages
            ? string.Join(' ', new[] { turn.Content }.Where(c => c.Length > 0).Concat(turn.Parts!.Where(p => p.Image is not null).Select(p => p.Image!.ToString())))
            : turn.Content;

    /// <summary>The mock's name (see the constructor).</summary>
    public string Name { get; }

    /// <summary>How many samples the mock has produced (cache hits do not count).</summary>
    public int CallCount => Volatile.Read(ref _callCount);

    /// <inheritdoc/>
    public override string ModelIdentity => "mock/" + Name;

    /// <inheritdoc/>
    public override int TokenLimit { get; }

    /// <inheritdoc/>
    public override bool IsChatModel { get; }

    /// <summary>Counts whitespace-separated words of the prompt (in its string form), and one token per image.</summary>
    /// <param name="prompt">The prompt.</param>
    public override int EstimateTokensInPrompt(LmPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Words(prompt.GetTextAsStringDefaultForm()).Count + prompt.ImageParts().Count();
    }

    /// <inheritdoc/>
    protected override async Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(
        LmPrompt prompt, int numCompletions, CancellationToken cancellationToken)
    {
        var results = new LmPrediction[numCompletions];
        int promptTokens = EstimateTokensInPrompt(prompt);
        int maxTokens = prompt.MaxTokens ?? DefaultTokensGenerated;
        for (int i = 0; i < numCompletions; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Interlocked.Increment(ref _callCount);
            if (MockToolCalls(prompt) is { } calls)
            {
                results[i] = new LmPrediction
                {
                    CompletionText = string.Empty,
                    Prompt = prompt,
                    FinishReason = "tool_calls",
                    CompletionTokens = [],
                    CompletionTokenOffsets = [],
                    ToolCalls = calls,
                    Usage = new LmUsage(promptTokens, calls.Sum(c => Words(c.Arguments).Count + 1)),
                };
                continue;
            }

            string text = await _predict(prompt, cancellationToken).ConfigureAwait(false) ?? string.Empty;
            text = MockStructured(prompt, text);
            string finish = "stop";
            if (prompt.Stop is { } stops)
            {
                foreach (var stop in stops)
                {
                    int at = text.IndexOf(stop, StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        text = text[..at];
                    }
                }
            }

            var words = Words(text);
            if (words.Count > maxTokens)
            {
                text = text[..words[maxTokens].Offset];
                words = words.GetRange(0, maxTokens);
                finish = "length";
            }

            results[i] = new LmPrediction
            {
                CompletionText = text,
                Prompt = prompt,
                FinishReason = finish,
                CompletionTokens = [.. words.Select(w => text.Substring(w.Offset, w.Length))],
                CompletionTokenOffsets = [.. words.Select(w => w.Offset)],
                Usage = new LmUsage(promptTokens, words.Count),
            };
        }

        return results;
    }

    /// <summary>Streams each sample word by word (each word with its leading whitespace), then the sample's prediction.</summary>
    /// <param name="request">The prompt and how many samples.</param>
    /// <param name="cancellationToken">Cancels the stream between words.</param>
    protected override async IAsyncEnumerable<LmStreamingUpdate> PredictUncachedStreamingAsync(
        LmUncachedRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var predictions = await PredictUncachedAsync(request.Prompt, request.NumCompletions, cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < predictions.Count; i++)
        {
            var sample = predictions[i];
            int given = 0;
            foreach (string word in sample.CompletionTokens)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await Task.Yield();
                given += word.Length;
                yield return new LmStreamingUpdate { SampleIndex = i, Text = word, Tokens = [word] };
            }

            // The last update carries what follows the last word (trailing whitespace) and the finished sample.
            yield return new LmStreamingUpdate { SampleIndex = i, Text = sample.CompletionText[given..], Prediction = sample };
        }
    }

    /// <summary>The tool calls the mock makes for a prompt (see the remarks), or null for a text answer.</summary>
    private static LmToolCall[]? MockToolCalls(LmPrompt prompt)
    {
        if (prompt.Tools is not { } tools || prompt.ToolChoice?.Mode == LmToolChoiceMode.None)
        {
            return null;
        }

        var turns = prompt.GetTextAsChat();
        var last = turns[^1];
        LmToolDefinition? tool = prompt.ToolChoice?.Mode switch
        {
            LmToolChoiceMode.Named => tools.First(t => t.Name == prompt.ToolChoice.ToolName),
            LmToolChoiceMode.Required => tools.FirstOrDefault(t => Says(last.Content, t.Name)) ?? tools[0],
            _ => last.Role == LmChatRole.User ? tools.FirstOrDefault(t => Says(last.Content, t.Name)) : null,
        };
        if (tool is null)
        {
            return null;
        }

        string id = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"call_mock_{turns.Count}_0");
        return [new LmToolCall(id, tool.Name, Tools.JsonSchemaShape.SampleJson(tool.Parameters))];
    }

    private static bool Says(string text, string toolName) =>
        System.Text.RegularExpressions.Regex.IsMatch(
            text,
            @"\bcall\s+" + System.Text.RegularExpressions.Regex.Escape(toolName) + @"(?![a-zA-Z0-9_-])",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>For a response format: the text when it is JSON that fits, else a minimal valid instance.</summary>
    private static string MockStructured(LmPrompt prompt, string text)
    {
        if (prompt.ResponseFormat is not { } format)
        {
            return text;
        }

        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(text);
            bool fits = format.Kind == LmResponseFormatKind.JsonObject
                ? doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                : Tools.JsonSchemaShape.Check(doc.RootElement, format.Schema) is null;
            if (fits)
            {
                return text;
            }
        }
        catch (System.Text.Json.JsonException)
        {
        }

        return format.Kind == LmResponseFormatKind.JsonObject ? "{}" : Tools.JsonSchemaShape.SampleJson(format.Schema);
    }

    /// <summary>Splits text into words that keep their leading whitespace (so the words concatenate back to the text, less trailing whitespace).</summary>
    private static List<(int Offset, int Length)> Words(string text)
    {
        var words = new List<(int, int)>();
        int i = 0;
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i == text.Length)
            {
                break;
            }

            while (i < text.Length && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            words.Add((start, i - start));
        }

        return words;
    }
}
