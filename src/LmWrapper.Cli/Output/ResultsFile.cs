using System.Globalization;
using System.Text.Json;

namespace LmWrapper.Cli.Output;

/// <summary>
/// The JSONL output of a run, opened for resuming: the lines already there are kept (their line numbers are done), a torn
/// last line (a run killed mid-write) is cut off, and new lines are appended and flushed one by one, so that a killed
/// run always leaves a valid prefix.
/// </summary>
internal sealed class ResultsFile : IDisposable
{
    private static readonly byte[] Newline = "\n"u8.ToArray();
    private readonly FileStream _stream;

    private ResultsFile(FileStream stream, HashSet<int> answered, HashSet<int> failed, long cutBytes)
    {
        _stream = stream;
        AnsweredLines = answered;
        FailedLines = failed;
        CutBytes = cutBytes;
    }

    /// <summary>The input line numbers whose result already in the file is an error.</summary>
    public IReadOnlySet<int> FailedLines { get; }

    /// <summary>The input line numbers the file already has a result for.</summary>
    public IReadOnlySet<int> AnsweredLines { get; }

    /// <summary>How many bytes of a torn last line were cut off on open (0 when the file ended cleanly).</summary>
    public long CutBytes { get; }

    /// <summary>Opens (creating if needed) the output file for appending, after reading what it already holds.</summary>
    /// <param name="path">The output file.</param>
    /// <exception cref="CliUsageException">The file cannot be opened, or holds a complete line that is not a result line (it is left as it is).</exception>
    public static ResultsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        FileStream stream;
        try
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(dir))
            {
                Directory.CreateDirectory(dir);
            }

            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"Cannot open the output file {path}: {e.Message}", e);
        }

        try
        {
            var answered = new HashSet<int>();
            var failed = new HashSet<int>();
            long keep = ReadExisting(stream, path, answered, failed);
            long cut = stream.Length - keep;
            if (cut > 0)
            {
                stream.SetLength(keep);
            }

            stream.Seek(0, SeekOrigin.End);
            return new ResultsFile(stream, answered, failed, cut);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Appends one result line (a JSON object without newline) and flushes it to the operating system.</summary>
    /// <param name="utf8Json">The line.</param>
    public void Append(ReadOnlySpan<byte> utf8Json)
    {
        // One write for the line and its newline: a kill leaves either the whole line or a torn one that Open cuts.
        byte[] buffer = new byte[utf8Json.Length + 1];
        utf8Json.CopyTo(buffer);
        buffer[^1] = Newline[0];
        _stream.Write(buffer);
        _stream.Flush();
    }

    /// <inheritdoc/>
    public void Dispose() => _stream.Dispose();

    /// <summary>Reads the result lines; returns how many bytes to keep (up to the end of the last complete result line).</summary>
    private static long ReadExisting(FileStream stream, string path, HashSet<int> answered, HashSet<int> failed)
    {
        if (stream.Length == 0)
        {
            return 0;
        }

        byte[] all = new byte[stream.Length];
        stream.Seek(0, SeekOrigin.Begin);
        stream.ReadExactly(all);
        long keep = 0;
        int start = 0;
        int fileLine = 0;
        while (start < all.Length)
        {
            int nl = Array.IndexOf(all, (byte)'\n', start);
            bool complete = nl >= 0;
            int end = complete ? nl : all.Length;
            fileLine++;
            var span = all.AsSpan(start, end - start);
            if (span.Trim(" \r\t"u8).Length > 0)
            {
                var (line, isError) = TryReadLineNumber(span);
                if (line is null)
                {
                    if (!complete)
                    {
                        break; // a torn last line: cut it off
                    }

                    throw new CliUsageException(string.Create(
                        CultureInfo.InvariantCulture,
                        $"Line {fileLine} of the output file {path} is not a result line, so the run cannot resume it. Move the file away or fix that line."));
                }

                answered.Add(line.Value);
                if (isError)
                {
                    failed.Add(line.Value);
                }
                if (!complete)
                {
                    // A whole result whose newline was not written: keep it and finish the line.
                    stream.Seek(0, SeekOrigin.End);
                    stream.Write(Newline);
                    return stream.Length;
                }
            }

            keep = complete ? nl + 1 : end;
            start = end + 1;
        }

        return keep;
    }

    private static (int? Line, bool IsError) TryReadLineNumber(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var doc = JsonDocument.ParseValue(ref reader);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty(ResultLine.LineField, out var line)
                && line.TryGetInt32(out int n) && n > 0)
            {
                return (n, root.TryGetProperty("error", out var error) && error.ValueKind != JsonValueKind.Null);
            }

            return (null, false);
        }
        catch (JsonException)
        {
            return (null, false);
        }
    }
}
