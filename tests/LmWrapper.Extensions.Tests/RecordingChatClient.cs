using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace LmWrapper.Extensions.Tests;

/// <summary>A hand-written IChatClient: answers with a function of the messages and records every call.</summary>
internal sealed class RecordingChatClient : IChatClient
{
    private readonly Func<IReadOnlyList<ChatMessage>, ChatOptions?, ChatResponse> _answer;

    public RecordingChatClient(Func<IReadOnlyList<ChatMessage>, ChatOptions?, ChatResponse>? answer = null, ChatClientMetadata? metadata = null)
    {
        _answer = answer ?? ((messages, _) => new ChatResponse(new ChatMessage(ChatRole.Assistant, "echo: " + messages[^1].Text))
        {
            Usage = new UsageDetails { InputTokenCount = 7, OutputTokenCount = 3, TotalTokenCount = 10, CachedInputTokenCount = 2 },
            FinishReason = ChatFinishReason.Stop,
            ModelId = "hand-model",
            ResponseId = "resp-1",
        });
        Metadata = metadata ?? new ChatClientMetadata("hand", new Uri("http://user:secret@127.0.0.1:9/v1?x=y"), "hand-model");
    }

    public ChatClientMetadata Metadata { get; }

    public ConcurrentQueue<(List<ChatMessage> Messages, ChatOptions? Options)> Calls { get; } = new();

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages.ToList();
        Calls.Enqueue((list, options));
        return Task.FromResult(_answer(list, options));
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var update in (await GetResponseAsync(messages, options, cancellationToken)).ToChatResponseUpdates())
        {
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(ChatClientMetadata) ? Metadata : serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}
