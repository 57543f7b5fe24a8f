namespace LmWrapper.HuggingFace.Safetensors;

/// <summary>A safetensors file (or sharded checkpoint) is malformed, truncated, or lacks a tensor.</summary>
public sealed class SafetensorsException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The file (or folder) at fault.</param>
    /// <param name="message">What is wrong with it.</param>
    /// <param name="innerException">The cause, if any.</param>
    public SafetensorsException(string filePath, string message, Exception? innerException = null)
        : base($"{filePath}: {message}", innerException)
    {
        FilePath = filePath;
    }

    /// <summary>The file (or folder) at fault.</summary>
    public string FilePath { get; }
}
