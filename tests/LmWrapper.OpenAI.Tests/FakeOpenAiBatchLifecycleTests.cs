using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

/// <summary>The fake's Batch API on its own: stages, output and error files, validation, the token queue.</summary>
public sealed class FakeOpenAiBatchLifecycleTests : IAsyncLifetime, IDisposable
{
    private readonly HttpClient _http = new();
    private FakeOpenAiServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStagePolls = 1, BatchEnqueuedTokenLimit = 60 });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _http.Dispose();

    private static string ChatLine(string id, string text, string model = "gpt-4o-mini", string url = "/v1/chat/completions") =>
        $$$"""{"custom_id":"{{{id}}}","method":"POST","url":"{{{url}}}","body":{"model":"{{{model}}}","messages":[{"role":"user","content":"{{{text}}}"}],"max_tokens":20}}""";

    [Fact]
    public async Task ABatchMovesThroughItsStagesAndAnswersEachLineAsTheChatEndpointWould()
    {
        string ok = ChatLine("a", "What is 2+2?");
        string tooLong = """{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":99999999}}""";
        string batchId = await CreateAsync(ok + "\n" + tooLong + "\n");
        var statuses = new List<string>();
        JsonElement batch;
        do
        {
            batch = await GetAsync($"/batches/{batchId}");
            statuses.Add(batch.GetProperty("status").GetString()!);
        }
        while (statuses[^1] != "completed");

        Assert.Equal(["in_progress", "finalizing", "completed"], statuses);
        Assert.Equal(2, batch.GetProperty("request_counts").GetProperty("total").GetInt32());
        Assert.Equal(1, batch.GetProperty("request_counts").GetProperty("completed").GetInt32());
        Assert.Equal(1, batch.GetProperty("request_counts").GetProperty("failed").GetInt32());
        Assert.Equal(JsonValueKind.Number, batch.GetProperty("completed_at").ValueKind);

        var output = JsonDocument.Parse(await ContentAsync(batch.GetProperty("output_file_id").GetString()!)).RootElement;
        Assert.Equal("a", output.GetProperty("custom_id").GetString());
        Assert.Equal(JsonValueKind.Null, output.GetProperty("error").ValueKind);
        Assert.Equal(200, output.GetProperty("response").GetProperty("status_code").GetInt32());
        string direct = await PostAsync("/chat/completions", JsonDocument.Parse(ok).RootElement.GetProperty("body").GetRawText());
        Assert.Equal(WithoutId(direct), WithoutId(output.GetProperty("response").GetProperty("body").GetRawText()));

        var error = JsonDocument.Parse(await ContentAsync(batch.GetProperty("error_file_id").GetString()!)).RootElement;
        Assert.Equal("b", error.GetProperty("custom_id").GetString());
        Assert.Equal(400, error.GetProperty("response").GetProperty("status_code").GetInt32());
        Assert.Equal("invalid_request_error", error.GetProperty("response").GetProperty("body").GetProperty("error").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("url", "invalid_url")]
    [InlineData("duplicate", "duplicate_custom_id")]
    [InlineData("model", "mismatched_model")]
    public async Task AMalformedInputFailsValidationWithTheLineAtFault(string fault, string code)
    {
        string second = fault switch
        {
            "url" => ChatLine("b", "x", url: "/v1/completions"),
            "duplicate" => ChatLine("a", "x"),
            _ => ChatLine("b", "x", model: "gpt-4o"),
        };
        string batchId = await CreateAsync(ChatLine("a", "y") + "\n" + second + "\n");
        var batch = await GetAsync($"/batches/{batchId}");
        Assert.Equal("failed", batch.GetProperty("status").GetString());
        var e = batch.GetProperty("errors").GetProperty("data")[0];
        Assert.Equal(code, e.GetProperty("code").GetString());
        Assert.Equal(2, e.GetProperty("line").GetInt32());
        Assert.Equal(JsonValueKind.Null, batch.GetProperty("output_file_id").ValueKind);
    }

    [Fact]
    public async Task TheTokenQueueRefusesABatchThatDoesNotFitBesideTheRunningOnes()
    {
        string first = await CreateAsync(ChatLine("a", "one two three four five six seven eight nine ten") + "\n");
        Assert.Equal("in_progress", (await GetAsync($"/batches/{first}")).GetProperty("status").GetString());
        string second = await CreateAsync(ChatLine("b", "eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty") + "\n" + ChatLine("c", "one two three four five six seven eight nine ten") + "\n" + ChatLine("d", "one two three four five six seven eight nine ten") + "\n");
        var refused = await GetAsync($"/batches/{second}");
        Assert.Equal("failed", refused.GetProperty("status").GetString());
        var e = refused.GetProperty("errors").GetProperty("data")[0];
        Assert.Equal("token_limit_exceeded", e.GetProperty("code").GetString());
        Assert.Contains("Enqueued token limit reached for gpt-4o-mini", e.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.True(_server.Batches.Single(b => b.Id == second).EnqueuedTokens > 0);
    }

    [Fact]
    public async Task ExpiringAndCancellingFromOutsideKeepThePartialResults()
    {
        string lines = string.Concat(Enumerable.Range(0, 4).Select(i => ChatLine("r" + i, $"What is {i}+1?") + "\n"));
        string expiring = await CreateAsync(lines);
        await GetAsync($"/batches/{expiring}"); // in progress
        _server.ExpireBatch(expiring, answered: 1);
        var expired = await GetAsync($"/batches/{expiring}");
        Assert.Equal("expired", expired.GetProperty("status").GetString());
        Assert.Single((await ContentAsync(expired.GetProperty("output_file_id").GetString()!)).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var unanswered = (await ContentAsync(expired.GetProperty("error_file_id").GetString()!)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, unanswered.Length);
        Assert.All(unanswered, l => Assert.Equal("batch_expired", JsonDocument.Parse(l).RootElement.GetProperty("error").GetProperty("code").GetString()));

        string cancelling = await CreateAsync(string.Concat(Enumerable.Range(0, 4).Select(i => ChatLine("s" + i, $"What is {i}+2?") + "\n")));
        _server.CancelBatch(cancelling, answered: 2);
        Assert.Equal("cancelled", (await GetAsync($"/batches/{cancelling}")).GetProperty("status").GetString());
        var cancelled = await GetAsync($"/batches/{cancelling}");
        Assert.Equal(2, cancelled.GetProperty("request_counts").GetProperty("completed").GetInt32());
        Assert.Equal(2, cancelled.GetProperty("request_counts").GetProperty("failed").GetInt32());
        Assert.Equal(JsonValueKind.Number, cancelled.GetProperty("cancelled_at").ValueKind);
    }

    [Fact]
    public async Task AnUploadThatIsNotJsonLinesIsRefused()
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes("{\"custom_id\":\"a\"\nnot json\n")), "file", "input.jsonl" },
        };
        using var upload = new HttpRequestMessage(HttpMethod.Post, _server.BaseUrl + "/files") { Content = form };
        upload.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
        using var response = await _http.SendAsync(upload);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("invalid_batch_input", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(_server.FileIds);
    }

    /// <summary>A response without its id (which, like OpenAI's, differs between two answers to the same request).</summary>
    private static string WithoutId(string json)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        Assert.StartsWith("chatcmpl-", (string)node["id"]!);
        node.Remove("id");
        return node.ToJsonString();
    }

    private async Task<string> CreateAsync(string jsonl)
    {
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes(jsonl)), "file", "input.jsonl" },
        };
        using var upload = new HttpRequestMessage(HttpMethod.Post, _server.BaseUrl + "/files") { Content = form };
        upload.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
        using var uploaded = await _http.SendAsync(upload);
        string fileId = JsonDocument.Parse(await uploaded.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        string created = await PostAsync("/batches", $$"""{"input_file_id":"{{fileId}}","endpoint":"/v1/chat/completions","completion_window":"24h"}""");
        return JsonDocument.Parse(created).RootElement.GetProperty("id").GetString()!;
    }

    private async Task<JsonElement> GetAsync(string path) => JsonDocument.Parse(await SendAsync(HttpMethod.Get, path, null)).RootElement.Clone();

    private Task<string> ContentAsync(string fileId) => SendAsync(HttpMethod.Get, $"/files/{fileId}/content", null);

    private Task<string> PostAsync(string path, string body) => SendAsync(HttpMethod.Post, path, body);

    private async Task<string> SendAsync(HttpMethod method, string path, string? body)
    {
        using var request = new HttpRequestMessage(method, _server.BaseUrl + path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return text;
    }
}
