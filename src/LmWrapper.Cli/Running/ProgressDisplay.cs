using Spectre.Console;

namespace LmWrapper.Cli.Running;

/// <summary>
/// Shows a run's progress on standard error: a live line (Spectre.Console) on a terminal, plain periodic lines when
/// output is redirected, and one final line either way.
/// </summary>
internal static class ProgressDisplay
{
    /// <summary>How often a plain progress line is written when output is redirected.</summary>
    public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(10);

    /// <summary>Whether standard output and standard error are both a terminal.</summary>
    public static bool IsInteractive => !Console.IsErrorRedirected && !Console.IsOutputRedirected;

    /// <summary>Runs <paramref name="work"/> while showing <paramref name="status"/>.</summary>
    /// <typeparam name="T">The work's result.</typeparam>
    /// <param name="work">The run.</param>
    /// <param name="status">Its counters.</param>
    /// <param name="error">Standard error.</param>
    public static async Task<T> RunAsync<T>(Func<Task<T>> work, RunStatus status, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(status);
        ArgumentNullException.ThrowIfNull(error);
        var task = Task.Run(work);
        if (IsInteractive)
        {
            // The live line starts once the input is read, so that the messages about it are not drawn over.
            while (!status.IsStarted && !task.IsCompleted)
            {
                await Task.WhenAny(task, Task.Delay(100)).ConfigureAwait(false);
            }

            if (!task.IsCompleted)
            {
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(error) });
                await console.Live(Render(status)).AutoClear(true).StartAsync(async ctx =>
                {
                    while (!task.IsCompleted)
                    {
                        ctx.UpdateTarget(Render(status));
                        await Task.WhenAny(task, Task.Delay(250)).ConfigureAwait(false);
                    }
                }).ConfigureAwait(false);
            }
        }
        else
        {
            while (!task.IsCompleted)
            {
                await Task.WhenAny(task, Task.Delay(PlainInterval)).ConfigureAwait(false);
                if (!task.IsCompleted)
                {
                    await error.WriteLineAsync(status.Describe()).ConfigureAwait(false);
                }
            }
        }

        try
        {
            return await task.ConfigureAwait(false);
        }
        finally
        {
            if (status.Total > 0)
            {
                await error.WriteLineAsync(status.Describe()).ConfigureAwait(false);
            }
        }
    }

    private static Markup Render(RunStatus status) => new($"[bold]lmwrapper run[/] {Markup.Escape(status.Describe())}");
}
