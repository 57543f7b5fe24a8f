namespace LmWrapper;

/// <summary>
/// Wakes whoever waits on the progress of one PredictMany run (more prompts answered or decoded, the consumer moved
/// on, or the run failed): one signal rather than a task per prompt, which matters for runs of a million prompts.
/// A waiter takes <see cref="Next"/> before it looks at the state it waits for, so a pulse in between is not missed.
/// </summary>
internal sealed class DoneSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _failure;

    public Task Next => Volatile.Read(ref _next).Task;

    public Exception? Failure => Volatile.Read(ref _failure);

    public void Pulse() =>
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    public void Fail(Exception failure)
    {
        Interlocked.CompareExchange(ref _failure, failure, null);
        Pulse();
    }
}
