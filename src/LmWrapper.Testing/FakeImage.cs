namespace LmWrapper.Testing;

/// <summary>An image a fake server received in a request, as it checked and counted it.</summary>
/// <param name="MediaType">The media type read from the bytes ("image/png", …), or null for a URL image (not downloaded).</param>
/// <param name="Url">The URL of a URL image, or null for an inline (base64) one.</param>
/// <param name="Width">The width in pixels, or null for a URL image.</param>
/// <param name="Height">The height in pixels, or null for a URL image.</param>
/// <param name="Detail">OpenAI's <c>detail</c> ("auto", "low" or "high"); "auto" for Claude.</param>
/// <param name="Tokens">The input tokens the fake counted for it, by the provider's published formula.</param>
public sealed record FakeImage(string? MediaType, string? Url, int? Width, int? Height, string Detail, int Tokens);
