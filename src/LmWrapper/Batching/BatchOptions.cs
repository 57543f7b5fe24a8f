namespace LmWrapper.Batching;

/// <summary>How <c>PredictMany(…, CompletionWindow.BatchAny)</c> runs batches.</summary>
public sealed record BatchOptions
{
    /// <summary>The first wait between two looks at a running batch. Default 10 seconds.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest wait between two looks (waits grow by half each time). Default 5 minutes.</summary>
    public TimeSpan MaxPollInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How many batches a request may go through (first try plus resubmissions after expiry, cancellation or failure). Default 3.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Whether to delete a batch's files from the provider once its results are cached. Default true.</summary>
    public bool DeleteProviderFiles { get; init; } = true;

    /// <summary>Where request files are written before upload. Default: a folder under the system temp folder.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Overrides the provider's limits (for example a lower request count per batch).</summary>
    public BatchLimits? Limits { get; init; }

    /// <summary>Receives progress reports.</summary>
    public IProgress<BatchProgress>? Progress { get; init; }

    /// <summary>The clock used for waiting (tests pass a fast one). Default: the system clock.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
