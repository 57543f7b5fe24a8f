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
    private Action<int>? _work;
    private int _generation;
    private int _pending;
    private volatile bool _disposed;
    private Exception? _failure;

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
    /// Runs <paramref name="body"/> once on every participant (with its index, 0 for the caller) and returns when all
    /// are done. One run at a time; a run from inside a run executes on the caller alone.
    /// </summary>
    public void Run(Action<int> body)
    {
        // Inside a run (on the caller or a worker), or while another thread runs one: this body runs here alone.
        if (Size == 1 || t_inRun || !_runGate.TryEnter())
        {
            body(0);
            return;
        }

        t_inRun = true;
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _failure = null;
            _work = body;
            Volatile.Write(ref _pending, _workers.Length);
            Interlocked.Increment(ref _generation);
            for (int i = 0; i < _workers.Length; i++)
            {
                if (Interlocked.CompareExchange(ref _sleeping[i], 0, 1) == 1)
                {
                    _wake[i].Release();
                }
            }

            Exception? own = null;
            try
            {
                body(0);
            }
            catch (Exception e)
            {
                own = e;
            }

            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) != 0)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            _work = null;
            if (own is not null || _failure is not null)
            {
                throw own ?? new AggregateException(_failure!);
            }
        }
        finally
        {
            t_inRun = false;
            _runGate.Exit();
        }
    }

    /// <summary>Runs <paramref name="body"/> for every index in [0, count), the indices shared out dynamically.</summary>
    public void For(int count, Action<int> body)
    {
        if (count <= 0)
        {
            return;
        }

        if (count == 1 || Size == 1)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }

            return;
        }

        int next = -1;
        Run(_ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                body(i);
            }
        });
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
            try
            {
                t_inRun = true;
                _work?.Invoke(index + 1);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            finally
            {
                t_inRun = false;
                Interlocked.Decrement(ref _pending);
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
