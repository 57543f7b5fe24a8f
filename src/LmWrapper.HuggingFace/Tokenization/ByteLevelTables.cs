namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>GPT-2's reversible byte ↔ printable-char table used by byte-level BPE.</summary>
internal static class ByteLevelTables
{
    /// <summary>The char standing for each byte.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    /// <summary>The byte each char stands for, or -1 (indexed by char, covering U+0000..U+0143).</summary>
    public static readonly short[] CharToByte = BuildCharToByte();

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var assigned = new bool[256];
        for (int b = '!'; b <= '~'; b++)
        {
            assigned[b] = true;
        }

        for (int b = 0xA1; b <= 0xAC; b++)
        {
            assigned[b] = true;
        }

        for (int b = 0xAE; b <= 0xFF; b++)
        {
            assigned[b] = true;
        }

        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            if (assigned[b])
            {
                map[b] = (char)b;
            }
            else
            {
                map[b] = (char)(256 + n);
                n++;
            }
        }

        return map;
    }

    private static short[] BuildCharToByte()
    {
        var table = new short[512];
        Array.Fill(table, (short)-1);
        for (int b = 0; b < 256; b++)
        {
            table[ByteToChar[b]] = (short)b;
        }

        return table;
    }

    /// <summary>Maps a byte-level token string back to bytes; false when a char is not a byte char.</summary>
    public static bool TryMapToBytes(string token, List<byte> output)
    {
        int start = output.Count;
        foreach (char c in token)
        {
            int b = c < CharToByte.Length ? CharToByte[c] : -1;
            if (b < 0)
            {
                output.RemoveRange(start, output.Count - start);
                return false;
            }

            output.Add((byte)b);
        }

        return true;
    }
}
