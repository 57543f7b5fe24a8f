namespace LmWrapper.Http;

/// <summary>What a provider's error body says; every part may be missing.</summary>
/// <param name="Message">The error message (or the body's first characters when it is not a known shape).</param>
/// <param name="Type">The error type ("invalid_request_error", "overloaded_error", …).</param>
/// <param name="Code">The error code ("context_length_exceeded", "rate_limit_exceeded", …).</param>
/// <param name="Param">The request parameter the error is about.</param>
public sealed record LmHttpErrorBody(string? Message, string? Type, string? Code, string? Param);
