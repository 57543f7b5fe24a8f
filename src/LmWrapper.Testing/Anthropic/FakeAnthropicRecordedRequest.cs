using System.Text.Json.Nodes;

namespace LmWrapper.Testing.Anthropic;

/// <summary>One request <see cref="FakeAnthropicServer"/> received (including those it rejected or faulted).</summary>
/// <param name="Method">The HTTP method.</param>
/// <param name="Path">The path, such as "/v1/messages".</param>
/// <param name="Query">The query string (with its "?"), or empty.</param>
/// <param name="Headers">The request headers (names in lower case; several values joined with ", ").</param>
/// <param name="Body">The body as text (empty when there was none).</param>
public sealed record FakeAnthropicRecordedRequest(
    string Method,
    string Path,
    string Query,
    IReadOnlyDictionary<string, string> Headers,
    string Body)
{
    /// <summary>The body parsed as JSON, or null when it is empty or not JSON.</summary>
    public JsonNode? Json
    {
        get
        {
            if (string.IsNullOrWhiteSpace(Body))
            {
                return null;
            }

            try
            {
                return JsonNode.Parse(Body);
            }
            catch (System.Text.Json.JsonException)
            {
                return null;
            }
        }
    }
}
