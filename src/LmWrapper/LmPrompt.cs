using System.Globalization;
using LmWrapper.Internals;

namespace LmWrapper;

/// <summary>
/// Everything that is sent to a language model for one prediction: the text (or chat dialog) and the
/// sampling settings. Immutable; derive variations with <c>with { … }</c>.
/// </summary>
/// <remarks>
/// Field names and defaults follow the Python lmwrapper's <c>LmPrompt</c>. Call <see cref="Validate"/> to check a
/// prompt; every <see cref="LanguageModel"/> does so before it spends anything.
/// </remarks>
public sealed partial record LmPrompt
{
    // The content is a string (plain text) or an LmChatTurn[] (a dialog), in one field; the settings most prompts leave
    // at their defaults live in a shared Extras object, replaced (never changed) when one is set. A prompt is then 56
    // bytes rather than 112, which matters to runs that hold a million of them.
    private readonly object _content;
    private readonly Extras _extras = Extras.Default;

    /// <summary>Creates a prompt from plain text (for a chat model: a single user turn).</summary>
    /// <param name="text">The prompt text.</param>
    public LmPrompt(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        _content = text;
    }

    /// <summary>Creates a chat prompt from explicit turns.</summary>
    /// <param name="turns">The dialog, oldest turn first. A system turn may only come first.</param>
    public LmPrompt(IReadOnlyList<LmChatTurn> turns)
    {
        ArgumentNullException.ThrowIfNull(turns);
        LmChatTurn[] chat = [.. turns];
        _content = chat;
        foreach (var t in chat)
        {
            if (t is null)
            {
                throw new LmPromptException("A chat prompt contains a null turn.", nameof(Chat));
            }
        }
    }

    /// <summary>
    /// Creates a chat prompt from plain strings that alternate between the user and the assistant,
    /// starting with the user (as in the Python lmwrapper).
    /// </summary>
    /// <param name="alternatingTurns">User, assistant, user, … messages.</param>
    public LmPrompt(IReadOnlyList<string> alternatingTurns)
    {
        ArgumentNullException.ThrowIfNull(alternatingTurns);
        var chat = new LmChatTurn[alternatingTurns.Count];
        for (int i = 0; i < chat.Length; i++)
        {
            var content = alternatingTurns[i] ?? throw new LmPromptException($"Chat turn {i} is null.", nameof(Chat));
            chat[i] = new LmChatTurn(i % 2 == 0 ? LmChatRole.User : LmChatRole.Assistant, content);
        }

        _content = chat;
    }

    private LmPrompt(LmPrompt original, LmChatTurn[] dialog)
        : this(original)
    {
        _content = dialog;
    }

    /// <summary>A copy of this prompt, with every setting (metadata included) kept, whose content is the given dialog.</summary>
    internal LmPrompt WithDialog(IReadOnlyList<LmChatTurn> dialog) => new(this, [.. dialog]);

    /// <summary>The prompt text, or null when the prompt is a chat dialog (see <see cref="Chat"/>).</summary>
    public string? Text => _content as string;

    /// <summary>The chat dialog, or null when the prompt is plain text (see <see cref="Text"/>).</summary>
    public IReadOnlyList<LmChatTurn>? Chat => _content as LmChatTurn[];

    /// <summary>Whether the prompt is a chat dialog rather than plain text.</summary>
    public bool IsChat => _content is LmChatTurn[];

    /// <summary>
    /// Whether the prompt asks for greedy decoding: <see cref="Temperature"/> 0 or <see cref="TopP"/> 0 (the Python
    /// original's <c>is_deterministic_sampling</c>). Every provider decodes such a prompt greedily (a <see cref="TopP"/> of 0
    /// is sent as temperature 0).
    /// </summary>
    public bool IsDeterministicSampling => Temperature == 0 || TopP == 0;

    /// <summary>The maximum number of tokens to generate. Null means the model's default (<see cref="LanguageModel.DefaultTokensGenerated"/>).</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Sequences at which generation stops. The completion does not include the stop sequence.</summary>
    public IReadOnlyList<string>? Stop
    {
        get => _extras.Stop;
        init => _extras = _extras with { Stop = value is null ? null : [.. value] };
    }

    /// <summary>
    /// How many log probabilities to return per generated token. 1 (the default) returns the chosen token's
    /// logprob; k &gt; 1 adds the top-k alternatives; 0 asks for none.
    /// </summary>
    public int Logprobs { get; init; } = 1;

    /// <summary>The sampling temperature, from 0 (greedy) to 2. Default 1.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>
    /// Nucleus sampling: only tokens within this much probability mass are considered. In [0, 1]; default 1. 0 means
    /// greedy, as in the Python original (<see cref="IsDeterministicSampling"/>): every provider then picks the most
    /// likely token, as at <see cref="Temperature"/> 0.
    /// </summary>
    public double TopP
    {
        get => _extras.TopP;
        init => _extras = _extras with { TopP = value };
    }

    /// <summary>Penalty, in [-2, 2], for tokens that have appeared at all so far. Default 0.</summary>
    public double PresencePenalty
    {
        get => _extras.PresencePenalty;
        init => _extras = _extras with { PresencePenalty = value };
    }

    /// <summary>Penalty, in [-2, 2], proportional to how often a token has appeared so far. Default 0.</summary>
    public double FrequencyPenalty
    {
        get => _extras.FrequencyPenalty;
        init => _extras = _extras with { FrequencyPenalty = value };
    }

    /// <summary>How many completions to sample for this prompt. Default 1. Cached samples are reused individually.</summary>
    public int NumCompletions { get; init; } = 1;

    /// <summary>Whether to use the response cache for this prompt. Null means the model's default.</summary>
    public bool? Cache
    {
        get => _extras.Cache;
        init => _extras = _extras with { Cache = value };
    }

    /// <summary>Return the prompt's own tokens and their logprobs too, where the model can.</summary>
    public bool Echo
    {
        get => _extras.Echo;
        init => _extras = _extras with { Echo = value };
    }

    /// <summary>Whether to put a beginning-of-sequence token before the prompt (local models). Null means the model's default.</summary>
    public bool? AddBosToken
    {
        get => _extras.AddBosToken;
        init => _extras = _extras with { AddBosToken = value };
    }

    /// <summary>Whether the tokenizer adds its special tokens (local models). Null means the model's default.</summary>
    public bool? AddSpecialTokens
    {
        get => _extras.AddSpecialTokens;
        init => _extras = _extras with { AddSpecialTokens = value };
    }

    /// <summary>A seed for sampling, where the model supports one.</summary>
    public int? Seed
    {
        get => _extras.Seed;
        init => _extras = _extras with { Seed = value };
    }

    /// <summary>
    /// Asks a local model for its hidden states and/or attention weights along with the prediction (see
    /// <see cref="ModelInternalsRequest"/>). Such a prompt bypasses the cache. Models that cannot return internals reject it.
    /// </summary>
    public ModelInternalsRequest? Internals
    {
        get => _extras.Internals;
        init => _extras = _extras with { Internals = value };
    }

    /// <summary>
    /// How hard a reasoning model thinks before answering (OpenAI's <c>reasoning_effort</c>); null (the default) leaves
    /// it to the model. Only models that take it accept it (<see cref="LmCapabilities.ReasoningEffort"/>), with the values
    /// their family takes; others refuse the prompt before anything is sent. A local model whose chat template has an
    /// <c>enable_thinking</c> switch (Qwen3) thinks unless it is <see cref="LmReasoningEffort.None"/>.
    /// </summary>
    public LmReasoningEffort? ReasoningEffort
    {
        get => _extras.ReasoningEffort;
        init => _extras = _extras with { ReasoningEffort = value };
    }

    /// <summary>
    /// Turns on Claude's extended thinking with at most this many thinking tokens (<c>thinking.budget_tokens</c>): at
    /// least 1024 and less than <see cref="MaxTokens"/> (the thinking counts against it), with <see cref="Temperature"/>
    /// left at 1. Null (the default) means no extended thinking. Models without extended thinking
    /// (<see cref="LmCapabilities.ThinkingBudget"/>) refuse the prompt before anything is sent. The thinking comes back
    /// on <see cref="LmPrediction.ReasoningBlocks"/>.
    /// </summary>
    public int? ThinkingBudgetTokens
    {
        get => _extras.ThinkingBudgetTokens;
        init => _extras = _extras with { ThinkingBudgetTokens = value };
    }

    /// <summary>
    /// Your own data, carried through to <see cref="LmPrediction.Metadata"/>. Never sent to a model and never part of
    /// the cache key.
    /// </summary>
    public object? Metadata
    {
        get => _extras.Metadata;
        init => _extras = _extras with { Metadata = value };
    }

    /// <summary>
    /// The prompt as a string: the text itself, or for a chat dialog the Python lmwrapper's default form
    /// (<c>user: …\nassistant: …\nassistant:</c>) used by completion-only models.
    /// </summary>
    public string GetTextAsStringDefaultForm()
    {
        if (_content is string text)
        {
            return text;
        }

        var sb = new System.Text.StringBuilder();
        foreach (var turn in (LmChatTurn[])_content)
        {
            sb.Append(turn.RoleName).Append(": ").Append(turn.Content).Append('\n');
        }

        return sb.Append("assistant:").ToString();
    }

    /// <summary>The prompt as a chat dialog: the dialog itself, or plain text as a single user turn.</summary>
    public IReadOnlyList<LmChatTurn> GetTextAsChat() => _content as LmChatTurn[] ?? [LmChatTurn.User((string)_content)];

    /// <summary>
    /// Checks every field and throws an <see cref="LmPromptException"/> naming the first problem found.
    /// Models call this before any request.
    /// </summary>
    /// <exception cref="LmPromptException">A field is out of range, the dialog is malformed, or a text holds a lone UTF-16 surrogate.</exception>
    public void Validate() => ValidateFields(allowEmptyText: false);

    /// <summary>Checks every field; an empty text is allowed when <paramref name="allowEmptyText"/> (a local model that starts from BOS).</summary>
    internal void ValidateFields(bool allowEmptyText)
    {
        if (_content is string text)
        {
            if (text.Length == 0 && !allowEmptyText)
            {
                throw new LmPromptException("The prompt text is empty.", nameof(Text));
            }

            CheckNoLoneSurrogate(text, "The prompt text", nameof(Text));
        }
        else
        {
            var chat = (LmChatTurn[])_content;
            if (chat.Length == 0)
            {
                throw new LmPromptException("The chat dialog has no turns.", nameof(Chat));
            }

            for (int i = 0; i < chat.Length; i++)
            {
                var turn = chat[i];
                if (!Enum.IsDefined(turn.Role))
                {
                    throw new LmPromptException($"Chat turn {i} has an unknown role ({(int)turn.Role}).", nameof(Chat));
                }

                if (turn.Content is null || (turn.Content.Length == 0 && !turn.HasImages && turn.ToolCalls is null))
                {
                    throw new LmPromptException($"Chat turn {i} ({turn.RoleName}) is empty.", nameof(Chat));
                }

                CheckNoLoneSurrogate(turn.Content, $"Chat turn {i} ({turn.RoleName})", nameof(Chat));
                if (turn.Name is { } name)
                {
                    CheckNoLoneSurrogate(name, $"The name of chat turn {i}", nameof(Chat));
                }

                if (turn.ReasoningBlocks is { } blocks)
                {
                    CheckReasoningBlocks(blocks, i, turn);
                }

                if (turn.Parts is { } parts)
                {
                    CheckParts(parts, i, turn);
                }

                CheckToolTurn(chat, i);

                if (turn.Role == LmChatRole.System && i != 0)
                {
                    throw new LmPromptException(
                        $"Chat turn {i} is a system turn; a system turn is only allowed as the first turn.", nameof(Chat));
                }
            }
        }

        if (MaxTokens is <= 0)
        {
            throw new LmPromptException($"MaxTokens must be positive (or null for the model's default), but was {MaxTokens}.", nameof(MaxTokens));
        }

        if (_extras.Stop is { } stop)
        {
            for (int i = 0; i < stop.Length; i++)
            {
                if (string.IsNullOrEmpty(stop[i]))
                {
                    throw new LmPromptException($"Stop sequence {i} is null or empty.", nameof(Stop));
                }

                CheckNoLoneSurrogate(stop[i], $"Stop sequence {i}", nameof(Stop));
            }
        }

        if (Logprobs < 0)
        {
            throw new LmPromptException($"Logprobs must be 0 or more, but was {Logprobs}.", nameof(Logprobs));
        }

        CheckRange(Temperature, 0, 2, nameof(Temperature), lowInclusive: true);
        CheckRange(TopP, 0, 1, nameof(TopP), lowInclusive: true);
        CheckRange(PresencePenalty, -2, 2, nameof(PresencePenalty), lowInclusive: true);
        CheckRange(FrequencyPenalty, -2, 2, nameof(FrequencyPenalty), lowInclusive: true);

        if (NumCompletions < 1)
        {
            throw new LmPromptException($"NumCompletions must be at least 1, but was {NumCompletions}.", nameof(NumCompletions));
        }

        if (ReasoningEffort is { } effort && !Enum.IsDefined(effort))
        {
            throw new LmPromptException($"ReasoningEffort has an unknown value ({(int)effort}).", nameof(ReasoningEffort));
        }

        if (ThinkingBudgetTokens is <= 0)
        {
            throw new LmPromptException($"ThinkingBudgetTokens must be positive (or null for no extended thinking), but was {ThinkingBudgetTokens}.", nameof(ThinkingBudgetTokens));
        }

        _extras.Internals?.Validate();
        ValidateToolFields();
    }

    /// <summary>Reasoning blocks belong to assistant turns, and each is a thinking block (text) or a redacted one (data).</summary>
    private static void CheckReasoningBlocks(IReadOnlyList<LmReasoningBlock> blocks, int i, LmChatTurn turn)
    {
        if (turn.Role != LmChatRole.Assistant)
        {
            throw new LmPromptException($"Chat turn {i} ({turn.RoleName}) has reasoning blocks; only an assistant turn can carry the reasoning that produced it.", nameof(Chat));
        }

        for (int b = 0; b < blocks.Count; b++)
        {
            var block = blocks[b] ?? throw new LmPromptException($"Reasoning block {b} of chat turn {i} is null.", nameof(Chat));
            if ((block.Text is null) == (block.RedactedData is null))
            {
                throw new LmPromptException($"Reasoning block {b} of chat turn {i} must have either Text (a thinking block) or RedactedData (a redacted block), not {(block.Text is null ? "neither" : "both")}.", nameof(Chat));
            }

            CheckNoLoneSurrogate(block.Text ?? block.RedactedData!, $"Reasoning block {b} of chat turn {i}", nameof(Chat));
        }
    }

    /// <summary>
    /// Refuses a lone (unpaired) UTF-16 surrogate: it has no UTF-8 form, so it would be sent as U+FFFD and its cache key
    /// would collide with the prompt that really holds U+FFFD.
    /// </summary>
    private static void CheckNoLoneSurrogate(string text, string what, string field)
    {
        var span = text.AsSpan();
        int i = span.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (i < 0)
        {
            return;
        }

        for (; i < span.Length; i++)
        {
            char c = span[i];
            if (!char.IsSurrogate(c))
            {
                continue;
            }

            if (char.IsHighSurrogate(c) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]))
            {
                i++;
                continue;
            }

            throw new LmPromptException(
                string.Create(CultureInfo.InvariantCulture, $"{what} holds a lone UTF-16 surrogate (U+{(int)c:X4}) at index {i}: it is not valid Unicode and cannot be sent. Check how the text was cut or decoded."),
                field);
        }
    }

    private static void CheckRange(double value, double low, double high, string name, bool lowInclusive)
    {
        bool ok = !double.IsNaN(value) && (lowInclusive ? value >= low : value > low) && value <= high;
        if (!ok)
        {
            string range = string.Create(CultureInfo.InvariantCulture, $"{(lowInclusive ? "[" : "(")}{low}, {high}]");
            throw new LmPromptException(
                string.Create(CultureInfo.InvariantCulture, $"{name} must be in {range}, but was {value}."), name);
        }
    }

    /// <summary>
    /// The prompt as JSON (the same form as the "prompt" of <see cref="LmPrediction.ToJson"/>, snake_case field names as
    /// in the Python original's <c>dict_serialize</c>), which <see cref="FromJson"/> reads back to an equal prompt. Every
    /// field is kept except <see cref="Metadata"/>, which is the caller's own object.
    /// </summary>
    public string ToJson() => Serialization.PredictionJson.SerializePrompt(this);

    /// <summary>Reads a prompt written by <see cref="ToJson"/> (fields left out take their defaults).</summary>
    /// <param name="json">The JSON text.</param>
    /// <exception cref="FormatException">The text is not a prompt in LmWrapper's JSON form.</exception>
    public static LmPrompt FromJson(string json) => Serialization.PredictionJson.DeserializePrompt(json);

    /// <summary>Value equality over every field, comparing the dialog and stop sequences element by element.</summary>
    /// <param name="other">The prompt to compare with.</param>
    public bool Equals(LmPrompt? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        return other is not null
            && Text == other.Text
            && SeqEq(_content as LmChatTurn[], other._content as LmChatTurn[])
            && SeqEq(_extras.Stop, other._extras.Stop)
            && MaxTokens == other.MaxTokens
            && Logprobs == other.Logprobs
            && Temperature.Equals(other.Temperature)
            && TopP.Equals(other.TopP)
            && PresencePenalty.Equals(other.PresencePenalty)
            && FrequencyPenalty.Equals(other.FrequencyPenalty)
            && NumCompletions == other.NumCompletions
            && Cache == other.Cache
            && Echo == other.Echo
            && AddBosToken == other.AddBosToken
            && AddSpecialTokens == other.AddSpecialTokens
            && Seed == other.Seed
            && Equals(Internals, other.Internals)
            && ReasoningEffort == other.ReasoningEffort
            && ThinkingBudgetTokens == other.ThinkingBudgetTokens
            && ToolFieldsEqual(other)
            && Equals(Metadata, other.Metadata);
    }

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Text);
        if (_content is LmChatTurn[] chat)
        {
            foreach (var t in chat)
            {
                h.Add(t);
            }
        }

        h.Add(MaxTokens);
        h.Add(Temperature);
        h.Add(NumCompletions);
        return h.ToHashCode();
    }

    private static bool SeqEq<T>(T[]? a, T[]? b) =>
        a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);

    /// <summary>The settings most prompts leave at their defaults. Immutable: setting one makes a new instance.</summary>
    private sealed partial record Extras
    {
        public static readonly Extras Default = new();

        public string[]? Stop { get; init; }

        public double TopP { get; init; } = 1.0;

        public double PresencePenalty { get; init; }

        public double FrequencyPenalty { get; init; }

        public bool? Cache { get; init; }

        public bool Echo { get; init; }

        public bool? AddBosToken { get; init; }

        public bool? AddSpecialTokens { get; init; }

        public int? Seed { get; init; }

        public object? Metadata { get; init; }

        public ModelInternalsRequest? Internals { get; init; }

        public LmReasoningEffort? ReasoningEffort { get; init; }

        public int? ThinkingBudgetTokens { get; init; }
    }
}
