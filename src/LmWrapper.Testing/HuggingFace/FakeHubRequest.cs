namespace LmWrapper.Testing.HuggingFace;

/// <summary>One request the <see cref="FakeHuggingFaceHub"/> received.</summary>
/// <param name="Method">The HTTP method (GET, HEAD).</param>
/// <param name="Path">The decoded path, e.g. <c>/org/name/resolve/main/config.json</c>.</param>
/// <param name="Range">The Range header, when sent.</param>
/// <param name="Authorization">The Authorization header, when sent.</param>
/// <param name="StatusCode">The status the fake answered.</param>
/// <param name="Aborted">True when the fake dropped the connection mid-body (fault injection).</param>
public sealed record FakeHubRequest(string Method, string Path, string? Range, string? Authorization, int StatusCode, bool Aborted);
