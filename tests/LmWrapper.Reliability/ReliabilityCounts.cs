namespace LmWrapper.Reliability;

/// <summary>
/// How much each reliability check does: the fast default (part of <c>dotnet test</c>) or the soak counts of issue 13,
/// chosen by the environment variable <c>LMWRAPPER_SOAK=1</c> (or <c>--soak</c> in the benchmark).
/// </summary>
public sealed record ReliabilityCounts
{
    /// <summary>The environment variable that turns the soak counts on.</summary>
    public const string SoakVariable = "LMWRAPPER_SOAK";

    /// <summary>The fast default.</summary>
    public static ReliabilityCounts Default { get; } = new();

    /// <summary>The full counts.</summary>
    public static ReliabilityCounts Soak { get; } = new()
    {
        IsSoak = true,
        KillPoints = 50,
        KillPrompts = 400,
        StormRequests = 10_000,
        FuzzInputs = 100_000,
        CacheProcesses = 4,
        CacheThreads = 4,
        CacheOperations = 400,
    };

    /// <summary>The counts for this process: <see cref="Soak"/> when <c>LMWRAPPER_SOAK=1</c>, else <see cref="Default"/>.</summary>
    public static ReliabilityCounts FromEnvironment() =>
        Environment.GetEnvironmentVariable(SoakVariable) is "1" or "true" ? Soak : Default;

    /// <summary>Whether these are the soak counts.</summary>
    public bool IsSoak { get; init; }

    /// <summary>Kill points per crash-safety mode.</summary>
    public int KillPoints { get; init; } = 10;

    /// <summary>Prompts per crash-safety run.</summary>
    public int KillPrompts { get; init; } = 150;

    /// <summary>Requests (prompts) per fault storm, per fake server.</summary>
    public int StormRequests { get; init; } = 1_000;

    /// <summary>Fuzz inputs per parser.</summary>
    public int FuzzInputs { get; init; } = 5_000;

    /// <summary>Processes sharing one cache file.</summary>
    public int CacheProcesses { get; init; } = 4;

    /// <summary>Threads per process.</summary>
    public int CacheThreads { get; init; } = 4;

    /// <summary>Operations per thread.</summary>
    public int CacheOperations { get; init; } = 60;
}
