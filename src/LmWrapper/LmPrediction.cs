using LmWrapper.Internals;
using LmWrapper.Serialization;

namespace LmWrapper;

/// <summary>
/// What a language model produced for one <see cref="LmPrompt"/>: the completion text and whatever else the model
/// reported (tokens, logprobs, usage, finish reason). Immutable.
/// </summary>
/// <remarks>
/// Properties the model did not provide (for example token logprobs from a model that has none) throw
/// <see cref="LmPredictionDataUnavailableException"/> rather than returning an empty list; test with
/// <see cref="HasCompletionLogprobs"/> and friends first.
/// </remarks>
public sealed partial class LmPrediction
{
    private readonly IReadOnlyList<string>? _completionTokens;
    private readonly IReadOnlyList<int>? _completionTokenOffsets;
    private readonly IReadOnlyList<double>? _completionLogprobs;
    private readonly IReadOnlyList<IReadOnlyDictionary<string, double>>? _topTokenLogprobs;
    private readonly IReadOnlyList<string>? _promptTokens;
    private readonly IReadOnlyList<double?>? _promptLogprobs;
    private readonly IReadOnlyList<int>? _promptTokenOffsets;
    private readonly IReadOnlyList<LmPrediction>? _completions;
    private readonly IReadOnlyList<LmReasoningBlock>? _reasoningBlocks;

    /// <summary>The generated text (without the prompt, and without any stop sequence).</summary>
    public required string CompletionText { get; init; }

    /// <summary>The prompt this prediction answers.</summary>
    public required LmPrompt Prompt { get; init; }

    /// <summary>
    /// Why the prediction failed (kind, HTTP status, provider code, request id, message), or null when it did not. A failed
    /// prediction has an empty <see cref="CompletionText"/>. See <see cref="LmError"/> for what is returned here and what is
    /// thrown instead.
    /// </summary>
    public LmError? Error { get; init; }

    /// <summary>Why the prediction failed, in words (<see cref="LmError.Message"/>), or null when it did not.</summary>
    public string? ErrorMessage => Error?.Message;

    /// <summary>Whether the prediction failed (see <see cref="Error"/>).</summary>
    public bool HasErrors => Error is not null;

    /// <summary>
    /// For a failed prediction: whether the same request would fail the same way again (<see cref="LmError.IsPermanent"/>),
    /// so retrying cannot help. Only such errors are cached; transient ones never are.
    /// </summary>
    public bool IsErrorPermanent => Error?.IsPermanent ?? false;

    /// <summary>Why generation stopped, in the provider's words ("stop", "length", "content_filter", …), or null if unknown.</summary>
    public string? FinishReason { get; init; }

    /// <summary>The generated tokens as strings.</summary>
    /// <exception cref="LmPredictionDataUnavailableException">The model did not provide tokens.</exception>
    public IReadOnlyList<string> CompletionTokens
    {
        get => _completionTokens ?? throw Unavailable(nameof(CompletionTokens));
        init => _completionTokens = Freeze(value);
    }

    /// <summary>The character offset of each generated token within <see cref="CompletionText"/>.</summary>
    /// <exception cref="LmPredictionDataUnavailableException">The model did not provide token offsets.</exception>
    public IReadOnlyList<int> CompletionTokenOffsets
    {
        get => _completionTokenOffsets ?? throw Unavailable(nameof(CompletionTokenOffsets));
        init => _completionTokenOffsets = Freeze(value);
    }

    /// <summary>The natural-log probability of each generated token.</summary>
    /// <exception cref="LmPredictionDataUnavailableException">The model did not provide logprobs.</exception>
    public IReadOnlyList<double> CompletionLogprobs
    {
        get => _completionLogprobs ?? throw Unavailable(nameof(CompletionLogprobs));
        init => _completionLogprobs = Freeze(value);
    }

    /// <summary>For each generated token, the <see cref="LmPrompt.Logprobs"/> most likely alternatives (token → logprob); 1 (the default) gives the top one.</summary>
    /// <exception cref="LmPredictionDataUnavailableException">The model did not provide top alternatives.</exception>
    public IReadOnlyList<IReadOnlyDictionary<string, double>> TopTokenLogprobs
    {
        get => _topTokenLogprobs ?? throw Unavailable(nameof(TopTokenLogprobs));
        init => _topTokenLogprobs = Freeze(value);
    }

    /// <summary>The prompt's own tokens (with <see cref="LmPrompt.Echo"/>).</summary>
    /// <exception cref="LmPredictionDataUnavailableException">The prompt was not echoed.</exception>
    public IReadOnlyList<string> PromptTokens
    {
        get => _promptTokens ?? throw Unavailable(nameof(PromptTokens));
        init => _promptTokens = Freeze(value);
    }

    /// <summary>The logprob of each prompt token given those before it (with <see cref="LmPrompt.Echo"/>); the first is null when it has none.</summary>
    /// <exception cref="LmPredictionDataUnavailableException">The prompt was not echoed.</exception>
    public IReadOnlyList<double?> PromptLogprobs
    {
        get => _promptLogprobs ?? throw Unavailable(nameof(PromptLogprobs));
        init => _promptLogprobs = Freeze(value);
    }

    /// <summary>
    /// The character offset of each of <see cref="PromptTokens"/> within the prompt text the model saw (for a chat
    /// prompt, the text its chat template rendered), with <see cref="LmPrompt.Echo"/>.
    /// </summary>
    /// <exception cref="LmPredictionDataUnavailableException">The prompt was not echoed, or the model gives no offsets.</exception>
    public IReadOnlyList<int> PromptTokenOffsets
    {
        get => _promptTokenOffsets ?? throw Unavailable(nameof(PromptTokenOffsets));
        init => _promptTokenOffsets = Freeze(value);
    }

    /// <summary>Whether <see cref="PromptTokenOffsets"/> is available.</summary>
    public bool HasPromptTokenOffsets => _promptTokenOffsets is not null;

    /// <summary>
    /// The hidden states and attention weights a local model returned for <see cref="LmPrompt.Internals"/>; null when
    /// the prompt did not ask for them. Never cached.
    /// </summary>
    public LmModelInternals? Internals { get; init; }

    /// <summary>The prompt's logprobs followed by the completion's.</summary>
    /// <exception cref="LmPredictionDataUnavailableException">Either part is not available.</exception>
    public IReadOnlyList<double?> FullLogprobs => [.. PromptLogprobs, .. CompletionLogprobs.Select(x => (double?)x)];

    /// <summary>Whether <see cref="CompletionTokens"/> is available.</summary>
    public bool HasCompletionTokens => _completionTokens is not null;

    /// <summary>Whether <see cref="CompletionTokenOffsets"/> is available.</summary>
    public bool HasCompletionTokenOffsets => _completionTokenOffsets is not null;

    /// <summary>Whether <see cref="CompletionLogprobs"/> is available.</summary>
    public bool HasCompletionLogprobs => _completionLogprobs is not null;

    /// <summary>Whether <see cref="TopTokenLogprobs"/> is available.</summary>
    public bool HasTopTokenLogprobs => _topTokenLogprobs is not null;

    /// <summary>Whether <see cref="PromptTokens"/> and <see cref="PromptLogprobs"/> are available.</summary>
    public bool HasPromptLogprobs => _promptLogprobs is not null;

    /// <summary>
    /// The reasoning the model returned before its answer, as the provider's blocks (Claude's signed <c>thinking</c>
    /// blocks and <c>redacted_thinking</c> blocks, in order), or null when it returned none. Kept by the cache and by
    /// <see cref="ToJson"/>, and carried on the assistant turn of <see cref="MakeReplyPrompt(string, Func{LmPrompt, LmPrompt}?)"/>
    /// so that the conversation sends them back unchanged.
    /// </summary>
    public IReadOnlyList<LmReasoningBlock>? ReasoningBlocks
    {
        get => _reasoningBlocks;
        init => _reasoningBlocks = value is null || value.Count == 0 ? null : Freeze(value);
    }

    /// <summary>
    /// The readable reasoning text (the text of <see cref="ReasoningBlocks"/> that are not redacted, joined by blank
    /// lines), or null when the model returned none. OpenAI's reasoning models do not return theirs (only its size, in
    /// <see cref="LmUsage.ReasoningTokens"/>).
    /// </summary>
    public string? Reasoning => _reasoningBlocks is { } blocks && blocks.Any(b => b.Text is not null)
        ? string.Join("\n\n", blocks.Where(b => b.Text is not null).Select(b => b.Text))
        : null;

    /// <summary>Token usage as the provider reported it, or null when it did not.</summary>
    public LmUsage? Usage { get; init; }

    /// <summary>Whether this prediction came from the response cache rather than from the model.</summary>
    public bool WasCached { get; init; }

    /// <summary>Extra facts the provider returned (for example a system fingerprint or a refusal), by name.</summary>
    public IReadOnlyDictionary<string, string>? ProviderData { get; init; }

    /// <summary>The prompt's <see cref="LmPrompt.Metadata"/>, carried through untouched.</summary>
    public object? Metadata => Prompt.Metadata;

    /// <summary>
    /// All completions when <see cref="LmPrompt.NumCompletions"/> &gt; 1, in sample order; this prediction is the first.
    /// For a single completion, a list holding just this prediction.
    /// </summary>
    public IReadOnlyList<LmPrediction> Completions
    {
        get => _completions ?? [this];
        init => _completions = Freeze(value);
    }

    /// <summary>The mean of <see cref="CompletionLogprobs"/> (the average per-token logprob).</summary>
    /// <exception cref="LmPredictionDataUnavailableException">The model did not provide logprobs.</exception>
    /// <exception cref="InvalidOperationException">The completion has no tokens.</exception>
    public double CompletionMeanLogprob()
    {
        var lps = CompletionLogprobs;
        if (lps.Count == 0)
        {
            throw new InvalidOperationException("The completion has no tokens, so it has no mean logprob.");
        }

        return lps.Average();
    }

    /// <summary>The prompt (in its string form, see <see cref="LmPrompt.GetTextAsStringDefaultForm"/>) followed by the completion.</summary>
    public string GetFullText() => Prompt.GetTextAsStringDefaultForm() + CompletionText;

    /// <summary>
    /// A prompt that continues this conversation: the prompt's dialog, this completion as an assistant turn, then
    /// <paramref name="newTurns"/>. Every other prompt setting is kept, <see cref="LmPrompt.Metadata"/> included.
    /// </summary>
    /// <param name="newTurns">The turns to add after this completion (typically one user turn).</param>
    /// <exception cref="InvalidOperationException">The prediction failed: there is no completion to continue from.</exception>
    public LmPrompt MakeReplyPrompt(params IReadOnlyList<LmChatTurn> newTurns) => MakeReplyPrompt(newTurns, overrides: null);

    /// <summary>
    /// A prompt that continues this conversation (see <see cref="MakeReplyPrompt(IReadOnlyList{LmChatTurn})"/>) with
    /// settings changed by <paramref name="overrides"/>, as the Python original's <c>make_reply_prompt(turns, **overrides)</c>:
    /// for example <c>p =&gt; p with { Temperature = 0.5, MaxTokens = 100 }</c>.
    /// </summary>
    /// <param name="newTurns">The turns to add after this completion.</param>
    /// <param name="overrides">Changes the continued prompt (it receives the prompt with every setting kept); null for none.</param>
    /// <exception cref="InvalidOperationException">The prediction failed: there is no completion to continue from.</exception>
    public LmPrompt MakeReplyPrompt(IReadOnlyList<LmChatTurn> newTurns, Func<LmPrompt, LmPrompt>? overrides)
    {
        ArgumentNullException.ThrowIfNull(newTurns);
        if (HasErrors)
        {
            throw new InvalidOperationException($"Cannot continue a conversation from a failed prediction: {ErrorMessage}");
        }

        List<LmChatTurn> turns = [.. Prompt.GetTextAsChat(), LmChatTurn.Assistant(CompletionText) with { ReasoningBlocks = _reasoningBlocks, ToolCalls = _toolCalls }, .. newTurns];
        var reply = Prompt.WithDialog(turns);
        return overrides is null
            ? reply
            : overrides(reply) ?? throw new InvalidOperationException("The overrides function returned null instead of a prompt.");
    }

    /// <summary>A prompt that continues this conversation with one more user message, settings kept or changed by <paramref name="overrides"/>.</summary>
    /// <param name="userMessage">What the user says next.</param>
    /// <param name="overrides">Changes the continued prompt (for example <c>p =&gt; p with { Temperature = 0 }</c>); null for none.</param>
    /// <exception cref="InvalidOperationException">The prediction failed: there is no completion to continue from.</exception>
    public LmPrompt MakeReplyPrompt(string userMessage, Func<LmPrompt, LmPrompt>? overrides = null) =>
        MakeReplyPrompt([LmChatTurn.User(userMessage)], overrides);

    /// <summary>
    /// The prediction as JSON: a stable, documented form that <see cref="FromJson"/> reads back (everything but
    /// <see cref="Metadata"/>, which is the caller's own object).
    /// </summary>
    public string ToJson() => PredictionJson.Serialize(this);

    /// <summary>Reads a prediction written by <see cref="ToJson"/>.</summary>
    /// <param name="json">The JSON text.</param>
    /// <exception cref="FormatException">The text is not a prediction in LmWrapper's JSON form.</exception>
    public static LmPrediction FromJson(string json) => PredictionJson.Deserialize(json);

    /// <inheritdoc/>
    public override string ToString() =>
        HasErrors ? $"LmPrediction(error: {ErrorMessage})" : $"LmPrediction({CompletionText})";

    internal IReadOnlyList<LmPrediction>? RawCompletions => _completions;

    internal IReadOnlyList<string>? RawCompletionTokens => _completionTokens;

    internal IReadOnlyList<int>? RawCompletionTokenOffsets => _completionTokenOffsets;

    internal IReadOnlyList<double>? RawCompletionLogprobs => _completionLogprobs;

    internal IReadOnlyList<IReadOnlyDictionary<string, double>>? RawTopTokenLogprobs => _topTokenLogprobs;

    internal IReadOnlyList<string>? RawPromptTokens => _promptTokens;

    internal IReadOnlyList<double?>? RawPromptLogprobs => _promptLogprobs;

    internal IReadOnlyList<int>? RawPromptTokenOffsets => _promptTokenOffsets;

    /// <summary>A copy with every field kept but a different prompt, cache flag and (optionally) completions list.</summary>
    internal LmPrediction With(LmPrompt prompt, bool wasCached, IReadOnlyList<LmPrediction>? completions = null) => new()
    {
        CompletionText = CompletionText,
        Prompt = prompt,
        Error = Error,
        FinishReason = FinishReason,
        CompletionTokens = _completionTokens!,
        CompletionTokenOffsets = _completionTokenOffsets!,
        CompletionLogprobs = _completionLogprobs!,
        TopTokenLogprobs = _topTokenLogprobs!,
        PromptTokens = _promptTokens!,
        PromptLogprobs = _promptLogprobs!,
        PromptTokenOffsets = _promptTokenOffsets!,
        Internals = Internals,
        ReasoningBlocks = _reasoningBlocks,
        ToolCalls = _toolCalls!,
        Usage = Usage,
        WasCached = wasCached,
        ProviderData = ProviderData,
        Completions = completions!,
    };

    /// <summary>Creates a failed prediction.</summary>
    /// <param name="prompt">The prompt that failed.</param>
    /// <param name="error">Why it failed.</param>
    public static LmPrediction FromError(LmPrompt prompt, LmError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return new()
        {
            CompletionText = string.Empty,
            Prompt = prompt,
            Error = error,
        };
    }

    private LmPredictionDataUnavailableException Unavailable(string property)
    {
        string why = Prompt.Logprobs == 0 && property is nameof(CompletionLogprobs) or nameof(TopTokenLogprobs)
            ? "the prompt asked for none (LmPrompt.Logprobs is 0)"
            : property is nameof(PromptTokens) or nameof(PromptLogprobs) or nameof(PromptTokenOffsets) && !Prompt.Echo
                ? "the prompt did not ask for them (set LmPrompt.Echo = true on a model that can echo)"
                : HasErrors
                    ? "the prediction failed: " + ErrorMessage
                    : "the model did not provide them";
        return new LmPredictionDataUnavailableException($"{property} is not available for this prediction: {why}.");
    }

    private static IReadOnlyList<T>? Freeze<T>(IReadOnlyList<T>? value) => value switch
    {
        null => null,
        T[] array => array,
        _ => [.. value],
    };
}
