namespace LmWrapper.Testing.Anthropic;

/// <summary>What a <see cref="FakeAnthropicFault"/> does to a request.</summary>
public enum FakeAnthropicFaultKind
{
    /// <summary>Answers with an Anthropic error body and status (and any retry headers).</summary>
    Error,

    /// <summary>Waits, then handles the request normally.</summary>
    Delay,

    /// <summary>Closes the connection without an answer.</summary>
    DropConnection,

    /// <summary>Starts a successful JSON answer and closes the connection halfway through the body.</summary>
    TruncatedBody,

    /// <summary>Answers 200 with a complete body that is not JSON (HTML from a misconfigured proxy).</summary>
    MalformedBody,

    /// <summary>
    /// Handles the request fully (a batch is created, a message generated), then closes the connection without
    /// answering: the client cannot tell whether the request took effect.
    /// </summary>
    DropAfterHandling,

    /// <summary>A streamed message (<c>"stream": true</c>) ends after <see cref="FakeAnthropicFault.AfterEvents"/> events, without the rest, and the connection is closed. A request that does not stream is served normally.</summary>
    StreamCut,

    /// <summary>A streamed message sends <see cref="FakeAnthropicFault.AfterEvents"/> events, then an <c>error</c> event and ends. A request that does not stream is served normally.</summary>
    StreamError,
}
