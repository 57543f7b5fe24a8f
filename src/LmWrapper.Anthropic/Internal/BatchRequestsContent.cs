using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;

namespace LmWrapper.Anthropic.Internal;

/// <summary>
/// The body of <c>POST /v1/messages/batches</c>, <c>{"requests":[…]}</c>, streamed from a request file line by line
/// (a batch may be 256 MB; it is never held in memory whole). Each line's <c>custom_id</c> gets the batch's tag
/// (<see cref="ClaudeBatchIds"/>); its <c>params</c> are copied byte for byte.
/// </summary>
internal sealed class BatchRequestsContent(string requestFile, string tag) : HttpContent
{
    private const int FlushAt = 1 << 16;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(FlushAt * 2);
        buffer.Write("{\"requests\":["u8);
        using var writer = new Utf8JsonWriter(buffer);
        bool first = true;
        using (var reader = new StreamReader(requestFile, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, new FileStreamOptions { BufferSize = FlushAt, Options = FileOptions.SequentialScan }))
        {
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0)
                {
                    continue;
                }

                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                string sampleId = root.GetProperty("custom_id").GetString()
                    ?? throw new InvalidDataException($"A line of {requestFile} has a null custom_id.");
                if (!first)
                {
                    buffer.Write(","u8);
                }

                first = false;
                writer.Reset(buffer);
                writer.WriteStartObject();
                writer.WriteString("custom_id", ClaudeBatchIds.Tagged(sampleId, tag));
                writer.WritePropertyName("params");
                writer.WriteRawValue(root.GetProperty("params").GetRawText(), skipInputValidation: true);
                writer.WriteEndObject();
                writer.Flush();
                if (buffer.WrittenCount >= FlushAt)
                {
                    await stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
                    buffer.ResetWrittenCount();
                }
            }
        }

        buffer.Write("]}"u8);
        await stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}
