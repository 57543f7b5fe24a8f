using System.Buffers;
using System.Text;
using System.Text.Json;
using LmWrapper.Anthropic.Internal;
using LmWrapper.Batching;
using LmWrapper.Testing.Anthropic;
using Microsoft.Extensions.Logging.Abstractions;

namespace LmWrapper.Anthropic.Tests;

/// <summary>The Message Batches backend on its own (ids, request lines, cancel, status), against the fake over HTTP.</summary>
public sealed class ClaudeBatchBackendTests : ClaudeBatchTestBase
{
    private static readonly string Key = new('a', 32);

    [Fact]
    public void IdsCarrySampleAndTagAndReadBack()
    {
        string tag = ClaudeBatchIds.Tag("lmw_0123456789abcdef0123456789abcdef");
        Assert.Matches("^[0-9a-f]{12}$", tag);
        Assert.Equal(tag, ClaudeBatchIds.Tag("lmw_0123456789abcdef0123456789abcdef"));
        Assert.NotEqual(tag, ClaudeBatchIds.Tag("lmw_0123456789abcdef0123456789abcdee"));

        string id = ClaudeBatchIds.Tagged(ClaudeBatchIds.Sample(Key, 7), tag);
        Assert.Matches("^[a-zA-Z0-9_-]{1,64}$", id);
        Assert.True(ClaudeBatchIds.TryParse(id, out string customId, out int sample, out string back));
        Assert.Equal((Key, 7, tag), (customId, sample, back));

        Assert.True(ClaudeBatchIds.TryParse(ClaudeBatchIds.Tagged(ClaudeBatchIds.Sample("u12", 0), tag), out customId, out sample, out _));
        Assert.Equal(("u12", 0), (customId, sample));

        Assert.False(ClaudeBatchIds.TryParse("theirs-1", out _, out _, out _));
        Assert.False(ClaudeBatchIds.TryParse(Key + "_x_" + tag, out _, out _, out _));
        Assert.False(ClaudeBatchIds.TryParse(Key + "_1_short", out _, out _, out _));
    }

    [Fact]
    public void IdsThatWouldBreakAnthropicsRulesAreRefusedBeforeAnythingIsSent()
    {
        ClaudeBatchIds.Validate(Key, 1_000_000);
        Assert.Throws<ArgumentException>(() => ClaudeBatchIds.Validate(new string('a', 50), 1));
        Assert.Throws<ArgumentException>(() => ClaudeBatchIds.Validate("has space", 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClaudeBatchIds.Validate(Key, 0));
    }

    [Fact]
    public void ARequestLineHoldsOneRequestPerSampleWithTheSameParams()
    {
        using var http = Http();
        var backend = Backend(http);
        var output = new ArrayBufferWriter<byte>();
        backend.WriteRequestLine(output, Key, new LmPrompt("hello") { MaxTokens = 7 }, 3);
        var lines = Encoding.UTF8.GetString(output.WrittenSpan).Split('\n');
        Assert.Equal(3, lines.Length);
        var parsed = lines.Select(l => JsonDocument.Parse(l)).ToList();
        Assert.Equal([Key + "_0", Key + "_1", Key + "_2"], parsed.Select(d => d.RootElement.GetProperty("custom_id").GetString()));
        Assert.Single(parsed.Select(d => d.RootElement.GetProperty("params").GetRawText()).Distinct());
        Assert.Equal(7, parsed[0].RootElement.GetProperty("params").GetProperty("max_tokens").GetInt32());
        Assert.Equal(3, backend.EstimateEnqueuedTokens(new LmPrompt("hello"), 3)); // counted in queued requests
        parsed.ForEach(d => d.Dispose());
    }

    [Fact]
    public async Task ABatchCanBeCancelledAndItsStatusFollows()
    {
        Server.BatchLooksToEnd = 1000;
        using var http = Http();
        var backend = Backend(http);
        string file = WriteFile(backend, ("k1", "one"), ("k2", "two"));

        string id = await backend.SubmitAsync("lmw_local", file, 2, CancellationToken.None);
        Assert.Equal(BatchState.InProgress, (await backend.GetStatusAsync(id, CancellationToken.None)).State);

        Assert.True(Server.CancelBatch(id));
        var status = await backend.GetStatusAsync(id, CancellationToken.None);
        Assert.Equal(BatchState.Cancelled, status.State);
        Assert.True(status.IsTerminal);
        Assert.Contains("2 canceled", status.Message, StringComparison.Ordinal);

        var results = new List<BatchLineResult>();
        await foreach (var r in backend.ReadResultsAsync(id, _ => (new LmPrompt("x"), 1), CancellationToken.None))
        {
            results.Add(r);
        }

        Assert.Empty(results); // canceled requests have no result: the orchestration resubmits them

        await backend.CleanupAsync(id, CancellationToken.None);
        Assert.Empty(Server.BatchIds);
        await backend.CleanupAsync(id, CancellationToken.None); // already gone: fine
        Assert.Equal(BatchState.Failed, (await backend.GetStatusAsync(id, CancellationToken.None)).State);
    }

    [Fact]
    public async Task TheCreateBodyIsStreamedAndTagsEveryId()
    {
        using var http = Http();
        var backend = Backend(http);
        string file = WriteFile(backend, ("k1", "one"), ("k2", "two"));
        await backend.SubmitAsync("lmw_local", file, 2, CancellationToken.None);

        var create = CreateRequests.Single();
        Assert.Equal("chunked", create.Headers["transfer-encoding"]);
        Assert.False(create.Headers.ContainsKey("content-length"));
        string tag = ClaudeBatchIds.Tag("lmw_local");
        Assert.Equal(["k1_0_" + tag, "k2_0_" + tag], Server.CreatedBatches.Single().CustomIds);
    }

    [Fact]
    public async Task AQueueRefusalIsQueueFull()
    {
        Server.BatchQueueLimit = 1;
        using var http = Http();
        var backend = Backend(http);
        string file = WriteFile(backend, ("k1", "one"), ("k2", "two"));
        await Assert.ThrowsAsync<LmBatchQueueFullException>(() => backend.SubmitAsync("lmw_local", file, 2, CancellationToken.None));
        Assert.Empty(Server.CreatedBatches);
    }

    private AnthropicHttp Http() =>
        new(Server.BaseUrl, LmApiKey.Resolve(FakeAnthropicServer.DefaultApiKey, "Anthropic", "UNUSED", "unused.txt", "-", Options()), Options(), NullLogger.Instance, null);

    private ClaudeBatchBackend Backend(AnthropicHttp http) =>
        new(http, ClaudeModelNames.Claude35Haiku, Server.BaseUrl, NullLogger.Instance);

    private string WriteFile(ClaudeBatchBackend backend, params (string Id, string Text)[] requests)
    {
        Directory.CreateDirectory(WorkDirectory);
        string file = Path.Combine(WorkDirectory, Guid.NewGuid().ToString("N") + ".jsonl");
        var output = new ArrayBufferWriter<byte>();
        foreach (var (id, text) in requests)
        {
            backend.WriteRequestLine(output, id, new LmPrompt(text) { MaxTokens = 5 }, 1);
            output.Write("\n"u8);
        }

        File.WriteAllBytes(file, output.WrittenSpan.ToArray());
        return file;
    }
}
