namespace LmWrapper.HuggingFace.Safetensors;

/// <summary>The element types a safetensors file can hold (the header's <c>dtype</c> strings).</summary>
public enum SafetensorsDType
{
    /// <summary>Boolean, one byte.</summary>
    BOOL,

    /// <summary>Unsigned 8-bit integer.</summary>
    U8,

    /// <summary>Signed 8-bit integer.</summary>
    I8,

    /// <summary>8-bit float, 5 exponent bits and 2 mantissa bits.</summary>
    F8_E5M2,

    /// <summary>8-bit float, 4 exponent bits and 3 mantissa bits.</summary>
    F8_E4M3,

    /// <summary>Signed 16-bit integer.</summary>
    I16,

    /// <summary>Unsigned 16-bit integer.</summary>
    U16,

    /// <summary>IEEE 754 half-precision float.</summary>
    F16,

    /// <summary>bfloat16: the upper 16 bits of a float32.</summary>
    BF16,

    /// <summary>Signed 32-bit integer.</summary>
    I32,

    /// <summary>Unsigned 32-bit integer.</summary>
    U32,

    /// <summary>IEEE 754 single-precision float.</summary>
    F32,

    /// <summary>IEEE 754 double-precision float.</summary>
    F64,

    /// <summary>Signed 64-bit integer.</summary>
    I64,

    /// <summary>Unsigned 64-bit integer.</summary>
    U64,
}
