namespace LmWrapper.HuggingFace.Kernels;

/// <summary>
/// A fixed team of worker threads for the forward pass's many short parallel steps (a decode step runs a few hundred
/// matrix products of a fraction of a millisecond each): workers spin briefly between steps and then sleep, so a step
/// starts in about a microsecond instead of waiting for the thread pool to wake a thread. The calling thread is
/// participant 0 and works too.
/// </summary>
internal sealed class ThreadTeam : IDisposable
{
    /// <summary>How long an idle worker spins before it sleeps.</summary>
    private const int SpinIterations = 20_000;

    [ThreadStatic]
    private static bool t_inRun;

    private readonly Thread[] _workers;
    private readonly SemaphoreSlim[] _wake;
    private readonly int[] _sleeping;
    private readonly Lock _runGate = new();
    private Job? _job;
    private int _generation;
    private volatile bool _disposed;

    public ThreadTeam(int threads)
    {
        Size = Math.Max(1, threads);
        _workers = new Thread[Size - 1];
        _wake = new SemaphoreSlim[Size - 1];
        _sleeping = new int[Size - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _wake[i] = new SemaphoreSlim(0);
            int index = i;
            _workers[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"LmWrapper kernels {i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Participants, the caller included.</summary>
    public int Size { get; }

    /// <summary>
    /// Runs <paramref name="body"/> for every index in [0, count), the indices shared out dynamically between the caller
    /// and whichever workers come, and returns when every index is done. The caller never waits for a worker that has not
    /// started (one descheduled by a busy machine): it takes the indices itself, and a late worker finds none left. One run
    /// at a time; a run from inside a run, or while another thread runs one, executes on the caller alone. The first
    /// exception thrown by the body is rethrown here, after the other indices have finished.
    /// </summary>
    public void For(int count, Action<int> body)
    {
        if (count <= 0)
        {
            return;
        }

        if (count == 1 || Size == 1 || t_inRun || !_runGate.TryEnter())
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }

            return;
        }

        t_inRun = true;
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var job = new Job(body, count);
            Volatile.Write(ref _job, job);
            Interlocked.Increment(ref _generation);
            for (int i = 0; i < _workers.Length; i++)
            {
                if (Interlocked.CompareExchange(ref _sleeping[i], 0, 1) == 1)
                {
                    _wake[i].Release();
                }
            }

            job.Work();
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Done) != count)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            Volatile.Write(ref _job, null);
            job.Failure?.Throw();
        }
        finally
        {
            t_inRun = false;
            _runGate.Exit();
        }
    }

    private void WorkerLoop(int index)
    {
        int seen = 0;
        while (true)
        {
            int spins = 0;
            while (Volatile.Read(ref _generation) == seen && !_disposed)
            {
                if (++spins < SpinIterations)
                {
                    Thread.SpinWait(8);
                    continue;
                }

                Interlocked.Exchange(ref _sleeping[index], 1);
                if (Volatile.Read(ref _generation) != seen || _disposed)
                {
                    Interlocked.Exchange(ref _sleeping[index], 0);
                    break;
                }

                _wake[index].Wait();
                spins = 0;
            }

            if (_disposed)
            {
                return;
            }

            seen = Volatile.Read(ref _generation);
            if (Volatile.Read(ref _job) is { } job)
            {
                t_inRun = true;
                job.Work();
                t_inRun = false;
            }
        }
    }

    /// <summary>One <see cref="For"/> call: its body, the next index to hand out, and how many are done.</summary>
    private sealed class Job(Action<int> body, int count)
    {
        private int _next = -1;

        /// <summary>Indices finished (successfully or not).</summary>
        public int Done;

        /// <summary>The first exception the body threw.</summary>
        public System.Runtime.ExceptionServices.ExceptionDispatchInfo? Failure;

        /// <summary>Takes indices until none are left.</summary>
        public void Work()
        {
            int i;
            while ((i = Interlocked.Increment(ref _next)) < count)
            {
                try
                {
                    body(i);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref Failure, System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e), null);
                }
                finally
                {
                    Interlocked.Increment(ref Done);
                }
            }
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        for (int i = 0; i < _workers.Length; i++)
        {
            _wake[i].Release();
        }

        foreach (var t in _workers)
        {
            t.Join();
        }

        foreach (var s in _wake)
        {
            s.Dispose();
        }
    }
}
