using System.Buffers;

namespace LmWrapper.Batching;

/// <summary>
/// A provider's batch API (OpenAI Batch API, Anthropic Message Batches), as the provider-neutral orchestration behind
/// <c>PredictMany(…, CompletionWindow.BatchAny)</c> needs it. The orchestration does the rest: cache lookups, the
/// journal that makes runs resumable, splitting, polling, resubmission and ordering.
/// </summary>
public interface IBatchBackend
{
    /// <summary>A short, stable name for the journal (for example "openai").</summary>
    string Name { get; }

    /// <summary>The provider's limits on one batch.</summary>
    BatchLimits Limits { get; }

    /// <summary>
    /// Writes one request of the batch input file: one JSONL line, without the final newline. A provider that samples
    /// one completion per request (no <c>n</c>, like Anthropic's) may write one line per sample, separated by newlines,
    /// and gather them back in <see cref="ReadResultsAsync"/>.
    /// </summary>
    /// <param name="output">Where the line goes.</param>
    /// <param name="customId">The id the provider must echo back with the result.</param>
    /// <param name="prompt">The prompt (already validated for this model).</param>
    /// <param name="numCompletions">How many samples the request must produce.</param>
    void WriteRequestLine(IBufferWriter<byte> output, string customId, LmPrompt prompt, int numCompletions);

    /// <summary>How many tokens the request counts against the provider's queue of enqueued tokens.</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="numCompletions">How many samples the request produces.</param>
    int EstimateEnqueuedTokens(LmPrompt prompt, int numCompletions);

    /// <summary>
    /// Uploads a request file and creates a batch from it. The batch should carry <paramref name="localId"/> (in its
    /// metadata, or in its custom ids) so that <see cref="FindAsync"/> can find it if this process dies before recording
    /// the returned id.
    /// </summary>
    /// <param name="localId">LmWrapper's id for this batch.</param>
    /// <param name="requestFile">The JSONL file of requests.</param>
    /// <param name="requestCount">How many requests (<see cref="WriteRequestLine"/> calls) it holds.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The provider's batch id.</returns>
    /// <exception cref="LmBatchQueueFullException">The provider's queue of enqueued tokens has no room for this batch now.</exception>
    Task<string> SubmitAsync(string localId, string requestFile, int requestCount, CancellationToken cancellationToken);

    /// <summary>
    /// The provider's id of the batch created for a submission whose id was never recorded (the process died during
    /// <see cref="SubmitAsync"/>), or null when the provider has none. Return null only when sure: null makes the
    /// orchestration submit those requests again.
    /// </summary>
    /// <param name="submission">What the journal knows of the submission.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task<string?> FindAsync(BatchSubmissionRecord submission, CancellationToken cancellationToken);

    /// <summary>Where the batch stands.</summary>
    /// <param name="batchId">The provider's batch id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task<BatchJobStatus> GetStatusAsync(string batchId, CancellationToken cancellationToken);

    /// <summary>
    /// Reads the results of a finished (completed, expired, cancelled or failed) batch: one entry per request that has an
    /// output or a per-request error. Requests <paramref name="lookup"/> does not know are skipped.
    /// </summary>
    /// <param name="batchId">The provider's batch id.</param>
    /// <param name="lookup">The prompt and sample count behind a custom id, or null.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    IAsyncEnumerable<BatchLineResult> ReadResultsAsync(
        string batchId, Func<string, (LmPrompt Prompt, int NumCompletions)?> lookup, CancellationToken cancellationToken);

    /// <summary>Deletes the batch's input and output files from the provider (called once its results are cached).</summary>
    /// <param name="batchId">The provider's batch id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task CleanupAsync(string batchId, CancellationToken cancellationToken);

    /// <summary>
    /// Asks the provider to cancel a submitted batch. Requests it already answered stay readable through
    /// <see cref="ReadResultsAsync"/>; a batch the provider no longer has is not an error. The default says the backend
    /// cannot cancel.
    /// </summary>
    /// <param name="batchId">The provider's batch id.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NotSupportedException">The backend has no way to cancel a batch.</exception>
    Task CancelAsync(string batchId, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"The {Name} batch backend cannot cancel a batch.");
}
