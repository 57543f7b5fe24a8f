using Microsoft.Extensions.Logging;

namespace LmWrapper.Anthropic;

/// <summary>
/// Claude's log messages, source-generated with stable event ids in 3000–3999 (3000–3099: the model, 3100–3199: Message
/// Batches). No key is ever logged.
/// </summary>
internal static partial class ClaudeLog
{
    [LoggerMessage(EventId = 3001, EventName = "ClaudeCountTokensWithoutCount", Level = LogLevel.Warning,
        Message = "{Model}: the count-tokens endpoint answered without input_tokens; using the offline estimate.")]
    public static partial void CountTokensWithoutCount(ILogger logger, string model);

    [LoggerMessage(EventId = 3002, EventName = "ClaudeCountTokensFailed", Level = LogLevel.Information,
        Message = "{Model}: counting tokens online failed ({Reason}); using the offline estimate.")]
    public static partial void CountTokensFailed(ILogger logger, string model, string reason);

    [LoggerMessage(EventId = 3101, EventName = "ClaudeBatchCreateUnclear", Level = LogLevel.Warning,
        Message = "Creating a message batch got no clear answer; looking for it before trying again.")]
    public static partial void BatchCreateUnclear(ILogger logger);

    [LoggerMessage(EventId = 3102, EventName = "ClaudeBatchResultsGone", Level = LogLevel.Warning,
        Message = "The results of message batch {BatchId} are gone ({Reason}); its prompts will be submitted again.")]
    public static partial void BatchResultsGone(ILogger logger, string batchId, string reason);

    [LoggerMessage(EventId = 3103, EventName = "ClaudeBatchNotOurs", Level = LogLevel.Warning,
        Message = "Message batch {BatchId} was never shown to be this run's; it is left in place.")]
    public static partial void BatchNotShownOurs(ILogger logger, string batchId);

    [LoggerMessage(EventId = 3104, EventName = "ClaudeBatchRequestErrored", Level = LogLevel.Information,
        Message = "Request {CustomId} of message batch {BatchId} errored ({ErrorType}: {Reason}); it will be resubmitted.")]
    public static partial void BatchRequestErrored(ILogger logger, string customId, string batchId, string? errorType, string? reason);

    [LoggerMessage(EventId = 3105, EventName = "ClaudeBatchFoundByTag", Level = LogLevel.Information,
        Message = "Found message batch {BatchId} by the tag in its results.")]
    public static partial void BatchFoundByTag(ILogger logger, string batchId);

    [LoggerMessage(EventId = 3106, EventName = "ClaudeBatchAmbiguous", Level = LogLevel.Warning,
        Message = "Could not tell which of the running message batches {BatchIds} is the one submitted at {RecordedAt}; its prompts will be submitted again.")]
    public static partial void BatchAmbiguous(ILogger logger, string batchIds, DateTimeOffset recordedAt);

    [LoggerMessage(EventId = 3107, EventName = "ClaudeBatchAssumed", Level = LogLevel.Information,
        Message = "Taking running message batch {BatchId} as the one submitted at {RecordedAt}, until its results show otherwise.")]
    public static partial void BatchAssumed(ILogger logger, string batchId, DateTimeOffset recordedAt);

    [LoggerMessage(EventId = 3108, EventName = "ClaudeBatchResultsUnreadable", Level = LogLevel.Information,
        Message = "Could not read the results of message batch {BatchId} to check whose it is.")]
    public static partial void BatchResultsUnreadable(ILogger logger, Exception exception, string batchId);
}
