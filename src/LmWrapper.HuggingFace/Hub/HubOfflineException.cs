namespace LmWrapper.HuggingFace.Hub;

/// <summary>The model is not (fully) in the cache and offline mode (<c>HF_HUB_OFFLINE=1</c>) forbids downloading it.</summary>
public sealed class HubOfflineException : HuggingFaceHubException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is missing and what to do.</param>
    /// <param name="repoId">The repository.</param>
    public HubOfflineException(string message, string repoId) : base(message, repoId) { }
}
