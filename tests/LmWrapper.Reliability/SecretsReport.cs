namespace LmWrapper.Reliability;

/// <summary>What the secrets probe found.</summary>
/// <param name="SecretsFound">Occurrences of an injected key in any artifact (must be 0).</param>
/// <param name="ArtifactsSearched">How many artifacts (files, log lines, messages, strings) were searched.</param>
/// <param name="Where">Where keys were found.</param>
/// <param name="FilesNotOwnerOnly">Cache and batch files readable by others (Unix; must be empty).</param>
/// <param name="RequestFilesSeen">Batch request files seen on disk while a batch was being uploaded.</param>
public sealed record SecretsReport(int SecretsFound, int ArtifactsSearched, IReadOnlyList<string> Where, IReadOnlyList<string> FilesNotOwnerOnly, int RequestFilesSeen);
