using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using LmWrapper.Testing.HuggingFace;

namespace LmWrapper.HuggingFace.Tests.Hub;

/// <summary>The fake hub's HTTP surface, checked with a plain HttpClient against the hub's published behaviour.</summary>
public class FakeHuggingFaceHubTests
{
    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    private static HttpClient Client() => new(new SocketsHttpHandler { AllowAutoRedirect = false });

    [Fact]
    public async Task ListensOnLoopbackWithAFreePort()
    {
        await using var a = await FakeHuggingFaceHub.StartAsync(Ct);
        await using var b = await FakeHuggingFaceHub.StartAsync(Ct);
        Assert.Equal("127.0.0.1", a.Endpoint.Host);
        Assert.NotEqual(0, a.Endpoint.Port);
        Assert.NotEqual(a.Endpoint.Port, b.Endpoint.Port);
    }

    [Fact]
    public async Task ModelInfoListsSiblingsAndTheCommit()
    {
        await using var hub = await FakeHuggingFaceHub.StartAsync(Ct);
        var repo = hub.AddRepository("org/m", commitSha: new string('a', 40)).AddFile("config.json", "{}").AddFile("sub/x.txt", "x");
        using var http = Client();
        using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri(hub.Endpoint, "/api/models/org/m/revision/main"), Ct));
        Assert.Equal(new string('a', 40), doc.RootElement.GetProperty("sha").GetString());
        Assert.Equal("org/m", doc.RootElement.GetProperty("id").GetString());
        Assert.Equal(["config.json", "sub/x.txt"], doc.RootElement.GetProperty("siblings").EnumerateArray().Select(s => s.GetProperty("rfilename").GetString()));
        Assert.Equal(repo.HeadCommit, doc.RootElement.GetProperty("sha").GetString());
    }

    [Fact]
    public async Task ResolveServesRegularFilesWithGitBlobEtagAndRanges()
    {
        await using var hub = await FakeHuggingFaceHub.StartAsync(Ct);
        var repo = hub.AddRepository("org/m").AddFile("a.txt", "hello world");
        using var http = Client();
        var url = new Uri(hub.Endpoint, "/org/m/resolve/main/a.txt");

        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, url), Ct);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(repo.HeadCommit, head.Headers.GetValues("X-Repo-Commit").Single());
        // git hash-object of "hello world" (no newline)
        Assert.Equal("\"95d09f2b10159347eece71399a7e2e907ea3df4f\"", head.Headers.ETag!.Tag);
        Assert.Equal(11, head.Content.Headers.ContentLength);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync(Ct));

        var ranged = new HttpRequestMessage(HttpMethod.Get, url);
        ranged.Headers.Range = new RangeHeaderValue(6, null);
        using var part = await http.SendAsync(ranged, Ct);
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal("world", await part.Content.ReadAsStringAsync(Ct));
        Assert.Equal("bytes 6-10/11", part.Content.Headers.ContentRange!.ToString());

        var suffix = new HttpRequestMessage(HttpMethod.Get, url);
        suffix.Headers.TryAddWithoutValidation("Range", "bytes=-3");
        Assert.Equal("rld", await (await http.SendAsync(suffix, Ct)).Content.ReadAsStringAsync(Ct));

        var bad = new HttpRequestMessage(HttpMethod.Get, url);
        bad.Headers.Range = new RangeHeaderValue(50, null);
        using var unsatisfiable = await http.SendAsync(bad, Ct);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, unsatisfiable.StatusCode);
    }

    [Fact]
    public async Task LfsFilesRedirectWithLinkedEtagAndSize()
    {
        await using var hub = await FakeHuggingFaceHub.StartAsync(Ct);
        byte[] weights = Encoding.ASCII.GetBytes(new string('w', 1000));
        hub.AddRepository("org/m").AddFile("model.safetensors", weights);
        using var http = Client();
        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, new Uri(hub.Endpoint, "/org/m/resolve/main/model.safetensors")), Ct);
        Assert.Equal(HttpStatusCode.Found, head.StatusCode);
        string sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(weights));
        Assert.Equal($"\"{sha256}\"", head.Headers.GetValues("X-Linked-Etag").Single());
        Assert.Equal("1000", head.Headers.GetValues("X-Linked-Size").Single());
        Assert.True(head.Headers.Location!.IsAbsoluteUri);
        Assert.Equal(weights, await http.GetByteArrayAsync(head.Headers.Location, Ct));
    }

    [Fact]
    public async Task ErrorsCarryTheHubsErrorCodes()
    {
        await using var hub = await FakeHuggingFaceHub.StartAsync(Ct);
        hub.AddRepository("org/m").AddFile("a.txt", "a");
        hub.AddRepository("org/g", gated: true).AddFile("a.txt", "a");
        using var http = Client();

        async Task<(HttpStatusCode, string?)> Get(string path, string? token = null)
        {
            var req = new HttpRequestMessage(HttpMethod.Get, new Uri(hub.Endpoint, path));
            if (token is not null) req.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var resp = await http.SendAsync(req, Ct);
            return (resp.StatusCode, resp.Headers.TryGetValues("X-Error-Code", out var v) ? v.Single() : null);
        }

        Assert.Equal((HttpStatusCode.Unauthorized, "RepoNotFound"), await Get("/org/none/resolve/main/a.txt"));
        Assert.Equal((HttpStatusCode.NotFound, "RepoNotFound"), await Get("/org/none/resolve/main/a.txt", "x"));
        Assert.Equal((HttpStatusCode.NotFound, "RevisionNotFound"), await Get("/org/m/resolve/nope/a.txt"));
        Assert.Equal((HttpStatusCode.NotFound, "EntryNotFound"), await Get("/org/m/resolve/main/b.txt"));
        Assert.Equal((HttpStatusCode.Unauthorized, "GatedRepo"), await Get("/org/g/resolve/main/a.txt"));
        Assert.Equal((HttpStatusCode.Forbidden, "GatedRepo"), await Get("/org/g/resolve/main/a.txt", "wrong"));
        Assert.Equal((HttpStatusCode.OK, null), await Get("/org/g/resolve/main/a.txt", hub.AcceptedToken));
        Assert.Equal((HttpStatusCode.OK, null), await Get("/api/models/org/g/revision/main"));
    }

    [Fact]
    public async Task InjectedFaultsHappenOnceAndAreRecorded()
    {
        await using var hub = await FakeHuggingFaceHub.StartAsync(Ct);
        hub.AddRepository("org/m").AddFile("big.txt", new string('x', 100_000));
        using var http = Client();
        var url = new Uri(hub.Endpoint, "/org/m/resolve/main/big.txt");

        hub.FailNextRequests(503);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync(url, Ct)).StatusCode);

        hub.DropConnectionOnce("big.txt", 40_000);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.GetByteArrayAsync(url, Ct));
        Assert.Equal(100_000, (await http.GetByteArrayAsync(url, Ct)).Length);

        // The fake records a request after its response is written, so the client may see the last body first: wait for it.
        for (var deadline = DateTime.UtcNow.AddSeconds(10); hub.Requests.Count < 3 && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(10, Ct);
        }

        var log = hub.Requests;
        Assert.Equal([503, 200, 200], log.Select(r => r.StatusCode));
        Assert.Equal([false, true, false], log.Select(r => r.Aborted));
        Assert.All(log, r => Assert.Equal("/org/m/resolve/main/big.txt", r.Path));
    }
}
