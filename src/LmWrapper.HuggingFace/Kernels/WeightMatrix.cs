using System.Runtime.InteropServices;

namespace LmWrapper.HuggingFace.Kernels;

/// <summary>The element type of a weight matrix as the kernels read it.</summary>
internal enum WeightType
{
    /// <summary>float32.</summary>
    F32,

    /// <summary>IEEE half precision.</summary>
    F16,

    /// <summary>bfloat16.</summary>
    BF16,

    /// <summary>
    /// Signed 8-bit integers with one float32 scale per block of <see cref="WeightMatrix.Q8Block"/> values of a row
    /// (llama.cpp's Q8_0 scheme): w ≈ q × scale, |q| ≤ 127. Each row's values are stored in the kernels' interleaved order
    /// (<see cref="GemmQ8.Interleave"/>); <see cref="WeightMatrix.ReadRow"/> gives them back in column order.
    /// </summary>
    Q8,
}

/// <summary>
/// A weight matrix in the layout the kernels read: <see cref="Rows"/> output rows of <see cref="Cols"/> inputs each,
/// row-major (PyTorch's <c>nn.Linear</c> layout), in F32, F16 or BF16, either straight over a memory-mapped safetensors
/// file or over a pinned array that this object keeps alive. Never copied to float32 unless the model asks for it.
/// </summary>
internal sealed unsafe class WeightMatrix
{
    private readonly object? _owner;

    /// <summary>0 until <see cref="HalvesAreFinite"/> is first asked, then 1 (all finite) or 2 (an infinity or NaN).</summary>
    private int _halvesFinite;

    public WeightMatrix(void* data, int rows, int cols, WeightType type, object? owner = null)
    {
        Data = (byte*)data;
        Rows = rows;
        Cols = cols;
        Type = type;
        _owner = owner;
    }

    /// <summary>The first element.</summary>
    public byte* Data { get; }

    /// <summary>Output rows.</summary>
    public int Rows { get; }

    /// <summary>Inputs per row.</summary>
    public int Cols { get; }

    /// <summary>The element type.</summary>
    public WeightType Type { get; }

    /// <summary>Bytes per element.</summary>
    public int ElementSize => Type switch { WeightType.F32 => 4, WeightType.Q8 => 1, _ => 2 };

    /// <summary>The matrix's element bytes (without a quantized one's scales), as the kernels read them.</summary>
    public ReadOnlySpan<byte> Bytes => new(Data, checked((int)((long)Rows * Cols * ElementSize)));

    /// <summary>Bytes in the whole matrix (with the scales of a quantized one).</summary>
    public long ByteLength => ((long)Rows * Cols * ElementSize) + (Scales?.Length * 4L ?? 0);

    /// <summary>Values per scale of a <see cref="WeightType.Q8"/> matrix.</summary>
    public const int Q8Block = 32;

    /// <summary>A <see cref="WeightType.Q8"/> matrix's scales, [Rows, Cols / Q8Block] (pinned); null otherwise.</summary>
    public float[]? Scales { get; private init; }

    /// <summary>The first of <see cref="Scales"/> (pinned, so the kernels read it through this pointer); null otherwise.</summary>
    public float* ScaleData { get; private init; }

    /// <summary>
    /// Quantizes a float32 matrix to <see cref="WeightType.Q8"/>: per block of 32 values of a row, scale = max |w| / 127
    /// and q = round(w / scale). <paramref name="cols"/> must be a multiple of <see cref="Q8Block"/>.
    /// </summary>
    public static WeightMatrix Quantize(float[] values, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(values);
        CheckQ8Shape(rows, cols);
        if (values.Length < (long)rows * cols)
        {
            throw new ArgumentException($"{values.Length} values are fewer than [{rows}, {cols}] needs.", nameof(values));
        }

        var (q, scales) = AllocateQ8(rows, cols);
        int blocks = cols / Q8Block;
        fixed (float* pv = values)
        fixed (sbyte* pq = q)
        fixed (float* ps = scales)
        {
            float* cv = pv;
            sbyte* cq = pq;
            float* cs = ps;

            // Rows are independent: in slices on several threads for a large matrix.
            const int SliceRows = 64;
            void Slice(int i)
            {
                int r0 = i * SliceRows, n = Math.Min(SliceRows, rows - r0);
                GemmQ8.QuantizeRows(cv + ((long)r0 * cols), n, cols, cq + ((long)r0 * cols), null, cs + ((long)r0 * blocks));
            }

            int slices = (rows + SliceRows - 1) / SliceRows;
            if ((long)rows * cols >= 1 << 18 && Environment.ProcessorCount > 1)
            {
                Parallel.For(0, slices, Slice);
            }
            else
            {
                for (int i = 0; i < slices; i++)
                {
                    Slice(i);
                }
            }
        }

        return FromQ8(q, scales, rows, cols);
    }

    /// <summary>Throws unless a [rows, cols] matrix can be <see cref="WeightType.Q8"/> (whole blocks of 32 per row).</summary>
    public static void CheckQ8Shape(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (cols <= 0 || cols % Q8Block != 0)
        {
            throw new ArgumentException($"A Q8 matrix needs a multiple of {Q8Block} columns, not {cols}.", nameof(cols));
        }
    }

    /// <summary>The pinned arrays a [rows, cols] <see cref="WeightType.Q8"/> matrix needs: the values and the block scales.</summary>
    public static (sbyte[] Values, float[] Scales) AllocateQ8(int rows, int cols)
    {
        CheckQ8Shape(rows, cols);
        return (AllocatePinned<sbyte>((long)rows * cols), AllocatePinned<float>((long)rows * (cols / Q8Block)));
    }

    /// <summary>Wraps quantized values and their scales (pinned, from <see cref="AllocateQ8"/>, kept alive by the matrix).</summary>
    public static WeightMatrix FromQ8(sbyte[] values, float[] scales, int rows, int cols)
    {
        CheckQ8Shape(rows, cols);
        if (values.Length < (long)rows * cols || scales.Length < (long)rows * (cols / Q8Block))
        {
            throw new ArgumentException($"{values.Length} values and {scales.Length} scales are fewer than a [{rows}, {cols}] Q8 matrix needs.", nameof(values));
        }

        fixed (sbyte* p = values)
        fixed (float* s = scales)
        {
            return new WeightMatrix(p, rows, cols, WeightType.Q8, values) { Scales = scales, ScaleData = s };
        }
    }

    /// <summary>Wraps a float array (pinned, kept alive by the matrix).</summary>
    public static WeightMatrix FromArray(float[] pinned, int rows, int cols)
    {
        fixed (float* p = pinned)
        {
            return new WeightMatrix(p, rows, cols, WeightType.F32, pinned);
        }
    }

    /// <summary>Wraps a half-precision array (pinned, kept alive by the matrix).</summary>
    public static WeightMatrix FromArray(ushort[] pinned, int rows, int cols, WeightType type)
    {
        fixed (ushort* p = pinned)
        {
            return new WeightMatrix(p, rows, cols, type, pinned);
        }
    }

    /// <summary>Writes row <paramref name="row"/> as float32 into <paramref name="destination"/>.</summary>
    public void ReadRow(int row, Span<float> destination)
    {
        byte* p = Data + ((long)row * Cols * ElementSize);
        switch (Type)
        {
            case WeightType.F32:
                new ReadOnlySpan<float>(p, Cols).CopyTo(destination);
                break;
            case WeightType.F16:
                Safetensors.HalfConversion.F16ToFloat(new ReadOnlySpan<ushort>(p, Cols), destination);
                break;
            case WeightType.Q8:
                {
                    // The values are in the kernels' interleaved order (GemmQ8.Interleave): in a whole group of 8 blocks,
                    // step j holds values 4j..4j+3 of each block in turn; the blocks after the last group are in order.
                    sbyte* q = (sbyte*)p;
                    int blocks = Cols / Q8Block, grouped = blocks / GemmQ8.GroupBlocks * GemmQ8.GroupBlocks;
                    var scales = Scales.AsSpan((int)((long)row * blocks), blocks);
                    for (int g = 0; g < grouped; g += GemmQ8.GroupBlocks)
                    {
                        sbyte* group = q + (g * Q8Block);
                        for (int j = 0; j < 8; j++)
                        {
                            for (int i = 0; i < GemmQ8.GroupBlocks; i++)
                            {
                                int to = ((g + i) * Q8Block) + (4 * j);
                                sbyte* from = group + (j * 32) + (i * 4);
                                float scale = scales[g + i];
                                destination[to] = from[0] * scale;
                                destination[to + 1] = from[1] * scale;
                                destination[to + 2] = from[2] * scale;
                                destination[to + 3] = from[3] * scale;
                            }
                        }
                    }

                    for (int i = grouped * Q8Block; i < Cols; i++)
                    {
                        destination[i] = q[i] * scales[i / Q8Block];
                    }

                    break;
                }
            default:
                Safetensors.HalfConversion.Bf16ToFloat(new ReadOnlySpan<ushort>(p, Cols), destination);
                break;
        }
    }

    /// <summary>
    /// Whether no value of an <see cref="WeightType.F16"/> matrix is an infinity or NaN, which lets the decode kernel widen
    /// its halves with fewer instructions; scanned once, on first use (a race only scans twice), and true for other types.
    /// </summary>
    public bool HalvesAreFinite
    {
        get
        {
            if (Type != WeightType.F16)
            {
                return true;
            }

            int state = Volatile.Read(ref _halvesFinite);
            if (state == 0)
            {
                state = ScanHalves() ? 1 : 2;
                Volatile.Write(ref _halvesFinite, state);
            }

            return state == 1;
        }
    }

    private bool ScanHalves()
    {
        ushort* p = (ushort*)Data;
        long n = (long)Rows * Cols, i = 0;
        var exponent = System.Runtime.Intrinsics.Vector512.Create((ushort)0x7C00);
        for (; i + 32 <= n; i += 32)
        {
            if (System.Runtime.Intrinsics.Vector512.EqualsAny(System.Runtime.Intrinsics.Vector512.Load(p + i) & exponent, exponent))
            {
                return false;
            }
        }

        for (; i < n; i++)
        {
            if ((p[i] & 0x7C00) == 0x7C00)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Row <paramref name="row"/> as float32 without a copy (F32 matrices only).</summary>
    public ReadOnlySpan<float> RowF32(int row) => new((float*)(Data + ((long)row * Cols * 4)), Cols);

    /// <summary>Keeps the owner reachable (the pinned array behind <see cref="Data"/>).</summary>
    public object? Owner => _owner;

    /// <summary>Allocates a pinned array for a copy of a matrix.</summary>
    public static T[] AllocatePinned<T>(long length) where T : unmanaged =>
        length > Array.MaxLength
            ? throw new NotSupportedException($"A weight matrix of {length} elements is larger than one array can hold.")
            : GC.AllocateUninitializedArray<T>((int)length, pinned: true);

    /// <summary>The bytes behind a span that lives in memory the GC does not move (a mapped file or a pinned array).</summary>
    public static byte* PointerOf(ReadOnlySpan<byte> bytes) => (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetReference(bytes));
}
