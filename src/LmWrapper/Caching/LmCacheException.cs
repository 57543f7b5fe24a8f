namespace LmWrapper.Caching;

/// <summary>The cache file cannot be used: it is corrupted, belongs to another program, was made by a newer LmWrapper, or cannot be opened for writing.</summary>
public sealed class LmCacheException : LmException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The cache file concerned.</param>
    /// <param name="message">What is wrong and what to do.</param>
    /// <param name="innerException">The cause, if any.</param>
    public LmCacheException(string filePath, string message, Exception? innerException = null)
        : base(message, innerException) => FilePath = filePath;

    /// <summary>The cache file concerned.</summary>
    public string FilePath { get; }
}
