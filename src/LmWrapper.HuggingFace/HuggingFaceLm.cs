using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using LmWrapper.HuggingFace.Generation;
using LmWrapper.HuggingFace.Hub;
using LmWrapper.HuggingFace.Kernels;
using LmWrapper.HuggingFace.Models;
using LmWrapper.HuggingFace.Safetensors;

namespace LmWrapper.HuggingFace;

/// <summary>
/// A Hugging Face causal language model (GPT-2, Llama, Mistral, Qwen2, Qwen3; F32, F16 or BF16 safetensors) run
/// in-process, in managed code: the same <see cref="LanguageModel.Predict(LmPrompt)"/>, <see cref="LanguageModel.PredictMany"/>,
/// cache and errors as the API models, plus what only a local model gives — prompt logprobs (<see cref="LmPrompt.Echo"/>),
/// top-k alternatives, and hidden states and attention weights (<see cref="LmPrompt.Internals"/>).
/// </summary>
/// <remarks>
/// Text prompts get a beginning-of-sequence token when the tokenizer has one (<see cref="LmPrompt.AddBosToken"/>), and
/// tokenizer special tokens by default (<see cref="LmPrompt.AddSpecialTokens"/>). Chat prompts go through the model's chat
/// template with the generation prompt; a trailing assistant turn is continued rather than closed. Temperature 0 is
/// greedy; otherwise sampling uses temperature, <see cref="HuggingFaceLmOptions.TopK"/> and top-p, from
/// <see cref="LmPrompt.Seed"/> when set. Logprobs are those of the model's own distribution. Costs are zero.
/// Several samples of one prompt share its prompt pass; <see cref="LanguageModel.PredictMany"/> runs prompts through
/// batched forward passes, with the same results as predicting each alone. In chat mode with a chat template that reads
/// <c>tools</c> (Qwen3's), prompts take <see cref="LmPrompt.Tools"/>: a Required or Named <see cref="LmPrompt.ToolChoice"/>
/// generates one <c>{"name", "arguments"}</c> call under constrained decoding, Auto takes the text's
/// <c>&lt;tool_call&gt;</c> blocks as calls.
/// </remarks>
public sealed class HuggingFaceLm : LanguageModel
{
    private readonly SafetensorsCheckpoint _checkpoint;
    private readonly CausalTransformer _model;
    private readonly Generator _generator;
    private readonly HuggingFaceLmOptions _options;
    private readonly bool _chatMode;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConditionalWeakTable<LmPrompt, PromptEncoding> _encodings = [];
    private readonly Lazy<TokenTrie> _jsonVocabulary;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, JsonConstraint> _jsonConstraints = new(StringComparer.Ordinal);
    private volatile bool _disposed;

    private HuggingFaceLm(string folder, string identity, HuggingFaceTokenizer tokenizer, SafetensorsCheckpoint checkpoint,
        CausalTransformer model, IEnumerable<int> eos, HuggingFaceLmOptions options)
        : base(options.ResolveModelOptions())
    {
        Folder = folder;
        Tokenizer = tokenizer;
        _checkpoint = checkpoint;
        _model = model;
        _options = options;
        _chatMode = options.UseChatMode ?? tokenizer.ChatTemplate is not null;
        ModelIdentity = identity + (options.Quantization == WeightQuantization.Int8 ? ";q8" : "") + (options.TopK > 0 ? $";top_k={options.TopK}" : "") + (_chatMode != (tokenizer.ChatTemplate is not null) ? $";chat={_chatMode}" : "");
        EosTokenIds = [.. eos];
        // config.json's bos_token_id only when the tokenizer's files say nothing about a BOS token (stories260K ships no
        // tokenizer_config.json); an explicit "bos_token": null (Qwen) means none, as transformers reads it.
        BosTokenId = tokenizer.BosTokenId
            ?? (!TokenizerNamesBos(folder) && model.Config.BosTokenId is int b && tokenizer.IdToToken(b) is not null ? b : null);
        TokenText = new TokenText(tokenizer);
        _jsonVocabulary = new(() => new TokenTrie(tokenizer.TokenBytes()));
        _generator = new Generator(model, (context, id) => TokenText.Next(context, id, skipSpecialTokens: true), EosTokenIds);
        HuggingFaceLog.ModelLoaded(Logger, ModelIdentity, model.Config.ModelType, model.Config.NumLayers, model.Config.HiddenSize, options.Quantization);
    }

    /// <summary>The local folder the model was loaded from (a hub snapshot folder for a hub id).</summary>
    public string Folder { get; }

    /// <summary>The model's tokenizer.</summary>
    public HuggingFaceTokenizer Tokenizer { get; }

    /// <summary>config.json's <c>model_type</c> (gpt2, llama, mistral, qwen2 or qwen3).</summary>
    public string ModelType => _model.Config.ModelType;

    /// <summary>The number of transformer layers.</summary>
    public int NumLayers => _model.Config.NumLayers;

    /// <summary>The width of the hidden states.</summary>
    public int HiddenSize => _model.Config.HiddenSize;

    /// <summary>The ids that end a completion (config.json's, generation_config.json's and the tokenizer's end-of-sequence tokens).</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>
    /// The model and the checkpoint it came from: <c>hf/org/name@commit</c> for a hub model, or the folder's name with a
    /// hash of its config, tokenizer and weights, so that the cache never serves another checkpoint's answers.
    /// </summary>
    public override string ModelIdentity { get; }

    /// <summary>The context window (config.json's max_position_embeddings or n_positions).</summary>
    public override int TokenLimit => _model.Config.MaxPositions;

    /// <summary>Whether prompts go through the chat template (the tokenizer has one, unless <see cref="HuggingFaceLmOptions.UseChatMode"/> says otherwise).</summary>
    public override bool IsChatModel => _chatMode;

    /// <summary>Bytes of matrix weights read per generated token (for bandwidth figures).</summary>
    internal long WeightBytesPerToken => _model.Weights.MatrixBytes;

    internal CausalTransformer Transformer => _model;

    internal TokenText TokenText { get; }

    /// <summary>The vocabulary as a byte trie for constrained JSON decoding (built on first use, then shared).</summary>
    internal TokenTrie JsonVocabulary => _jsonVocabulary.Value;

    /// <summary>
    /// A constrained-decoding constraint for <see cref="GenerationRequest.Constraint"/>: <paramref name="schema"/> null
    /// for any JSON object (JSON mode), else a JSON Schema in the subset <see cref="JsonSchemaCompiler"/> documents.
    /// </summary>
    /// <exception cref="LmPromptException">The schema uses an unsupported keyword.</exception>
    internal JsonConstraint CreateJsonConstraint(JsonElement? schema)
    {
        // Compiled constraints are immutable: reuse them for the same schema text (validation, then generation, and the
        // many prompts of a PredictMany usually share one schema). A bounded cache: cleared when it grows past 64.
        string key = schema is JsonElement s ? s.GetRawText() : string.Empty;
        if (_jsonConstraints.TryGetValue(key, out var known))
        {
            return known;
        }

        var constraint = JsonConstraint.FromResponseFormat(schema, JsonVocabulary);
        if (_jsonConstraints.Count >= 64)
        {
            _jsonConstraints.Clear();
        }

        _jsonConstraints[key] = constraint;
        return constraint;
    }

    /// <summary>
    /// Which JSON constraint (if any) a prompt's generation runs under; null: none. A seam for tests until
    /// LmPrompt.ResponseFormat is wired in <see cref="ConstraintFor"/>.
    /// </summary>
    internal Func<LmPrompt, JsonConstraint?>? ConstraintSelector { get; set; }

    /// <summary>
    /// The JSON constraint a prompt generates under: its <see cref="LmPrompt.ResponseFormat"/> (any JSON object, or the
    /// format's schema), else the test seam's choice, else none. <see cref="ValidatePrompt"/> compiled the same schema
    /// already, so an unsupported one threw its <see cref="LmPromptException"/> before anything ran.
    /// </summary>
    private JsonConstraint? ConstraintFor(LmPrompt prompt) =>
        LocalToolCalls.IsForced(prompt) ? ToolConstraint(prompt)
        : prompt.ResponseFormat is { } format
            ? CreateJsonConstraint(format.Kind == LmResponseFormatKind.JsonObject ? null : format.Schema)
            : ConstraintSelector?.Invoke(prompt);

    /// <summary>
    /// The constraint of a forced tool call (<see cref="LmToolChoiceMode.Required"/> or <see cref="LmToolChoiceMode.Named"/>):
    /// one <c>{"name", "arguments"}</c> object for one of the tools (<see cref="LocalToolCalls.ForcedSchema"/>).
    /// </summary>
    /// <exception cref="LmPromptException">A tool's parameters use a schema keyword constrained decoding does not support.</exception>
    private JsonConstraint ToolConstraint(LmPrompt prompt)
    {
        try
        {
            return CreateJsonConstraint(LocalToolCalls.ForcedSchema(prompt));
        }
        catch (LmPromptException e)
        {
            throw new LmPromptException(
                $"ToolChoice {prompt.ToolChoice} makes {ModelIdentity} generate a tool call under a JSON constraint, but a tool's parameters schema is outside the supported subset: {e.Message}",
                nameof(LmPrompt.Tools));
        }
    }

    /// <inheritdoc/>
    protected override bool SupportsInternals => true;

    /// <inheritdoc/>
    protected override bool AcceptsEmptyText => BosTokenId is not null;

    /// <summary>
    /// The beginning-of-sequence token put before text prompts: the tokenizer's, else config.json's bos_token_id when
    /// the vocabulary has it; null when the model has none.
    /// </summary>
    public int? BosTokenId { get; }

    /// <summary>
    /// Loads a model from a folder (config.json, *.safetensors, tokenizer.json) or a hub id (<c>org/name</c>) found in the
    /// Hugging Face cache or downloaded into it (as <see cref="HuggingFaceHub"/> resolves it). Blocks while it loads.
    /// </summary>
    /// <param name="pathOrRepoId">A model folder or a hub id.</param>
    /// <param name="options">Threads, hub and sampling settings; null for the defaults.</param>
    /// <exception cref="HuggingFaceModelException">The folder is not a model LmWrapper can run (unknown architecture, missing or misshapen tensors, no tokenizer).</exception>
    /// <exception cref="HuggingFaceHubException">A hub id could not be resolved.</exception>
    public static HuggingFaceLm Get(string pathOrRepoId, HuggingFaceLmOptions? options = null) =>
        GetAsync(pathOrRepoId, options, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Loads a model from a folder or a hub id; see <see cref="Get"/>.</summary>
    /// <param name="pathOrRepoId">A model folder or a hub id.</param>
    /// <param name="options">Threads, hub and sampling settings; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels a download.</param>
    public static async Task<HuggingFaceLm> GetAsync(string pathOrRepoId, HuggingFaceLmOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrRepoId);
        options ??= new HuggingFaceLmOptions();
        if (options.Threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "HuggingFaceLmOptions.Threads must be at least 1.");
        }

        if (!Enum.IsDefined(options.Quantization))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Quantization, "Unknown HuggingFaceLmOptions.Quantization.");
        }

        if (options.MaxBatchSize < 1 || options.TopK < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "HuggingFaceLmOptions.MaxBatchSize must be at least 1 and TopK at least 0.");
        }

        string folder;
        string? repo = null;
        if (Directory.Exists(pathOrRepoId))
        {
            folder = Path.GetFullPath(pathOrRepoId);
        }
        else
        {
            using var hub = new HuggingFaceHub(options.Hub);
            folder = await hub.ResolveModelAsync(pathOrRepoId, options.Revision, null, cancellationToken).ConfigureAwait(false);
            repo = pathOrRepoId;
        }

        return Load(folder, repo, options);
    }

    /// <summary>Counts the prompt's tokens as the model sees them (chat template and beginning-of-sequence token included).</summary>
    /// <param name="prompt">The prompt.</param>
    public override int EstimateTokensInPrompt(LmPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Encode(prompt).Ids.Length;
    }

    /// <summary><see cref="ValidatePrompt"/> already refuses a prompt that leaves no room to generate, counting its real tokens.</summary>
    protected override double CannotFitFactor => double.PositiveInfinity;

    /// <inheritdoc/>
    protected override void ValidatePrompt(LmPrompt prompt)
    {
        base.ValidatePrompt(prompt);
        if (prompt.ResponseFormat is not null && prompt.Tools is not null)
        {
            // Both would constrain the same output: a format leaves no room for a tool call, a forced call none for the format.
            throw new LmPromptException(
                $"ResponseFormat and Tools are both set; {ModelIdentity} generates either under the format's schema or under the tools' call form, not both. Ask for the tools first, then for the structured answer in a later prompt.",
                nameof(LmPrompt.ResponseFormat));
        }

        if (LocalToolCalls.IsForced(prompt))
        {
            // A forced call is generated under its tools' schemas: compile them now, so an unsupported keyword fails before anything runs.
            ToolConstraint(prompt);
        }
        else if (prompt.ResponseFormat is { } format)
        {
            // Constrained decoding supports a subset of JSON Schema: compile now, so an unsupported keyword fails before anything runs.
            CreateJsonConstraint(format.Kind == LmResponseFormatKind.JsonObject ? null : format.Schema);
        }

        if (prompt.ThinkingBudgetTokens is not null)
        {
            throw new LmPromptException(
                $"ThinkingBudgetTokens is Claude's extended thinking; {ModelIdentity} is a local model that takes no thinking budget. Leave it null (a model whose chat template has an enable_thinking switch takes ReasoningEffort).",
                nameof(LmPrompt.ThinkingBudgetTokens));
        }

        if (prompt.ReasoningEffort is not null && !(_chatMode && Tokenizer.ChatTemplateHasThinkingSwitch))
        {
            throw new LmPromptException(
                _chatMode
                    ? $"ReasoningEffort is set, but {ModelIdentity}'s chat template has no enable_thinking switch (Qwen3's has), so thinking cannot be turned on or off. Leave it null."
                    : $"ReasoningEffort is set, but {ModelIdentity} completes plain text without a chat template, so thinking cannot be turned on or off. Leave it null.",
                nameof(LmPrompt.ReasoningEffort));
        }

        if (prompt.Logprobs > _model.Config.VocabSize)
        {
            throw new LmPromptException($"Logprobs is {prompt.Logprobs}, more than the vocabulary's {_model.Config.VocabSize} tokens.", nameof(LmPrompt.Logprobs));
        }

        var encoding = Encode(prompt);
        if (encoding.Ids.Length >= TokenLimit)
        {
            throw new LmPromptException(
                $"The prompt is {encoding.Ids.Length} tokens, which leaves no room to generate in {ModelIdentity}'s {TokenLimit}-token context. Shorten it.",
                prompt.IsChat ? nameof(LmPrompt.Chat) : nameof(LmPrompt.Text));
        }

        if (prompt.Internals is { } internals)
        {
            if (internals.HiddenStates)
            {
                internals.SelectLayers(NumLayers + 1);
            }

            if (internals.Attentions)
            {
                internals.SelectLayers(NumLayers);
            }
        }
    }

    /// <summary>The model's limits, free prices (it runs here) and capabilities (chat when it has a template, logprobs, echo, batched passes, internals, structured output by constrained decoding; tools in chat mode when the chat template reads <c>tools</c>, as Qwen3's does).</summary>
    public override LmModelInfo ModelInfo => new(
        ModelIdentity,
        TokenLimit,
        TokenLimit,
        Costs.LmTokenPrices.Free,
        (IsChatModel ? LmCapabilities.Chat | LmCapabilities.Prefill : LmCapabilities.None)
        | LmCapabilities.Logprobs | LmCapabilities.Echo | LmCapabilities.Batch | LmCapabilities.Internals
        | (_chatMode && Tokenizer.ChatTemplateHasThinkingSwitch ? LmCapabilities.ReasoningEffort : LmCapabilities.None)
        | LmCapabilities.StructuredOutput
        | (_chatMode && Tokenizer.ChatTemplateTakesTools ? LmCapabilities.Tools : LmCapabilities.None));

    /// <inheritdoc/>
    protected override Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(LmPrompt prompt, int numCompletions, CancellationToken cancellationToken) =>
        PredictUncachedAsync(new LmUncachedRequest(0, prompt, numCompletions), cancellationToken);

    /// <inheritdoc/>
    protected override async Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(LmUncachedRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var results = await GenerateAsync([request with { Index = 0 }], cancellationToken).ConfigureAwait(false);
        return results[0].Predictions;
    }

    /// <summary>Runs the requests in batched forward passes, up to <see cref="HuggingFaceLmOptions.MaxBatchSize"/> samples at a time, in either window.</summary>
    /// <param name="requests">The work.</param>
    /// <param name="window">Ignored: a local model has no cheaper later.</param>
    /// <param name="cancellationToken">Cancels the run between tokens.</param>
    protected override async IAsyncEnumerable<LmUncachedResult> PredictManyUncachedAsync(
        IReadOnlyList<LmUncachedRequest> requests, CompletionWindow window, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var batch = new List<LmUncachedRequest>();
        int samples = 0;
        for (int i = 0; i <= requests.Count; i++)
        {
            var request = i < requests.Count ? requests[i] : null;
            if (batch.Count > 0 && (request is null || samples + request.NumCompletions > _options.MaxBatchSize))
            {
                foreach (var result in await GenerateAsync(batch, cancellationToken).ConfigureAwait(false))
                {
                    yield return result;
                }

                batch.Clear();
                samples = 0;
            }

            if (request is not null)
            {
                batch.Add(request);
                samples += request.NumCompletions;
            }
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            // Unmapping the weights under a running generation would crash it: wait for it to finish.
            _gate.Wait();
            if (!_disposed)
            {
                _disposed = true;
                _checkpoint.Dispose();
                (_model.Kernels as IDisposable)?.Dispose();
            }

            _gate.Release();
        }

        base.Dispose(disposing);
    }

    /// <summary>
    /// Streams the samples token by token as they are generated. Text that could be the start of a stop sequence is held
    /// back until the next tokens show it is not (and text from a stop sequence on is never sent), so the streamed text
    /// always adds up to the final <see cref="LmPrediction.CompletionText"/>; each update carries the tokens it completes
    /// and, when the prompt asks for logprobs, theirs.
    /// </summary>
    /// <param name="request">The prompt, how many samples and the first sample's number.</param>
    /// <param name="cancellationToken">Cancels generation between tokens.</param>
    protected override async IAsyncEnumerable<LmStreamingUpdate> PredictUncachedStreamingAsync(
        LmUncachedRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var prompt = request.Prompt;
        var tokens = Channel.CreateUnbounded<(int Sample, string Piece, double Logprob)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var generation = Task.Run(
            async () =>
            {
                try
                {
                    var results = await GenerateAsync([request with { Index = 0 }], stop.Token, (s, piece, lp) => tokens.Writer.TryWrite((s, piece, lp))).ConfigureAwait(false);
                    tokens.Writer.TryComplete();
                    return results[0].Predictions;
                }
                catch (Exception e)
                {
                    tokens.Writer.TryComplete(e);
                    throw;
                }
            },
            CancellationToken.None);
        var holds = new StreamHoldBack[request.NumCompletions];
        for (int i = 0; i < holds.Length; i++)
        {
            // A forced tool call's JSON is not text: hold it all back (the final update carries the calls). Free text that
            // may hold <tool_call> blocks is held back from the first one on, since the blocks leave the final text.
            holds[i] = new StreamHoldBack(
                i,
                LocalToolCalls.ParsesText(prompt) ? [.. prompt.Stop ?? [], LocalToolCalls.OpenTag] : prompt.Stop,
                withLogprobs: prompt.Logprobs > 0,
                holdAll: LocalToolCalls.IsForced(prompt));
        }

        try
        {
            await foreach (var (sample, piece, logprob) in tokens.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (holds[sample].Add(piece, logprob) is { } update)
                {
                    yield return update;
                }
            }

            var predictions = await generation.ConfigureAwait(false);
            for (int i = 0; i < holds.Length; i++)
            {
                yield return holds[i].Finish(predictions[i]);
            }
        }
        finally
        {
            // A caller that stopped early (or cancelled) stops the generation; its outcome no longer matters.
            if (!generation.IsCompleted)
            {
                await stop.CancelAsync().ConfigureAwait(false);
            }

            try
            {
                await generation.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Already seen through the channel, or the caller left.
            }
        }
    }

    private async Task<IReadOnlyList<LmUncachedResult>> GenerateAsync(
        IReadOnlyList<LmUncachedRequest> requests, CancellationToken cancellationToken, Action<int, string, double>? onToken = null)
    {
        var encodings = requests.Select(r => Encode(r.Prompt)).ToArray();
        var generation = new GenerationRequest[requests.Count];
        for (int i = 0; i < requests.Count; i++)
        {
            var p = requests[i].Prompt;
            int room = TokenLimit - encodings[i].Ids.Length;
            generation[i] = new GenerationRequest
            {
                PromptIds = encodings[i].Ids,
                HasBos = encodings[i].HasBos,
                MaxNewTokens = Math.Min(p.MaxTokens ?? DefaultTokensGenerated, room),
                Temperature = p.Temperature,
                TopP = p.TopP,
                TopK = _options.TopK,
                PresencePenalty = p.PresencePenalty,
                FrequencyPenalty = p.FrequencyPenalty,
                Seed = p.Seed,
                NumSamples = requests[i].NumCompletions,
                FirstSample = requests[i].FirstSample,
                TopLogprobs = p.Logprobs,
                Echo = p.Echo,
                Stop = p.Stop is { } stop ? [.. stop.OrderByDescending(s => s.Length)] : null,
                Internals = p.Internals,
                OnToken = onToken,
                Constraint = ConstraintFor(p),
            };
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        IReadOnlyList<GenerationResult> results;
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            results = await Task.Run(() => _generator.Run(generation, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }

        var output = new LmUncachedResult[requests.Count];
        for (int i = 0; i < requests.Count; i++)
        {
            var prompt = requests[i].Prompt;
            output[i] = new LmUncachedResult(requests[i].Index, [.. results[i].Samples.Select(s => PredictionBuilder.Build(prompt, encodings[i], results[i], s, Tokenizer, TokenText))]);
        }

        return output;
    }

    /// <summary>The prompt's tokens (cached per prompt object).</summary>
    internal PromptEncoding Encode(LmPrompt prompt) => _encodings.GetValue(prompt, p => PromptEncoding.Create(p, Tokenizer, BosTokenId, _chatMode, ModelIdentity));

    private static HuggingFaceLm Load(string folder, string? repo, HuggingFaceLmOptions options)
    {
        var config = ModelConfig.Load(folder);
        HuggingFaceTokenizer tokenizer;
        try
        {
            tokenizer = HuggingFaceTokenizer.FromFolder(folder);
        }
        catch (Exception e) when (e is FileNotFoundException or FormatException or NotSupportedException or JsonException)
        {
            throw new HuggingFaceModelException(folder, $"its tokenizer cannot be loaded: {e.Message}", e);
        }

        if (tokenizer.IdLimit > config.VocabSize)
        {
            throw new HuggingFaceModelException(folder,
                $"the tokenizer has ids up to {tokenizer.IdLimit - 1} but config.json's vocab_size is {config.VocabSize} (tokenizer and weights do not belong together).");
        }

        SafetensorsCheckpoint checkpoint;
        try
        {
            checkpoint = SafetensorsCheckpoint.Open(folder);
        }
        catch (SafetensorsException e)
        {
            throw new HuggingFaceModelException(folder, $"its weights cannot be read: {e.Message}", e);
        }

        VectorKernels? kernels = null;
        try
        {
            var weights = TransformerWeights.Load(config, checkpoint, options.ConvertWeightsToFloat32, options.Quantization == WeightQuantization.Int8);
            kernels = new VectorKernels(options.Threads);
            var model = new CausalTransformer(weights, kernels);
            var eos = new SortedSet<int>(config.EosTokenIds);
            if (tokenizer.EosTokenId is int tokEos)
            {
                eos.Add(tokEos);
            }

            foreach (int id in GenerationConfigEos(folder))
            {
                eos.Add(id);
            }

            return new HuggingFaceLm(folder, Identity(folder, repo, checkpoint), tokenizer, checkpoint, model, eos, options);
        }
        catch
        {
            kernels?.Dispose();
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Whether tokenizer_config.json or special_tokens_map.json has a "bos_token" entry (null included).</summary>
    private static bool TokenizerNamesBos(string folder)
    {
        foreach (var file in new[] { "tokenizer_config.json", "special_tokens_map.json" })
        {
            string path = Path.Combine(folder, file);
            if (!File.Exists(path))
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("bos_token", out _))
                {
                    return true;
                }
            }
            catch (JsonException)
            {
                // The tokenizer's own loading reports a malformed file.
            }
        }

        return false;
    }

    private static IEnumerable<int> GenerationConfigEos(string folder)
    {
        string path = Path.Combine(folder, "generation_config.json");
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.TryGetProperty("eos_token_id", out var e))
            {
                return e.ValueKind switch
                {
                    JsonValueKind.Number => [e.GetInt32()],
                    JsonValueKind.Array => [.. e.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetInt32())],
                    _ => [],
                };
            }
        }
        catch (JsonException e)
        {
            throw new HuggingFaceModelException(folder, $"generation_config.json is not valid JSON: {e.Message}", e);
        }

        return [];
    }

    /// <summary>
    /// hf/org/name@commit for a hub snapshot; otherwise the folder's name and a hash of its config, tokenizer files,
    /// safetensors headers and samples of every weight file's bytes (reading them all would cost a load's worth of time).
    /// </summary>
    private static string Identity(string folder, string? repo, SafetensorsCheckpoint checkpoint)
    {
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(folder));
        var parent = Directory.GetParent(folder);
        if (parent?.Name == "snapshots" && parent.Parent?.Name.StartsWith("models--", StringComparison.Ordinal) == true
            && name.Length == 40 && name.All(char.IsAsciiHexDigitLower))
        {
            string id = repo ?? parent.Parent.Name["models--".Length..].Replace("--", "/", StringComparison.Ordinal);
            return $"hf/{id}@{name}";
        }

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in new[] { "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "chat_template.json", "generation_config.json" })
        {
            string path = Path.Combine(folder, file);
            sha.AppendData(Encoding.UTF8.GetBytes(file));
            if (File.Exists(path))
            {
                sha.AppendData(File.ReadAllBytes(path));
            }
        }

        foreach (var file in checkpoint.Files)
        {
            using var stream = new FileStream(file.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read);
            long length = stream.Length;
            sha.AppendData(BitConverter.GetBytes(length));
            var buffer = new byte[65536];
            const int Samples = 32;
            for (int s = 0; s <= Samples; s++)
            {
                long at = Math.Max(0, Math.Min(length - buffer.Length, length / Samples * s));
                stream.Position = at;
                int read = stream.ReadAtLeast(buffer, (int)Math.Min(buffer.Length, length - at), throwOnEndOfStream: false);
                sha.AppendData(buffer, 0, read);
            }
        }

        return $"hf/{name}#{Convert.ToHexStringLower(sha.GetHashAndReset())[..16]}";
    }
}
