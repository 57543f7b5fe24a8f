namespace LmWrapper.HuggingFace.Safetensors;

/// <summary>Facts about <see cref="SafetensorsDType"/> values.</summary>
internal static class SafetensorsDTypes
{
    public static int SizeOf(SafetensorsDType t) => t switch
    {
        SafetensorsDType.BOOL or SafetensorsDType.U8 or SafetensorsDType.I8 or SafetensorsDType.F8_E5M2 or SafetensorsDType.F8_E4M3 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        _ => 8,
    };

    public static bool TryParse(string s, out SafetensorsDType t) =>
        Enum.TryParse(s, ignoreCase: false, out t) && Enum.IsDefined(t) && !char.IsDigit(s[0]);
}
