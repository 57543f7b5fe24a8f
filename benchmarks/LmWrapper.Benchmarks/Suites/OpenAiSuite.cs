using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using LmWrapper.OpenAI;
using LmWrapper.Testing;

namespace LmWrapper.Benchmarks.Suites;

/// <summary>
/// OpenAiLm's overhead per call against the fake OpenAI server on loopback, versus a raw HttpClient POST of the same
/// body (reading the whole response) in the same run, cache off. Rounds alternate between the two so drift hits both.
/// Options: --calls N (per round, default 300), --rounds N (default 10), --warmup N (default 500).
/// </summary>
public sealed class OpenAiSuite : IBenchmarkSuite
{
    public string Name => "openai";

    public string Description => "OpenAiLm call overhead vs a raw HttpClient POST of the same body to the fake server (loopback, cache off)";

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        int calls = Option(args, "--calls", 300);
        int rounds = Option(args, "--rounds", 10);
        int warmup = Option(args, "--warmup", 500);

        // No recording, and no declared rate limits: a client that paces itself by them would measure pacing, not overhead.
        await using var server = await FakeOpenAiServer.StartNewAsync(new FakeOpenAiServerOptions { RecordRequests = false, SendRateLimitHeaders = false }, cancellationToken);
        var options = new OpenAiOptions
        {
            BaseUrl = new Uri(server.BaseUrl),
            ModelOptions = new LanguageModelOptions { CacheByDefault = false, Cache = Caching.LmCache.OpenInMemory() },
        };
        using var lm = OpenAiLm.Get(OpenAiModelNames.Gpt4oMini, FakeOpenAiServer.DefaultApiKey, options: options);
        var prompt = new LmPrompt("What is 2+2?") { MaxTokens = 10, Temperature = 0 };

        // The exact body OpenAiLm sends for this prompt.
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            OpenAiRequestWriter.WriteChat(writer, lm.Info, prompt, 1, prompt.MaxTokens!.Value, legacyMaxTokens: false);
        }

        byte[] body = buffer.WrittenSpan.ToArray();
        using var raw = new HttpClient(new SocketsHttpHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        var uri = new Uri(server.BaseUrl + "/chat/completions");
        string authorization = "Bearer " + FakeOpenAiServer.DefaultApiKey;
        int responseBytes = 0;

        async Task RawCall()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
            using var response = await raw.SendAsync(request, cancellationToken);
            response.EnsureSuccessStatusCode();
            responseBytes = (await response.Content.ReadAsByteArrayAsync(cancellationToken)).Length;
        }

        async Task ClientCall()
        {
            var p = await lm.PredictAsync(prompt, cancellationToken);
            if (p.HasErrors || p.CompletionText.Length == 0)
            {
                throw new InvalidOperationException("The client call failed: " + p.ErrorMessage);
            }
        }

        for (int i = 0; i < warmup; i++)
        {
            await RawCall();
            await ClientCall();
        }

        // Calls alternate one by one (raw, client, client, raw, …) and each is timed on its own, so machine noise
        // hits both alike; the medians ignore the spikes.
        var rawUs = new List<double>(rounds * calls);
        var clientUs = new List<double>(rounds * calls);
        double rawTotal = 0, clientTotal = 0;
        for (int r = 0; r < rounds; r++)
        {
            for (int i = 0; i < calls; i++)
            {
                bool rawFirst = (i & 1) == 0;
                for (int pass = 0; pass < 2; pass++)
                {
                    bool doRaw = (pass == 0) == rawFirst;
                    long start = Stopwatch.GetTimestamp();
                    await (doRaw ? RawCall() : ClientCall());
                    double us = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                    (doRaw ? rawUs : clientUs).Add(us);
                    if (doRaw)
                    {
                        rawTotal += us;
                    }
                    else
                    {
                        clientTotal += us;
                    }
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {r + 1}/{rounds}: raw median {Median(rawUs.GetRange(r * calls, calls)):F1} us, client median {Median(clientUs.GetRange(r * calls, calls)):F1} us"));
        }

        // The client's own CPU work without the network: build one body, parse one response into a prediction.
        byte[] responseBody;
        using (var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(body) })
        {
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
            using var response = await raw.SendAsync(request, cancellationToken);
            responseBody = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        }

        double buildUs = CpuMicroseconds(() =>
        {
            var b = new ArrayBufferWriter<byte>(512);
            using var w = new Utf8JsonWriter(b);
            OpenAiRequestWriter.WriteChat(w, lm.Info, prompt, 1, 10, legacyMaxTokens: false);
        });
        double parseUs = CpuMicroseconds(() => OpenAiChatResponseParser.Parse(responseBody, prompt, 1));
        double clientUsMedian = Median(clientUs);
        double rawUsMedian = Median(rawUs);
        return new Dictionary<string, double>
        {
            ["client_call_us"] = Math.Round(clientUsMedian, 2),
            ["raw_http_call_us"] = Math.Round(rawUsMedian, 2),
            ["client_overhead_ratio"] = Math.Round(clientUsMedian / rawUsMedian, 4),
            ["client_overhead_us"] = Math.Round(clientUsMedian - rawUsMedian, 2),
            ["client_call_mean_us"] = Math.Round(clientTotal / clientUs.Count, 2),
            ["raw_http_call_mean_us"] = Math.Round(rawTotal / rawUs.Count, 2),
            ["client_calls_per_s"] = Math.Round(1e6 / clientUsMedian, 1),
            ["raw_http_calls_per_s"] = Math.Round(1e6 / rawUsMedian, 1),
            ["client_build_request_us"] = Math.Round(buildUs, 3),
            ["client_parse_response_us"] = Math.Round(parseUs, 3),
            ["request_body_bytes"] = body.Length,
            ["response_body_bytes"] = responseBytes,
            ["calls_per_round"] = calls,
            ["rounds"] = rounds,
        };
    }

    /// <summary>The fastest of several rounds, per operation: the CPU cost once the code is compiled and hot.</summary>
    private static double CpuMicroseconds(Action action, int iterations = 5_000, int rounds = 7)
    {
        double best = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < iterations; i++)
            {
                action();
            }

            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMicroseconds / iterations);
        }

        return best;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static int Option(IReadOnlyList<string> args, string name, int fallback)
    {
        for (int i = 0; i + 1 < args.Count; i++)
        {
            if (args[i] == name && int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0)
            {
                return v;
            }
        }

        return fallback;
    }
}
