using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LmWrapper.HuggingFace.ChatTemplates;
using LmWrapper.HuggingFace.Safetensors;
using LmWrapper.HuggingFace;

namespace LmWrapper.Reliability;

/// <summary>
/// Seeded fuzzing of the three parsers that read files a stranger may have written: the safetensors header, tokenizer.json
/// and the Jinja chat-template interpreter. Each may refuse an input only with its documented exception types; anything
/// else (an <see cref="IndexOutOfRangeException"/>, a <see cref="NullReferenceException"/>, a hang) is a fault.
/// </summary>
public static class Fuzzers
{
    /// <summary>How long one input may take before it counts as a hang.</summary>
    public static TimeSpan HangLimit { get; } = TimeSpan.FromSeconds(20);

    /// <summary>Fuzzes <see cref="SafetensorsFile.Open"/> (and reading every tensor of a file it accepts).</summary>
    /// <param name="inputs">How many inputs.</param>
    /// <param name="seed">The seed.</param>
    public static FuzzReport Safetensors(int inputs, int seed)
    {
        var random = new Random(seed);
        string dir = Path.Combine(Path.GetTempPath(), "lmwrapper-fuzz-st-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            return Run("safetensors", inputs, seed, i =>
            {
                string path = Path.Combine(dir, (i % 64).ToString(CultureInfo.InvariantCulture) + ".safetensors");
                File.WriteAllBytes(path, SafetensorsInput(random));
                using var file = SafetensorsFile.Open(path);
                foreach (var name in file.TensorNames)
                {
                    var info = file.GetTensor(name);
                    if (info.ByteLength < 1 << 20)
                    {
                        _ = file.GetBytes(name).Length;
                    }
                }
            }, e => e is SafetensorsException);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Fuzzes <see cref="HuggingFaceTokenizer.FromFile"/> (and encoding and decoding with a tokenizer it accepts).</summary>
    /// <param name="inputs">How many inputs.</param>
    /// <param name="seed">The seed.</param>
    public static FuzzReport TokenizerJson(int inputs, int seed)
    {
        var random = new Random(seed);
        string dir = Path.Combine(Path.GetTempPath(), "lmwrapper-fuzz-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string baseJson = BaseTokenizerJson();
        try
        {
            return Run("tokenizer.json", inputs, seed, i =>
            {
                string path = Path.Combine(dir, "tokenizer" + (i % 64).ToString(CultureInfo.InvariantCulture) + ".json");
                File.WriteAllText(path, MutateJson(baseJson, random));
                var tokenizer = HuggingFaceTokenizer.FromFile(path);
                var ids = tokenizer.Encode("Hello world, héllo 123 <|endoftext|> \u00ff\t\n", addSpecialTokens: true);
                _ = tokenizer.Decode(ids);
            }, e => e is NotSupportedException or FormatException);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Fuzzes <see cref="ChatTemplate.Parse"/> and <see cref="ChatTemplate.Render"/>.</summary>
    /// <param name="inputs">How many inputs.</param>
    /// <param name="seed">The seed.</param>
    public static FuzzReport Jinja(int inputs, int seed)
    {
        var random = new Random(seed);
        var messages = new[] { LmChatTurn.System("Be brief."), LmChatTurn.User("Hi"), LmChatTurn.Assistant("Hello"), LmChatTurn.User("2+2?") };
        return Run("jinja", inputs, seed, input =>
        {
            string source = JinjaInput(random);
            var watch = Stopwatch.StartNew();
            try
            {
                var template = ChatTemplate.Parse(source);
                using var cts = new CancellationTokenSource(HangLimit);
                _ = template.Render(messages, addGenerationPrompt: random.Next(2) == 0, bosToken: "<s>", eosToken: "</s>", cancellationToken: cts.Token);
            }
            catch (Exception e) when (Environment.GetEnvironmentVariable("LMWRAPPER_FUZZ_TRACE") == "1" && e is not ChatTemplateException)
            {
                Console.Error.WriteLine($"jinja input {input.ToString(CultureInfo.InvariantCulture)} threw {e.GetType().Name}: {source}");
                throw;
            }
            finally
            {
                if (watch.ElapsedMilliseconds > 2000 && Environment.GetEnvironmentVariable("LMWRAPPER_FUZZ_TRACE") == "1")
                {
                    Console.Error.WriteLine($"jinja input {input.ToString(CultureInfo.InvariantCulture)} slow: {source}");
                }
            }
        }, e => e is ChatTemplateException);
    }

    private static FuzzReport Run(string target, int inputs, int seed, Action<int> one, Func<Exception, bool> documented)
    {
        int accepted = 0, refused = 0, undocumented = 0;
        var examples = new List<string>();
        double slowest = 0;
        for (int i = 0; i < inputs; i++)
        {
            var watch = Stopwatch.StartNew();
            try
            {
                one(i);
                accepted++;
            }
            catch (Exception e) when (documented(e))
            {
                refused++;
            }
            catch (Exception e)
            {
                undocumented++;
                if (examples.Count < 5)
                {
                    examples.Add($"input {i.ToString(CultureInfo.InvariantCulture)}: {e.GetType().Name}: {e.Message}");
                }
            }

            double ms = watch.Elapsed.TotalMilliseconds;
            slowest = Math.Max(slowest, ms);
            if (ms > 2000 && Environment.GetEnvironmentVariable("LMWRAPPER_FUZZ_TRACE") == "1")
            {
                Console.Error.WriteLine($"{target} input {i.ToString(CultureInfo.InvariantCulture)}: {ms:0} ms");
            }
            if (watch.Elapsed > HangLimit)
            {
                undocumented++;
                if (examples.Count < 5)
                {
                    examples.Add($"input {i.ToString(CultureInfo.InvariantCulture)}: took {ms:0} ms (a hang)");
                }
            }
        }

        return new FuzzReport(target, seed, inputs, accepted, refused, undocumented, examples, Math.Round(slowest, 1));
    }

    private static byte[] SafetensorsInput(Random random)
    {
        string[] dtypes = ["F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64", "BOOL", "F8_E4M3", "XX", "", "f32"];
        int tensors = random.Next(0, 4);
        long dataLength = random.Next(0, 4) switch { 0 => 0, 1 => random.Next(1, 64), 2 => random.Next(64, 4096), _ => 16 };
        var header = new JsonObject();
        long offset = 0;
        for (int t = 0; t < tensors; t++)
        {
            var shape = new JsonArray();
            int rank = random.Next(0, 4);
            for (int d = 0; d < rank; d++)
            {
                shape.Add(random.Next(10) switch
                {
                    0 => JsonValue.Create(-1L),
                    1 => JsonValue.Create(long.MaxValue),
                    2 => JsonValue.Create(1L << 40),
                    3 => JsonValue.Create(0L),
                    4 => JsonValue.Create("2"),
                    5 => JsonValue.Create(2.5),
                    _ => JsonValue.Create((long)random.Next(1, 8)),
                });
            }

            long begin = random.Next(8) switch { 0 => -8, 1 => offset + random.Next(-4, 4), 2 => long.MaxValue - 2, _ => offset };
            long end = random.Next(8) switch { 0 => begin - 1, 1 => dataLength + random.Next(1, 100), 2 => long.MaxValue, _ => begin + (random.Next(0, 8) * 4) };
            offset = Math.Max(offset, end);
            JsonNode? offsets = random.Next(12) switch
            {
                0 => new JsonArray(JsonValue.Create(begin)),
                1 => JsonValue.Create("0,4"),
                2 => null,
                3 => new JsonArray(JsonValue.Create(begin), JsonValue.Create(end), JsonValue.Create(end)),
                _ => new JsonArray(JsonValue.Create(begin), JsonValue.Create(end)),
            };
            var tensor = new JsonObject
            {
                ["dtype"] = random.Next(10) == 0 ? JsonValue.Create(7) : JsonValue.Create(dtypes[random.Next(dtypes.Length)]),
                ["shape"] = random.Next(12) == 0 ? JsonValue.Create("3") : shape,
                ["data_offsets"] = offsets,
            };
            if (random.Next(10) == 0)
            {
                tensor.Remove(random.Next(3) switch { 0 => "dtype", 1 => "shape", _ => "data_offsets" });
            }

            header[random.Next(15) == 0 ? string.Empty : "t" + t.ToString(CultureInfo.InvariantCulture)] = tensor;
        }

        if (random.Next(4) == 0)
        {
            header["__metadata__"] = random.Next(3) switch
            {
                0 => new JsonObject { ["format"] = "pt" },
                1 => new JsonObject { ["format"] = 3 },
                _ => JsonValue.Create("pt"),
            };
        }

        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        switch (random.Next(12))
        {
            case 0:
                json = json[..random.Next(0, json.Length + 1)];
                break;
            case 1:
                if (json.Length > 0)
                {
                    json[random.Next(json.Length)] = (byte)random.Next(256);
                }

                break;
            case 2:
                json = Encoding.UTF8.GetBytes(random.Next(3) switch { 0 => "[]", 1 => "null", _ => "\"x\"" });
                break;
        }

        long declared = random.Next(10) switch
        {
            0 => json.Length + random.Next(1, 100),
            1 => Math.Max(0, json.Length - random.Next(1, 10)),
            2 => long.MaxValue,
            3 => -1,
            4 => SafetensorsFile.MaxHeaderLength + 1,
            _ => json.Length,
        };
        var bytes = new byte[8 + json.Length + dataLength];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), declared);
        json.CopyTo(bytes, 8);
        random.NextBytes(bytes.AsSpan(8 + json.Length));
        int cut = random.Next(20) == 0 ? random.Next(0, bytes.Length + 1) : bytes.Length;
        return bytes[..cut];
    }

    /// <summary>A small valid byte-level BPE tokenizer.json: the 256 byte symbols, a few merges, one special token.</summary>
    public static string BaseTokenizerJson()
    {
        var vocab = new JsonObject();
        var symbols = ByteSymbols();
        for (int b = 0; b < 256; b++)
        {
            vocab[symbols[b].ToString()] = b;
        }

        string[] merges = ["h e", "l l", "he ll", "o \u0120", "w o", "r l", "wo rl"];
        int id = 256;
        foreach (var m in merges)
        {
            vocab[m.Replace(" ", string.Empty, StringComparison.Ordinal)] = id++;
        }

        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = 300, ["content"] = "<|endoftext|>", ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["vocab"] = vocab, ["merges"] = new JsonArray([.. merges.Select(m => (JsonNode)JsonValue.Create(m))]),
            },
        };
        return root.ToJsonString();
    }

    private static char[] ByteSymbols()
    {
        // GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256 + n.
        var map = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + n++);
        }

        return map;
    }

    private static readonly string[] TypeNames =
    [
        "BPE", "WordPiece", "Unigram", "WordLevel", "ByteLevel", "Metaspace", "Sequence", "Split", "Whitespace", "NFC", "NFKC",
        "Lowercase", "Replace", "Prepend", "Strip", "ByteFallback", "Fuse", "TemplateProcessing", "BertProcessing", "Digits", "Punctuation", "Nope",
    ];

    private static string MutateJson(string baseJson, Random random)
    {
        var root = JsonNode.Parse(baseJson)!;
        int mutations = random.Next(1, 4);
        for (int m = 0; m < mutations; m++)
        {
            var (parent, key, index) = PickNode(root, random);
            JsonNode? replacement = RandomNode(random);
            if (parent is JsonObject obj && key is not null)
            {
                if (random.Next(4) == 0)
                {
                    obj.Remove(key);
                }
                else
                {
                    obj[key] = replacement;
                }
            }
            else if (parent is JsonArray arr && index >= 0)
            {
                if (random.Next(4) == 0)
                {
                    arr.RemoveAt(index);
                }
                else
                {
                    arr[index] = replacement;
                }
            }
        }

        string text = root.ToJsonString();
        if (random.Next(10) == 0)
        {
            text = text[..random.Next(text.Length)];
        }
        else if (random.Next(10) == 0)
        {
            var chars = text.ToCharArray();
            chars[random.Next(chars.Length)] = (char)random.Next(32, 127);
            text = new string(chars);
        }

        return text;
    }

    private static (JsonNode? Parent, string? Key, int Index) PickNode(JsonNode root, Random random)
    {
        JsonNode current = root;
        (JsonNode? Parent, string? Key, int Index) at = (null, null, -1);
        for (int depth = 0; depth < 6; depth++)
        {
            if (current is JsonObject obj && obj.Count > 0)
            {
                var keys = obj.Select(p => p.Key).ToList();
                string key = keys[random.Next(keys.Count)];
                at = (obj, key, -1);
                if (obj[key] is not { } child || random.Next(3) == 0)
                {
                    break;
                }

                current = child;
            }
            else if (current is JsonArray arr && arr.Count > 0)
            {
                int i = random.Next(arr.Count);
                at = (arr, null, i);
                if (arr[i] is not { } child || random.Next(3) == 0)
                {
                    break;
                }

                current = child;
            }
            else
            {
                break;
            }
        }

        return at;
    }

    private static JsonNode? RandomNode(Random random) => random.Next(14) switch
    {
        0 => null,
        1 => JsonValue.Create(-1),
        2 => JsonValue.Create(int.MaxValue),
        3 => JsonValue.Create(1e300),
        4 => JsonValue.Create(string.Empty),
        5 => JsonValue.Create(TypeNames[random.Next(TypeNames.Length)]),
        6 => JsonValue.Create(true),
        7 => new JsonArray(),
        8 => new JsonObject(),
        9 => new JsonObject { ["type"] = TypeNames[random.Next(TypeNames.Length)] },
        10 => new JsonArray(JsonValue.Create("a b c"), JsonValue.Create("x")),
        11 => JsonValue.Create("\u0120\u0120 \ud800"),
        12 => new JsonObject { ["type"] = "Sequence", ["pretokenizers"] = new JsonArray(new JsonObject { ["type"] = TypeNames[random.Next(TypeNames.Length)] }) },
        _ => JsonValue.Create(random.Next(-5, 400)),
    };

    private static readonly string[] JinjaPieces =
    [
        "{% for m in messages %}", "{% endfor %}", "{% if m.role == 'user' %}", "{% elif m.role == 'system' %}", "{% else %}", "{% endif %}",
        "{{ m.content }}", "{{ m['role'] | upper }}", "{{ bos_token }}", "{{ eos_token }}", "{% if add_generation_prompt %}", "{{ '<|assistant|>' }}",
        "{{ messages | length }}", "{{ messages[0].content | trim }}", "{% set x = 1 %}", "{% set ns = namespace(a=0) %}", "{% set ns.a = ns.a + 1 %}",
        "{{ x * 3 }}", "{{ 'abc' * 1000000000 }}", "{{ range(100000) | list | length }}",
        "{{ raise_exception('no') }}", "{{ m.content | tojson }}", "{{ (1, 2) }}", "{{ [1, 2][5] }}", "{{ {'a': 1}.b }}", "{{ 1 / 0 }}", "{{ 1 // 0 }}", "{{ 1 % 0 }}",
        "{{ undefined_name.attr }}", "{{ none.x }}", "{% macro f(a) %}{{ a }}{% endmacro %}", "{{ f(1) }}", "{{ f() }}", "{% break %}", "{% continue %}",
        "{{ loop.index }}", "{{ '%s' % 1 }}", "{{ 'x'.split(',') }}", "{{ strftime_now('%Y') }}", "{{ 2 ** 64 }}", "{{ -9223372036854775808 // -1 }}",
        "{% raw %}{{ x }}{% endraw %}", "{#- comment -#}", "{%- if true -%}", "{{", "}}", "{%", "%}", "(", ")", "[", "]", "'", "\"", " ", "\n", "x", "|",
        "{{ messages | selectattr('role', 'equalto', 'user') | list }}", "{{ m.content[::-1] }}", "{{ m.content[1:1000000000] }}", "{{ 'a' ~ 1 ~ none }}",
        "{{ messages | map(attribute='content') | join(', ') }}", "{{ [1] * 100000000 }}", "{{ 'x' | replace('x', 'xx') * 100 }}", "{% filter upper %}", "{% endfilter %}",
        "{{ messages | batch(0) }}", "{{ 'abc' | truncate(-1) }}", "{{ 12 | round(400) }}", "{{ 'a' | indent(1000000000) }}", "{{ 'a' | center(1000000000) }}",
    ];

    // Pieces that run into the render limits (ten million steps): rare, or the fuzzer would spend its time there.
    private static readonly string[] HeavyPieces =
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "{{ 10 ** 10 ** 10 }}",
    ];

    private static string JinjaInput(Random random)
    {
        var sb = new StringBuilder();
        if (random.Next(500) == 0)
        {
            sb.Append(HeavyPieces[random.Next(HeavyPieces.Length)]);
        }

        int pieces = random.Next(1, 14);
        for (int i = 0; i < pieces; i++)
        {
            sb.Append(JinjaPieces[random.Next(JinjaPieces.Length)]);
        }

        if (random.Next(20) == 0)
        {
            // Deep nesting, refused by the depth limit without a stack overflow.
            int depth = random.Next(200, 5000);
            sb.Insert(0, string.Concat(Enumerable.Repeat(random.Next(2) == 0 ? "(" : "{% if true %}", depth)));
        }

        return sb.ToString();
    }
}
