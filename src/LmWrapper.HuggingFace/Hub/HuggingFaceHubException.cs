namespace LmWrapper.HuggingFace.Hub;

/// <summary>A model could not be resolved from the cache or the hub. The message says what to do.</summary>
public class HuggingFaceHubException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong and what to do.</param>
    /// <param name="repoId">The repository, when known.</param>
    /// <param name="statusCode">The HTTP status, when it came from the hub.</param>
    /// <param name="innerException">The cause.</param>
    public HuggingFaceHubException(string message, string? repoId = null, int? statusCode = null, Exception? innerException = null)
        : base(message, innerException)
    {
        RepoId = repoId;
        StatusCode = statusCode;
    }

    /// <summary>The repository, when known.</summary>
    public string? RepoId { get; }

    /// <summary>The HTTP status the hub answered, when the error came from it.</summary>
    public int? StatusCode { get; }
}
