using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace LmWrapper.HuggingFace.Safetensors;

/// <summary>
/// A memory-mapped safetensors file: the header is parsed and checked when it is opened; tensor bytes stay in
/// the operating system's page cache and are never copied into managed memory until you ask for them.
/// </summary>
/// <remarks>
/// The layout: 8 bytes little-endian header length N, N bytes of JSON header
/// (<c>{"__metadata__": {...}, "name": {"dtype", "shape", "data_offsets": [begin, end]}}</c>), then the data.
/// Spans returned by <see cref="GetBytes(string)"/> are valid until the file is disposed.
/// </remarks>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The largest header accepted (the reference implementation's limit).</summary>
    public const long MaxHeaderLength = 100_000_000;

    private const int ParallelThreshold = 1 << 20;
    private const int ParallelChunk = 1 << 18;

    private readonly MemoryMappedFile? _mmf;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsTensorInfo> _tensors;
    private readonly List<string> _names;
    private bool _disposed;

    private SafetensorsFile(string path, MemoryMappedFile? mmf, MemoryMappedViewAccessor? view, byte* basePtr, long dataStart,
        Dictionary<string, SafetensorsTensorInfo> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        FilePath = path;
        _mmf = mmf;
        _view = view;
        _base = basePtr;
        _dataStart = dataStart;
        _tensors = tensors;
        _names = tensors.Values.OrderBy(t => t.DataBegin).Select(t => t.Name).ToList();
        Metadata = metadata;
    }

    /// <summary>The path of the file.</summary>
    public string FilePath { get; }

    /// <summary>The header's <c>__metadata__</c> (for example <c>{"format": "pt"}</c>); empty when absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensor names, in the order their data appears in the file.</summary>
    public IReadOnlyList<string> TensorNames => _names;

    /// <summary>Every tensor's header entry, by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors => _tensors;

    /// <summary>Opens and validates a safetensors file, mapping it into memory read-only.</summary>
    /// <param name="path">The path of the <c>.safetensors</c> file.</param>
    /// <returns>The open file; dispose it to unmap.</returns>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="SafetensorsException">The file is truncated or its header is malformed or inconsistent.</exception>
    public static SafetensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        path = Path.GetFullPath(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No safetensors file at '{path}'.", path);
        // Open through a stream so symlinks (the hub cache's snapshot entries) are followed for the length too.
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long fileLength = stream.Length;
        if (fileLength < 8)
        {
            stream.Dispose();
            throw new SafetensorsException(path, $"the file is {fileLength} bytes, too short to be a safetensors file (the header length alone takes 8 bytes); it is probably truncated.");
        }

        MemoryMappedFile mmf;
        try
        {
            mmf = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            view = mmf.CreateViewAccessor(0, fileLength, MemoryMappedFileAccess.Read);
            byte* ptr = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            acquired = true;
            ptr += view.PointerOffset;

            ulong headerLength = BitConverter.IsLittleEndian ? *(ulong*)ptr : System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(*(ulong*)ptr);
            if (headerLength > (ulong)(fileLength - 8))
                throw new SafetensorsException(path, $"the header length ({headerLength} bytes) runs past the end of the file ({fileLength} bytes); the file is truncated or not a safetensors file.");
            if (headerLength > MaxHeaderLength)
                throw new SafetensorsException(path, $"the header length ({headerLength} bytes) is larger than the {MaxHeaderLength}-byte limit.");
            long dataStart = 8 + (long)headerLength;
            var header = new ReadOnlySpan<byte>(ptr + 8, (int)headerLength);
            var (tensors, metadata) = ParseHeader(path, header, fileLength - dataStart);
            var file = new SafetensorsFile(path, mmf, view, ptr, dataStart, tensors, metadata);
            return file;
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            mmf.Dispose();
            throw;
        }
    }

    private static (Dictionary<string, SafetensorsTensorInfo>, IReadOnlyDictionary<string, string>) ParseHeader(string path, ReadOnlySpan<byte> header, long dataLength)
    {
        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw new SafetensorsException(path, "the JSON header is not valid UTF-8.");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header.ToArray());
        }
        catch (JsonException ex)
        {
            throw new SafetensorsException(path, $"the JSON header is malformed: {ex.Message}", ex);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafetensorsException(path, "the JSON header must be an object of tensor entries.");
            var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object)
                        throw new SafetensorsException(path, "__metadata__ must be an object of strings.");
                    foreach (var m in p.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new SafetensorsException(path, $"__metadata__ value '{m.Name}' must be a string.");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                if (tensors.ContainsKey(p.Name)) throw new SafetensorsException(path, $"tensor '{p.Name}' appears twice in the header.");
                tensors[p.Name] = ParseEntry(path, p.Name, p.Value);
            }
            long expected = 0;
            foreach (var t in tensors.Values.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd))
            {
                if (t.DataBegin < expected)
                    throw new SafetensorsException(path, $"tensor '{t.Name}' data_offsets [{t.DataBegin}, {t.DataEnd}] overlap the previous tensor (which ends at {expected}).");
                if (t.DataBegin > expected)
                    throw new SafetensorsException(path, $"tensor '{t.Name}' data_offsets [{t.DataBegin}, {t.DataEnd}] leave a gap after byte {expected}; tensor data must be contiguous.");
                expected = t.DataEnd;
            }
            if (expected > dataLength)
                throw new SafetensorsException(path, $"the tensors need {expected} bytes of data but the file holds only {dataLength} after the header; the file is truncated (an interrupted download?).");
            if (expected < dataLength)
                throw new SafetensorsException(path, $"the file holds {dataLength} bytes of data after the header but the tensors account for only {expected}.");
            return (tensors, metadata);
        }
    }

    private static SafetensorsTensorInfo ParseEntry(string path, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new SafetensorsException(path, $"tensor '{name}' must be an object with dtype, shape and data_offsets.");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new SafetensorsException(path, $"tensor '{name}' has no dtype.");
        string dtype = dt.GetString()!;
        if (dtype.Length == 0 || !SafetensorsDTypes.TryParse(dtype, out var dtypeValue))
            throw new SafetensorsException(path, $"tensor '{name}' has unknown dtype '{dtype}'.");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new SafetensorsException(path, $"tensor '{name}' has no shape array.");
        var shape = new List<long>();
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long n) || n < 0)
                throw new SafetensorsException(path, $"tensor '{name}' has an invalid shape {sh.GetRawText()}.");
            shape.Add(n);
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new SafetensorsException(path, $"tensor '{name}' has invalid data_offsets (need [begin, end] with 0 <= begin <= end).");
        var info = new SafetensorsTensorInfo(name, dtypeValue, shape, begin, end);
        long needed;
        try
        {
            needed = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * SafetensorsDTypes.SizeOf(dtypeValue));
        }
        catch (OverflowException)
        {
            throw new SafetensorsException(path, $"tensor '{name}' shape {sh.GetRawText()} is too large.");
        }
        if (needed != end - begin)
            throw new SafetensorsException(path, $"tensor '{name}' has {end - begin} bytes of data but dtype {dtype} × shape [{string.Join(", ", shape)}] needs {needed}.");
        return info;
    }

    /// <summary>Whether the file holds a tensor of this name.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>True when present.</returns>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>A tensor's header entry.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>Its dtype, shape and offsets.</returns>
    /// <exception cref="SafetensorsException">No tensor has that name.</exception>
    public SafetensorsTensorInfo GetTensor(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _tensors.TryGetValue(name, out var t) ? t : throw new SafetensorsException(FilePath, $"there is no tensor named '{name}'.");
    }

    /// <summary>A tensor's raw little-endian bytes, straight from the mapped file (no copy).</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>The bytes; valid until this file is disposed.</returns>
    /// <exception cref="SafetensorsException">No tensor has that name.</exception>
    /// <exception cref="NotSupportedException">The tensor is 2 GiB or larger; read it in pieces with <see cref="GetBytes(string, long, int)"/>.</exception>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        var t = GetTensor(name);
        if (t.ByteLength > int.MaxValue)
            throw new NotSupportedException($"Tensor '{name}' is {t.ByteLength} bytes, too large for one span; read it in pieces with GetBytes(name, offset, length).");
        return GetBytes(name, 0, (int)t.ByteLength);
    }

    /// <summary>A slice of a tensor's raw bytes, straight from the mapped file (no copy).</summary>
    /// <param name="name">The tensor name.</param>
    /// <param name="byteOffset">Where to start, in bytes from the start of the tensor.</param>
    /// <param name="length">How many bytes.</param>
    /// <returns>The bytes; valid until this file is disposed.</returns>
    public ReadOnlySpan<byte> GetBytes(string name, long byteOffset, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var t = GetTensor(name);
        ArgumentOutOfRangeException.ThrowIfNegative(byteOffset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (byteOffset + length > t.ByteLength)
            throw new ArgumentOutOfRangeException(nameof(length), $"Bytes [{byteOffset}, {byteOffset + length}) are outside tensor '{name}' ({t.ByteLength} bytes).");
        return new ReadOnlySpan<byte>(_base + _dataStart + t.DataBegin + byteOffset, length);
    }

    /// <summary>Where a tensor's bytes start in the file, for reading them with file reads instead of through the map.</summary>
    internal long FileOffsetOf(string name) => _dataStart + GetTensor(name).DataBegin;

    /// <summary>Reads a floating-point tensor (F32, F16, BF16, F64) as float32, into a new array.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>The values, row-major.</returns>
    /// <exception cref="SafetensorsException">No tensor has that name.</exception>
    /// <exception cref="NotSupportedException">The tensor is not a floating-point type.</exception>
    public float[] ReadAsFloat32(string name)
    {
        var t = GetTensor(name);
        if (t.ElementCount > Array.MaxLength) throw new NotSupportedException($"Tensor '{name}' has {t.ElementCount} elements, more than one array can hold.");
        var result = GC.AllocateUninitializedArray<float>((int)t.ElementCount);
        ReadAsFloat32(name, result);
        return result;
    }

    /// <summary>Reads a floating-point tensor (F32, F16, BF16, F64) as float32 into the caller's buffer.</summary>
    /// <param name="name">The tensor name.</param>
    /// <param name="destination">Where to write; must hold exactly the tensor's element count.</param>
    /// <exception cref="ArgumentException">The destination's length differs from the element count.</exception>
    /// <exception cref="NotSupportedException">The tensor is not a floating-point type.</exception>
    public void ReadAsFloat32(string name, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var t = GetTensor(name);
        if (destination.Length != t.ElementCount)
            throw new ArgumentException($"Tensor '{name}' has {t.ElementCount} elements but the destination holds {destination.Length}.", nameof(destination));
        byte* p = _base + _dataStart + t.DataBegin;
        int n = destination.Length;
        switch (t.DType)
        {
            case SafetensorsDType.F32:
                new ReadOnlySpan<float>(p, n).CopyTo(destination);
                break;
            case SafetensorsDType.F16:
            case SafetensorsDType.BF16:
                {
                    bool f16 = t.DType == SafetensorsDType.F16;
                    if (n < ParallelThreshold || Environment.ProcessorCount == 1)
                    {
                        if (f16) HalfConversion.F16ToFloat(new ReadOnlySpan<ushort>(p, n), destination);
                        else HalfConversion.Bf16ToFloat(new ReadOnlySpan<ushort>(p, n), destination);
                        break;
                    }
                    // Large tensors: convert slices on all cores (spans cannot cross into the lambda, pointers can).
                    fixed (float* dstPtr = destination)
                    {
                        ushort* srcAddr = (ushort*)p;
                        float* dstAddr = dstPtr;
                        int chunks = (n + ParallelChunk - 1) / ParallelChunk;
                        Parallel.For(0, chunks, c =>
                        {
                            int start = c * ParallelChunk, count = Math.Min(ParallelChunk, n - start);
                            var src = new ReadOnlySpan<ushort>(srcAddr + start, count);
                            var dst = new Span<float>(dstAddr + start, count);
                            if (f16) HalfConversion.F16ToFloat(src, dst);
                            else HalfConversion.Bf16ToFloat(src, dst);
                        });
                    }
                    break;
                }
            case SafetensorsDType.F64:
                {
                    var src = new ReadOnlySpan<double>(p, n);
                    for (int i = 0; i < n; i++) destination[i] = (float)src[i];
                    break;
                }
            default:
                throw new NotSupportedException($"Tensor '{name}' is {t.DType}; only F32, F16, BF16 and F64 tensors convert to float32. Read its raw bytes with GetBytes.");
        }
    }

    /// <summary>Unmaps the file. Spans handed out earlier must not be used afterwards.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view?.SafeMemoryMappedViewHandle.ReleasePointer();
        _view?.Dispose();
        _mmf?.Dispose();
    }
}
