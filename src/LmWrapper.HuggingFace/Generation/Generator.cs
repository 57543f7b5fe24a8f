using System.Text;
using LmWrapper.HuggingFace.Models;
using LmWrapper.Internals;

namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// Runs generation for several prompts at once: one batched prompt pass (the samples of a prompt share it, each with a
/// copy of its keys and values), then one batched forward step per token for every unfinished sample. Each sample's
/// tokens depend only on its own prompt, settings and seed, never on what else is in the batch.
/// </summary>
internal sealed class Generator
{
    /// <summary>
    /// The most prompt tokens run in one forward pass (a long prompt runs in pieces of this many, several short ones
    /// together). A pass's scratch grows with its rows (about 26 KB a row for a 135M Llama), so this bounds the prompt pass's
    /// memory, while each piece still fills the matrix tiles' 64-token blocks twice over; a 512-token prompt pays 3 more
    /// reads of the weights than in one pass, a few percent of its time.
    /// </summary>
    internal const int MaxPrefillRows = 128;

    private readonly CausalTransformer _model;
    private readonly Func<IReadOnlyList<int>, int, string>? _decodeNext;
    private readonly HashSet<int> _eos;

    /// <param name="model">The transformer.</param>
    /// <param name="decodeNext">The text a token adds after the given ids (special tokens add ""); null when there is no tokenizer (no stop sequences then).</param>
    /// <param name="eos">The ids that end a sample.</param>
    public Generator(CausalTransformer model, Func<IReadOnlyList<int>, int, string>? decodeNext, IEnumerable<int> eos)
    {
        _model = model;
        _decodeNext = decodeNext;
        _eos = [.. eos];
    }

    public IReadOnlyList<GenerationResult> Run(IReadOnlyList<GenerationRequest> requests, CancellationToken cancellationToken)
    {
        // Every cache made here is freed when the run ends, however it ends (see KvCache).
        var owned = new List<KvCache>();
        try
        {
            return Run(requests, owned, cancellationToken);
        }
        finally
        {
            foreach (var cache in owned)
            {
                cache.Dispose();
            }
        }
    }

    private IReadOnlyList<GenerationResult> Run(IReadOnlyList<GenerationRequest> requests, List<KvCache> owned, CancellationToken cancellationToken)
    {
        var caches = new KvCache[requests.Count];
        var promptCollectors = new InternalsCollector?[requests.Count];
        var promptLogprobs = new double?[requests.Count][];
        var lastLogits = new float[requests.Count][];

        // The prompt pass, in groups of at most MaxPrefillRows tokens: a longer prompt in pieces, each after the keys and
        // values of the ones before it.
        int vocab = _model.Config.VocabSize;
        var done = new int[requests.Count];
        for (int i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            caches[i] = _model.NewCache(r.PromptIds.Length + r.MaxNewTokens);
            owned.Add(caches[i]);
            if (r.Internals is { } ir && ir.Positions.HasFlag(LmInternalsPositions.Prompt))
            {
                promptCollectors[i] = new InternalsCollector(ir, _model.Config);
            }

            if (r.Echo)
            {
                promptLogprobs[i] = new double?[r.PromptIds.Length];
            }
        }

        int next = 0;
        while (next < requests.Count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var group = new List<(int Index, int From, ForwardItem Item)>();
            int rows = 0;
            for (int i = next; i < requests.Count && rows < MaxPrefillRows; i++)
            {
                var r = requests[i];
                int n = Math.Min(r.PromptIds.Length - done[i], MaxPrefillRows - rows);
                group.Add((i, done[i], new ForwardItem { Cache = caches[i], Tokens = r.PromptIds[done[i]..(done[i] + n)], AllLogits = r.Echo, Observer = promptCollectors[i] }));
                rows += n;
            }

            _model.Forward([.. group.Select(g => g.Item)]);
            foreach (var (index, from, item) in group)
            {
                var r = requests[index];
                int n = item.Tokens.Length;
                if (r.Echo)
                {
                    // Row j holds the distribution of the token after position from + j.
                    var lps = promptLogprobs[index];
                    for (int j = 0; j < n && from + j + 1 < r.PromptIds.Length; j++)
                    {
                        var row = item.Logits.AsSpan(j * vocab, vocab);
                        lps[from + j + 1] = row[r.PromptIds[from + j + 1]] - Sampler.LogSumExp(row);
                    }
                }

                done[index] = from + n;
                if (done[index] == r.PromptIds.Length)
                {
                    lastLogits[index] = r.Echo ? item.Logits.AsSpan((n - 1) * vocab, vocab).ToArray() : item.Logits;
                    next = Math.Max(next, index + 1);
                }
            }
        }

        // The samples: each starts from its prompt's last logits, with its own copy of the prompt's cache.
        var samples = new List<SampleState>();
        var results = new GenerationResult[requests.Count];
        for (int i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            var own = new GeneratedSample[r.NumSamples];
            for (int s = 0; s < r.NumSamples; s++)
            {
                var cache = caches[i];
                if (s < r.NumSamples - 1)
                {
                    cache = caches[i].Clone();
                    owned.Add(cache);
                }

                var state = new SampleState(r, cache, s, promptCollectors[i], _model.Config) { RequestIndex = i };
                own[s] = state.Sample;
                samples.Add(state);
            }

            results[i] = new GenerationResult { Samples = own, PromptLogprobs = promptLogprobs[i] };
        }

        var active = new List<SampleState>();
        foreach (var s in samples)
        {
            Accept(s, lastLogits[s.RequestIndex]);
            if (!s.Done)
            {
                active.Add(s);
            }
        }

        while (active.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var items = new ForwardItem[active.Count];
            for (int i = 0; i < active.Count; i++)
            {
                var s = active[i];
                s.FedPositions.Add(s.Cache.Length);
                items[i] = new ForwardItem { Cache = s.Cache, Tokens = [s.Sample.Tokens[^1]], Observer = s.Collector, Logits = s.Logits };
            }

            _model.Forward(items);
            for (int i = 0; i < active.Count; i++)
            {
                active[i].Logits = items[i].Logits;
                Accept(active[i], items[i].Logits);
            }

            active.RemoveAll(s => s.Done);
        }

        foreach (var s in samples)
        {
            if (s.Request.Internals is { } ir)
            {
                var positions = new List<int>();
                if (ir.Positions.HasFlag(LmInternalsPositions.Prompt))
                {
                    positions.AddRange(Enumerable.Range(0, s.Request.PromptIds.Length));
                }

                if (ir.Positions.HasFlag(LmInternalsPositions.Generated))
                {
                    positions.AddRange(s.FedPositions);
                }

                var collector = s.Collector ?? s.PromptCollector!;
                s.Sample.Internals = collector.Build(positions, s.PromptCollector, s.Request.HasBos);
            }
        }

        return results;
    }

    /// <summary>Takes the next token of a sample from its logits, and decides whether the sample is done.</summary>
    private void Accept(SampleState s, float[] logits)
    {
        var r = s.Request;
        if (s.Constraint is { } constraint)
        {
            // Constrained JSON: the disallowed tokens' logits become -inf (in a copy: the samples of a prompt share its
            // prompt-pass logits), so choice and logprobs are those of the masked distribution.
            if (Mask(s, constraint, logits) is not { } masked)
            {
                s.Sample.FinishReason = "stop";
                s.Done = true;
                return;
            }

            logits = masked;
        }

        int id = Sampler.Choose(logits, r, s.Random, s.Counts);
        if (_eos.Contains(id))
        {
            s.Sample.FinishReason = "stop";
            s.Sample.EndedWithEos = true;
            s.Done = true;
            return;
        }

        double lse = Sampler.LogSumExp(logits);
        double logprob = logits[id] - lse;
        s.Sample.Logprobs.Add(logprob);
        if (r.TopLogprobs > 1)
        {
            s.Sample.Top!.Add(Sampler.Top(logits, r.TopLogprobs, lse));
        }

        string piece = _decodeNext is null ? string.Empty : _decodeNext(s.Context, id);
        s.Sample.Tokens.Add(id);
        s.Sample.Pieces.Add(piece);
        s.Context.Add(id);
        s.Counts![id] = s.Counts.GetValueOrDefault(id) + 1;
        s.Text.Append(piece);
        s.Constraint?.Advance(id);
        r.OnToken?.Invoke(s.Index, piece, logprob);
        if (r.Stop is { } stops && piece.Length > 0)
        {
            foreach (var stop in stops)
            {
                int from = Math.Max(0, s.Text.Length - piece.Length - stop.Length + 1);
                if (s.Text.ToString(from, s.Text.Length - from).Contains(stop, StringComparison.Ordinal))
                {
                    s.Sample.FinishReason = "stop";
                    s.Done = true;
                    return;
                }
            }
        }

        if (s.Constraint is { IsFinal: true })
        {
            // The document is closed: only end-of-sequence could follow, so stop without another forward pass.
            s.Sample.FinishReason = "stop";
            s.Done = true;
            return;
        }

        if (s.Sample.Tokens.Count >= r.MaxNewTokens)
        {
            s.Sample.FinishReason = "length";
            s.Done = true;
        }
    }

    /// <summary>
    /// The logits with every token the JSON constraint does not allow next set to -inf (end-of-sequence is allowed when
    /// the document is complete, or when the vocabulary cannot continue it at all); null when nothing is allowed (the
    /// model has no end-of-sequence token and the document is complete), which ends the sample.
    /// </summary>
    private float[]? Mask(SampleState s, JsonConstraintState constraint, float[] logits)
    {
        var allowed = s.Allowed ??= new bool[logits.Length];
        int remaining = s.Request.MaxNewTokens - s.Sample.Tokens.Count;
        int n = constraint.FillAllowed(allowed, remaining);
        if (constraint.IsComplete || n == 0)
        {
            foreach (int eos in _eos)
            {
                if (eos < allowed.Length && !allowed[eos])
                {
                    allowed[eos] = true;
                    n++;
                }
            }
        }

        if (n == 0)
        {
            return null;
        }

        var masked = s.Masked ??= new float[logits.Length];
        for (int i = 0; i < masked.Length; i++)
        {
            masked[i] = allowed[i] ? logits[i] : float.NegativeInfinity;
        }

        return masked;
    }

    /// <summary>A sample being generated.</summary>
    private sealed class SampleState
    {
        public SampleState(GenerationRequest request, KvCache cache, int index, InternalsCollector? promptCollector, ModelConfig config)
        {
            Request = request;
            Index = index;
            Cache = cache;
            PromptCollector = promptCollector;
            Context = [.. request.PromptIds];
            Random = request.Temperature == 0 ? null : request.Seed is int seed ? new Random(MixSeed(seed, request.FirstSample + index)) : new Random();
            Sample = new GeneratedSample
            {
                Tokens = [],
                Pieces = [],
                Logprobs = [],
                Top = request.TopLogprobs > 1 ? [] : null,
            };
            if (request.Internals is { } ir && ir.Positions.HasFlag(LmInternalsPositions.Generated))
            {
                Collector = new InternalsCollector(ir, config);
            }

            Constraint = request.Constraint?.NewState();
        }

        /// <summary>This sample's own JSON parser state, when the request is constrained.</summary>
        public JsonConstraintState? Constraint { get; }

        /// <summary>Scratch: the allowed-token mask and the masked logits (constrained requests only).</summary>
        public bool[]? Allowed { get; set; }

        public float[]? Masked { get; set; }

        /// <summary>The sample's logits of its latest step, one array refilled by every step (not one large-object allocation a token).</summary>
        public float[] Logits { get; set; } = [];

        public GenerationRequest Request { get; }

        /// <summary>The sample's number within its request.</summary>
        public int Index { get; }

        public int RequestIndex { get; init; }

        public KvCache Cache { get; }

        public GeneratedSample Sample { get; }

        public List<int> Context { get; }

        public Random? Random { get; }

        public Dictionary<int, int>? Counts { get; } = [];

        public StringBuilder Text { get; } = new();

        public InternalsCollector? PromptCollector { get; }

        public InternalsCollector? Collector { get; }

        public List<int> FedPositions { get; } = [];

        public bool Done { get; set; }

        /// <summary>A different, reproducible stream per sample of a seeded prompt.</summary>
        private static int MixSeed(int seed, int index) => unchecked((int)(((uint)seed * 2654435761u) ^ ((uint)index * 40503u)));
    }
}
