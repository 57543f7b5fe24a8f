namespace LmWrapper.HuggingFace.Hub;

/// <summary>The repository does not exist, or it is private and the token (if any) cannot see it.</summary>
public sealed class HubRepositoryNotFoundException : HuggingFaceHubException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong and what to do.</param>
    /// <param name="repoId">The repository.</param>
    /// <param name="statusCode">The HTTP status.</param>
    public HubRepositoryNotFoundException(string message, string repoId, int? statusCode) : base(message, repoId, statusCode) { }
}
