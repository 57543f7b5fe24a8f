using Microsoft.Extensions.Logging;

namespace LmWrapper.Diagnostics;

/// <summary>
/// The core's log messages, source-generated with stable event ids. Ranges: 1000–1099 models and PredictMany,
/// 1100–1199 the HTTP resilience layer, 1200–1299 batch orchestration (the providers use 2000–2999 for OpenAI,
/// 3000–3999 for Anthropic and 4000–4999 for local Hugging Face models). Nothing here logs a key, and prompt text only
/// at <see cref="LogLevel.Trace"/>.
/// </summary>
internal static partial class LmLog
{
    [LoggerMessage(EventId = 1001, EventName = "RequestFailed", Level = LogLevel.Warning,
        Message = "{Model}: a request failed ({ErrorKind}: {ErrorMessage}); it is returned as a failed prediction.")]
    public static partial void RequestFailed(ILogger logger, string model, LmErrorKind errorKind, string errorMessage);

    [LoggerMessage(EventId = 1002, EventName = "PredictManyPlanned", Level = LogLevel.Debug,
        Message = "{Model}: {Total} prompts, {Requests} to send ({Window}).")]
    public static partial void PredictManyPlanned(ILogger logger, string model, int total, int requests, CompletionWindow window);

    [LoggerMessage(EventId = 1003, EventName = "PromptSent", Level = LogLevel.Trace,
        Message = "{Model}: sending {Samples} sample(s) of the prompt \"{PromptText}\".")]
    public static partial void PromptSent(ILogger logger, string model, int samples, string promptText);

    [LoggerMessage(EventId = 1101, EventName = "HttpRetry", Level = LogLevel.Information,
        Message = "{Provider}: attempt {Attempt} failed ({Failure}); retrying in {Delay} ms.")]
    public static partial void HttpRetry(ILogger logger, string provider, int attempt, string failure, long delay);

    [LoggerMessage(EventId = 1102, EventName = "OperationRetry", Level = LogLevel.Information,
        Message = "{Provider}: {What} did not finish (attempt {Attempt}); again in {Delay} ms.")]
    public static partial void OperationRetry(ILogger logger, Exception? exception, string provider, string what, int attempt, long delay);

    [LoggerMessage(EventId = 1201, EventName = "BatchReattached", Level = LogLevel.Information,
        Message = "Reattached to batch {BatchId} ({Count} of this run's prompts).")]
    public static partial void BatchReattached(ILogger logger, string batchId, int count);

    [LoggerMessage(EventId = 1202, EventName = "BatchCollecting", Level = LogLevel.Information,
        Message = "Batch {BatchId} is {State}; collecting.")]
    public static partial void BatchCollecting(ILogger logger, string? batchId, Batching.BatchState state);

    [LoggerMessage(EventId = 1203, EventName = "BatchResubmitting", Level = LogLevel.Warning,
        Message = "Batch {BatchId} ended {State} with {Count} requests unanswered; resubmitting them.")]
    public static partial void BatchResubmitting(ILogger logger, string? batchId, Batching.BatchState state, int count);

    [LoggerMessage(EventId = 1204, EventName = "BatchSubmitted", Level = LogLevel.Information,
        Message = "Submitted batch {BatchId}: {Count} requests.")]
    public static partial void BatchSubmitted(ILogger logger, string batchId, int count);

    [LoggerMessage(EventId = 1205, EventName = "BatchQueueFull", Level = LogLevel.Warning,
        Message = "The provider's batch queue is full ({Reason}); waiting before submitting {Count} requests.")]
    public static partial void BatchQueueFull(ILogger logger, string reason, int count);

    [LoggerMessage(EventId = 1206, EventName = "BatchSubmitFailed", Level = LogLevel.Error,
        Message = "Submitting a batch of {Count} requests failed.")]
    public static partial void BatchSubmitFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = 1207, EventName = "BatchFileRewritten", Level = LogLevel.Warning,
        Message = "The request file {File} was removed while it waited; writing it again.")]
    public static partial void BatchFileRewritten(ILogger logger, string file);

    [LoggerMessage(EventId = 1208, EventName = "StaleBatchFileRemoved", Level = LogLevel.Information,
        Message = "Removing {File}, a request file an earlier run left behind.")]
    public static partial void StaleBatchFileRemoved(ILogger logger, string file);

    [LoggerMessage(EventId = 1209, EventName = "BatchCleanupFailed", Level = LogLevel.Warning,
        Message = "Could not delete the files of batch {BatchId}; they stay at the provider.")]
    public static partial void BatchCleanupFailed(ILogger logger, Exception exception, string batchId);

    [LoggerMessage(EventId = 1004, EventName = "LeftBatchesCleanupFailed", Level = LogLevel.Warning,
        Message = "{Model}: removing batches an earlier run left failed; the next batch run tries again.")]
    public static partial void LeftBatchesCleanupFailed(ILogger logger, Exception exception, string model);

    [LoggerMessage(EventId = 1005, EventName = "CachedSampleRemovedDuringRun", Level = LogLevel.Information,
        Message = "{Model}: a cached answer was removed by another process during the run; asking again.")]
    public static partial void CachedSampleRemovedDuringRun(ILogger logger, string model);

    [LoggerMessage(EventId = 1103, EventName = "StreamRetry", Level = LogLevel.Information,
        Message = "{Provider}: the stream failed before any text ({Failure}); retrying in {Delay} ms.")]
    public static partial void StreamRetry(ILogger logger, string provider, string failure, long delay);
}
