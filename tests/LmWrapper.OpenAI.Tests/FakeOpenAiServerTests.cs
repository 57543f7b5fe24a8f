using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LmWrapper.Testing;

namespace LmWrapper.OpenAI.Tests;

public sealed class FakeOpenAiServerTests : IAsyncLifetime
{
    private readonly FakeOpenAiServer _server = new();
    private readonly HttpClient _http = new();

    public Task InitializeAsync() => _server.StartAsync();

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonElement Json, HttpResponseMessage Response)> PostAsync(string path, string json, string? key = FakeOpenAiServer.DefaultApiKey)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, _server.BaseUrl + path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        var resp = await _http.SendAsync(req);
        string text = await resp.Content.ReadAsStringAsync();
        return (resp.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), resp);
    }

    private static void AssertError(JsonElement json, string? code, string? param = null)
    {
        var e = json.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(e.GetProperty("message").GetString()));
        Assert.True(e.TryGetProperty("type", out _));
        Assert.Equal(code, e.GetProperty("code").GetString());
        if (param is not null)
        {
            Assert.Equal(param, e.GetProperty("param").GetString());
        }
    }

    [Fact]
    public async Task BaseUrlIsLoopbackV1()
    {
        Assert.StartsWith("http://127.0.0.1:", _server.BaseUrl);
        Assert.EndsWith("/v1", _server.BaseUrl);
        Assert.NotEqual("http://127.0.0.1:0/v1", _server.BaseUrl);
    }

    [Fact]
    public async Task ChatCompletionHasPublishedShape()
    {
        var (status, json, _) = await PostAsync("/chat/completions",
            """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is 2+2?"}],"logprobs":true,"top_logprobs":3}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("chat.completion", json.GetProperty("object").GetString());
        Assert.StartsWith("chatcmpl-", json.GetProperty("id").GetString());
        var choice = json.GetProperty("choices")[0];
        Assert.Equal("2+2 is equal to 4.", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        var content = choice.GetProperty("logprobs").GetProperty("content");
        Assert.Equal("2+2 is equal to 4.", string.Concat(content.EnumerateArray().Select(t => t.GetProperty("token").GetString())));
        foreach (var t in content.EnumerateArray())
        {
            Assert.True(t.GetProperty("logprob").GetDouble() < 0);
            Assert.Equal(3, t.GetProperty("top_logprobs").GetArrayLength());
            Assert.Equal(Encoding.UTF8.GetBytes(t.GetProperty("token").GetString()!), t.GetProperty("bytes").EnumerateArray().Select(b => (byte)b.GetInt32()).ToArray());
        }

        var usage = json.GetProperty("usage");
        Assert.Equal(content.GetArrayLength(), usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
    }

    [Fact]
    public async Task MaxTokensCutsWithFinishReasonLengthAndStopIsHonoured()
    {
        var (_, json, _) = await PostAsync("/chat/completions",
            """{"model":"gpt-4o","messages":[{"role":"user","content":"Tell me things"}],"max_tokens":3}""");
        Assert.Equal("length", json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(3, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        (_, json, _) = await PostAsync("/chat/completions",
            """{"model":"gpt-4o","messages":[{"role":"user","content":"What is 2+2?"}],"stop":[" equal"]}""");
        Assert.Equal("2+2 is", json.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", json.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Theory]
    [InlineData("""{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}""", 404, "model_not_found", null)]
    [InlineData("""{"messages":[{"role":"user","content":"x"}]}""", 400, null, null)]
    [InlineData("""{"model":"gpt-4o"}""", 400, "missing_required_parameter", "messages")]
    [InlineData("""{"model":"gpt-4o","messages":[]}""", 400, "empty_array", "messages")]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"robot","content":"x"}]}""", 400, "invalid_value", "messages[0].role")]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"temperature":"hot"}""", 400, "invalid_type", "temperature")]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"temperature":2.5}""", 400, "decimal_above_max_value", "temperature")]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"n":0}""", 400, "integer_below_min_value", "n")]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"top_logprobs":2}""", 400, "invalid_value", "top_logprobs")]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21}""", 400, "integer_above_max_value", "top_logprobs")]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"max_tokens":20000}""", 400, "invalid_value", "max_tokens")]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]}""", 400, "array_above_max_length", "stop")]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"bogus":1}""", 400, null, null)]
    [InlineData("""{"model":"o3-mini","messages":[{"role":"user","content":"x"}],"max_tokens":10}""", 400, "unsupported_parameter", "max_tokens")]
    [InlineData("""{"model":"o3-mini","messages":[{"role":"user","content":"x"}],"temperature":0}""", 400, "unsupported_value", "temperature")]
    [InlineData("""{"model":"o4-mini","messages":[{"role":"user","content":"x"}],"logprobs":true}""", 400, "unsupported_parameter", "logprobs")]
    [InlineData("""{"model":"gpt-3.5-turbo-instruct","messages":[{"role":"user","content":"x"}]}""", 404, null, "model")]
    [InlineData("""{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"x"}],"max_tokens":4096,"stop":null,"n":1,"logprobs":false,"temperature":0,"top_p":1,"presence_penalty":0,"frequency_penalty":0,"seed":1,"user":"u"}""", 200, null, null)]
    public async Task ChatRequestsAreValidatedLikeTheRealApi(string body, int status, string? code, string? param)
    {
        var (actual, json, _) = await PostAsync("/chat/completions", body);
        Assert.Equal(status, (int)actual);
        if (status != 200)
        {
            AssertError(json, code, param);
        }
    }

    [Theory]
    [InlineData("""{"model":"gpt-3.5-turbo-instruct","prompt":"x","logprobs":6}""", 400, "integer_above_max_value", "logprobs")]
    [InlineData("""{"model":"gpt-3.5-turbo-instruct","prompt":"x","logprobs":true}""", 400, "invalid_type", "logprobs")]
    [InlineData("""{"model":"gpt-3.5-turbo-instruct","prompt":"x","echo":"yes"}""", 400, "invalid_type", "echo")]
    [InlineData("""{"model":"gpt-3.5-turbo-instruct"}""", 400, "missing_required_parameter", "prompt")]
    [InlineData("""{"model":"gpt-4o-mini","prompt":"x"}""", 404, null, "model")]
    [InlineData("""{"model":"gpt-3.5-turbo-instruct","prompt":"x","max_tokens":5000}""", 400, "invalid_value", "max_tokens")]
    [InlineData("""{"model":"gpt-3.5-turbo-instruct","prompt":"x","max_tokens":4096}""", 400, "context_length_exceeded", null)]
    [InlineData("""{"model":"gpt-3.5-turbo-instruct","prompt":"x","echo":true,"logprobs":1}""", 400, null, null)]
    public async Task CompletionRequestsAreValidatedLikeTheRealApi(string body, int status, string? code, string? param)
    {
        var (actual, json, _) = await PostAsync("/completions", body);
        Assert.Equal(status, (int)actual);
        AssertError(json, code, param);
    }

    [Fact]
    public async Task CompletionsEchoReturnsPromptTokensWithNullFirstLogprob()
    {
        var (status, json, _) = await PostAsync("/completions",
            """{"model":"davinci-002","prompt":"Once upon a","max_tokens":3,"logprobs":2,"echo":true}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("text_completion", json.GetProperty("object").GetString());
        var choice = json.GetProperty("choices")[0];
        Assert.Equal("Once upon a time, there", choice.GetProperty("text").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        var lp = choice.GetProperty("logprobs");
        Assert.Equal(["Once", " upon", " a", " time", ",", " there"], lp.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToArray());
        Assert.Equal(JsonValueKind.Null, lp.GetProperty("token_logprobs")[0].ValueKind);
        Assert.Equal(JsonValueKind.Null, lp.GetProperty("top_logprobs")[0].ValueKind);
        Assert.Equal(2, lp.GetProperty("top_logprobs")[3].EnumerateObject().Count());
        Assert.Equal([0, 4, 9, 11, 16, 17], lp.GetProperty("text_offset").EnumerateArray().Select(t => t.GetInt32()).ToArray());
    }

    [Fact]
    public async Task KeysAreChecked()
    {
        var (status, json, _) = await PostAsync("/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}""", "sk-wrong-key-123456");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        AssertError(json, "invalid_api_key");
        Assert.DoesNotContain("sk-wrong-key-123456", json.GetRawText());
        (status, json, _) = await PostAsync("/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}""", null);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("didn't provide an API key", json.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task RateLimitFaultSendsRetryHintsThenRecovers()
    {
        _server.EnqueueFault(FakeOpenAiFault.RateLimit(TimeSpan.FromMilliseconds(1500)));
        var (status, json, resp) = await PostAsync("/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        AssertError(json, "rate_limit_exceeded");
        Assert.Equal("1500", resp.Headers.GetValues("retry-after-ms").Single());
        Assert.Equal("2", resp.Headers.GetValues("retry-after").Single());
        Assert.Equal("0", resp.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.Equal("1.5s", resp.Headers.GetValues("x-ratelimit-reset-requests").Single());
        (status, _, resp) = await PostAsync("/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("10000", resp.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("30000000", resp.Headers.GetValues("x-ratelimit-limit-tokens").Single());
        Assert.StartsWith("req_", resp.Headers.GetValues("x-request-id").Single());
        Assert.Equal(new[] { "http_429", "-" }, _server.Requests.Select(r => r.Fault ?? "-").ToArray());
    }

    [Fact]
    public async Task DroppedAndTruncatedResponsesFailOnTheClient()
    {
        _server.EnqueueFault(FakeOpenAiFault.DropConnection());
        _server.EnqueueFault(FakeOpenAiFault.TruncatedBody());
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => PostAsync("/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}"""));
        await Assert.ThrowsAnyAsync<Exception>(() => PostAsync("/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}"""));
        Assert.Equal(0, _server.PendingFaults);
    }

    [Fact]
    public async Task RequestsAreRecordedWithoutSecrets()
    {
        await PostAsync("/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""");
        var r = Assert.Single(_server.Requests);
        Assert.Equal("POST", r.Method);
        Assert.Equal("/v1/chat/completions", r.Path);
        Assert.Equal("hi", r.Json.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.False(r.Headers.ContainsKey("authorization"));
        Assert.Equal(FakeOpenAiServer.DefaultApiKey[^4..], r.ApiKeySuffix);
    }

    [Fact]
    public async Task ModelsAreListed()
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, _server.BaseUrl + "/models");
        req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
        var json = JsonDocument.Parse(await (await _http.SendAsync(req)).Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("list", json.GetProperty("object").GetString());
        Assert.Contains(json.GetProperty("data").EnumerateArray(), m => m.GetProperty("id").GetString() == "gpt-4o-mini" && m.GetProperty("object").GetString() == "model");
    }

    [Fact]
    public async Task FilesAndBatchesRoundTrip()
    {
        // A batch that stays in its first stage, so that it can still be cancelled.
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { BatchStageDuration = TimeSpan.FromHours(1) });
        const string Line = """{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}}""";
        using var form = new MultipartFormDataContent
        {
            { new StringContent("batch"), "purpose" },
            { new ByteArrayContent(Encoding.UTF8.GetBytes(Line + "\n")), "file", "input.jsonl" },
        };
        using var upload = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + "/files") { Content = form };
        upload.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
        var uploaded = JsonDocument.Parse(await (await _http.SendAsync(upload)).Content.ReadAsStringAsync()).RootElement.Clone();
        string fileId = uploaded.GetProperty("id").GetString()!;
        Assert.StartsWith("file-", fileId);
        Assert.Equal("file", uploaded.GetProperty("object").GetString());
        Assert.Equal("batch", uploaded.GetProperty("purpose").GetString());
        Assert.Equal("input.jsonl", uploaded.GetProperty("filename").GetString());
        Assert.Equal(Line.Length + 1, uploaded.GetProperty("bytes").GetInt32());

        async Task<(HttpStatusCode, JsonElement)> Send(HttpMethod method, string path, string? body = null)
        {
            using var req = new HttpRequestMessage(method, server.BaseUrl + path);
            req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
            if (body is not null)
            {
                req.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }

            var resp = await _http.SendAsync(req);
            string text = await resp.Content.ReadAsStringAsync();
            return (resp.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
        }

        using (var contentRequest = new HttpRequestMessage(HttpMethod.Get, $"{server.BaseUrl}/files/{fileId}/content"))
        {
            contentRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
            Assert.Equal(Line + "\n", await (await _http.SendAsync(contentRequest)).Content.ReadAsStringAsync());
        }

        var (_, files) = await Send(HttpMethod.Get, "/files?purpose=batch");
        Assert.Equal(fileId, files.GetProperty("data")[0].GetProperty("id").GetString());

        var (status, bad) = await Send(HttpMethod.Post, "/batches", $$"""{"input_file_id":"{{fileId}}","endpoint":"/v1/chat/completions","completion_window":"1h"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(bad, "invalid_value", "completion_window");

        var (_, batch) = await Send(HttpMethod.Post, "/batches", $$$"""{"input_file_id":"{{{fileId}}}","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":{"job":"a"}}""");
        string batchId = batch.GetProperty("id").GetString()!;
        Assert.StartsWith("batch_", batchId);
        Assert.Equal("batch", batch.GetProperty("object").GetString());
        Assert.Equal("validating", batch.GetProperty("status").GetString());
        Assert.Equal("a", batch.GetProperty("metadata").GetProperty("job").GetString());
        Assert.Equal(0, batch.GetProperty("request_counts").GetProperty("total").GetInt32());
        foreach (var f in new[] { "output_file_id", "error_file_id", "completed_at", "cancelled_at", "errors" })
        {
            Assert.Equal(JsonValueKind.Null, batch.GetProperty(f).ValueKind);
        }

        var (_, got) = await Send(HttpMethod.Get, $"/batches/{batchId}");
        Assert.Equal(batchId, got.GetProperty("id").GetString());
        var (_, list) = await Send(HttpMethod.Get, "/batches?limit=1");
        Assert.Equal(batchId, list.GetProperty("first_id").GetString());
        Assert.False(list.GetProperty("has_more").GetBoolean());
        var (_, cancelled) = await Send(HttpMethod.Post, $"/batches/{batchId}/cancel");
        Assert.Equal("cancelling", cancelled.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Number, cancelled.GetProperty("cancelling_at").ValueKind);
        var (missing, _) = await Send(HttpMethod.Get, "/batches/batch_nope");
        Assert.Equal(HttpStatusCode.NotFound, missing);

        var (_, deleted) = await Send(HttpMethod.Delete, $"/files/{fileId}");
        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        var (gone, _) = await Send(HttpMethod.Get, $"/files/{fileId}");
        Assert.Equal(HttpStatusCode.NotFound, gone);
    }

    [Fact]
    public async Task AFaultWithAPathPrefixWaitsForAMatchingRequest()
    {
        _server.EnqueueFault(FakeOpenAiFault.ServerError(503) with { PathPrefix = "/v1/completions" });
        var (chat, _, _) = await PostAsync("/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}""");
        Assert.Equal(HttpStatusCode.OK, chat);
        Assert.Equal(1, _server.PendingFaults);
        var (completion, json, _) = await PostAsync("/completions", """{"model":"davinci-002","prompt":"x"}""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, completion);
        Assert.Equal("server_error", json.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(0, _server.PendingFaults);
    }

    [Fact]
    public async Task RateLimitHeadersCanBeConfiguredOrLeftOut()
    {
        await using var quiet = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { SendRateLimitHeaders = false });
        await using var strict = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { RequestsPerMinute = 60, TokensPerMinute = 1000 });
        async Task<HttpResponseMessage> Send(FakeOpenAiServer s)
        {
            using var req = new HttpRequestMessage(HttpMethod.Post, s.BaseUrl + "/chat/completions")
            {
                Content = new StringContent("""{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}""", Encoding.UTF8, "application/json"),
            };
            req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
            return await _http.SendAsync(req);
        }

        using var q = await Send(quiet);
        Assert.Equal(HttpStatusCode.OK, q.StatusCode);
        Assert.False(q.Headers.Contains("x-ratelimit-limit-requests"));
        using var st = await Send(strict);
        Assert.Equal("60", st.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("1s", st.Headers.GetValues("x-ratelimit-reset-requests").Single());
        Assert.Equal("1000", st.Headers.GetValues("x-ratelimit-limit-tokens").Single());
    }
}
