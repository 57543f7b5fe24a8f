using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using LmWrapper.Batching;

namespace LmWrapper.Tests;

/// <summary>
/// An in-process provider batch API for testing the orchestration: it keeps its batches in memory (it outlives a
/// "crashed" run when the test keeps the instance), finishes them after a number of looks, and can expire, cancel or
/// fail them, refuse submissions, or die in the middle of one.
/// </summary>
internal sealed class FakeBatchBackend : IBatchBackend
{
    private int _next;

    public BatchLimits Limits { get; set; } = new(50_000, 200_000_000);

    public string Name => "fake";

    public ConcurrentDictionary<string, Batch> Batches { get; } = new();

    /// <summary>How many looks a batch takes to finish.</summary>
    public int PollsToFinish { get; set; } = 2;

    /// <summary>How the next batches end (default Completed); taken one per batch.</summary>
    public ConcurrentQueue<(BatchState State, double AnsweredShare)> Endings { get; } = new();

    /// <summary>The provider's own cap on enqueued tokens (refuses with queue-full above it).</summary>
    public long? ProviderTokenCap { get; set; }

    /// <summary>Runs at the start of each submission (throw to simulate a fault before the batch exists).</summary>
    public Action<string>? BeforeCreate { get; set; }

    /// <summary>Runs after a batch was created but before its id is returned (throw to simulate dying then).</summary>
    public Action<string>? AfterCreate { get; set; }

    public ConcurrentBag<string> CleanedUp { get; } = [];

    /// <summary>How many of a line's samples its batch answers (default all): fewer models a provider whose samples are separate requests.</summary>
    public Func<Batch, Line, int>? AnsweredSamples { get; set; }

    public long MaxEnqueuedSeen { get; private set; }

    public int Submissions => Batches.Count;

    /// <summary>Every custom id ever submitted, with how many batches it was in.</summary>
    public Dictionary<string, int> SubmittedCustomIds()
    {
        var d = new Dictionary<string, int>();
        foreach (var b in Batches.Values)
        {
            foreach (var l in b.Lines)
            {
                d[l.CustomId] = d.GetValueOrDefault(l.CustomId) + 1;
            }
        }

        return d;
    }

    public void WriteRequestLine(IBufferWriter<byte> output, string customId, LmPrompt prompt, int numCompletions)
    {
        using var w = new Utf8JsonWriter(output);
        w.WriteStartObject();
        w.WriteString("custom_id", customId);
        w.WriteString("text", prompt.GetTextAsStringDefaultForm());
        w.WriteNumber("n", numCompletions);
        w.WriteEndObject();
    }

    public int EstimateEnqueuedTokens(LmPrompt prompt, int numCompletions) => 10 * numCompletions;

    public Task<string> SubmitAsync(string localId, string requestFile, int requestCount, CancellationToken cancellationToken)
    {
        BeforeCreate?.Invoke(localId);
        var lines = File.ReadAllLines(requestFile).Select(l =>
        {
            using var doc = JsonDocument.Parse(l);
            var r = doc.RootElement;
            return new Line(r.GetProperty("custom_id").GetString()!, r.GetProperty("text").GetString()!, r.GetProperty("n").GetInt32());
        }).ToList();
        if (lines.Count != requestCount)
        {
            throw new InvalidOperationException($"file has {lines.Count} lines, caller said {requestCount}");
        }

        long tokens = lines.Sum(l => 10L * l.N);
        lock (Batches)
        {
            long enqueued = Batches.Values.Where(b => !b.Ended).Sum(b => b.Tokens) + tokens;
            if (ProviderTokenCap is { } cap && enqueued > cap)
            {
                throw new LmBatchQueueFullException($"Enqueued token limit reached ({enqueued} > {cap}).");
            }

            MaxEnqueuedSeen = Math.Max(MaxEnqueuedSeen, enqueued);
            string id = "batch_" + Interlocked.Increment(ref _next);
            var ending = Endings.TryDequeue(out var e) ? e : (BatchState.Completed, 1.0);
            Batches[id] = new Batch(id, localId, lines, tokens, ending.Item1, ending.Item2);
            AfterCreate?.Invoke(id);
            return Task.FromResult(id);
        }
    }

    public Task<string?> FindAsync(BatchSubmissionRecord submission, CancellationToken cancellationToken) =>
        Task.FromResult(Batches.Values.FirstOrDefault(b => b.LocalId == submission.LocalId && b.Lines.Count == submission.RequestCount)?.Id);

    /// <summary>Runs at each look at a batch (throw to simulate dying then).</summary>
    public Action<string>? OnStatus { get; set; }

    public Task<BatchJobStatus> GetStatusAsync(string batchId, CancellationToken cancellationToken)
    {
        OnStatus?.Invoke(batchId);
        var b = Batches[batchId];
        lock (b)
        {
            if (!b.Ended && ++b.Polls >= PollsToFinish)
            {
                b.Ended = true;
            }

            return Task.FromResult(b.Ended
                ? new BatchJobStatus(b.Ending, Message: b.Ending == BatchState.Failed ? "input file invalid" : null)
                : new BatchJobStatus(BatchState.InProgress));
        }
    }

    public async IAsyncEnumerable<BatchLineResult> ReadResultsAsync(
        string batchId, Func<string, (LmPrompt Prompt, int NumCompletions)?> lookup, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var b = Batches[batchId];
        b.Reads++;
        int answered = b.Ending == BatchState.Failed ? 0 : (int)Math.Round(b.Lines.Count * b.AnsweredShare);
        foreach (var line in b.Lines.Take(answered))
        {
            await Task.Yield();
            if (lookup(line.CustomId) is not { } known)
            {
                continue;
            }

            if (line.Text.StartsWith("TOO LONG", StringComparison.Ordinal))
            {
                yield return new BatchLineResult(line.CustomId, [LmPrediction.FromError(known.Prompt, new LmError(LmErrorKind.ContextLength, "context_length_exceeded", 400))]);
                continue;
            }

            int samples = AnsweredSamples?.Invoke(b, line) ?? line.N;
            var preds = Enumerable.Range(0, samples).Select(i => new LmPrediction
            {
                CompletionText = $"{line.Text}|{b.Id}#{i}",
                Prompt = known.Prompt,
                FinishReason = "stop",
                Usage = new LmUsage(3, 2),
            }).ToList();
            yield return new BatchLineResult(line.CustomId, preds);
        }
    }

    /// <summary>Runs when a batch's files are deleted (tests check what is cached by then).</summary>
    public Action<Batch>? OnCleanup { get; set; }

    public Task CleanupAsync(string batchId, CancellationToken cancellationToken)
    {
        OnCleanup?.Invoke(Batches[batchId]);
        CleanedUp.Add(batchId);
        return Task.CompletedTask;
    }

    internal sealed record Line(string CustomId, string Text, int N);

    internal sealed class Batch(string id, string localId, List<Line> lines, long tokens, BatchState ending, double answeredShare)
    {
        public string Id { get; } = id;

        public string LocalId { get; } = localId;

        public List<Line> Lines { get; } = lines;

        public long Tokens { get; } = tokens;

        public BatchState Ending { get; set; } = ending;

        public double AnsweredShare { get; } = answeredShare;

        public int Polls { get; set; }

        public int Reads { get; set; }

        public bool Ended { get; set; }
    }
}

/// <summary>A model with a batch backend; its ordinary calls are counted so tests can tell which path ran.</summary>
internal sealed class BatchTestLm(LanguageModelOptions options, FakeBatchBackend backend) : LanguageModel(options)
{
    public int DirectCalls;

    public override string ModelIdentity => "test/batch";

    public override int TokenLimit => 4096;

    public override bool IsChatModel => false;

    protected override IBatchBackend BatchBackend => backend;

    public override LmModelInfo ModelInfo => new(ModelIdentity, TokenLimit, 256, new Costs.LmTokenPrices(1000m, 1000m), LmCapabilities.Batch);

    public override int EstimateTokensInPrompt(LmPrompt prompt) => 1;

    protected override Task<IReadOnlyList<LmPrediction>> PredictUncachedAsync(LmPrompt prompt, int numCompletions, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref DirectCalls);
        return Task.FromResult<IReadOnlyList<LmPrediction>>(
            [.. Enumerable.Range(0, numCompletions).Select(i => new LmPrediction { CompletionText = prompt.Text + "|direct", Prompt = prompt })]);
    }
}
