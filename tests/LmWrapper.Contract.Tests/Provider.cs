using LmWrapper.Anthropic;
using LmWrapper.Caching;
using LmWrapper.OpenAI;
using LmWrapper.Retry;
using LmWrapper.Testing;
using LmWrapper.Testing.Anthropic;
using Microsoft.Extensions.Logging;

namespace LmWrapper.Contract.Tests;

/// <summary>One provider behind its fake server, with the faults the contract scenarios need, in its own API's words.</summary>
public abstract class Provider : IAsyncDisposable
{
    /// <summary>Retries fast enough for tests: 2 retries, tiny backoff.</summary>
    public static readonly LmRetryPolicy FastRetry = new()
    {
        MaxRetries = 2,
        InitialDelay = TimeSpan.FromMilliseconds(1),
        MaxDelay = TimeSpan.FromMilliseconds(5),
        MaxTotalWait = TimeSpan.FromSeconds(5),
    };

    public abstract string Name { get; }

    /// <summary>Requests the server has seen for predictions (single calls only).</summary>
    public abstract int PredictionRequests { get; }

    public abstract LanguageModel Model(LmCache cache, TimeSpan? requestTimeout = null, ILogger? logger = null);

    public abstract void RateLimitOnce();

    public abstract void ServerErrorAlways();

    public abstract void NotFoundOnce();

    public abstract void ContextTooLongOnce();

    public abstract void BadRequestOnce();

    public abstract void MalformedBodyOnce();

    public abstract void SlowOnce(TimeSpan delay);

    /// <summary>The next streamed answer is cut after a few events that carry text.</summary>
    public abstract void StreamCutAfterTextOnce();

    /// <summary>Slows streamed answers down: this long between two events.</summary>
    public abstract void DelayStreamEvents(TimeSpan delay);

    /// <summary>How many streamed answers the client closed before their end.</summary>
    public abstract int AbortedStreams { get; }

    public abstract ValueTask DisposeAsync();

    public override string ToString() => Name;

    public static async Task<Provider> StartAsync(string name)
    {
        Provider p = name switch
        {
            "openai" => new OpenAiProvider(await FakeOpenAiServer.StartNewAsync()),
            "anthropic" => new AnthropicProvider(),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
        if (p is AnthropicProvider a)
        {
            await a.Server.StartAsync();
        }

        return p;
    }

    private sealed class OpenAiProvider(FakeOpenAiServer server) : Provider
    {
        public override string Name => "openai";

        public override int PredictionRequests => server.Requests.Count(r => r.Path.StartsWith("/v1/chat/completions", StringComparison.Ordinal));

        public override LanguageModel Model(LmCache cache, TimeSpan? requestTimeout = null, ILogger? logger = null) =>
            OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: new OpenAiOptions
            {
                BaseUrl = new Uri(server.BaseUrl),
                Retry = FastRetry,
                RequestTimeout = requestTimeout ?? TimeSpan.FromMinutes(1),
                ModelOptions = new LanguageModelOptions { Cache = cache, CacheByDefault = true },
                Logger = logger,
                GetEnvironmentVariable = _ => null,
            });

        public override void RateLimitOnce() => server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(5)));

        public override void ServerErrorAlways() => server.EnqueueFault(FakeOpenAiFault.ServerError(503), times: 100);

        public override void NotFoundOnce() => server.EnqueueFault(Error(404, "invalid_request_error", "model_not_found", "The model `gpt-4o-mini` does not exist or you do not have access to it."));

        public override void ContextTooLongOnce() => server.EnqueueFault(Error(400, "invalid_request_error", "context_length_exceeded", "This model's maximum context length is 128000 tokens."));

        public override void BadRequestOnce() => server.EnqueueFault(Error(400, "invalid_request_error", null, "Invalid value for 'stop'."));

        public override void MalformedBodyOnce() => server.EnqueueFault(FakeOpenAiFault.MalformedBody());

        public override void SlowOnce(TimeSpan delay) => server.EnqueueFault(FakeOpenAiFault.Slow(delay));

        public override void StreamCutAfterTextOnce() => server.EnqueueFault(FakeOpenAiFault.StreamCut(afterEvents: 4)); // the role chunk, then text

        public override void DelayStreamEvents(TimeSpan delay) => server.StreamEventDelay = delay;

        public override int AbortedStreams => server.AbortedStreams;

        public override ValueTask DisposeAsync() => server.DisposeAsync();

        private static FakeOpenAiFault Error(int status, string type, string? code, string message) =>
            new() { Kind = FakeOpenAiFaultKind.HttpError, StatusCode = status, ErrorType = type, ErrorCode = code, Message = message };
    }

    private sealed class AnthropicProvider : Provider
    {
        public FakeAnthropicServer Server { get; } = new();

        public override string Name => "anthropic";

        public override int PredictionRequests => Server.RequestsTo("/v1/messages").Count;

        public override LanguageModel Model(LmCache cache, TimeSpan? requestTimeout = null, ILogger? logger = null) =>
            ClaudeLm.Get(ClaudeModelNames.Claude35Haiku, FakeAnthropicServer.DefaultApiKey, new ClaudeOptions
            {
                BaseUrl = Server.BaseUrl,
                Retry = FastRetry,
                RequestTimeout = requestTimeout ?? TimeSpan.FromMinutes(1),
                ModelOptions = new LanguageModelOptions { Cache = cache, CacheByDefault = true },
                Logger = logger,
                GetEnvironmentVariable = _ => null,
            });

        public override void RateLimitOnce() => Server.InjectFault(FakeAnthropicFault.RateLimited(TimeSpan.FromMilliseconds(5)));

        public override void ServerErrorAlways() => Server.InjectFault(FakeAnthropicFault.Overloaded(), times: 100);

        public override void NotFoundOnce() => Server.InjectFault(FakeAnthropicFault.Error(404, "not_found_error", "model: claude-3-5-haiku-20241022"));

        public override void ContextTooLongOnce() => Server.InjectFault(FakeAnthropicFault.Error(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"));

        public override void BadRequestOnce() => Server.InjectFault(FakeAnthropicFault.Error(400, "invalid_request_error", "stop_sequences: each must contain non-whitespace"));

        public override void MalformedBodyOnce() => Server.InjectFault(FakeAnthropicFault.MalformedBody());

        public override void SlowOnce(TimeSpan delay) => Server.InjectFault(FakeAnthropicFault.Slow(delay));

        public override void StreamCutAfterTextOnce() => Server.InjectFault(FakeAnthropicFault.StreamCut(afterEvents: 6)); // message_start, block start, ping, then text

        public override void DelayStreamEvents(TimeSpan delay) => Server.StreamEventDelay = delay;

        public override int AbortedStreams => Server.AbortedStreams;

        public override ValueTask DisposeAsync() => Server.DisposeAsync();
    }
}
