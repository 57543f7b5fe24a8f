namespace LmWrapper.Testing.Anthropic;

/// <summary>How one request of a Message Batch ends (the <c>result.type</c> of its line in the results file).</summary>
public enum FakeAnthropicBatchResultType
{
    /// <summary>It succeeded: the result holds a message (unless its params were invalid, which makes it errored).</summary>
    Succeeded,

    /// <summary>It failed with a server error (<c>api_error</c>).</summary>
    Errored,

    /// <summary>It was canceled before it ran.</summary>
    Canceled,

    /// <summary>The batch expired (24 hours) before it ran.</summary>
    Expired,
}
