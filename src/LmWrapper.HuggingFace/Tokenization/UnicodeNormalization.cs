using System.Buffers.Binary;
using System.Text;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>The four Unicode normalization forms.</summary>
internal enum UnicodeForm
{
    Nfc,
    Nfd,
    Nfkc,
    Nfkd,
}

/// <summary>
/// Unicode normalization (NFC, NFD, NFKC, NFKD) from tables embedded in this assembly. We do not use
/// <see cref="string.Normalize()"/>: under InvariantGlobalization it silently returns its input.
/// Text is processed in segments that start at a stable starter, so unchanged text is copied
/// as is and alignments (for offsets) stay per segment.
/// </summary>
internal static class UnicodeNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, byte> Ccc = new();
    private static readonly Dictionary<int, int[]> Nfd = new();
    private static readonly Dictionary<int, int[]> Nfkd = new();
    private static readonly Dictionary<long, int> Compositions = new();
    private static readonly HashSet<int> CompositionSeconds = new();

    // Per BMP char: bit 0 = stable under NFC, 1 = NFD, 2 = NFKC, 3 = NFKD (a segment of stable chars is unchanged).
    private static readonly byte[] StableBmp = new byte[65536];

    static UnicodeNormalization()
    {
        using var stream = typeof(UnicodeNormalization).Assembly.GetManifestResourceStream("LmWrapper.HuggingFace.Tokenization.UnicodeNormalizationData.bin")
            ?? throw new InvalidOperationException("The embedded Unicode normalization data is missing from LmWrapper.HuggingFace.");
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        ReadOnlySpan<byte> data = ms.GetBuffer().AsSpan(0, (int)ms.Length);
        int p = 0;
        int Next(ReadOnlySpan<byte> d)
        {
            int v = BinaryPrimitives.ReadInt32LittleEndian(d.Slice(p, 4));
            p += 4;
            return v;
        }

        int n = Next(data);
        for (int i = 0; i < n; i++)
        {
            int v = Next(data);
            Ccc[v >> 8] = (byte)(v & 0xFF);
        }

        foreach (var table in new[] { Nfd, Nfkd })
        {
            n = Next(data);
            for (int i = 0; i < n; i++)
            {
                int cp = Next(data);
                var seq = new int[Next(data)];
                for (int k = 0; k < seq.Length; k++)
                {
                    seq[k] = Next(data);
                }

                table[cp] = seq;
            }
        }

        n = Next(data);
        for (int i = 0; i < n; i++)
        {
            int a = Next(data), b = Next(data), c = Next(data);
            Compositions[((long)a << 32) | (uint)b] = c;
            CompositionSeconds.Add(b);
        }

        for (int c = 0; c < 65536; c++)
        {
            if (char.IsSurrogate((char)c))
            {
                continue;
            }

            byte bits = 0;
            for (int f = 0; f < 4; f++)
            {
                if (IsStable(c, (UnicodeForm)f))
                {
                    bits |= (byte)(1 << f);
                }
            }

            StableBmp[c] = bits;
        }
    }

    private static bool Compat(UnicodeForm form) => form is UnicodeForm.Nfkc or UnicodeForm.Nfkd;

    private static bool Composes(UnicodeForm form) => form is UnicodeForm.Nfc or UnicodeForm.Nfkc;

    private static int CombiningClass(int cp) => Ccc.TryGetValue(cp, out byte c) ? c : 0;

    private static bool IsHangulJamoSecond(int cp) => cp is >= VBase and < VBase + VCount or > TBase and < TBase + TCount;

    /// <summary>A code point that starts a segment and normalizes to itself when alone.</summary>
    private static bool IsStable(int cp, UnicodeForm form)
    {
        if (CombiningClass(cp) != 0 || CompositionSeconds.Contains(cp) || IsHangulJamoSecond(cp))
        {
            return false;
        }

        bool decomposes = (cp >= SBase && cp < SBase + SCount) || Nfd.ContainsKey(cp) || (Compat(form) && Nfkd.ContainsKey(cp));
        if (!decomposes)
        {
            return true;
        }

        if (!Composes(form))
        {
            return false;
        }

        // A composed char is stable under NFC/NFKC when recomposing its decomposition gives it back
        // and its decomposition starts with a starter.
        var single = new List<int>();
        Decompose(cp, form, single);
        if (CombiningClass(single[0]) != 0)
        {
            return false;
        }

        Reorder(single);
        Compose(single);
        return single.Count == 1 && single[0] == cp;
    }

    private static bool IsStableAt(ReadOnlySpan<char> s, int i, UnicodeForm form, out int length)
    {
        char c = s[i];
        if (!char.IsSurrogate(c))
        {
            length = 1;
            return (StableBmp[c] & (1 << (int)form)) != 0;
        }

        if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            length = 2;
            int cp = char.ConvertToUtf32(c, s[i + 1]);
            return !Nfd.ContainsKey(cp) && !Nfkd.ContainsKey(cp) && CombiningClass(cp) == 0 && !CompositionSeconds.Contains(cp);
        }

        length = 1;
        return true; // a lone surrogate passes through
    }

    /// <summary>Whether the text is certainly unchanged by the form (a fast scan).</summary>
    public static bool IsQuickStable(ReadOnlySpan<char> s, UnicodeForm form)
    {
        int bit = 1 << (int)form;
        // Below U+0300 nothing changes under NFC; below U+00A0 nothing changes under any form.
        char fast = form == UnicodeForm.Nfc ? '\u0300' : '\u00A0';
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c < fast)
            {
                continue;
            }

            if (!char.IsSurrogate(c))
            {
                if ((StableBmp[c] & bit) == 0)
                {
                    return false;
                }

                continue;
            }

            if (!IsStableAt(s, i, form, out int len))
            {
                return false;
            }

            i += len - 1;
        }

        return true;
    }

    /// <summary>Normalizes a string (no alignment).</summary>
    public static string Normalize(string s, UnicodeForm form)
    {
        if (IsQuickStable(s, form))
        {
            return s;
        }

        var ns = new NormalizedString(s, null, null, true);
        return Normalize(ns, form).Text;
    }

    /// <summary>Normalizes a piece, carrying alignments per segment.</summary>
    public static NormalizedString Normalize(NormalizedString input, UnicodeForm form)
    {
        string s = input.Text;
        if (IsQuickStable(s, form))
        {
            return input;
        }

        var builder = new NormalizedBuilder(s.Length + 8, input.Tracking);
        var cps = new List<int>();
        var sb = new StringBuilder();
        int i = 0;
        while (i < s.Length)
        {
            // A segment: [i, j) where j is the next stable char after i (or the end).
            int j = i;
            bool stable = IsStableAt(s, j, form, out int len);
            j += len;
            bool unchanged = stable;
            while (j < s.Length)
            {
                if (IsStableAt(s, j, form, out len))
                {
                    break;
                }

                unchanged = false;
                j += len;
            }

            if (unchanged)
            {
                builder.Copy(input, i, j);
                i = j;
                continue;
            }

            cps.Clear();
            for (int k = i; k < j;)
            {
                int cp = char.IsHighSurrogate(s[k]) && k + 1 < j && char.IsLowSurrogate(s[k + 1])
                    ? char.ConvertToUtf32(s[k], s[k + 1])
                    : s[k];
                k += cp > 0xFFFF ? 2 : 1;
                Decompose(cp, form, cps);
            }

            Reorder(cps);
            if (Composes(form))
            {
                Compose(cps);
            }

            sb.Clear();
            foreach (int cp in cps)
            {
                if (cp > 0xFFFF)
                {
                    sb.Append(char.ConvertFromUtf32(cp));
                }
                else
                {
                    sb.Append((char)cp);
                }
            }

            var (os, oe) = input.OriginalRange(i, j);
            for (int k = 0; k < sb.Length; k++)
            {
                builder.Append(sb[k], os, oe);
            }

            i = j;
        }

        return builder.Build(input.AtOriginalStart);
    }

    private static void Decompose(int cp, UnicodeForm form, List<int> output)
    {
        if (cp >= SBase && cp < SBase + SCount)
        {
            int sIndex = cp - SBase;
            output.Add(LBase + (sIndex / NCount));
            output.Add(VBase + (sIndex % NCount / TCount));
            int t = TBase + (sIndex % TCount);
            if (t != TBase)
            {
                output.Add(t);
            }

            return;
        }

        if ((Compat(form) && Nfkd.TryGetValue(cp, out var seq)) || Nfd.TryGetValue(cp, out seq))
        {
            output.AddRange(seq);
            return;
        }

        output.Add(cp);
    }

    private static void Reorder(List<int> cps)
    {
        // Stable bubble sort of each run of non-starters by combining class.
        for (int i = 1; i < cps.Count; i++)
        {
            int c = CombiningClass(cps[i]);
            if (c == 0)
            {
                continue;
            }

            int k = i;
            while (k > 0)
            {
                int prev = CombiningClass(cps[k - 1]);
                if (prev == 0 || prev <= c)
                {
                    break;
                }

                (cps[k - 1], cps[k]) = (cps[k], cps[k - 1]);
                k--;
            }
        }
    }

    private static bool TryCompose(int a, int b, out int composite)
    {
        if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount)
        {
            composite = SBase + ((((a - LBase) * VCount) + (b - VBase)) * TCount);
            return true;
        }

        if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount)
        {
            composite = a + (b - TBase);
            return true;
        }

        return Compositions.TryGetValue(((long)a << 32) | (uint)b, out composite);
    }

    private static void Compose(List<int> cps)
    {
        int starter = -1;
        int lastClass = -1; // -1: nothing kept since the starter
        int w = 0;
        for (int r = 0; r < cps.Count; r++)
        {
            int cp = cps[r];
            int cc = CombiningClass(cp);
            if (starter >= 0 && (lastClass == -1 || (lastClass != 0 && lastClass < cc)) && TryCompose(cps[starter], cp, out int composite))
            {
                cps[starter] = composite;
                continue;
            }

            if (cc == 0)
            {
                starter = w;
                lastClass = -1;
            }
            else
            {
                lastClass = cc;
            }

            cps[w++] = cp;
        }

        cps.RemoveRange(w, cps.Count - w);
    }
}
