using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using LmWrapper.Cli.Input;

namespace LmWrapper.Cli.Output;

/// <summary>
/// The JSON form of one output line: <c>line</c> (the input's line number), <c>metadata</c> (the input's, unchanged),
/// the prediction in <see cref="LmPrediction.ToJson"/>'s form without its prompt (<c>completion_text</c>,
/// <c>finish_reason</c>, tokens and logprobs when the model gave them, <c>usage</c>, <c>error</c> and
/// <c>error_kind</c> when it failed, …), <c>cost</c> (dollars this time; null when the model's prices are unknown),
/// <c>cache_saving</c> and <c>cached</c>. A bad input line becomes <c>line</c>, <c>error</c>, <c>error_kind</c>
/// "input" and <c>column</c>.
/// </summary>
internal static class ResultLine
{
    /// <summary>Writes text as it is (no \u0022 for quotes or escapes for non-ASCII letters): the file is for people too.</summary>
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The field holding the input line number.</summary>
    public const string LineField = "line";

    /// <summary>The line for a prediction.</summary>
    /// <param name="record">The input line it answers.</param>
    /// <param name="prediction">The prediction.</param>
    /// <param name="cost">What it cost this time, or null when unknown.</param>
    /// <param name="cacheSaving">What the cache saved, or null when unknown.</param>
    public static byte[] ForPrediction(InputRecord record, LmPrediction prediction, decimal? cost, decimal? cacheSaving)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(prediction);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteNumber(LineField, record.LineNumber);
            if (record.Metadata is { } metadata)
            {
                w.WritePropertyName("metadata");
                metadata.WriteTo(w);
            }

            using (var doc = JsonDocument.Parse(prediction.ToJson()))
            {
                foreach (var property in doc.RootElement.EnumerateObject())
                {
                    if (property.Name is not ("prompt" or "was_cached"))
                    {
                        property.WriteTo(w);
                    }
                }
            }

            WriteMoney(w, "cost", cost);
            WriteMoney(w, "cache_saving", cacheSaving);
            w.WriteBoolean("cached", prediction.WasCached);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The line for a bad input line.</summary>
    /// <param name="error">What is wrong with it.</param>
    public static byte[] ForInputError(InputLineError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteNumber(LineField, error.LineNumber);
            w.WriteString("error", error.ToString());
            w.WriteString("error_kind", "input");
            w.WriteNumber("column", error.Column);
            w.WriteBoolean("cached", false);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteMoney(Utf8JsonWriter w, string name, decimal? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
