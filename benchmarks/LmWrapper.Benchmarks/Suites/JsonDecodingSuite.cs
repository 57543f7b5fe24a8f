using System.Diagnostics;
using System.Text.Json;
using LmWrapper.HuggingFace;
using LmWrapper.HuggingFace.Generation;

namespace LmWrapper.Benchmarks.Suites;

/// <summary>
/// Constrained JSON decoding's cost per generated token: for real vocabularies (llama2's 32k SentencePiece tokens and
/// GPT-2's 50k and Llama-3's 128k byte-level tokens), each step of a scripted document (its own tokenization) computes the allowed-token
/// mask (the trie walk) and advances the parser, as the generator does; the same-run baseline checks every token's
/// bytes against the parser state one by one (what the trie avoids). Single-threaded.
/// </summary>
public sealed class JsonDecodingSuite : IBenchmarkSuite
{
    private const string Schema = """
        {"type":"object","properties":{
          "name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}},
          "address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"}},"required":["street","city"]},
          "status":{"enum":["active","inactive"]}},
         "required":["name","age","tags","address","status"]}
        """;

    private const string Document = """{"name":"Ada Lovelace, the first programmer, who wrote notes on the Analytical Engine","age":36,"tags":["math","poetry of science","computing"],"address":{"street":"12 St James's Square","city":"London"},"status":"inactive"}""";

    public string Name => "jsondecode";

    public string Description => "constrained JSON decoding: mask + advance per token (llama2 32k, gpt2 50k, llama3 128k vocab) vs checking every token";

    public Task<IReadOnlyDictionary<string, double>> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        string root = TokenizersSuite.FindFixtures();
        var results = new Dictionary<string, double>();
        using var schemaDoc = JsonDocument.Parse(Schema);
        foreach (var name in new[] { "llama2", "gpt2", "llama3" })
        {
            var tokenizer = HuggingFaceTokenizer.FromFolder(Path.Combine(root, name));
            var sw = Stopwatch.StartNew();
            var trie = new TokenTrie(tokenizer.TokenBytes());
            results[$"{name}_trie_build_ms"] = sw.Elapsed.TotalMilliseconds;
            var constraint = JsonConstraint.FromResponseFormat(schemaDoc.RootElement, trie);
            int[] ids = tokenizer.Encode(Document);
            var allowed = new bool[trie.IdCount];

            // Warm-up, then the best of five runs over the whole script.
            double best = double.MaxValue;
            int allowedTotal = 0;
            for (int round = 0; round < 6; round++)
            {
                var state = constraint.NewState();
                allowedTotal = 0;
                sw.Restart();
                foreach (int id in ids)
                {
                    allowedTotal += state.FillAllowed(allowed, 10_000);
                    if (!allowed[id])
                    {
                        throw new InvalidOperationException($"{name}: the script's token {id} was not allowed.");
                    }

                    state.Advance(id);
                }

                if (round > 0)
                {
                    best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
                }

                if (!state.IsComplete)
                {
                    throw new InvalidOperationException($"{name}: the script did not complete the document.");
                }
            }

            results[$"{name}_tokens_in_script"] = ids.Length;
            results[$"{name}_mask_and_advance_per_token_us"] = best * 1000 / ids.Length;
            results[$"{name}_allowed_tokens_per_step_mean"] = (double)allowedTotal / ids.Length;

            // Near the end of the token budget (each step with just enough tokens left to close the document), where the
            // fast path for string content is off inside object keys and the budget rule is checked at every token.
            var tight = constraint.NewState();
            sw.Restart();
            foreach (int id in ids)
            {
                tight.FillAllowed(allowed, tight.Matcher.CloseCost + 1);
                tight.Advance(id);
            }

            results[$"{name}_mask_near_budget_per_token_us"] = sw.Elapsed.TotalMilliseconds * 1000 / ids.Length;

            // Baseline: every token's bytes through the parser, per step (the same masks).
            var naive = constraint.NewState();
            sw.Restart();
            foreach (int id in ids)
            {
                int n = 0;
                for (int t = 0; t < trie.IdCount; t++)
                {
                    if (trie.TokenBytes[t] is { Length: > 0 } bytes && naive.Matcher.Advance(bytes) is not null)
                    {
                        n++;
                    }
                }

                naive.Advance(id);
            }

            double naiveUs = sw.Elapsed.TotalMilliseconds * 1000 / ids.Length;
            results[$"{name}_check_every_token_per_token_us"] = naiveUs;
            results[$"{name}_trie_speedup_ratio"] = naiveUs / results[$"{name}_mask_and_advance_per_token_us"];
            Console.WriteLine($"{name}: vocab {trie.IdCount}, trie nodes {trie.NodeCount}, script {ids.Length} tokens");
        }

        return Task.FromResult<IReadOnlyDictionary<string, double>>(results);
    }
}
