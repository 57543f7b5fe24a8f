using System.Text.Json;
using LmWrapper.HuggingFace.ChatTemplates;
using LmWrapper.HuggingFace.Tokenization;

namespace LmWrapper.HuggingFace;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> tokenizer, in managed code, with the same ids as the
/// <c>tokenizers</c> library: BPE models (byte-level like GPT-2, Llama-3 and Qwen, and
/// SentencePiece-style with <c>▁</c> and byte fallback like Llama-2 and Mistral), their normalizers,
/// pre-tokenizers, post-processors, decoders and added tokens. A component this class does not
/// implement makes loading fail with a <see cref="NotSupportedException"/> naming it, never a wrong answer.
/// Instances are immutable and safe to use from several threads.
/// </summary>
public sealed class HuggingFaceTokenizer
{
    private readonly Normalizer? _normalizer;
    private readonly PreTokenizer? _preTokenizer;
    private readonly BpeModel _model;
    private readonly PostProcessor? _postProcessor;
    private readonly Decoder? _decoder;
    private readonly bool _byteLevel;
    private readonly TextPattern? _streamingPattern;
    private readonly AddedTokenMatcher _rawMatcher;
    private readonly AddedTokenMatcher _normalizedMatcher;
    private readonly Dictionary<int, AddedToken> _addedById = new();
    private readonly Dictionary<string, AddedToken> _addedByContent = new(StringComparer.Ordinal);
    private readonly bool _cleanUpTokenizationSpaces;

    private HuggingFaceTokenizer(JsonElement tokenizer, JsonElement? config, JsonElement? specialTokensMap)
    {
        TokenizerConfig = config;
        _normalizer = Normalizer.FromJson(Property(tokenizer, "normalizer"));
        _preTokenizer = PreTokenizer.FromJson(Property(tokenizer, "pre_tokenizer"), out _byteLevel, ByteLevelPrefixSpaceOverride(tokenizer, config));
        _model = BpeModel.FromJson(tokenizer.GetProperty("model"), _byteLevel);
        _streamingPattern = _preTokenizer is null
            ? (_model.CanSplitBeforeMetaspace ? MetaspaceWordPattern.Instance : null)
            : _preTokenizer.StreamingPattern;
        _decoder = Decoder.FromJson(Property(tokenizer, "decoder"));

        // tokenizer.json's "truncation" and "padding" are ignored, as transformers ignores them in encode().

        // Added tokens: tokenizer.json's list, plus any only tokenizer_config.json's added_tokens_decoder names.
        if (tokenizer.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
        {
            foreach (var t in added.EnumerateArray())
            {
                AddAddedToken(t, t.GetProperty("id").GetInt32());
            }
        }

        if (config is JsonElement cfg && cfg.TryGetProperty("added_tokens_decoder", out var decoderMap) && decoderMap.ValueKind == JsonValueKind.Object)
        {
            foreach (var entry in decoderMap.EnumerateObject())
            {
                if (int.TryParse(entry.Name, out int id) && !_addedById.ContainsKey(id))
                {
                    AddAddedToken(entry.Value, id);
                }
            }
        }

        _rawMatcher = new AddedTokenMatcher(_addedById.Values.Where(t => !t.Normalized).Select(t => (t.Content, t)));
        _normalizedMatcher = new AddedTokenMatcher(_addedById.Values.Where(t => t.Normalized)
            .Select(t => (_normalizer is null ? t.Content : _normalizer.Normalize(t.Content), t)));

        int limit = _model.IdLimit;
        foreach (var id in _addedById.Keys)
        {
            limit = Math.Max(limit, id + 1);
        }

        VocabSize = _model.VocabCount + _addedById.Values.Count(t => _model.TokenToId(t.Content) is null);
        IdLimit = limit;

        // Special token names: tokenizer_config.json first, then special_tokens_map.json.
        BosToken = SpecialTokenName(config, "bos_token") ?? SpecialTokenName(specialTokensMap, "bos_token");
        EosToken = SpecialTokenName(config, "eos_token") ?? SpecialTokenName(specialTokensMap, "eos_token");
        PadToken = SpecialTokenName(config, "pad_token") ?? SpecialTokenName(specialTokensMap, "pad_token");
        UnkToken = SpecialTokenName(config, "unk_token") ?? SpecialTokenName(specialTokensMap, "unk_token");
        BosTokenId = BosToken is null ? null : TokenToId(BosToken);
        EosTokenId = EosToken is null ? null : TokenToId(EosToken);
        PadTokenId = PadToken is null ? null : TokenToId(PadToken);
        UnkTokenId = UnkToken is null ? null : TokenToId(UnkToken);

        _postProcessor = PostProcessor.FromJson(Property(tokenizer, "post_processor"), TokenToId);

        // transformers' Llama and Gemma tokenizers rebuild the post-processor from add_bos_token / add_eos_token.
        if (config is JsonElement c2)
        {
            string? cls = JsonUtil.OptionalString(c2, "tokenizer_class");
            bool hasFlags = c2.TryGetProperty("add_bos_token", out _) || c2.TryGetProperty("add_eos_token", out _);
            if (hasFlags && cls is "LlamaTokenizer" or "LlamaTokenizerFast" or "CodeLlamaTokenizer" or "CodeLlamaTokenizerFast" or "GemmaTokenizer" or "GemmaTokenizerFast")
            {
                bool addBos = JsonUtil.Bool(c2, "add_bos_token", true);
                bool addEos = JsonUtil.Bool(c2, "add_eos_token", false);
                if ((addBos && BosTokenId is null) || (addEos && EosTokenId is null))
                {
                    throw new FormatException("tokenizer_config.json asks to add a BOS/EOS token that the vocabulary does not have.");
                }

                _postProcessor = TemplatePostProcessor.ForBosEos(addBos ? BosTokenId : null, addEos ? EosTokenId : null);
            }

            _cleanUpTokenizationSpaces = JsonUtil.Bool(c2, "clean_up_tokenization_spaces", false);
        }
    }

    /// <summary>tokenizer_config.json as loaded (chat template, model_max_length, …), for code built on this tokenizer; null when absent.</summary>
    internal JsonElement? TokenizerConfig { get; }

    private Lazy<ChatTemplate?> _chatTemplate = new(() => null);

    /// <summary>
    /// The model's chat template (from <c>chat_template.jinja</c>, <c>chat_template.json</c> or
    /// <c>tokenizer_config.json</c>), or null when it has none. Parsed on first use.
    /// </summary>
    /// <exception cref="ChatTemplateSyntaxException">The template is not valid Jinja.</exception>
    public ChatTemplate? ChatTemplate => _chatTemplate.Value;

    /// <summary>
    /// Renders a dialog with the model's chat template, as transformers' <c>apply_chat_template(…, tokenize=False)</c>
    /// does: the template gets <c>messages</c>, <c>add_generation_prompt</c> and the tokenizer's special tokens
    /// (<c>bos_token</c>, <c>eos_token</c>, <c>pad_token</c>, …).
    /// </summary>
    /// <param name="turns">The dialog.</param>
    /// <param name="addGenerationPrompt">Whether to end with the header that starts the assistant's reply.</param>
    /// <param name="enableThinking">
    /// The template's <c>enable_thinking</c> switch (Qwen3's: false closes an empty thinking block so that the model
    /// answers at once); null leaves the variable undefined, the template's default.
    /// </param>
    /// <returns>The prompt text, to be encoded without adding special tokens again.</returns>
    /// <exception cref="InvalidOperationException">The tokenizer has no chat template.</exception>
    /// <exception cref="ChatTemplateException">The template failed (for example it raised an exception about the roles).</exception>
    public string ApplyChatTemplate(IReadOnlyList<LmChatTurn> turns, bool addGenerationPrompt = true, bool? enableThinking = null) =>
        RenderChat(turns, addGenerationPrompt, enableThinking, null);

    /// <summary>
    /// <see cref="ApplyChatTemplate"/> with the prompt's tools as the template's <c>tools</c> variable (transformers'
    /// convention: <c>{"type": "function", "function": {"name", "description", "parameters"}}</c> each); null leaves it none.
    /// </summary>
    internal string RenderChat(IReadOnlyList<LmChatTurn> turns, bool addGenerationPrompt, bool? enableThinking, IReadOnlyList<LmToolDefinition>? tools)
    {
        ArgumentNullException.ThrowIfNull(turns);
        var template = ChatTemplate ?? throw new InvalidOperationException(
            "This tokenizer has no chat template (no chat_template.jinja, chat_template.json, or chat_template in tokenizer_config.json); " +
            "format the dialog yourself, or use a prompt's default string form (LmPrompt.GetTextAsStringDefaultForm).");
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in new[] { ("unk_token", UnkToken), ("pad_token", PadToken) })
        {
            if (value is not null)
            {
                variables[name] = value;
            }
        }

        if (enableThinking is { } thinking)
        {
            variables["enable_thinking"] = thinking;
        }

        if (tools is { Count: > 0 })
        {
            variables["tools"] = Generation.LocalToolCalls.TemplateTools(tools);
        }

        return template.Render(turns, addGenerationPrompt, BosToken, EosToken, variables);
    }

    /// <summary>Whether the chat template reads a <c>tools</c> variable (Qwen3's and Llama 3.1's do), so a prompt's tools reach the model.</summary>
    internal bool ChatTemplateTakesTools => ChatTemplate?.Source is { } source && System.Text.RegularExpressions.Regex.IsMatch(source, @"\btools\b");

    /// <summary>
    /// Whether the chat template has an <c>enable_thinking</c> switch (Qwen3's templates do), which
    /// <see cref="LmPrompt.ReasoningEffort"/> sets: false for <see cref="LmReasoningEffort.None"/>, true otherwise.
    /// </summary>
    public bool ChatTemplateHasThinkingSwitch => ChatTemplate?.Source.Contains("enable_thinking", StringComparison.Ordinal) ?? false;

    /// <summary>The number of tokens, added tokens included (Python's <c>len(tokenizer)</c>).</summary>
    public int VocabSize { get; }

    /// <summary>One past the largest token id (the smallest embedding size that covers every id).</summary>
    public int IdLimit { get; }

    /// <summary>The beginning-of-sequence token, from tokenizer_config.json (or special_tokens_map.json); null when none.</summary>
    public string? BosToken { get; }

    /// <summary>The end-of-sequence token, from tokenizer_config.json (or special_tokens_map.json); null when none.</summary>
    public string? EosToken { get; }

    /// <summary>The padding token; null when none.</summary>
    public string? PadToken { get; }

    /// <summary>The unknown token; null when none.</summary>
    public string? UnkToken { get; }

    /// <summary>The id of <see cref="BosToken"/>; null when there is none.</summary>
    public int? BosTokenId { get; }

    /// <summary>The id of <see cref="EosToken"/>; null when there is none.</summary>
    public int? EosTokenId { get; }

    /// <summary>The id of <see cref="PadToken"/>; null when there is none.</summary>
    public int? PadTokenId { get; }

    /// <summary>The id of <see cref="UnkToken"/>; null when there is none.</summary>
    public int? UnkTokenId { get; }

    /// <summary>
    /// Loads <c>tokenizer.json</c> from a model folder, with <c>tokenizer_config.json</c> and
    /// <c>special_tokens_map.json</c> when present.
    /// </summary>
    /// <param name="path">The folder holding tokenizer.json.</param>
    /// <exception cref="FileNotFoundException">The folder has no tokenizer.json.</exception>
    /// <exception cref="NotSupportedException">The tokenizer uses a component this class does not implement.</exception>
    /// <exception cref="FormatException">A file is not JSON, or a field is missing or of the wrong kind; the message names the file.</exception>
    public static HuggingFaceTokenizer FromFolder(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string json = Path.Combine(path, "tokenizer.json");
        if (!File.Exists(json))
        {
            throw new FileNotFoundException($"No tokenizer.json in '{path}'. Point FromFolder at a Hugging Face model folder (models with only a SentencePiece tokenizer.model are not supported).", json);
        }

        string config = Path.Combine(path, "tokenizer_config.json");
        string map = Path.Combine(path, "special_tokens_map.json");
        var loaded = Load(json, File.Exists(config) ? config : null, File.Exists(map) ? map : null);
        loaded._chatTemplate = new Lazy<ChatTemplate?>(() => ChatTemplate.FromModelFolder(path));
        return loaded;
    }

    /// <summary>Loads a <c>tokenizer.json</c> file, and optionally its <c>tokenizer_config.json</c>.</summary>
    /// <param name="tokenizerJsonPath">The tokenizer.json file.</param>
    /// <param name="tokenizerConfigPath">The tokenizer_config.json file (BOS/EOS names, add_bos_token, …), or null.</param>
    /// <exception cref="NotSupportedException">The tokenizer uses a component this class does not implement.</exception>
    /// <exception cref="FormatException">A file is not JSON, or a field is missing or of the wrong kind; the message names the file.</exception>
    public static HuggingFaceTokenizer FromFile(string tokenizerJsonPath, string? tokenizerConfigPath = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJsonPath);
        var loaded = Load(tokenizerJsonPath, tokenizerConfigPath, null);
        loaded._chatTemplate = new Lazy<ChatTemplate?>(() => tokenizerConfigPath is null ? null : ChatTemplate.FromTokenizerConfig(tokenizerConfigPath));
        return loaded;
    }

    private static HuggingFaceTokenizer Load(string tokenizerJsonPath, string? configPath, string? mapPath)
    {
        using var tokenizer = ParseFile(tokenizerJsonPath);
        using var config = configPath is null ? null : ParseFile(configPath);
        using var map = mapPath is null ? null : ParseFile(mapPath);
        try
        {
            return new HuggingFaceTokenizer(tokenizer.RootElement, config?.RootElement.Clone(), map?.RootElement.Clone());
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or IndexOutOfRangeException or ArgumentException
            or OverflowException or FormatException)
        {
            // A field missing or of the wrong JSON kind: one documented exception naming the file, whatever part tripped on it.
            throw new FormatException(
                $"'{tokenizerJsonPath}'{(configPath is null ? string.Empty : $" (with '{configPath}')")} is not a tokenizer LmWrapper can read: {e.Message}", e);
        }
    }

    private static JsonDocument ParseFile(string path)
    {
        var options = new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip };
        byte[] bytes = File.ReadAllBytes(path);
        int start = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0; // a UTF-8 byte-order mark
        try
        {
            return JsonDocument.Parse(bytes.AsMemory(start), options);
        }
        catch (JsonException e)
        {
            throw new FormatException($"'{path}' is not valid JSON: {e.Message}", e);
        }
    }

    private static readonly JsonElement NullElement = JsonDocument.Parse("null").RootElement.Clone();

    private static JsonElement Property(JsonElement obj, string name) => obj.TryGetProperty(name, out var v) ? v : NullElement;

    /// <summary>
    /// transformers' GPT-2-family fast tokenizers replace a top-level ByteLevel pre-tokenizer's
    /// add_prefix_space with tokenizer_config.json's (default false); we do the same.
    /// </summary>
    private static bool? ByteLevelPrefixSpaceOverride(JsonElement tokenizer, JsonElement? config)
    {
        if (config is not JsonElement c || JsonUtil.OptionalString(c, "tokenizer_class") is not string cls)
        {
            return null;
        }

        var pre = Property(tokenizer, "pre_tokenizer");
        if (pre.ValueKind != JsonValueKind.Object || JsonUtil.OptionalString(pre, "type") != "ByteLevel")
        {
            return null;
        }

        return cls is "GPT2Tokenizer" or "GPT2TokenizerFast" or "RobertaTokenizer" or "RobertaTokenizerFast"
            or "BartTokenizer" or "BartTokenizerFast" or "CodeGenTokenizer" or "CodeGenTokenizerFast"
            ? JsonUtil.Bool(c, "add_prefix_space", false)
            : null;
    }

    private static string? SpecialTokenName(JsonElement? json, string name)
    {
        if (json is not JsonElement obj || obj.ValueKind != JsonValueKind.Object || !obj.TryGetProperty(name, out var v))
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object => JsonUtil.OptionalString(v, "content"),
            _ => null,
        };
    }

    private void AddAddedToken(JsonElement t, int id)
    {
        if (id < 0)
        {
            throw new FormatException($"The added token \"{JsonUtil.OptionalString(t, "content")}\" has id {id}; ids are never negative.");
        }

        var token = new AddedToken(
            id,
            JsonUtil.String(t, "content"),
            JsonUtil.Bool(t, "single_word", false),
            JsonUtil.Bool(t, "lstrip", false),
            JsonUtil.Bool(t, "rstrip", false),
            JsonUtil.Bool(t, "normalized", !JsonUtil.Bool(t, "special", false)),
            JsonUtil.Bool(t, "special", false));
        if (token.Content.Length == 0)
        {
            return;
        }

        _addedById[id] = token;
        _addedByContent[token.Content] = token;
    }

    /// <summary>The string of a token id (an added token's content, or the model vocabulary's entry); null when unknown.</summary>
    /// <param name="id">The token id.</param>
    public string? IdToToken(int id) => _addedById.TryGetValue(id, out var t) ? t.Content : _model.IdToToken(id);

    /// <summary>The id of a token string (added tokens first, then the model vocabulary); null when unknown.</summary>
    /// <param name="token">The token string, e.g. <c>"&lt;s&gt;"</c> or <c>"Ġworld"</c>.</param>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _addedByContent.TryGetValue(token, out var t) ? t.Id : _model.TokenToId(token);
    }

    /// <summary>Whether an id is a special token (skipped by <see cref="Decode"/> with skipSpecialTokens).</summary>
    /// <param name="id">The token id.</param>
    public bool IsSpecialToken(int id) => _addedById.TryGetValue(id, out var t) && t.Special;

    /// <summary>Encodes text to token ids, as Hugging Face's <c>tokenizer.encode(text, add_special_tokens=…)</c>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="addSpecialTokens">Whether to add the special tokens the post-processor (or tokenizer_config.json's add_bos_token) asks for, e.g. BOS.</param>
    public int[] Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EncodeCore(text, addSpecialTokens, track: false).Ids.ToArray();
    }

    /// <summary>The number of tokens <see cref="Encode"/> would return.</summary>
    /// <param name="text">The text.</param>
    /// <param name="addSpecialTokens">Whether to count the special tokens the post-processor adds.</param>
    public int CountTokens(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EncodeCore(text, addSpecialTokens, track: false).Ids.Count;
    }

    /// <summary>Encodes text and reports, for each token, its vocabulary string and the range of the text it came from.</summary>
    /// <param name="text">The text.</param>
    /// <param name="addSpecialTokens">Whether to add the post-processor's special tokens (they get empty offsets).</param>
    public TokenizerEncoding EncodeWithOffsets(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var e = EncodeCore(text, addSpecialTokens, track: true);
        var ids = e.Ids.ToArray();
        var tokens = ids.Select(id => IdToToken(id) ?? "").ToArray();
        var special = new bool[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            special[i] = IsSpecialToken(ids[i]) || (e.Offsets![i] == (0, 0) && _addedById.ContainsKey(ids[i]));
        }

        return new TokenizerEncoding(ids, tokens, e.Offsets!.ToArray(), special);
    }

    private EncodingBuilder EncodeCore(string text, bool addSpecialTokens, bool track)
    {
        var encoding = new EncodingBuilder(track);
        var rawSplits = new List<AddedSplit>();
        _rawMatcher.Split(text, rawSplits);
        var normalizedSplits = new List<AddedSplit>();
        var words = new List<TextSplit>();
        var pieces = new List<TextSplit>(1);
        List<int>? ends = track ? new List<int>() : null;
        foreach (var raw in rawSplits)
        {
            if (raw.Token is not null)
            {
                encoding.Add(raw.Token.Id, raw.Start, raw.End);
                continue;
            }

            var piece = NormalizedString.FromOriginal(text, raw.Start, raw.End, track);
            if (_normalizer is not null)
            {
                piece = _normalizer.Normalize(piece);
            }

            normalizedSplits.Clear();
            _normalizedMatcher.Split(piece.Text, normalizedSplits);
            foreach (var ns in normalizedSplits)
            {
                if (ns.Token is not null)
                {
                    var (os, oe) = piece.OriginalRange(ns.Start, ns.End);
                    encoding.Add(ns.Token.Id, os, oe);
                    continue;
                }

                if (!track && _streamingPattern is not null)
                {
                    // Fast path: the pre-tokenizer is one covering split; feed its matches straight to the model.
                    ReadOnlySpan<char> span = piece.Text.AsSpan(ns.Start, ns.End - ns.Start);
                    for (int i = 0; i < span.Length;)
                    {
                        int end = _streamingPattern.MatchAt(span, i);
                        _model.Encode(span[i..end], encoding.Ids, null);
                        i = end;
                    }

                    continue;
                }

                pieces.Clear();
                pieces.Add(new TextSplit(piece, ns.Start, ns.End));
                words.Clear();
                if (_preTokenizer is null)
                {
                    words.AddRange(pieces);
                }
                else
                {
                    _preTokenizer.PreTokenize(pieces, words);
                }

                foreach (var word in words)
                {
                    if (!track)
                    {
                        _model.Encode(word.Span, encoding.Ids, null);
                        continue;
                    }

                    int before = encoding.Ids.Count;
                    ends!.Clear();
                    _model.Encode(word.Span, encoding.Ids, ends);
                    AddWordOffsets(encoding, word, ends, encoding.Ids.Count - before);
                }
            }
        }

        _postProcessor?.Process(encoding, addSpecialTokens, IdToToken);
        return encoding;
    }

    private void AddWordOffsets(EncodingBuilder encoding, TextSplit word, List<int> ends, int count)
    {
        ReadOnlySpan<char> span = word.Span;
        int[]? charStartOfByte = null, charEndOfByte = null;
        if (_byteLevel)
        {
            // Map UTF-8 byte positions of the word to its chars.
            var starts = new List<int>(span.Length * 2);
            var endsOfChar = new List<int>(span.Length * 2);
            for (int i = 0; i < span.Length;)
            {
                int len = char.IsHighSurrogate(span[i]) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]) ? 2 : 1;
                int bytes = System.Text.Encoding.UTF8.GetByteCount(span.Slice(i, len));
                for (int b = 0; b < bytes; b++)
                {
                    starts.Add(i);
                    endsOfChar.Add(i + len);
                }

                i += len;
            }

            charStartOfByte = starts.ToArray();
            charEndOfByte = endsOfChar.ToArray();
        }

        int previousStart = 0;
        for (int k = 0; k < count; k++)
        {
            int unitStart = k == 0 ? 0 : ends[k - 1];
            int unitEnd = ends[k];
            int cs, ce;
            if (charStartOfByte is not null)
            {
                if (unitEnd <= unitStart)
                {
                    cs = ce = unitStart < charStartOfByte.Length ? charStartOfByte[unitStart] : span.Length;
                }
                else
                {
                    cs = charStartOfByte[unitStart];
                    ce = charEndOfByte![unitEnd - 1];
                }
            }
            else if (unitEnd <= unitStart && k > 0)
            {
                // A further byte-fallback token of the same char: the char's range again.
                cs = previousStart;
                ce = unitEnd;
            }
            else
            {
                cs = Math.Min(unitStart, unitEnd);
                ce = unitEnd;
            }

            previousStart = cs;

            var (os, oe) = word.Source.OriginalRange(word.Start + cs, word.Start + ce);
            encoding.Offsets!.Add((os, oe));
        }
    }

    /// <summary>Decodes token ids to text, as Hugging Face's <c>tokenizer.decode(ids, skip_special_tokens=…)</c>.</summary>
    /// <param name="ids">The token ids.</param>
    /// <param name="skipSpecialTokens">Whether to leave special tokens (BOS, EOS, chat markers, …) out.</param>
    /// <exception cref="ArgumentOutOfRangeException">An id is not in the vocabulary.</exception>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (_addedById.TryGetValue(id, out var added))
            {
                if (!(skipSpecialTokens && added.Special))
                {
                    tokens.Add(added.Content);
                }

                continue;
            }

            tokens.Add(_model.IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is not in this tokenizer's vocabulary (size {VocabSize})."));
        }

        string text = _decoder is null ? string.Join(" ", tokens) : _decoder.Decode(tokens);
        return _cleanUpTokenizationSpaces ? CleanUpTokenization(text) : text;
    }

    /// <summary>
    /// The text one more token adds after some tokens, for streaming and per-token text:
    /// <c>Decode(previous + [nextId])</c> minus its common prefix with <c>Decode(previous)</c>, decoding
    /// only the last few previous tokens. A token that ends inside a multi-byte character adds
    /// nothing yet (trailing U+FFFD is held back); the token that completes it adds the whole
    /// character. So the concatenated results equal <see cref="Decode"/> of all the ids.
    /// </summary>
    public string DecodeNext(IReadOnlyList<int> previousIds, int nextId, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(previousIds);
        int from = Math.Max(0, previousIds.Count - 8);
        var context = new List<int>(previousIds.Count - from + 1);
        for (int i = from; i < previousIds.Count; i++)
        {
            context.Add(previousIds[i]);
        }

        string before = Decode(context, skipSpecialTokens);
        context.Add(nextId);
        string after = Decode(context, skipSpecialTokens);
        int common = before.AsSpan().CommonPrefixLength(after);
        return after[common..].TrimEnd('\uFFFD');
    }

    /// <summary>
    /// The text each token contributes, in order: concatenated they equal <see cref="Decode"/> of
    /// all the ids (a token that ends inside a multi-byte character contributes "" and the one that
    /// completes it the whole character). Running sums of their lengths are the tokens' offsets in
    /// the decoded text, as LmPrediction's CompletionTokens and CompletionTokenOffsets want them.
    /// </summary>
    /// <param name="ids">The token ids.</param>
    /// <param name="skipSpecialTokens">Whether special tokens contribute nothing.</param>
    public string[] DecodeEachToken(IReadOnlyList<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var pieces = new string[ids.Count];
        var previous = new List<int>(ids.Count);
        int total = 0;
        for (int i = 0; i < ids.Count; i++)
        {
            pieces[i] = DecodeNext(previous, ids[i], skipSpecialTokens);
            total += pieces[i].Length;
            previous.Add(ids[i]);
        }

        if (ids.Count > 0)
        {
            // What is still held back at the end (an incomplete character, or a decoder's final touch).
            string all = Decode(ids, skipSpecialTokens);
            string joined = string.Concat(pieces);
            if (all != joined)
            {
                int common = joined.AsSpan().CommonPrefixLength(all);
                if (common == joined.Length)
                {
                    pieces[^1] += all[common..];
                }
            }
        }

        return pieces;
    }

    /// <summary>
    /// Each id's bytes as the token adds them in the middle of a text (byte-level tokens map back to their bytes,
    /// byte-fallback &lt;0xNN&gt; tokens to their byte, other tokens to the UTF-8 of what the decoder makes of them);
    /// null for added and special tokens and ids without a token. For constrained decoding, which works on bytes.
    /// </summary>
    /// <exception cref="NotSupportedException">The tokenizer has no decoder, so tokens have no defined text.</exception>
    internal byte[]?[] TokenBytes()
    {
        var table = new byte[]?[IdLimit];
        var buffer = new List<byte>();
        string? anchor = null;
        string anchorText = string.Empty;
        if (!_byteLevel)
        {
            if (_decoder is null)
            {
                throw new NotSupportedException("Constrained decoding needs a tokenizer.json with a decoder (this one has none), to know each token's text.");
            }

            // Decode each token after a plain letter, so that decoders that strip or rewrite a leading space at the start of
            // a text (Metaspace, Strip) treat it as they do mid-text.
            anchor = new[] { "a", "b", "x", "e" }.FirstOrDefault(t => _model.TokenToId(t) is not null);
            if (anchor is not null)
            {
                anchorText = _decoder.Decode([anchor]);
            }
        }

        for (int id = 0; id < table.Length; id++)
        {
            if (_addedById.ContainsKey(id) || _model.IdToToken(id) is not string token)
            {
                continue;
            }

            if (_byteLevel)
            {
                buffer.Clear();
                table[id] = ByteLevelTables.TryMapToBytes(token, buffer) ? [.. buffer] : System.Text.Encoding.UTF8.GetBytes(token);
                continue;
            }

            string text = anchor is null ? _decoder!.Decode([token]) : _decoder!.Decode([anchor, token]);
            if (anchor is not null)
            {
                text = text.StartsWith(anchorText, StringComparison.Ordinal) ? text[anchorText.Length..] : text;
            }

            if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte b)
                && (text == "\uFFFD" || text == ((char)b).ToString()))
            {
                table[id] = [b];
                continue;
            }

            table[id] = text.Contains('\uFFFD', StringComparison.Ordinal) ? null : System.Text.Encoding.UTF8.GetBytes(text);
        }

        return table;
    }

    private static string CleanUpTokenization(string s) => s
        .Replace(" .", ".", StringComparison.Ordinal)
        .Replace(" ?", "?", StringComparison.Ordinal)
        .Replace(" !", "!", StringComparison.Ordinal)
        .Replace(" ,", ",", StringComparison.Ordinal)
        .Replace(" ' ", "'", StringComparison.Ordinal)
        .Replace(" n't", "n't", StringComparison.Ordinal)
        .Replace(" 'm", "'m", StringComparison.Ordinal)
        .Replace(" 's", "'s", StringComparison.Ordinal)
        .Replace(" 've", "'ve", StringComparison.Ordinal)
        .Replace(" 're", "'re", StringComparison.Ordinal);
}
