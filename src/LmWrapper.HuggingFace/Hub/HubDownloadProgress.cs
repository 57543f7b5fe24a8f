namespace LmWrapper.HuggingFace.Hub;

/// <summary>Progress of one file download from the hub.</summary>
/// <param name="RepoId">The repository.</param>
/// <param name="FileName">The file, relative to the repository root.</param>
/// <param name="BytesDownloaded">Bytes on disk so far (including any resumed part).</param>
/// <param name="TotalBytes">The file's size, when the hub said.</param>
/// <param name="Completed">True on the last report for this file.</param>
public sealed record HubDownloadProgress(string RepoId, string FileName, long BytesDownloaded, long? TotalBytes, bool Completed);
