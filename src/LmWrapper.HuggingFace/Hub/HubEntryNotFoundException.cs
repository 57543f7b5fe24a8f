namespace LmWrapper.HuggingFace.Hub;

/// <summary>The repository exists but the file or revision does not.</summary>
public sealed class HubEntryNotFoundException : HuggingFaceHubException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong and what to do.</param>
    /// <param name="repoId">The repository.</param>
    /// <param name="statusCode">The HTTP status.</param>
    public HubEntryNotFoundException(string message, string repoId, int? statusCode) : base(message, repoId, statusCode) { }
}
