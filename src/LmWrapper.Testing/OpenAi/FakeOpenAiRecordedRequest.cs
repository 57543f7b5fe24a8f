using System.Text.Json;

namespace LmWrapper.Testing;

/// <summary>One request a <see cref="FakeOpenAiServer"/> received, kept for assertions. Secrets are not kept.</summary>
/// <param name="Method">The HTTP method.</param>
/// <param name="Path">The path (for example "/v1/chat/completions").</param>
/// <param name="Query">The query string, including its leading '?', or empty.</param>
/// <param name="Headers">The request headers, lower-cased names, without <c>authorization</c> and <c>api-key</c>.</param>
/// <param name="Body">The body as text (multipart uploads included verbatim).</param>
/// <param name="ApiKeySuffix">The last four characters of the API key sent (as OpenAI's dashboard shows keys), or null when none was sent.</param>
/// <param name="Fault">The name of the injected fault this request met, or null.</param>
/// <param name="ReceivedAt">When the server received the request.</param>
public sealed record FakeOpenAiRecordedRequest(
    string Method,
    string Path,
    string Query,
    IReadOnlyDictionary<string, string> Headers,
    string Body,
    string? ApiKeySuffix,
    string? Fault,
    DateTimeOffset ReceivedAt)
{
    /// <summary>The body parsed as JSON (throws when it is not JSON).</summary>
    public JsonElement Json
    {
        get
        {
            using var doc = JsonDocument.Parse(Body);
            return doc.RootElement.Clone();
        }
    }
}
