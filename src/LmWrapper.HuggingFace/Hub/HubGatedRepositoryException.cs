namespace LmWrapper.HuggingFace.Hub;

/// <summary>The repository is gated: it needs a token (<c>HF_TOKEN</c>) of an account that accepted its licence.</summary>
public sealed class HubGatedRepositoryException : HuggingFaceHubException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong and what to do.</param>
    /// <param name="repoId">The repository.</param>
    /// <param name="statusCode">The HTTP status (401 without a token, 403 with one that lacks access).</param>
    public HubGatedRepositoryException(string message, string repoId, int? statusCode) : base(message, repoId, statusCode) { }
}
