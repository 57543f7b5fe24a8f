namespace LmWrapper.Reliability;

/// <summary>What the shared-cache stress found.</summary>
/// <param name="Processes">Processes.</param>
/// <param name="Threads">Threads per process.</param>
/// <param name="Operations">Operations per thread.</param>
/// <param name="Seed">The seed.</param>
/// <param name="FailedProcesses">Workers that saw a wrong answer, a duplicate paid call or any exception (must be 0).</param>
/// <param name="LostWrites">Answers a worker saw stored that were not in the file afterwards (must be 0).</param>
/// <param name="KeepPromptsStored">Distinct never-removed prompts the workers stored.</param>
/// <param name="IntegrityOk">Whether <c>PRAGMA integrity_check</c> passed.</param>
/// <param name="Errors">What failed workers said.</param>
public sealed record CacheStormReport(int Processes, int Threads, int Operations, int Seed, int FailedProcesses, int LostWrites, int KeepPromptsStored, bool IntegrityOk, IReadOnlyList<string> Errors);
