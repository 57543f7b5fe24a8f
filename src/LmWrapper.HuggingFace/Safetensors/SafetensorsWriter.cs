using System.Runtime.InteropServices;
using System.Text.Json;

namespace LmWrapper.HuggingFace.Safetensors;

/// <summary>
/// Builds a safetensors file the way the reference implementation writes one: tensors ordered by element size
/// (largest first) and then by name, a compact JSON header with <c>__metadata__</c> first, padded with spaces to a
/// multiple of 8 bytes, and the data packed contiguously.
/// </summary>
/// <example>
/// <code>
/// new SafetensorsWriter()
///     .AddMetadata("format", "pt")
///     .Add("wte.weight", weights, [vocab, dim], SafetensorsDType.BF16)
///     .Save("model.safetensors");
/// </code>
/// </example>
public sealed class SafetensorsWriter
{
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (SafetensorsDType DType, long[] Shape, byte[] Data)> _tensors = new(StringComparer.Ordinal);

    /// <summary>Adds (or replaces) a <c>__metadata__</c> entry.</summary>
    /// <param name="key">The key, e.g. <c>format</c>.</param>
    /// <param name="value">The value, e.g. <c>pt</c>.</param>
    /// <returns>This writer.</returns>
    public SafetensorsWriter AddMetadata(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        _metadata[key] = value;
        return this;
    }

    /// <summary>Adds a tensor from float32 values, stored as F32, F16 or BF16 (rounded to nearest even).</summary>
    /// <param name="name">The tensor name (not <c>__metadata__</c>).</param>
    /// <param name="values">The values, row-major.</param>
    /// <param name="shape">The dimensions; their product must equal the number of values.</param>
    /// <param name="dtype">How to store them: F32, F16 or BF16.</param>
    /// <returns>This writer.</returns>
    public SafetensorsWriter Add(string name, ReadOnlySpan<float> values, IReadOnlyList<long> shape, SafetensorsDType dtype = SafetensorsDType.F32)
    {
        CheckShape(name, shape, values.Length);
        byte[] data;
        switch (dtype)
        {
            case SafetensorsDType.F32:
                data = MemoryMarshal.AsBytes(values).ToArray();
                break;
            case SafetensorsDType.F16:
            case SafetensorsDType.BF16:
                {
                    var halves = new ushort[values.Length];
                    for (int i = 0; i < values.Length; i++)
                        halves[i] = dtype == SafetensorsDType.F16 ? HalfConversion.FloatToF16(values[i]) : HalfConversion.FloatToBf16(values[i]);
                    data = MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
                    break;
                }
            default:
                throw new ArgumentException($"Float values can be stored as F32, F16 or BF16, not {dtype}; use AddRaw for other types.", nameof(dtype));
        }
        return AddTensor(name, dtype, shape, data);
    }

    /// <summary>Adds a tensor from its raw little-endian bytes, in any dtype.</summary>
    /// <param name="name">The tensor name (not <c>__metadata__</c>).</param>
    /// <param name="dtype">The element type.</param>
    /// <param name="shape">The dimensions.</param>
    /// <param name="data">The bytes; their count must be the element count times the dtype's size.</param>
    /// <returns>This writer.</returns>
    public SafetensorsWriter AddRaw(string name, SafetensorsDType dtype, IReadOnlyList<long> shape, ReadOnlySpan<byte> data)
    {
        int size = SafetensorsDTypes.SizeOf(dtype);
        if (data.Length % size != 0) throw new ArgumentException($"{data.Length} bytes is not a whole number of {dtype} elements.", nameof(data));
        CheckShape(name, shape, data.Length / size);
        return AddTensor(name, dtype, shape, data.ToArray());
    }

    private static void CheckShape(string name, IReadOnlyList<long> shape, long count)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved for metadata.", nameof(name));
        if (shape.Any(d => d < 0)) throw new ArgumentException($"Shape [{string.Join(", ", shape)}] has a negative dimension.", nameof(shape));
        long product = shape.Aggregate(1L, (a, b) => a * b);
        if (product != count)
            throw new ArgumentException($"Shape [{string.Join(", ", shape)}] holds {product} elements but {count} were given for '{name}'.", nameof(shape));
    }

    private SafetensorsWriter AddTensor(string name, SafetensorsDType dtype, IReadOnlyList<long> shape, byte[] data)
    {
        if (_tensors.ContainsKey(name)) throw new ArgumentException($"A tensor named '{name}' was already added.", nameof(name));
        _tensors[name] = (dtype, shape.ToArray(), data);
        return this;
    }

    /// <summary>The complete file contents.</summary>
    /// <returns>The bytes of the safetensors file.</returns>
    public byte[] ToArray()
    {
        using var ms = new MemoryStream();
        WriteTo(ms);
        return ms.ToArray();
    }

    /// <summary>Writes the file to a path (through a temporary file, so a reader never sees half a file).</summary>
    /// <param name="path">Where to write.</param>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
                WriteTo(fs);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Writes the file to a stream.</summary>
    /// <param name="stream">The destination.</param>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var ordered = _tensors
            .OrderByDescending(t => SafetensorsDTypes.SizeOf(t.Value.DType))
            .ThenBy(t => t.Key, StringComparer.Ordinal)
            .ToList();
        using var header = new MemoryStream();
        using (var w = new Utf8JsonWriter(header, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (_metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var kv in _metadata.OrderBy(k => k.Key, StringComparer.Ordinal)) w.WriteString(kv.Key, kv.Value);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, (dtype, shape, data)) in ordered)
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", dtype.ToString());
                w.WriteStartArray("shape");
                foreach (var d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += data.Length;
            }
            w.WriteEndObject();
        }
        long len = header.Length;
        long padded = (len + 7) / 8 * 8;
        Span<byte> lenBytes = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(lenBytes, (ulong)padded);
        stream.Write(lenBytes);
        header.Position = 0;
        header.CopyTo(stream);
        for (long i = len; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var t in ordered) stream.Write(t.Value.Data);
    }
}
