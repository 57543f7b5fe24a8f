using Microsoft.Extensions.Logging;

namespace LmWrapper.OpenAI;

/// <summary>
/// OpenAI's log messages, source-generated with stable event ids in 2000–2999 (2100–2199: the Batch API). No key is
/// ever logged.
/// </summary>
internal static partial class OpenAiLog
{
    [LoggerMessage(EventId = 2101, EventName = "OpenAiBatchGone", Level = LogLevel.Warning,
        Message = "OpenAI batch {BatchId} is gone; its prompts will be submitted again.")]
    public static partial void BatchGone(ILogger logger, string batchId);

    [LoggerMessage(EventId = 2102, EventName = "OpenAiBatchFileGone", Level = LogLevel.Warning,
        Message = "File {FileId} of OpenAI batch {BatchId} is gone; its prompts will be submitted again.")]
    public static partial void BatchFileGone(ILogger logger, string fileId, string batchId);

    [LoggerMessage(EventId = 2103, EventName = "OpenAiBatchRequestFailed", Level = LogLevel.Information,
        Message = "Request {CustomId} of OpenAI batch {BatchId} failed with HTTP {Status}; it will be resubmitted.")]
    public static partial void BatchRequestFailed(ILogger logger, string customId, string batchId, int status);

    [LoggerMessage(EventId = 2104, EventName = "OpenAiBatchCreateUnclear", Level = LogLevel.Warning,
        Message = "Creating an OpenAI batch got no clear answer; looking for it before trying again.")]
    public static partial void BatchCreateUnclear(ILogger logger);

    [LoggerMessage(EventId = 2105, EventName = "OpenAiBatchFound", Level = LogLevel.Information,
        Message = "Found OpenAI batch {BatchId} by its local id {LocalId}.")]
    public static partial void BatchFound(ILogger logger, string batchId, string localId);

    [LoggerMessage(EventId = 2106, EventName = "OpenAiFileDeleteFailed", Level = LogLevel.Warning,
        Message = "Could not delete OpenAI file {FileId}.")]
    public static partial void FileDeleteFailed(ILogger logger, Exception exception, string fileId);
}
