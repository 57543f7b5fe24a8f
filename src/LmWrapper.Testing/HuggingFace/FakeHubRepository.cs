using System.Security.Cryptography;
using System.Text;

namespace LmWrapper.Testing.HuggingFace;

/// <summary>
/// A model repository served by <see cref="FakeHuggingFaceHub"/>: files per commit, named revisions
/// (branches and tags; <c>main</c> is the default branch), and access control (gated or private).
/// </summary>
public sealed class FakeHubRepository
{
    private readonly object _lock = new();
    private readonly Dictionary<string, Dictionary<string, byte[]>> _commits = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _revisions = new(StringComparer.Ordinal);

    internal FakeHubRepository(string repoId, string? commitSha)
    {
        RepoId = repoId;
        string sha = commitSha ?? NewSha();
        _commits[sha] = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        _revisions["main"] = sha;
    }

    /// <summary>The repository id, e.g. <c>org/name</c>.</summary>
    public string RepoId { get; }

    /// <summary>Gated: metadata is public, but files need the hub's accepted token (401 without one, 403 with a wrong one).</summary>
    public bool Gated { get; set; }

    /// <summary>Private: everything needs the accepted token; without it the repository looks missing (401 RepoNotFound).</summary>
    public bool Private { get; set; }

    /// <summary>The commit <c>main</c> points at.</summary>
    public string HeadCommit
    {
        get
        {
            lock (_lock) return _revisions["main"];
        }
    }

    /// <summary>Adds (or replaces) a file in the head commit.</summary>
    /// <param name="path">The path inside the repository, e.g. <c>config.json</c>.</param>
    /// <param name="content">The bytes.</param>
    /// <returns>This repository.</returns>
    public FakeHubRepository AddFile(string path, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(content);
        lock (_lock) _commits[_revisions["main"]][path] = content;
        return this;
    }

    /// <summary>Adds (or replaces) a UTF-8 text file in the head commit.</summary>
    /// <param name="path">The path inside the repository.</param>
    /// <param name="text">The text.</param>
    /// <returns>This repository.</returns>
    public FakeHubRepository AddFile(string path, string text) => AddFile(path, Encoding.UTF8.GetBytes(text));

    /// <summary>Removes a file from the head commit.</summary>
    /// <param name="path">The path inside the repository.</param>
    /// <returns>This repository.</returns>
    public FakeHubRepository RemoveFile(string path)
    {
        lock (_lock) _commits[_revisions["main"]].Remove(path);
        return this;
    }

    /// <summary>Makes a new commit holding the head commit's files and moves <c>main</c> to it (earlier commits stay served).</summary>
    /// <param name="sha">The 40-hex commit id; random when null.</param>
    /// <returns>The new commit id.</returns>
    public string Commit(string? sha = null)
    {
        sha ??= NewSha();
        lock (_lock)
        {
            _commits[sha] = new Dictionary<string, byte[]>(_commits[_revisions["main"]], StringComparer.Ordinal);
            _revisions["main"] = sha;
        }
        return sha;
    }

    /// <summary>Points a branch or tag name at a commit.</summary>
    /// <param name="name">The revision name, e.g. <c>v1.0</c> or <c>refs/pr/1</c>.</param>
    /// <param name="commitSha">An existing commit of this repository.</param>
    /// <returns>This repository.</returns>
    public FakeHubRepository SetRevision(string name, string commitSha)
    {
        lock (_lock)
        {
            if (!_commits.ContainsKey(commitSha)) throw new ArgumentException($"No commit {commitSha} in {RepoId}.", nameof(commitSha));
            _revisions[name] = commitSha;
        }
        return this;
    }

    internal bool TryResolve(string revision, out string sha, out IReadOnlyDictionary<string, byte[]> files)
    {
        lock (_lock)
        {
            if (_revisions.TryGetValue(revision, out var s) || _commits.ContainsKey(revision))
            {
                sha = s ?? revision;
                files = new Dictionary<string, byte[]>(_commits[sha], StringComparer.Ordinal);
                return true;
            }
        }
        sha = "";
        files = new Dictionary<string, byte[]>();
        return false;
    }

    internal byte[]? FindBlob(string sha256)
    {
        lock (_lock)
        {
            foreach (var files in _commits.Values)
            {
                foreach (var content in files.Values)
                {
                    if (Sha256(content) == sha256) return content;
                }
            }
        }
        return null;
    }

    /// <summary>Whether the hub would store this file with Git LFS (weights and other large files).</summary>
    internal static bool IsLfs(string path, byte[] content) =>
        path.EndsWith(".safetensors", StringComparison.Ordinal) || path.EndsWith(".bin", StringComparison.Ordinal)
        || path.EndsWith(".gguf", StringComparison.Ordinal) || content.Length > 10 * 1024 * 1024;

    internal static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>The git blob id, which the hub uses as the ETag of regular files.</summary>
    internal static string GitBlobSha1(byte[] content)
    {
        byte[] prefix = Encoding.ASCII.GetBytes($"blob {content.Length}\0");
        return Convert.ToHexStringLower(SHA1.HashData([.. prefix, .. content]));
    }

    private static string NewSha() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
}
