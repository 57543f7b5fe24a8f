using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LmWrapper.Testing.Anthropic;

namespace LmWrapper.Anthropic.Tests;

/// <summary>The fake server on its own, through raw HTTP: shapes, header checks, validation, batches.</summary>
public sealed class FakeAnthropicServerTests : IAsyncLifetime
{
    private readonly FakeAnthropicServer _server = new();
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        await _server.StartAsync();
        _http = new HttpClient { BaseAddress = _server.BaseUrl };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonNode? Json, HttpResponseMessage Response)> SendAsync(
        HttpMethod method, string path, string? body = null, string? key = FakeAnthropicServer.DefaultApiKey, string? version = "2023-06-01")
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Add("x-api-key", key);
        }

        if (version is not null)
        {
            request.Headers.Add("anthropic-version", version);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        var response = await _http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        try
        {
            json = text.Length > 0 ? JsonNode.Parse(text) : null;
        }
        catch (System.Text.Json.JsonException)
        {
        }

        return (response.StatusCode, json, response);
    }

    private static string Message(string extra = "", string messages = """[{"role":"user","content":"Hello there"}]""") =>
        $$"""{"model":"claude-3-5-haiku-20241022","max_tokens":100,"messages":{{messages}}{{extra}}}""";

    [Fact]
    public void ItListensOnLoopbackOnly()
    {
        Assert.Equal("127.0.0.1", _server.BaseUrl.Host);
        Assert.NotEqual(0, _server.BaseUrl.Port);
    }

    [Fact]
    public async Task AMessageHasThePublishedShape()
    {
        var (status, json, response) = await SendAsync(HttpMethod.Post, "v1/messages", Message());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("req_", response.Headers.GetValues("request-id").Single(), StringComparison.Ordinal);
        Assert.Equal("message", json!["type"]!.GetValue<string>());
        Assert.Equal("assistant", json["role"]!.GetValue<string>());
        Assert.StartsWith("msg_", json["id"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("claude-3-5-haiku-20241022", json["model"]!.GetValue<string>());
        var block = json["content"]!.AsArray().Single()!;
        Assert.Equal("text", block["type"]!.GetValue<string>());
        Assert.Equal("Echo: Hello there", block["text"]!.GetValue<string>());
        Assert.Equal("end_turn", json["stop_reason"]!.GetValue<string>());
        Assert.Null(json["stop_sequence"]);
        var usage = json["usage"]!;
        Assert.Equal(5, usage["input_tokens"]!.GetValue<int>());
        Assert.Equal(3, usage["output_tokens"]!.GetValue<int>());
        Assert.Equal(0, usage["cache_creation_input_tokens"]!.GetValue<int>());
        Assert.Equal(0, usage["cache_read_input_tokens"]!.GetValue<int>());
    }

    [Theory]
    [InlineData(null, "2023-06-01", 401, "authentication_error", "x-api-key header is required")]
    [InlineData("wrong", "2023-06-01", 401, "authentication_error", "invalid x-api-key")]
    [InlineData(FakeAnthropicServer.DefaultApiKey, null, 400, "invalid_request_error", "anthropic-version: header is required")]
    public async Task HeadersAreChecked(string? key, string? version, int expectedStatus, string type, string message)
    {
        var (status, json, _) = await SendAsync(HttpMethod.Post, "v1/messages", Message(), key, version);
        Assert.Equal(expectedStatus, (int)status);
        Assert.Equal("error", json!["type"]!.GetValue<string>());
        Assert.Equal(type, json["error"]!["type"]!.GetValue<string>());
        Assert.Equal(message, json["error"]!["message"]!.GetValue<string>());
    }

    public static TheoryData<string, string> InvalidBodies => new()
    {
        { """{"model":"claude-3-5-haiku-20241022","messages":[{"role":"user","content":"hi"}]}""", "max_tokens: Field required" },
        { """{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}""", "model: Field required" },
        { """{"model":"claude-3-5-haiku-20241022","max_tokens":5}""", "messages: Field required" },
        { Message(messages: "[]"), "messages: at least one message is required" },
        { Message(messages: """[{"role":"assistant","content":"hi"},{"role":"user","content":"x"}]"""), "messages: first message must use the \"user\" role" },
        { Message(messages: """[{"role":"system","content":"hi"}]"""), "Unexpected role \"system\"" },
        { Message(messages: """[{"role":"user","content":""}]"""), "text content blocks must be non-empty" },
        { Message(messages: """[{"role":"user","content":"  "}]"""), "non-whitespace" },
        { Message(messages: """[{"role":"user","content":"a"},{"role":"assistant","content":"b "}]"""), "final assistant content cannot end with trailing whitespace" },
        { Message(""","temperature":1.5"""), "temperature: Input should be less than or equal to 1" },
        { Message(""","top_p":-0.1"""), "top_p: Input should be greater than or equal to 0" },
        { Message(""","max_tokens_extra":1"""), "max_tokens_extra: Extra inputs are not permitted" },
        { Message(""","stop_sequences":"END" """), "stop_sequences: Input should be a valid list" },
        { Message(""","system":42"""), "system: Input should be a valid string" },
        { """{"model":"claude-3-5-haiku-20241022","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}""", "max_tokens: Input should be greater than or equal to 1" },
        { """{"model":"claude-haiku-4-5-20251001","max_tokens":5,"temperature":0.5,"top_p":0.5,"messages":[{"role":"user","content":"hi"}]}""", "cannot both be specified" },
        { "not json", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task InvalidRequestsAre400WithTheReason(string body, string expected)
    {
        var (status, json, _) = await SendAsync(HttpMethod.Post, "v1/messages", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", json!["error"]!["type"]!.GetValue<string>());
        Assert.Contains(expected, json["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SystemBlocksAndContentBlocksAreAcceptedAndSameRoleTurnsCombined()
    {
        FakeAnthropicMessageRequest? seen = null;
        _server.Responder = r =>
        {
            seen = r;
            return new FakeAnthropicReply("ok");
        };
        string body = Message(
            ""","system":[{"type":"text","text":"be nice"}]""",
            """[{"role":"user","content":[{"type":"text","text":"one"}]},{"role":"user","content":"two"}]""");
        var (status, _, _) = await SendAsync(HttpMethod.Post, "v1/messages", body);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("be nice", seen!.System);
        Assert.Equal([new FakeAnthropicMessage("user", "one\n\ntwo")], seen.Messages);
    }

    [Fact]
    public async Task ModelLimitsAreEnforcedWhenSet()
    {
        _server.MaxOutputTokens = new Dictionary<string, int> { ["claude-3-5-haiku-20241022"] = 50 };
        var (status, json, _) = await SendAsync(HttpMethod.Post, "v1/messages", Message());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(
            "max_tokens: 100 > 50, which is the maximum allowed number of output tokens for claude-3-5-haiku-20241022",
            json!["error"]!["message"]!.GetValue<string>());

        _server.MaxOutputTokens = null;
        _server.ContextWindow = 10;
        (status, json, _) = await SendAsync(HttpMethod.Post, "v1/messages", Message());
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("input length and `max_tokens` exceed context limit: 5 + 100 > 10", json!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownModelsAndRoutesAre404()
    {
        _server.KnownModels = new HashSet<string>(["claude-3-5-haiku-20241022"]);
        var (status, json, _) = await SendAsync(HttpMethod.Post, "v1/messages", Message().Replace("claude-3-5-haiku-20241022", "claude-nope", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found_error", json!["error"]!["type"]!.GetValue<string>());
        (status, json, _) = await SendAsync(HttpMethod.Get, "v1/nothing");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found_error", json!["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task CountTokensHasThePublishedShapeAndNeedsNoMaxTokens()
    {
        var (status, json, _) = await SendAsync(
            HttpMethod.Post, "v1/messages/count_tokens", """{"model":"claude-3-5-haiku-20241022","system":"a b","messages":[{"role":"user","content":"c d e"}]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2 + 3 + 3, json!["input_tokens"]!.GetValue<int>());
        (status, _, _) = await SendAsync(HttpMethod.Post, "v1/messages/count_tokens", Message());
        Assert.Equal(HttpStatusCode.BadRequest, status); // max_tokens is not a count-tokens field
    }

    [Fact]
    public async Task ErrorFaultsCarryTheirStatusTypeAndRetryHeaders()
    {
        _server.InjectFault(FakeAnthropicFault.RateLimited(TimeSpan.FromMilliseconds(1500)));
        _server.InjectFault(FakeAnthropicFault.Overloaded(TimeSpan.FromSeconds(3)) with { ShouldRetry = true });
        _server.InjectFault(FakeAnthropicFault.ServerError());
        var (status, json, response) = await SendAsync(HttpMethod.Post, "v1/messages", Message());
        Assert.Equal(429, (int)status);
        Assert.Equal("rate_limit_error", json!["error"]!["type"]!.GetValue<string>());
        Assert.Equal("2", response.Headers.GetValues("retry-after").Single());
        Assert.Equal("1500", response.Headers.GetValues("retry-after-ms").Single());
        (status, json, response) = await SendAsync(HttpMethod.Post, "v1/messages", Message());
        Assert.Equal(529, (int)status);
        Assert.Equal("overloaded_error", json!["error"]!["type"]!.GetValue<string>());
        Assert.Equal("3", response.Headers.GetValues("retry-after").Single());
        Assert.False(response.Headers.Contains("retry-after-ms"));
        Assert.Equal("true", response.Headers.GetValues("x-should-retry").Single());
        (status, json, _) = await SendAsync(HttpMethod.Post, "v1/messages", Message());
        Assert.Equal(500, (int)status);
        Assert.Equal("api_error", json!["error"]!["type"]!.GetValue<string>());
        (status, _, _) = await SendAsync(HttpMethod.Post, "v1/messages", Message());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(4, _server.Requests.Count);
    }

    [Fact]
    public async Task ADroppedConnectionGivesNoAnswer()
    {
        _server.InjectFault(FakeAnthropicFault.DropConnection());
        await Assert.ThrowsAsync<HttpRequestException>(() => SendAsync(HttpMethod.Post, "v1/messages", Message()));
        Assert.Single(_server.Requests);
    }

    [Fact]
    public async Task FaultsCanTargetOnePath()
    {
        _server.InjectFault(FakeAnthropicFault.ServerError() with { PathPrefix = "/v1/messages/count_tokens" });
        var (status, _, _) = await SendAsync(HttpMethod.Post, "v1/messages", Message());
        Assert.Equal(HttpStatusCode.OK, status);
        (status, _, _) = await SendAsync(HttpMethod.Post, "v1/messages/count_tokens", """{"model":"claude-3-5-haiku-20241022","messages":[{"role":"user","content":"x"}]}""");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
    }

    private static string Batch(params (string Id, string Params)[] items) =>
        "{\"requests\":[" + string.Join(",", items.Select(i => $$"""{"custom_id":"{{i.Id}}","params":{{i.Params}}}""")) + "]}";

    [Fact]
    public async Task ABatchRunsToTheEndAndServesJsonlResults()
    {
        string body = Batch(("first", Message()), ("second", Message(""","temperature":7""")));
        var (status, created, _) = await SendAsync(HttpMethod.Post, "v1/messages/batches", body);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("message_batch", created!["type"]!.GetValue<string>());
        Assert.Equal("in_progress", created["processing_status"]!.GetValue<string>());
        Assert.Equal(2, created["request_counts"]!["processing"]!.GetValue<int>());
        Assert.Null(created["results_url"]);
        Assert.Null(created["ended_at"]);
        string id = created["id"]!.GetValue<string>();
        Assert.StartsWith("msgbatch_", id, StringComparison.Ordinal);
        var createdAt = DateTimeOffset.Parse(created["created_at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        var expiresAt = DateTimeOffset.Parse(created["expires_at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.FromHours(24), expiresAt - createdAt);

        var (_, got, _) = await SendAsync(HttpMethod.Get, $"v1/messages/batches/{id}");
        Assert.Equal("ended", got!["processing_status"]!.GetValue<string>());
        Assert.Equal(1, got["request_counts"]!["succeeded"]!.GetValue<int>());
        Assert.Equal(1, got["request_counts"]!["errored"]!.GetValue<int>());
        Assert.Equal(0, got["request_counts"]!["processing"]!.GetValue<int>());
        Assert.NotNull(got["ended_at"]);
        string resultsUrl = got["results_url"]!.GetValue<string>();
        Assert.EndsWith($"/v1/messages/batches/{id}/results", resultsUrl, StringComparison.Ordinal);

        using var request = new HttpRequestMessage(HttpMethod.Get, resultsUrl);
        request.Headers.Add("x-api-key", FakeAnthropicServer.DefaultApiKey);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await _http.SendAsync(request);
        string[] lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        var byId = lines.Select(l => JsonNode.Parse(l)!).ToDictionary(n => n["custom_id"]!.GetValue<string>());
        Assert.Equal("succeeded", byId["first"]["result"]!["type"]!.GetValue<string>());
        Assert.Equal("Echo: Hello there", byId["first"]["result"]!["message"]!["content"]![0]!["text"]!.GetValue<string>());
        var errored = byId["second"]["result"]!;
        Assert.Equal("errored", errored["type"]!.GetValue<string>());
        Assert.Equal("error", errored["error"]!["type"]!.GetValue<string>());
        Assert.Equal("invalid_request_error", errored["error"]!["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task ResultsBeforeTheEndAreRefusedAndCancelEndsWithCanceledRequests()
    {
        _server.BatchProcessingTime = TimeSpan.FromHours(1);
        var (_, created, _) = await SendAsync(HttpMethod.Post, "v1/messages/batches", Batch(("a", Message()), ("b", Message())));
        string id = created!["id"]!.GetValue<string>();
        var (status, _, _) = await SendAsync(HttpMethod.Get, $"v1/messages/batches/{id}/results");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _, _) = await SendAsync(HttpMethod.Delete, $"v1/messages/batches/{id}");
        Assert.Equal(HttpStatusCode.BadRequest, status);

        var (_, canceling, _) = await SendAsync(HttpMethod.Post, $"v1/messages/batches/{id}/cancel");
        Assert.Equal("canceling", canceling!["processing_status"]!.GetValue<string>());
        Assert.NotNull(canceling["cancel_initiated_at"]);
        var (_, ended, _) = await SendAsync(HttpMethod.Get, $"v1/messages/batches/{id}");
        Assert.Equal("ended", ended!["processing_status"]!.GetValue<string>());
        Assert.Equal(2, ended["request_counts"]!["canceled"]!.GetValue<int>());

        var (_, deleted, _) = await SendAsync(HttpMethod.Delete, $"v1/messages/batches/{id}");
        Assert.Equal("message_batch_deleted", deleted!["type"]!.GetValue<string>());
        (status, _, _) = await SendAsync(HttpMethod.Get, $"v1/messages/batches/{id}");
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task BatchItemOutcomesCanBeInjected()
    {
        _server.BatchItemOutcome = id => id switch
        {
            "e" => FakeAnthropicBatchResultType.Errored,
            "x" => FakeAnthropicBatchResultType.Expired,
            _ => FakeAnthropicBatchResultType.Succeeded,
        };
        var (_, created, _) = await SendAsync(HttpMethod.Post, "v1/messages/batches", Batch(("s", Message()), ("e", Message()), ("x", Message())));
        var (_, got, _) = await SendAsync(HttpMethod.Get, $"v1/messages/batches/{created!["id"]!.GetValue<string>()}");
        var counts = got!["request_counts"]!;
        Assert.Equal([1, 1, 1, 0], new[] { "succeeded", "errored", "expired", "canceled" }.Select(k => counts[k]!.GetValue<int>()));
    }

    [Fact]
    public async Task BatchesAreListedNewestFirstWithPagination()
    {
        var ids = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            var (_, created, _) = await SendAsync(HttpMethod.Post, "v1/messages/batches", Batch(($"r{i}", Message())));
            ids.Add(created!["id"]!.GetValue<string>());
        }

        var (_, page1, _) = await SendAsync(HttpMethod.Get, "v1/messages/batches?limit=2");
        Assert.Equal([ids[2], ids[1]], page1!["data"]!.AsArray().Select(b => b!["id"]!.GetValue<string>()));
        Assert.True(page1["has_more"]!.GetValue<bool>());
        Assert.Equal(ids[2], page1["first_id"]!.GetValue<string>());
        Assert.Equal(ids[1], page1["last_id"]!.GetValue<string>());

        var (_, page2, _) = await SendAsync(HttpMethod.Get, $"v1/messages/batches?limit=2&after_id={ids[1]}");
        Assert.Equal([ids[0]], page2!["data"]!.AsArray().Select(b => b!["id"]!.GetValue<string>()));
        Assert.False(page2["has_more"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("""{"requests":[]}""", "at least 1 item")]
    [InlineData("""{"requests":[{"custom_id":"has space","params":{}}]}""", "custom_id")]
    [InlineData("""{"requests":[{"custom_id":"a","params":{}},{"custom_id":"a","params":{}}]}""", "unique")]
    [InlineData("""{"requests":[{"custom_id":"a"}]}""", "params: Field required")]
    public async Task InvalidBatchesAreRefused(string body, string expected)
    {
        var (status, json, _) = await SendAsync(HttpMethod.Post, "v1/messages/batches", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(expected, json!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequestsAreRecorded()
    {
        await SendAsync(HttpMethod.Post, "v1/messages", Message());
        await SendAsync(HttpMethod.Get, "v1/messages/batches?limit=5");
        var all = _server.Requests;
        Assert.Equal(2, all.Count);
        Assert.Equal("POST", all[0].Method);
        Assert.Equal("/v1/messages", all[0].Path);
        Assert.Equal(100, all[0].Json!["max_tokens"]!.GetValue<int>());
        Assert.Equal("?limit=5", all[1].Query);
        Assert.Null(all[1].Json);
        _server.ClearRequests();
        Assert.Empty(_server.Requests);
    }
}
