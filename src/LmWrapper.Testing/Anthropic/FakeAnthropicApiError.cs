namespace LmWrapper.Testing.Anthropic;

/// <summary>An Anthropic-style error the fake answers with (internal plumbing).</summary>
internal sealed class FakeAnthropicApiError(int status, string type, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Type { get; } = type;

    public static FakeAnthropicApiError Invalid(string message) => new(400, "invalid_request_error", message);

    public static FakeAnthropicApiError NotFound(string message) => new(404, "not_found_error", message);
}
