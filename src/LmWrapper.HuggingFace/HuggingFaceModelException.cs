namespace LmWrapper.HuggingFace;

/// <summary>
/// A Hugging Face model folder cannot be run: an unknown <c>model_type</c>, an option LmWrapper does not implement, or a
/// missing or misshapen tensor. The message names the folder and, where it applies, the tensor and its shapes.
/// </summary>
public sealed class HuggingFaceModelException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="message">What is wrong, and what to do.</param>
    /// <param name="inner">The underlying failure, if any.</param>
    public HuggingFaceModelException(string folder, string message, Exception? inner = null)
        : base($"Model '{folder}': {message}", inner) => Folder = folder;

    /// <summary>The model folder.</summary>
    public string Folder { get; }
}
