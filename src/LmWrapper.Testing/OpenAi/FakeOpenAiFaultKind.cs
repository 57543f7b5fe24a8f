namespace LmWrapper.Testing;

/// <summary>What an injected <see cref="FakeOpenAiFault"/> does to a request.</summary>
public enum FakeOpenAiFaultKind
{
    /// <summary>Answers with an HTTP error status and an OpenAI-style error body (429, 500, 503, 401, …).</summary>
    HttpError,

    /// <summary>Waits, then serves the request normally.</summary>
    Delay,

    /// <summary>Closes the connection without answering.</summary>
    DropConnection,

    /// <summary>Serves the request but sends only the first half of the body, then closes the connection.</summary>
    TruncatedBody,

    /// <summary>Answers 200 with a complete body that is not a response (HTML from a misconfigured proxy).</summary>
    MalformedBody,

    /// <summary>A streamed answer (<c>stream: true</c>) ends after <see cref="FakeOpenAiFault.AfterEvents"/> events, without the rest (and <c>[DONE]</c>), and the connection is closed. Other requests are served normally.</summary>
    StreamCut,

    /// <summary>A streamed answer sends <see cref="FakeOpenAiFault.AfterEvents"/> events, then an error event (<c>data: {"error": {…}}</c>) and ends. Other requests are served normally.</summary>
    StreamError,
}
