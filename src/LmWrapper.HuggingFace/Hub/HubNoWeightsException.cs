namespace LmWrapper.HuggingFace.Hub;

/// <summary>The repository has no safetensors weights (for example only PyTorch <c>.bin</c> files), which LmWrapper needs.</summary>
public sealed class HubNoWeightsException : HuggingFaceHubException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What the repository has instead and what to do.</param>
    /// <param name="repoId">The repository.</param>
    public HubNoWeightsException(string message, string repoId) : base(message, repoId) { }
}
