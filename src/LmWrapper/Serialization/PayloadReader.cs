using System.Text.Json;

namespace LmWrapper.Serialization;

/// <summary>
/// A single-pass reader of the prediction JSON stored in the cache (the hot path of every cache hit): the same shape as
/// <see cref="PredictionDto"/>, read with a <see cref="Utf8JsonReader"/> without the serializer's metadata walk.
/// Unknown properties are skipped, so entries written by newer versions still read.
/// </summary>
internal static class PayloadReader
{
    public static PredictionDto Read(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 64 });
        Next(ref reader);
        return ReadPrediction(ref reader);
    }

    private static PredictionDto ReadPrediction(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var d = new PredictionDto();
        while (Next(ref r) == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("completion_text"u8))
            {
                d.CompletionText = NextString(ref r);
            }
            else if (r.ValueTextEquals("completion_tokens"u8))
            {
                d.CompletionTokens = NextStrings(ref r);
            }
            else if (r.ValueTextEquals("completion_token_offsets"u8))
            {
                d.CompletionTokenOffsets = NextInts(ref r);
            }
            else if (r.ValueTextEquals("completion_logprobs"u8))
            {
                d.CompletionLogprobs = NextDoubles(ref r);
            }
            else if (r.ValueTextEquals("finish_reason"u8))
            {
                d.FinishReason = NextString(ref r);
            }
            else if (r.ValueTextEquals("usage"u8))
            {
                d.Usage = NextUsage(ref r);
            }
            else if (r.ValueTextEquals("error"u8))
            {
                d.Error = NextString(ref r);
            }
            else if (r.ValueTextEquals("error_permanent"u8))
            {
                d.ErrorPermanent = NextBool(ref r);
            }
            else if (r.ValueTextEquals("error_kind"u8))
            {
                d.ErrorKind = NextString(ref r);
            }
            else if (r.ValueTextEquals("error_status"u8))
            {
                d.ErrorStatus = NextNullableInt(ref r);
            }
            else if (r.ValueTextEquals("error_code"u8))
            {
                d.ErrorCode = NextString(ref r);
            }
            else if (r.ValueTextEquals("error_request_id"u8))
            {
                d.ErrorRequestId = NextString(ref r);
            }
            else if (r.ValueTextEquals("top_token_logprobs"u8))
            {
                d.TopTokenLogprobs = NextTopLogprobs(ref r);
            }
            else if (r.ValueTextEquals("prompt_tokens"u8))
            {
                d.PromptTokens = NextStrings(ref r);
            }
            else if (r.ValueTextEquals("prompt_logprobs"u8))
            {
                d.PromptLogprobs = NextNullableDoubles(ref r);
            }
            else if (r.ValueTextEquals("prompt_token_offsets"u8))
            {
                d.PromptTokenOffsets = NextInts(ref r);
            }
            else if (r.ValueTextEquals("provider_data"u8))
            {
                d.ProviderData = NextStringMap(ref r);
            }
            else if (r.ValueTextEquals("completions"u8))
            {
                if (Next(ref r) == JsonTokenType.Null)
                {
                    continue;
                }

                Expect(ref r, JsonTokenType.StartArray);
                var list = new List<PredictionDto>();
                while (Next(ref r) != JsonTokenType.EndArray)
                {
                    list.Add(ReadPrediction(ref r));
                }

                d.Completions = list;
            }
            else if (r.ValueTextEquals("reasoning_blocks"u8))
            {
                d.ReasoningBlocks = NextReasoningBlocks(ref r);
            }
            else if (r.ValueTextEquals("tool_calls"u8))
            {
                d.ToolCalls = NextToolCalls(ref r);
            }
            else if (r.ValueTextEquals("was_cached"u8))
            {
                d.WasCached = NextBool(ref r);
            }
            else
            {
                Next(ref r);
                r.Skip(); // "prompt" (never in payloads) and anything a newer version adds
            }
        }

        Expect(ref r, JsonTokenType.EndObject);
        return d;
    }

    private static JsonTokenType Next(ref Utf8JsonReader r) =>
        r.Read() ? r.TokenType : throw new FormatException("A cached prediction's JSON ends too early.");

    private static void Expect(ref Utf8JsonReader r, JsonTokenType type)
    {
        if (r.TokenType != type)
        {
            throw new FormatException($"A cached prediction's JSON has {r.TokenType} where {type} belongs.");
        }
    }

    private static string? NextString(ref Utf8JsonReader r) => Next(ref r) == JsonTokenType.Null ? null : r.GetString();

    private static bool? NextBool(ref Utf8JsonReader r) => Next(ref r) == JsonTokenType.Null ? null : r.GetBoolean();

    private static int? NextNullableInt(ref Utf8JsonReader r) => Next(ref r) == JsonTokenType.Null ? null : r.GetInt32();

    private static double Double(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.String
        ? r.GetString() switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            var other => throw new FormatException($"\"{other}\" is not a number."),
        }
        : r.GetDouble();

    private static string[]? NextStrings(ref Utf8JsonReader r)
    {
        if (Next(ref r) == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref r, JsonTokenType.StartArray);
        var list = new List<string>(16);
        while (Next(ref r) != JsonTokenType.EndArray)
        {
            list.Add(r.GetString()!);
        }

        return [.. list];
    }

    private static int[]? NextInts(ref Utf8JsonReader r)
    {
        if (Next(ref r) == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref r, JsonTokenType.StartArray);
        var list = new List<int>(16);
        while (Next(ref r) != JsonTokenType.EndArray)
        {
            list.Add(r.GetInt32());
        }

        return [.. list];
    }

    private static double[]? NextDoubles(ref Utf8JsonReader r)
    {
        if (Next(ref r) == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref r, JsonTokenType.StartArray);
        var list = new List<double>(16);
        while (Next(ref r) != JsonTokenType.EndArray)
        {
            list.Add(Double(ref r));
        }

        return [.. list];
    }

    private static double?[]? NextNullableDoubles(ref Utf8JsonReader r)
    {
        if (Next(ref r) == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref r, JsonTokenType.StartArray);
        var list = new List<double?>(16);
        while (Next(ref r) != JsonTokenType.EndArray)
        {
            list.Add(r.TokenType == JsonTokenType.Null ? null : Double(ref r));
        }

        return [.. list];
    }

    private static Dictionary<string, double>[]? NextTopLogprobs(ref Utf8JsonReader r)
    {
        if (Next(ref r) == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref r, JsonTokenType.StartArray);
        var list = new List<Dictionary<string, double>>(16);
        while (Next(ref r) != JsonTokenType.EndArray)
        {
            Expect(ref r, JsonTokenType.StartObject);
            var map = new Dictionary<string, double>(StringComparer.Ordinal);
            while (Next(ref r) == JsonTokenType.PropertyName)
            {
                string key = r.GetString()!;
                Next(ref r);
                map[key] = Double(ref r);
            }

            list.Add(map);
        }

        return [.. list];
    }

    private static Dictionary<string, string>? NextStringMap(ref Utf8JsonReader r)
    {
        if (Next(ref r) == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref r, JsonTokenType.StartObject);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        while (Next(ref r) == JsonTokenType.PropertyName)
        {
            string key = r.GetString()!;
            map[key] = NextString(ref r)!;
        }

        return map;
    }

    /// <summary>Reads one property of an object into <paramref name="item"/>; false for a property it does not know (skipped).</summary>
    private delegate bool PropertyReader<in T>(ref Utf8JsonReader r, T item);

    /// <summary>A JSON array of objects (or null), each read property by property; unknown properties are skipped.</summary>
    private static List<T>? NextObjects<T>(ref Utf8JsonReader r, PropertyReader<T> readProperty)
        where T : new()
    {
        if (Next(ref r) == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref r, JsonTokenType.StartArray);
        var list = new List<T>(2);
        while (Next(ref r) != JsonTokenType.EndArray)
        {
            Expect(ref r, JsonTokenType.StartObject);
            var item = new T();
            while (Next(ref r) == JsonTokenType.PropertyName)
            {
                if (!readProperty(ref r, item))
                {
                    Next(ref r);
                    r.Skip();
                }
            }

            list.Add(item);
        }

        return list;
    }

    private static List<ReasoningBlockDto>? NextReasoningBlocks(ref Utf8JsonReader r) => NextObjects<ReasoningBlockDto>(ref r, ReadReasoningBlockProperty);

    private static bool ReadReasoningBlockProperty(ref Utf8JsonReader r, ReasoningBlockDto b)
    {
        if (r.ValueTextEquals("type"u8))
        {
            b.Type = NextString(ref r);
        }
        else if (r.ValueTextEquals("thinking"u8))
        {
            b.Thinking = NextString(ref r);
        }
        else if (r.ValueTextEquals("signature"u8))
        {
            b.Signature = NextString(ref r);
        }
        else if (r.ValueTextEquals("data"u8))
        {
            b.Data = NextString(ref r);
        }
        else
        {
            return false;
        }

        return true;
    }

    private static List<ToolCallDto>? NextToolCalls(ref Utf8JsonReader r) => NextObjects<ToolCallDto>(ref r, ReadToolCallProperty);

    private static bool ReadToolCallProperty(ref Utf8JsonReader r, ToolCallDto c)
    {
        if (r.ValueTextEquals("id"u8))
        {
            c.Id = NextString(ref r);
        }
        else if (r.ValueTextEquals("name"u8))
        {
            c.Name = NextString(ref r);
        }
        else if (r.ValueTextEquals("arguments"u8))
        {
            c.Arguments = NextString(ref r);
        }
        else
        {
            return false;
        }

        return true;
    }

    private static UsageDto? NextUsage(ref Utf8JsonReader r)
    {
        if (Next(ref r) == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref r, JsonTokenType.StartObject);
        var u = new UsageDto();
        while (Next(ref r) == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("input_tokens"u8))
            {
                Next(ref r);
                u.InputTokens = r.GetInt32();
            }
            else if (r.ValueTextEquals("output_tokens"u8))
            {
                Next(ref r);
                u.OutputTokens = r.GetInt32();
            }
            else if (r.ValueTextEquals("cached_input_tokens"u8))
            {
                Next(ref r);
                u.CachedInputTokens = r.GetInt32();
            }
            else if (r.ValueTextEquals("reasoning_tokens"u8))
            {
                u.ReasoningTokens = NextNullableInt(ref r);
            }
            else
            {
                Next(ref r);
                r.Skip();
            }
        }

        return u;
    }
}
