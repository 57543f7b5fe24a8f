using System.Globalization;

namespace LmWrapper;

/// <summary>
/// Why a prediction failed: what the provider refused or could not do, as data on <see cref="LmPrediction.Error"/>.
/// </summary>
/// <remarks>
/// <para><b>Returned or thrown.</b> Everything about one request that the provider refused or failed at comes back as an
/// <see cref="LmError"/> on the prediction (the kinds of <see cref="LmErrorKind"/>), the same for every provider and for
/// <c>Predict</c>, <c>PredictMany</c> (ASAP and batch). What is thrown instead: a prompt that is invalid for the model
/// (<see cref="LmPromptException"/>, before anything is sent), a missing or rejected key (<see cref="LmAuthenticationException"/>,
/// HTTP 401/403), cancellation (<see cref="OperationCanceledException"/>), cache faults
/// (<see cref="Caching.LmCacheException"/>) and programming errors (any other exception, which LmWrapper never turns into data).</para>
/// <para><b>Permanent and cached.</b> <see cref="IsPermanent"/> is true only where the same request would fail the same way
/// again; only such errors are stored in the response cache (so a rerun does not pay again):</para>
/// <list type="table">
/// <listheader><term>Kind</term><description>Status: permanent (cached)?</description></listheader>
/// <item><term><see cref="LmErrorKind.InvalidRequest"/></term><description>400, 413, 422: yes; any other 4xx: no</description></item>
/// <item><term><see cref="LmErrorKind.ContextLength"/></term><description>yes</description></item>
/// <item><term><see cref="LmErrorKind.ContentFilter"/></term><description>yes</description></item>
/// <item><term><see cref="LmErrorKind.NotFound"/></term><description>404: no (a wrong model name or base URL is fixed by the user)</description></item>
/// <item><term><see cref="LmErrorKind.RateLimitExhausted"/></term><description>429: no</description></item>
/// <item><term><see cref="LmErrorKind.Server"/></term><description>5xx, 529, 408, 409: no</description></item>
/// <item><term><see cref="LmErrorKind.Transport"/></term><description>no answer: no</description></item>
/// <item><term><see cref="LmErrorKind.MalformedResponse"/></term><description>no</description></item>
/// </list>
/// <para>401 and 403 are never errors on a prediction: they are thrown.</para>
/// </remarks>
/// <param name="Kind">What kind of failure it is.</param>
/// <param name="Message">What happened, in words (the provider's message included); never a secret.</param>
/// <param name="StatusCode">The last HTTP status, or null when none applies (no answer, a local model, a refusal in a 200).</param>
/// <param name="ProviderCode">The provider's error code or type ("context_length_exceeded", "overloaded_error", …), or null.</param>
/// <param name="RequestId">The provider's request id (<c>x-request-id</c>, <c>request-id</c>) for its support, or null.</param>
public sealed record LmError(LmErrorKind Kind, string Message, int? StatusCode = null, string? ProviderCode = null, string? RequestId = null)
{
    /// <summary>How long the provider asked to wait before trying again (a 429's or 5xx's retry hint), or null. Not cached.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>
    /// Whether the same request would fail the same way again, so the error may be cached. By default the table above
    /// (<see cref="IsPermanentFor"/>); set false where the failure was not about the request itself (a batch the provider
    /// refused as a whole).
    /// </summary>
    public bool IsPermanent { get; init; } = IsPermanentFor(Kind, StatusCode);

    /// <summary>The permanence table: whether an error of <paramref name="kind"/> with <paramref name="statusCode"/> is permanent.</summary>
    /// <param name="kind">The kind.</param>
    /// <param name="statusCode">The HTTP status, or null.</param>
    public static bool IsPermanentFor(LmErrorKind kind, int? statusCode) => kind switch
    {
        LmErrorKind.ContextLength or LmErrorKind.ContentFilter => statusCode is not (401 or 403 or 404),
        LmErrorKind.InvalidRequest => statusCode is null or 400 or 413 or 422,
        _ => false,
    };

    /// <inheritdoc/>
    public override string ToString()
    {
        string status = StatusCode is { } s ? " HTTP " + s.ToString(CultureInfo.InvariantCulture) : string.Empty;
        string code = ProviderCode is null ? string.Empty : " (" + ProviderCode + ")";
        return $"{Kind}{status}{code}: {Message}";
    }
}
