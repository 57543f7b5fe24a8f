using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace LmWrapper.Caching;

/// <summary>
/// The cache key of a prompt for one model: the first 128 bits of a SHA-256 over a canonical, versioned encoding of
/// the model identity and every prompt field that changes the output. Identical across processes, machines and runs.
/// </summary>
/// <remarks>
/// Left out on purpose: <see cref="LmPrompt.NumCompletions"/> (samples are stored one by one under the same key),
/// <see cref="LmPrompt.Cache"/> and <see cref="LmPrompt.Metadata"/>.
/// </remarks>
public readonly record struct CacheKey(ulong High, ulong Low) : IComparable<CacheKey>
{
    /// <summary>Orders keys as their stored bytes order (High, then Low).</summary>
    /// <param name="other">The key to compare with.</param>
    public int CompareTo(CacheKey other) => High != other.High ? High.CompareTo(other.High) : Low.CompareTo(other.Low);

    private const string EncodingTag = "lmwrapper/cache-key/v1";

    /// <summary>The key of <paramref name="prompt"/> for the model whose identity is <paramref name="modelIdentity"/>.</summary>
    /// <param name="modelIdentity">The model's <see cref="LanguageModel.ModelIdentity"/>.</param>
    /// <param name="prompt">The prompt.</param>
    public static CacheKey Compute(string modelIdentity, LmPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(modelIdentity);
        ArgumentNullException.ThrowIfNull(prompt);
        var w = new KeyWriter();
        try
        {
            w.String(EncodingTag);
            w.String(modelIdentity);
            if (prompt.Text is { } text)
            {
                w.Byte(1);
                w.String(text);
            }
            else
            {
                var chat = prompt.Chat!;
                w.Byte(2);
                w.Int(chat.Count);
                foreach (var t in chat)
                {
                    w.Byte((byte)t.Role);
                    w.String(t.Content);
                    w.NullableString(t.Name);
                }
            }

            w.NullableInt(prompt.MaxTokens);
            if (prompt.Stop is { } stop)
            {
                w.Int(stop.Count);
                foreach (var s in stop)
                {
                    w.String(s);
                }
            }
            else
            {
                w.Int(-1);
            }

            w.Int(prompt.Logprobs);
            w.Double(prompt.Temperature);
            w.Double(prompt.TopP);
            w.Double(prompt.PresencePenalty);
            w.Double(prompt.FrequencyPenalty);
            w.Byte(prompt.Echo ? (byte)1 : (byte)0);
            w.NullableBool(prompt.AddBosToken);
            w.NullableBool(prompt.AddSpecialTokens);
            w.NullableInt(prompt.Seed);

            // Fields added later are written only when set, each after its name, so that the keys of prompts that leave
            // them unset stay what they were (existing caches stay valid) and no two fields can be mistaken for each other.
            if (prompt.ReasoningEffort is { } effort)
            {
                w.String("reasoning_effort");
                w.Int((int)effort);
            }

            if (prompt.ThinkingBudgetTokens is { } budget)
            {
                w.String("thinking_budget_tokens");
                w.Int(budget);
            }

            if (prompt.Chat is { } turns)
            {
                for (int i = 0; i < turns.Count; i++)
                {
                    if (turns[i].ReasoningBlocks is { } blocks)
                    {
                        w.String("turn_reasoning_blocks");
                        w.Int(i);
                        w.Int(blocks.Count);
                        foreach (var b in blocks)
                        {
                            w.NullableString(b.Text);
                            w.NullableString(b.Signature);
                            w.NullableString(b.RedactedData);
                        }
                    }
                }
            }

            if (prompt.Chat is { } partTurns)
            {
                // Images: the key hashes their bytes (SHA-256) or URL, never a file path, so equal bytes share an entry.
                for (int i = 0; i < partTurns.Count; i++)
                {
                    if (partTurns[i].Parts is { } parts)
                    {
                        w.String("turn_parts");
                        w.Int(i);
                        w.Int(parts.Count);
                        foreach (var part in parts)
                        {
                            if (part.Image is { } image)
                            {
                                w.Byte(2);
                                w.Byte((byte)part.Detail);
                                if (image.Url is { } url)
                                {
                                    w.Byte(1);
                                    w.String(url.OriginalString);
                                }
                                else
                                {
                                    w.Byte(0);
                                    w.Raw(image.Sha256Bytes);
                                }
                            }
                            else
                            {
                                w.Byte(1);
                                w.String(part.Text ?? string.Empty);
                            }
                        }
                    }
                }
            }

            WriteToolFields(ref w, prompt);
            return w.Finish();
        }
        finally
        {
            w.Dispose();
        }
    }

    /// <summary>Tools, tool choice, response format and the dialog's tool calls and results: each only when set, after its name.</summary>
    private static void WriteToolFields(ref KeyWriter w, LmPrompt prompt)
    {
        if (prompt.Tools is { } tools)
        {
            w.String("tools");
            w.Int(tools.Count);
            foreach (var t in tools)
            {
                w.String(t.Name);
                w.NullableString(t.Description);
                w.String(t.ParametersJson);
            }
        }

        if (prompt.ToolChoice is { } choice)
        {
            w.String("tool_choice");
            w.Int((int)choice.Mode);
            w.NullableString(choice.ToolName);
        }

        if (prompt.ResponseFormat is { } format)
        {
            w.String("response_format");
            w.Int((int)format.Kind);
            w.NullableString(format.Name);
            w.Byte(format.Strict ? (byte)1 : (byte)0);
            w.NullableString(format.SchemaJson);
        }

        if (prompt.Chat is { } turns)
        {
            for (int i = 0; i < turns.Count; i++)
            {
                if (turns[i].ToolCalls is { } calls)
                {
                    w.String("turn_tool_calls");
                    w.Int(i);
                    w.Int(calls.Count);
                    foreach (var c in calls)
                    {
                        w.String(c.Id);
                        w.String(c.Name);
                        w.String(c.Arguments);
                    }
                }

                if (turns[i].ToolCallId is { } id)
                {
                    w.String("turn_tool_call_id");
                    w.Int(i);
                    w.String(id);
                }
            }
        }
    }

    /// <summary>The key as the 16 bytes stored in the database (big-endian).</summary>
    public byte[] ToBytes()
    {
        var b = new byte[16];
        WriteBytes(b);
        return b;
    }

    /// <summary>Writes the key's 16 stored bytes into <paramref name="destination"/>.</summary>
    /// <param name="destination">At least 16 bytes.</param>
    public void WriteBytes(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, High);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Low);
    }

    /// <summary>Reads a key from its 16 stored bytes.</summary>
    /// <param name="bytes">Exactly 16 bytes.</param>
    public static CacheKey FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 16)
        {
            throw new ArgumentException($"A cache key is 16 bytes, not {bytes.Length}.", nameof(bytes));
        }

        return new(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
    }

    /// <summary>The key as 32 lower-case hex digits.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{High:x16}{Low:x16}");

    private ref struct KeyWriter
    {
        private byte[] _buffer;
        private int _length;

        public KeyWriter() => _buffer = ArrayPool<byte>.Shared.Rent(512);

        public void Byte(byte b)
        {
            Ensure(1);
            _buffer[_length++] = b;
        }

        public void Int(int v)
        {
            Ensure(4);
            BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_length), v);
            _length += 4;
        }

        public void NullableInt(int? v)
        {
            Byte(v.HasValue ? (byte)1 : (byte)0);
            if (v.HasValue)
            {
                Int(v.Value);
            }
        }

        public void NullableBool(bool? v) => Byte(v switch { null => 2, true => 1, false => 0 });

        public void Double(double v)
        {
            if (v == 0)
            {
                v = 0; // -0.0 and 0.0 are the same setting
            }

            Ensure(8);
            BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_length), BitConverter.DoubleToInt64Bits(v));
            _length += 8;
        }

        public void String(string s)
        {
            int max = Encoding.UTF8.GetMaxByteCount(s.Length);
            Ensure(max + 4);
            int n = Encoding.UTF8.GetBytes(s, _buffer.AsSpan(_length + 4));
            BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_length), n);
            _length += 4 + n;
        }

        public void Raw(ReadOnlySpan<byte> bytes)
        {
            Ensure(bytes.Length);
            bytes.CopyTo(_buffer.AsSpan(_length));
            _length += bytes.Length;
        }

        public void NullableString(string? s)
        {
            Byte(s is null ? (byte)0 : (byte)1);
            if (s is not null)
            {
                String(s);
            }
        }

        public readonly CacheKey Finish()
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(_buffer.AsSpan(0, _length), hash);
            return FromBytes(hash[..16]);
        }

        public void Dispose()
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }

        private void Ensure(int extra)
        {
            if (_length + extra <= _buffer.Length)
            {
                return;
            }

            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + extra));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
    }
}
