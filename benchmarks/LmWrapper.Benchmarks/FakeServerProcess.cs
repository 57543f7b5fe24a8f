using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using LmWrapper.Testing;

namespace LmWrapper.Benchmarks;

/// <summary>
/// The fake OpenAI server in a child process (this program, run as <c>serve-fake-openai DIR</c>), so that a benchmark
/// measures its client's memory without the server's. The server keeps uploads in DIR, sends no rate-limit headers,
/// records nothing and moves each batch stage on every look.
/// </summary>
internal sealed class FakeServerProcess : IAsyncDisposable
{
    public const string Command = "serve-fake-openai";

    private readonly Process _process;
    private readonly HttpClient _http = new();

    private FakeServerProcess(Process process, string baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", FakeOpenAiServer.DefaultApiKey);
    }

    /// <summary>The server's base URL (ending in /v1).</summary>
    public string BaseUrl { get; }

    public static async Task<FakeServerProcess> StartAsync(string fileDirectory, CancellationToken cancellationToken)
    {
        var start = SelfProcess.StartInfo(Command, fileDirectory);
        start.RedirectStandardInput = true;
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the fake server process.");
        string? line = await process.StandardOutput.ReadLineAsync(cancellationToken);
        if (line is null || !line.StartsWith("listening ", StringComparison.Ordinal))
        {
            process.Kill();
            throw new InvalidOperationException($"The fake server process did not start (it said: {line ?? "nothing"}).");
        }

        return new FakeServerProcess(process, line["listening ".Length..]);
    }

    /// <summary>Runs the server until standard input closes (the child side of <see cref="StartAsync"/>).</summary>
    public static async Task<int> ServeAsync(string fileDirectory)
    {
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions
        {
            RecordRequests = false,
            SendRateLimitHeaders = false,
            KeepBatchCustomIds = false,
            FileStorageDirectory = fileDirectory,
            BatchStagePolls = 1,
        });
        Console.WriteLine("listening " + server.BaseUrl);
        await Console.In.ReadToEndAsync();
        return 0;
    }

    /// <summary>The status of every batch the server holds.</summary>
    public async Task<List<string>> ListBatchesAsync(CancellationToken cancellationToken)
    {
        var statuses = new List<string>();
        string? after = null;
        while (true)
        {
            string url = $"{BaseUrl}/batches?limit=100" + (after is null ? string.Empty : "&after=" + after);
            using var doc = JsonDocument.Parse(await _http.GetStringAsync(url, cancellationToken));
            foreach (var b in doc.RootElement.GetProperty("data").EnumerateArray())
            {
                statuses.Add(b.GetProperty("status").GetString()!);
                after = b.GetProperty("id").GetString();
            }

            if (!doc.RootElement.GetProperty("has_more").GetBoolean())
            {
                return statuses;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        try
        {
            _process.StandardInput.Close();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}
