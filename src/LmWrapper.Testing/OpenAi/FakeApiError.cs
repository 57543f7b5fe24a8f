namespace LmWrapper.Testing;

/// <summary>An OpenAI-style error a fake handler answers with: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal sealed class FakeApiError(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;

    public string Type { get; } = type;

    public string? Param { get; } = param;

    public string? Code { get; } = code;
}
