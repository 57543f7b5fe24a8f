using System.Text;

namespace LmWrapper.HuggingFace.Tokenization;

/// <summary>
/// A piece of (possibly normalized) text with, when offsets are tracked, the original-text range
/// each of its UTF-16 chars came from. Without tracking the alignment arrays are null and every
/// transformation only builds the new text.
/// </summary>
internal sealed class NormalizedString
{
    public NormalizedString(string text, int[]? starts, int[]? ends, bool atOriginalStart)
    {
        Text = text;
        Starts = starts;
        Ends = ends;
        AtOriginalStart = atOriginalStart;
    }

    public string Text { get; }

    public int[]? Starts { get; }

    public int[]? Ends { get; }

    /// <summary>Whether this piece begins at offset 0 of the original input (Metaspace's "first" scheme).</summary>
    public bool AtOriginalStart { get; }

    public bool Tracking => Starts is not null;

    public int Length => Text.Length;

    public static NormalizedString FromOriginal(string original, int start, int end, bool track)
    {
        string text = start == 0 && end == original.Length ? original : original.Substring(start, end - start);
        if (!track)
        {
            return new NormalizedString(text, null, null, start == 0);
        }

        var starts = new int[text.Length];
        var ends = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            int o = start + i;
            // A surrogate pair maps both halves to the whole code point.
            if (char.IsHighSurrogate(original[o]) && o + 1 < end && char.IsLowSurrogate(original[o + 1]))
            {
                starts[i] = o;
                ends[i] = o + 2;
                starts[i + 1] = o;
                ends[i + 1] = o + 2;
                i++;
                continue;
            }

            starts[i] = o;
            ends[i] = o + 1;
        }

        return new NormalizedString(text, starts, ends, start == 0);
    }

    public NormalizedString Slice(int start, int end)
    {
        if (start == 0 && end == Text.Length)
        {
            return this;
        }

        string text = Text.Substring(start, end - start);
        return new NormalizedString(
            text,
            Starts?[start..end],
            Ends?[start..end],
            AtOriginalStart && start == 0);
    }

    /// <summary>The original range covered by chars [start, end) of this piece (empty ranges sit at the next char).</summary>
    public (int Start, int End) OriginalRange(int start, int end)
    {
        if (Starts is null || Ends is null)
        {
            return (0, 0);
        }

        if (Starts.Length == 0)
        {
            return (0, 0);
        }

        if (start >= end)
        {
            int at = start < Starts.Length ? Starts[start] : Ends[^1];
            return (at, at);
        }

        int s = int.MaxValue, e = int.MinValue;
        for (int i = start; i < end; i++)
        {
            s = Math.Min(s, Starts[i]);
            e = Math.Max(e, Ends[i]);
        }

        return (s, e);
    }
}

/// <summary>Builds a new <see cref="NormalizedString"/> char by char, carrying alignments when tracked.</summary>
internal sealed class NormalizedBuilder
{
    private readonly StringBuilder _text;
    private readonly List<int>? _starts;
    private readonly List<int>? _ends;

    public NormalizedBuilder(int capacity, bool track)
    {
        _text = new StringBuilder(capacity);
        if (track)
        {
            _starts = new List<int>(capacity);
            _ends = new List<int>(capacity);
        }
    }

    public int Length => _text.Length;

    public void Append(char c, int originalStart, int originalEnd)
    {
        _text.Append(c);
        _starts?.Add(originalStart);
        _ends?.Add(originalEnd);
    }

    public void Append(ReadOnlySpan<char> s, int originalStart, int originalEnd)
    {
        _text.Append(s);
        if (_starts is not null)
        {
            for (int i = 0; i < s.Length; i++)
            {
                _starts.Add(originalStart);
                _ends!.Add(originalEnd);
            }
        }
    }

    /// <summary>Copies chars [start, end) of a source piece with their own alignments.</summary>
    public void Copy(NormalizedString source, int start, int end)
    {
        _text.Append(source.Text.AsSpan(start, end - start));
        if (_starts is not null)
        {
            for (int i = start; i < end; i++)
            {
                _starts.Add(source.Starts![i]);
                _ends!.Add(source.Ends![i]);
            }
        }
    }

    public NormalizedString Build(bool atOriginalStart) =>
        new(_text.ToString(), _starts?.ToArray(), _ends?.ToArray(), atOriginalStart);
}
