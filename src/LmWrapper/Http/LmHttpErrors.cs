using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace LmWrapper.Http;

/// <summary>
/// The one place that maps an HTTP answer to an outcome: which statuses are retried, which are thrown, and which
/// <see cref="LmErrorKind"/> a provider's error body means. It reads the error bodies of OpenAI
/// (<c>{"error":{"message","type","code","param"}}</c>), Anthropic (<c>{"type":"error","error":{"type","message"}}</c>)
/// and the Hugging Face hub (<c>{"error":"…"}</c>).
/// </summary>
public static class LmHttpErrors
{
    /// <summary>Whether a status means a passing failure worth retrying: 408, 409, 429 and every 5xx (529 included).</summary>
    /// <param name="status">The HTTP status.</param>
    public static bool IsRetryableStatus(int status) => status is 408 or 409 or 429 or >= 500;

    /// <summary>Whether a status means a missing or rejected key (401, 403), which is thrown, never returned.</summary>
    /// <param name="status">The HTTP status.</param>
    public static bool IsAuthenticationStatus(int status) => status is 401 or 403;

    /// <summary>
    /// Whether the answer should be retried: a retryable status, unless the server says <c>x-should-retry: false</c> or the
    /// 429 is an exhausted quota (billing, not rate); any status when it says <c>x-should-retry: true</c>.
    /// </summary>
    /// <param name="status">The HTTP status.</param>
    /// <param name="body">The parsed error body.</param>
    /// <param name="headers">The response headers.</param>
    public static bool ShouldRetry(int status, LmHttpErrorBody body, HttpResponseHeaders headers)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(headers);
        if (IsAuthenticationStatus(status) || IsQuotaExhausted(status, body))
        {
            return false;
        }

        bool? says = headers.TryGetValues("x-should-retry", out var values) && values.FirstOrDefault() is { } v
            ? v.Equals("true", StringComparison.OrdinalIgnoreCase) ? true : v.Equals("false", StringComparison.OrdinalIgnoreCase) ? false : null
            : null;
        return says ?? IsRetryableStatus(status);
    }

    /// <summary>The error a final non-success answer stands for (not for 401/403, which are thrown as <see cref="LmAuthenticationException"/>).</summary>
    /// <param name="providerName">The provider's name for the message.</param>
    /// <param name="status">The HTTP status.</param>
    /// <param name="body">The parsed error body.</param>
    /// <param name="requestId">The request id header, or null.</param>
    /// <param name="attempts">How many attempts were made (said in the message when more than one).</param>
    public static LmError ToError(string providerName, int status, LmHttpErrorBody body, string? requestId, int attempts = 1)
    {
        ArgumentNullException.ThrowIfNull(body);
        string code = body.Code ?? body.Type ?? string.Empty;
        string text = body.Message ?? string.Empty;
        var kind = status switch
        {
            404 => LmErrorKind.NotFound,
            429 => LmErrorKind.RateLimitExhausted,
            408 or 409 or >= 500 => LmErrorKind.Server,
            _ when code is "context_length_exceeded" || text.Contains("maximum context length", StringComparison.OrdinalIgnoreCase)
                || text.Contains("prompt is too long", StringComparison.OrdinalIgnoreCase)
                || text.Contains("context window", StringComparison.OrdinalIgnoreCase) => LmErrorKind.ContextLength,
            _ when code is "content_filter" or "content_policy_violation" => LmErrorKind.ContentFilter,
            _ => LmErrorKind.InvalidRequest,
        };
        string tries = attempts > 1 ? $" after {attempts.ToString(CultureInfo.InvariantCulture)} attempts" : string.Empty;
        string quota = IsQuotaExhausted(status, body) ? " The account is out of quota; retrying will not help: check your plan and billing." : string.Empty;
        string message = $"{providerName} answered HTTP {status.ToString(CultureInfo.InvariantCulture)}{tries}"
            + ((body.Code ?? body.Type) is { } c ? $" ({c})" : string.Empty)
            + (body.Param is { } p ? $", param {p}" : string.Empty)
            + $": {(string.IsNullOrEmpty(text) ? "(no message)" : text)}{quota}";
        return new LmError(kind, message, status, body.Code ?? body.Type, requestId);
    }

    /// <summary>The provider's request id: <c>x-request-id</c> (OpenAI, the hub) or <c>request-id</c> (Anthropic).</summary>
    /// <param name="headers">The response headers.</param>
    public static string? RequestId(HttpResponseHeaders headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        return headers.TryGetValues("x-request-id", out var a) ? a.FirstOrDefault()
            : headers.TryGetValues("request-id", out var b) ? b.FirstOrDefault()
            : null;
    }

    /// <summary>Reads a provider's error body (whatever it holds: JSON of a known shape, other text, nothing).</summary>
    /// <param name="body">The body's bytes.</param>
    public static LmHttpErrorBody ReadBody(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var e))
            {
                if (e.ValueKind == JsonValueKind.Object)
                {
                    return new LmHttpErrorBody(Text(e, "message"), Text(e, "type"), Text(e, "code"), Text(e, "param"));
                }

                if (e.ValueKind == JsonValueKind.String)
                {
                    return new LmHttpErrorBody(e.GetString(), null, null, null);
                }
            }

            if (root.ValueKind == JsonValueKind.Object && Text(root, "message") is { } message)
            {
                return new LmHttpErrorBody(message, null, null, null);
            }
        }
        catch (JsonException)
        {
        }

        string raw = System.Text.Encoding.UTF8.GetString(body[..Math.Min(body.Length, 300)]).Trim();
        return new LmHttpErrorBody(raw.Length == 0 ? null : raw, null, null, null);
    }

    private static bool IsQuotaExhausted(int status, LmHttpErrorBody body) =>
        status == 429 && (body.Code == "insufficient_quota" || body.Type == "insufficient_quota");

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Number => v.GetRawText(),
            _ => null,
        } : null;
}
