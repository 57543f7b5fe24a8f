namespace LmWrapper.Testing;

/// <summary>
/// What a <see cref="FakeOpenAiServer"/> does with one batch, chosen when it is created by
/// <see cref="FakeOpenAiServer.BatchPlanner"/>: how it ends and which of its requests fail.
/// </summary>
public sealed record FakeOpenAiBatchPlan
{
    /// <summary>Runs everything and completes (the default for every batch).</summary>
    public static FakeOpenAiBatchPlan Complete { get; } = new();

    /// <summary>How the batch ends.</summary>
    public FakeOpenAiBatchEnding Ending { get; init; } = FakeOpenAiBatchEnding.Complete;

    /// <summary>For <see cref="FakeOpenAiBatchEnding.Expire"/> and <see cref="FakeOpenAiBatchEnding.Cancel"/>: how many requests (the first ones of the file) ran before the end. Default half of them.</summary>
    public int? Answered { get; init; }

    /// <summary>For <see cref="FakeOpenAiBatchEnding.Fail"/>: the error code in the batch's <c>errors</c>. Default "invalid_request".</summary>
    public string FailureCode { get; init; } = "invalid_request";

    /// <summary>For <see cref="FakeOpenAiBatchEnding.Fail"/>: the error message.</summary>
    public string FailureMessage { get; init; } = "The batch failed.";

    /// <summary>
    /// Requests (by custom id) that fail on their own: answered in the error file with status 400 and an
    /// <c>invalid_request_error</c>, as OpenAI answers a request it rejects. Null: none beyond what the endpoint itself rejects.
    /// </summary>
    public Func<string, bool>? FailLine { get; init; }

    /// <summary>Runs <paramref name="answered"/> requests and expires.</summary>
    /// <param name="answered">How many requests ran.</param>
    public static FakeOpenAiBatchPlan Expire(int? answered = null) => new() { Ending = FakeOpenAiBatchEnding.Expire, Answered = answered };

    /// <summary>Runs <paramref name="answered"/> requests and is cancelled from outside.</summary>
    /// <param name="answered">How many requests ran.</param>
    public static FakeOpenAiBatchPlan Cancel(int? answered = null) => new() { Ending = FakeOpenAiBatchEnding.Cancel, Answered = answered };

    /// <summary>Fails as a whole.</summary>
    /// <param name="code">The error code.</param>
    /// <param name="message">The error message.</param>
    public static FakeOpenAiBatchPlan Fail(string code = "invalid_request", string message = "The batch failed.") =>
        new() { Ending = FakeOpenAiBatchEnding.Fail, FailureCode = code, FailureMessage = message };
}
