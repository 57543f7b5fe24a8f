namespace LmWrapper.Batching;

/// <summary>
/// The provider refused a batch because its queue of enqueued tokens is full (OpenAI's "enqueued token limit").
/// The orchestration waits for running batches to finish, or splits the batch, and tries again.
/// </summary>
public sealed class LmBatchQueueFullException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The provider's words.</param>
    /// <param name="innerException">The cause, if any.</param>
    public LmBatchQueueFullException(string message, Exception? innerException = null) : base(message, innerException) { }
}
