using System.Text.Json;

namespace LmWrapper.OpenAI;

/// <summary>An OpenAI API answer with an error status, as the batch calls meet it: the status and the error's fields.</summary>
internal sealed class OpenAiHttpException(int status, string message, string? type, string? code) : LmException(message)
{
    public int Status { get; } = status;

    public string? Type { get; } = type;

    public string? Code { get; } = code;

    /// <summary>Reads <c>{"error":{"message","type","code"}}</c> from a failed response (whatever it holds).</summary>
    public static async Task<OpenAiHttpException> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        int status = (int)response.StatusCode;
        string text;
        try
        {
            text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            text = string.Empty;
        }

        string? message = null, type = null, code = null;
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object)
            {
                message = Str(e, "message");
                type = Str(e, "type");
                code = Str(e, "code");
            }
        }
        catch (JsonException)
        {
            message = text.Length > 300 ? text[..300] : text;
        }

        string shown = $"OpenAI answered HTTP {status}{(code is null ? string.Empty : ", code " + code)}: {(string.IsNullOrEmpty(message) ? response.ReasonPhrase ?? "(no message)" : message)}";
        return new OpenAiHttpException(status, shown, type, code);

        static string? Str(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }
}
