namespace LmWrapper;

/// <summary>
/// Wakes whoever waits on the progress of one PredictMany run (more prompts answered or decoded, the consumer moved
/// on, or the run failed): one signal rather than a task per prompt, which matters for runs of a million prompts.
/// Waiters use <see cref="WaitUntilAsync"/>.
/// </summary>
internal sealed class DoneSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _failure;

    public Task Next => Volatile.Read(ref _next).Task;

    public Exception? Failure => Volatile.Read(ref _failure);

    public void Pulse() =>
        Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Waits until <paramref name="ready"/> holds; throws the failure the signal carries, if any, first.</summary>
    /// <param name="ready">What to wait for (looked at after each pulse).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async ValueTask WaitUntilAsync(Func<bool> ready, CancellationToken cancellationToken)
    {
        while (true)
        {
            var next = Next; // taken before looking, so a pulse in between is not missed
            if (ready())
            {
                return;
            }

            if (Failure is { } failure)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }

            await next.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Fail(Exception failure)
    {
        Interlocked.CompareExchange(ref _failure, failure, null);
        Pulse();
    }
}
