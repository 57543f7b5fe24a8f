namespace LmWrapper.Cli.Commands;

/// <summary>Turns what a command throws into a message on standard error and an exit code.</summary>
internal static class CommandGuard
{
    /// <summary>Runs a command's action.</summary>
    /// <param name="action">The action, returning its exit code.</param>
    /// <param name="cancellationToken">Ctrl+C.</param>
    public static async Task<int> RunAsync(Func<CancellationToken, Task<int>> action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(action);
        var error = Console.Error;
        try
        {
            return await action(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("Interrupted.").ConfigureAwait(false);
            return ExitCodes.Interrupted;
        }
        catch (Exception e) when (e is CliUsageException or LmPromptException or LmAuthenticationException)
        {
            await error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
            return ExitCodes.UsageError;
        }
        catch (Exception e) when (e is LmException or IOException or InvalidOperationException or HttpRequestException)
        {
            await error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
            return ExitCodes.SomeFailed;
        }
    }
}
