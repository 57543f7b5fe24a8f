using System.Collections.Immutable;

namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// One level of the JSON parser's stack: an immutable value-in-progress whose <see cref="Parent"/> is the container
/// waiting for it. A whole parser state is a top frame (the chain below it is shared between states), so stepping a
/// byte never copies the stack, and one state can fork into several (anyOf alternatives, enum literals).
/// </summary>
internal abstract class JsonFrame(JsonFrame? parent, int continuation, JsonSettings settings)
{
    /// <summary>The container waiting for this frame's value (in its "waiting for a value" phase); null for the root.</summary>
    public JsonFrame? Parent { get; } = parent;

    /// <summary>The fewest bytes needed after this frame's value is complete to finish the whole document.</summary>
    public int Continuation { get; } = continuation;

    public JsonSettings Settings { get; } = settings;

    /// <summary>The fewest bytes to finish this frame's own value.</summary>
    public abstract int OwnCost { get; }

    private int _closeCost = -1;

    /// <summary>The fewest bytes to finish the whole document from here (<see cref="JsonSchemaNode.Impossible"/> when it cannot be).</summary>
    public int CloseCost => _closeCost >= 0 ? _closeCost : _closeCost = JsonSchemaNode.Add(OwnCost, Continuation);

    /// <summary>Whether the document is complete here (it may still go on, as a top-level number can).</summary>
    public virtual bool IsComplete => false;

    /// <summary>Whether no further byte is acceptable (the document is complete and closed).</summary>
    public virtual bool IsFinal => false;

    /// <summary>
    /// For the string fast path: when every plain-content token (whole UTF-8 characters, no quote, backslash or control
    /// character) of at most this many code points is allowed here within a budget of <paramref name="budget"/> bytes
    /// to close the document afterwards; -1 when this frame does not know (then tokens are checked one by one).
    /// </summary>
    public virtual int PlainRoom(int budget) => -1;

    /// <summary>Adds the states after <paramref name="b"/> (none when the byte is not allowed).</summary>
    public abstract void Step(byte b, List<JsonFrame> output);

    /// <summary>Whether <paramref name="other"/> is the same parser state (same kind, fields and parent object).</summary>
    public abstract bool SameAs(JsonFrame other);

    /// <summary>For a container waiting for a value: itself once that value is complete.</summary>
    public virtual JsonFrame AfterChild() => throw new InvalidOperationException("Not a waiting container.");

    /// <summary>For a container waiting for a value: the fewest bytes after the value to finish the document.</summary>
    public virtual int AfterChildCost() => throw new InvalidOperationException("Not a waiting container.");

    protected static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t';

    /// <summary>Adds <paramref name="frame"/> when the document can still be finished from it.</summary>
    protected static void Emit(JsonFrame frame, List<JsonFrame> output)
    {
        if (frame.CloseCost >= JsonSchemaNode.Impossible)
        {
            return;
        }

        foreach (var existing in output)
        {
            if (ReferenceEquals(existing, frame) || existing.SameAs(frame))
            {
                return;
            }
        }

        output.Add(frame);
    }

    /// <summary>The states after the first byte <paramref name="b"/> of a value matching <paramref name="schema"/>, whose container <paramref name="waiting"/> waits for it.</summary>
    public static void StartValue(JsonSchemaNode schema, JsonFrame waiting, byte b, List<JsonFrame> output)
    {
        if (schema.AnyOf is { } alternatives)
        {
            foreach (var a in alternatives)
            {
                StartValue(a, waiting, b, output);
            }

            return;
        }

        var settings = waiting.Settings;
        if (schema.Literals is { } literals)
        {
            List<byte[]>? matching = null;
            foreach (var l in literals)
            {
                if (l[0] == b)
                {
                    if (l.Length == 1)
                    {
                        Emit(waiting.AfterChild(), output);
                    }
                    else
                    {
                        (matching ??= []).Add(l);
                    }
                }
            }

            if (matching is not null)
            {
                Emit(new JsonLiteralFrame(waiting, waiting.AfterChildCost(), settings, [.. matching], 1), output);
            }

            return;
        }

        var types = schema.Types;
        switch (b)
        {
            case (byte)'{' when (types & JsonTypes.Object) != 0:
                Emit(new JsonObjectFrame(waiting, waiting.AfterChildCost(), settings, schema, JsonObjectFrame.Phase.AfterOpen, 0, 0, ImmutableArray<byte[]>.Empty, 0, null), output);
                break;
            case (byte)'[' when (types & JsonTypes.Array) != 0 && schema.MinItems <= schema.MaxItems:
                Emit(new JsonArrayFrame(waiting, waiting.AfterChildCost(), settings, schema, JsonArrayFrame.Phase.AfterOpen, 0, 0), output);
                break;
            case (byte)'"' when (types & JsonTypes.String) != 0 && schema.Format is { } format:
                Emit(new JsonFormatFrame(waiting, waiting.AfterChildCost(), settings, format, 0, format.AllTemplates), output);
                break;
            case (byte)'"' when (types & JsonTypes.String) != 0 && schema.MinLength <= schema.MaxLength:
                Emit(new JsonStringFrame(waiting, waiting.AfterChildCost(), settings, schema.MinLength, schema.MaxLength, 0, 0, 0, 0, 0), output);
                break;
            case (byte)'-' or (>= (byte)'0' and <= (byte)'9') when (types & (JsonTypes.Number | JsonTypes.Integer)) != 0:
                var phase = b == '-' ? JsonNumberFrame.Phase.Minus : b == '0' ? JsonNumberFrame.Phase.Zero : JsonNumberFrame.Phase.Int;
                Emit(new JsonNumberFrame(waiting, waiting.AfterChildCost(), settings, (types & JsonTypes.Number) == 0, phase, 1), output);
                break;
            case (byte)'t' when (types & JsonTypes.Boolean) != 0:
                Emit(new JsonLiteralFrame(waiting, waiting.AfterChildCost(), settings, [JsonLiteralFrame.True], 1), output);
                break;
            case (byte)'f' when (types & JsonTypes.Boolean) != 0:
                Emit(new JsonLiteralFrame(waiting, waiting.AfterChildCost(), settings, [JsonLiteralFrame.False], 1), output);
                break;
            case (byte)'n' when (types & JsonTypes.Null) != 0:
                Emit(new JsonLiteralFrame(waiting, waiting.AfterChildCost(), settings, [JsonLiteralFrame.Null], 1), output);
                break;
        }
    }
}

/// <summary>Limits that keep generation finite.</summary>
/// <param name="MaxWhitespace">The most whitespace bytes in a row between tokens of the document (0: compact JSON only).</param>
/// <param name="MaxNumberLength">The most bytes in one number.</param>
internal sealed record JsonSettings(int MaxWhitespace = 4, int MaxNumberLength = 16);

/// <summary>The bottom of the stack: optional leading whitespace, one value, then the end.</summary>
internal sealed class JsonRootFrame(JsonSchemaNode schema, JsonSettings settings, bool done, int whitespace) : JsonFrame(null, 0, settings)
{
    public override int OwnCost => done ? 0 : schema.MinCost;

    public override bool IsComplete => done;

    public override bool IsFinal => done;

    public override void Step(byte b, List<JsonFrame> output)
    {
        if (done)
        {
            return;
        }

        if (IsWhitespace(b))
        {
            if (whitespace < Settings.MaxWhitespace)
            {
                output.Add(new JsonRootFrame(schema, Settings, false, whitespace + 1));
            }

            return;
        }

        StartValue(schema, this, b, output);
    }

    private JsonFrame? _after;

    public override JsonFrame AfterChild() => _after ??= new JsonRootFrame(schema, Settings, true, 0);

    public override bool SameAs(JsonFrame other) => other is JsonRootFrame o && o.Key == Key;

    private (JsonSchemaNode, bool, int) Key => (schema, done, whitespace);

    public override int AfterChildCost() => 0;
}

/// <summary>An object in progress.</summary>
internal sealed class JsonObjectFrame(
    JsonFrame? parent, int continuation, JsonSettings settings, JsonSchemaNode schema, JsonObjectFrame.Phase phase,
    ulong seen, int count, ImmutableArray<byte[]> freeKeys, int whitespace, JsonSchemaNode? member)
    : JsonFrame(parent, continuation, settings)
{
    public enum Phase
    {
        /// <summary>After "{": a key or "}".</summary>
        AfterOpen,

        /// <summary>After a key: ":".</summary>
        AfterKey,

        /// <summary>After ":": the value.</summary>
        AfterColon,

        /// <summary>Waiting for the member's value (a child frame is on top).</summary>
        InValue,

        /// <summary>After a value: "," or "}".</summary>
        AfterValue,

        /// <summary>After ",": a key.</summary>
        AfterComma,
    }

    public JsonSchemaNode Schema => schema;

    public ulong Seen => seen;

    public int Count => count;

    public ImmutableArray<byte[]> FreeKeys => freeKeys;

    public override int OwnCost => phase switch
    {
        Phase.AfterOpen => schema.ObjectCloseCost(seen, 0),
        Phase.AfterKey => JsonSchemaNode.Add(1, ValueThenClose()),
        Phase.AfterColon or Phase.InValue => ValueThenClose(),
        Phase.AfterValue => schema.ObjectCloseCost(seen, count),
        _ => KeyThenClose(),
    };

    public override void Step(byte b, List<JsonFrame> output)
    {
        if (IsWhitespace(b) && phase != Phase.InValue)
        {
            if (whitespace < Settings.MaxWhitespace)
            {
                Emit(With(phase, whitespace + 1), output);
            }

            return;
        }

        switch (phase)
        {
            case Phase.AfterOpen when b == '}':
            case Phase.AfterValue when b == '}':
                if ((schema.RequiredMask & ~seen) == 0)
                {
                    Emit(Parent!.AfterChild(), output);
                }

                break;
            case Phase.AfterOpen or Phase.AfterComma when b == '"':
                Emit(new JsonKeyFrame(this, Continuation, Settings, [], 0, 0, 0, schema.AllPropertiesMask), output);
                break;
            case Phase.AfterKey when b == ':':
                Emit(With(Phase.AfterColon, 0), output);
                break;
            case Phase.AfterColon:
                StartValue(member!, With(Phase.InValue, 0), b, output);
                break;
            case Phase.AfterValue when b == ',':
                Emit(With(Phase.AfterComma, 0), output);
                break;
        }
    }

    /// <summary>This object once a key has been read: <paramref name="index"/> a known property, or -1 with <paramref name="freeKey"/>.</summary>
    public JsonObjectFrame WithKey(int index, byte[]? freeKey)
    {
        var memberSchema = index >= 0 ? schema.Properties[index].Schema : schema.AdditionalProperties!;
        return new JsonObjectFrame(
            Parent, Continuation, Settings, schema, Phase.AfterKey, index >= 0 ? seen | (1UL << index) : seen, count,
            freeKey is null ? freeKeys : freeKeys.Add(freeKey), 0, memberSchema);
    }

    private JsonFrame? _after;

    private int _freeClose = -1;

    public override JsonFrame AfterChild() => _after ??= new JsonObjectFrame(Parent, Continuation, Settings, schema, Phase.AfterValue, seen, count + 1, freeKeys, 0, null);

    public override bool SameAs(JsonFrame other) => other is JsonObjectFrame o && ReferenceEquals(o.Parent, Parent) && o.Key == Key;

    private (JsonSchemaNode, Phase, ulong, int, ImmutableArray<byte[]>, int, JsonSchemaNode?) Key => (schema, phase, seen, count, freeKeys, whitespace, member);

    public override int AfterChildCost() => JsonSchemaNode.Add(schema.ObjectCloseCost(seen, count + 1), Continuation);

    /// <summary>Whether <paramref name="name"/> was already used as a name not in the schema's properties.</summary>
    public bool FreeKeyUsed(ReadOnlySpan<byte> name)
    {
        foreach (var k in freeKeys)
        {
            if (name.SequenceEqual(k))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The fewest bytes to close after a value under a name not in the schema's properties.</summary>
    public int FreeCloseCost => _freeClose >= 0 ? _freeClose : _freeClose = schema.ObjectCloseCost(seen, count + 1);

    /// <summary>
    /// The fewest bytes for a key's rest (after <paramref name="typed"/> of it, which begins the known names in
    /// <paramref name="candidates"/>), its closing quote, the colon, its value and the object's close.
    /// </summary>
    public int KeyCost(ReadOnlySpan<byte> typed, ulong candidates)
    {
        int best = JsonSchemaNode.Impossible;
        bool usedKnown = false;
        for (ulong rest = candidates; rest != 0; rest &= rest - 1)
        {
            int i = System.Numerics.BitOperations.TrailingZeroCount(rest);
            var (name, memberSchema) = schema.Properties[i];
            if ((seen & (1UL << i)) != 0)
            {
                usedKnown |= name.Length == typed.Length;
                continue;
            }

            int c = JsonSchemaNode.Add(name.Length - typed.Length + 2, memberSchema.MinCost);
            best = Math.Min(best, JsonSchemaNode.Add(c, schema.ObjectCloseCost(seen | (1UL << i), count + 1)));
        }

        if (schema.AdditionalProperties is { } additional)
        {
            // A name already used needs at least one more byte.
            bool used = usedKnown || (!freeKeys.IsEmpty && FreeKeyUsed(typed));
            int c = JsonSchemaNode.Add(used ? 3 : 2, additional.MinCost);
            best = Math.Min(best, JsonSchemaNode.Add(c, FreeCloseCost));
        }

        return best;
    }

    private int ValueThenClose() => JsonSchemaNode.Add(member!.MinCost, schema.ObjectCloseCost(seen, count + 1));

    private int KeyThenClose() => JsonSchemaNode.Add(1, KeyCost([], schema.AllPropertiesMask));

    private JsonObjectFrame With(Phase p, int ws) => new(Parent, Continuation, Settings, schema, p, seen, count, freeKeys, ws, member);
}

/// <summary>
/// An object key in progress (after its opening quote): one of the object's known properties not yet given, or, when
/// the schema allows other members, any other name (without escapes) not already used. <c>candidates</c> marks the
/// known names (given or not) that begin with the bytes typed so far.
/// </summary>
internal sealed class JsonKeyFrame(JsonObjectFrame owner, int continuation, JsonSettings settings, byte[] typed, int pending, byte low, byte high, ulong candidates)
    : JsonFrame(owner, continuation, settings)
{
    public override int OwnCost => JsonSchemaNode.Add(owner.KeyCost(typed, candidates), pending);

    // A free name: any plain content goes; after it the cost is at most that of a free (possibly used) name.
    public override int PlainRoom(int budget) =>
        pending == 0 && owner.Schema.AdditionalProperties is { } additional
        && JsonSchemaNode.Add(JsonSchemaNode.Add(3, additional.MinCost), JsonSchemaNode.Add(owner.FreeCloseCost, Continuation)) <= budget
            ? int.MaxValue : -1;

    /// <summary>Whether no name outside the schema's properties could fit the budget (then only known names are worth walking).</summary>
    public bool FreeNameTooDear(int budget) =>
        pending == 0 && (owner.Schema.AdditionalProperties is not { } additional
            || JsonSchemaNode.Add(JsonSchemaNode.Add(2, additional.MinCost), JsonSchemaNode.Add(owner.FreeCloseCost, Continuation)) > budget);

    /// <summary>Whether the bytes typed so far begin a known name not yet given.</summary>
    public bool OnKnownName => (candidates & ~owner.Seen) != 0;

    public override bool SameAs(JsonFrame other) => other is JsonKeyFrame o && ReferenceEquals(o.Parent, Parent) && o.Key.Item1.AsSpan().SequenceEqual(typed) && o.Key.Item2 == (pending, low, high);

    private (byte[], (int, byte, byte)) Key => (typed, (pending, low, high));

    public override void Step(byte b, List<JsonFrame> output)
    {
        var schema = owner.Schema;
        if (pending == 0 && b == '"')
        {
            for (ulong rest = candidates; rest != 0; rest &= rest - 1)
            {
                int i = System.Numerics.BitOperations.TrailingZeroCount(rest);
                if (schema.Properties[i].Name.Length == typed.Length)
                {
                    // A known name: once only.
                    if ((owner.Seen & (1UL << i)) == 0)
                    {
                        Emit(owner.WithKey(i, null), output);
                    }

                    return;
                }
            }

            if (schema.AdditionalProperties is not null && !owner.FreeKeyUsed(typed))
            {
                Emit(owner.WithKey(-1, typed), output);
            }

            return;
        }

        int at = typed.Length;
        ulong next = 0;
        for (ulong rest = candidates; rest != 0; rest &= rest - 1)
        {
            int i = System.Numerics.BitOperations.TrailingZeroCount(rest);
            var name = schema.Properties[i].Name;
            if (name.Length > at && name[at] == b)
            {
                next |= 1UL << i;
            }
        }

        if (schema.AdditionalProperties is null && (next & ~owner.Seen) == 0)
        {
            // Known names only, and no name not yet given begins this way.
            return;
        }

        if (pending > 0)
        {
            if (b >= low && b <= high)
            {
                Emit(new JsonKeyFrame(owner, Continuation, Settings, [.. typed, b], pending - 1, 0x80, 0xBF, next), output);
            }

            return;
        }

        if (b < 0x20 || b == '\\' || b == '"')
        {
            return;
        }

        if (b < 0x80)
        {
            Emit(new JsonKeyFrame(owner, Continuation, Settings, [.. typed, b], 0, 0, 0, next), output);
        }
        else if (Utf8.Lead(b, out int more, out byte lo, out byte hi))
        {
            Emit(new JsonKeyFrame(owner, Continuation, Settings, [.. typed, b], more, lo, hi, next), output);
        }
    }
}

/// <summary>An array in progress.</summary>
internal sealed class JsonArrayFrame(JsonFrame? parent, int continuation, JsonSettings settings, JsonSchemaNode schema, JsonArrayFrame.Phase phase, int count, int whitespace)
    : JsonFrame(parent, continuation, settings)
{
    public enum Phase
    {
        /// <summary>After "[": an item or "]".</summary>
        AfterOpen,

        /// <summary>Waiting for an item (a child frame is on top).</summary>
        InValue,

        /// <summary>After an item: "," or "]".</summary>
        AfterValue,

        /// <summary>After ",": an item.</summary>
        AfterComma,
    }

    public override int OwnCost => phase switch
    {
        Phase.AfterOpen or Phase.AfterValue => schema.ArrayCloseCost(count),
        _ => JsonSchemaNode.Add(schema.ItemSchema(count)?.MinCost ?? JsonSchemaNode.Impossible, schema.ArrayCloseCost(count + 1)),
    };

    public override void Step(byte b, List<JsonFrame> output)
    {
        if (IsWhitespace(b) && phase != Phase.InValue)
        {
            if (whitespace < Settings.MaxWhitespace)
            {
                Emit(new JsonArrayFrame(Parent, Continuation, Settings, schema, phase, count, whitespace + 1), output);
            }

            return;
        }

        switch (phase)
        {
            case Phase.AfterOpen or Phase.AfterValue when b == ']':
                if (count >= schema.MinItems)
                {
                    Emit(Parent!.AfterChild(), output);
                }

                break;
            case Phase.AfterValue when b == ',':
                if (count < schema.MaxItems && schema.ItemSchema(count) is not null)
                {
                    Emit(new JsonArrayFrame(Parent, Continuation, Settings, schema, Phase.AfterComma, count, 0), output);
                }

                break;
            case Phase.AfterOpen or Phase.AfterComma:
                if (count < schema.MaxItems && schema.ItemSchema(count) is { } item)
                {
                    StartValue(item, new JsonArrayFrame(Parent, Continuation, Settings, schema, Phase.InValue, count, 0), b, output);
                }

                break;
        }
    }

    private JsonFrame? _after;

    public override JsonFrame AfterChild() => _after ??= new JsonArrayFrame(Parent, Continuation, Settings, schema, Phase.AfterValue, count + 1, 0);

    public override bool SameAs(JsonFrame other) => other is JsonArrayFrame o && ReferenceEquals(o.Parent, Parent) && o.Key == Key;

    private (JsonSchemaNode, Phase, int, int) Key => (schema, phase, count, whitespace);

    public override int AfterChildCost() => JsonSchemaNode.Add(schema.ArrayCloseCost(count + 1), Continuation);
}

/// <summary>
/// A string value in progress (after its opening quote): valid UTF-8 (no overlong forms, surrogates or code points
/// above U+10FFFF), escapes (\uXXXX outside the surrogate range), no control characters, and a length in code points
/// within minLength..maxLength.
/// </summary>
/// <remarks>
/// State: <c>chars</c> code points so far; <c>pending</c> UTF-8 continuation bytes still due, the next one in the range
/// <c>bounds</c> packs; <c>escape</c> 0 none, 1 after a backslash, 2..5 after "\u" and escape-2 hex digits (whose value
/// so far is <c>hexValue</c>).
/// </remarks>
internal sealed class JsonStringFrame(JsonFrame? parent, int continuation, JsonSettings settings, int minLength, int maxLength, int chars, int pending, byte bounds, int escape, int hexValue)
    : JsonFrame(parent, continuation, settings)
{
    public override int OwnCost
    {
        get
        {
            int inProgress = pending > 0 ? pending : escape == 1 ? 1 : escape >= 2 ? 6 - escape : 0;
            int done = chars + (inProgress > 0 ? 1 : 0);
            return inProgress + Math.Max(0, minLength - done) + 1;
        }
    }

    public override void Step(byte b, List<JsonFrame> output)
    {
        if (pending > 0)
        {
            // bounds packs the allowed range of this continuation byte: low nibble index into the table.
            var (lo, hi) = Utf8.Range(bounds);
            if (b >= lo && b <= hi)
            {
                Emit(Next(pending == 1 ? chars + 1 : chars, pending - 1, 0, 0, 0), output);
            }

            return;
        }

        if (escape == 1)
        {
            if (b is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t')
            {
                Emit(Next(chars + 1, 0, 0, 0, 0), output);
            }
            else if (b == 'u')
            {
                Emit(Next(chars, 0, 0, 2, 0), output);
            }

            return;
        }

        if (escape >= 2)
        {
            int digit = HexDigit(b);
            if (digit < 0)
            {
                return;
            }

            int value = (hexValue << 4) | digit;

            // No surrogates: \uD800-\uDFFF would need a pair, which this parser does not track.
            if (escape == 3 && value >= 0xD8 && value <= 0xDF)
            {
                return;
            }

            Emit(escape == 5 ? Next(chars + 1, 0, 0, 0, 0) : Next(chars, 0, 0, escape + 1, value), output);
            return;
        }

        if (b == '"')
        {
            if (chars >= minLength)
            {
                Emit(Parent!.AfterChild(), output);
            }

            return;
        }

        if (b < 0x20 || chars >= maxLength)
        {
            return;
        }

        if (b == '\\')
        {
            Emit(Next(chars, 0, 0, 1, 0), output);
        }
        else if (b < 0x80)
        {
            Emit(Next(chars + 1, 0, 0, 0, 0), output);
        }
        else if (Utf8.Lead(b, out int more, out byte lo, out byte hi))
        {
            Emit(Next(chars, more, Utf8.Pack(lo, hi), 0, 0), output);
        }
    }

    private static int HexDigit(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    // Plain content keeps the close cost or lowers it (towards minLength), so within budget now is within budget after.
    public override int PlainRoom(int budget) => pending == 0 && escape == 0 && CloseCost <= budget ? maxLength - chars : -1;

    public override bool SameAs(JsonFrame other) => other is JsonStringFrame o && ReferenceEquals(o.Parent, Parent) && o.Key == Key;

    private (int, int, int, int, byte, int, int) Key => (minLength, maxLength, chars, pending, bounds, escape, hexValue);

    private JsonStringFrame Next(int c, int p, byte bnd, int e, int h) => new(Parent, Continuation, Settings, minLength, maxLength, c, p, bnd, e, h);
}

/// <summary>A formatted string in progress (after its opening quote): <c>position</c> characters matched, by the templates in <c>alive</c>.</summary>
internal sealed class JsonFormatFrame(JsonFrame? parent, int continuation, JsonSettings settings, JsonStringFormat format, int position, ulong alive)
    : JsonFrame(parent, continuation, settings)
{
    public override int OwnCost
    {
        get
        {
            int best = JsonSchemaNode.Impossible;
            for (ulong rest = alive; rest != 0; rest &= rest - 1)
            {
                best = Math.Min(best, format.Templates[System.Numerics.BitOperations.TrailingZeroCount(rest)].Length - position + 1);
            }

            return best;
        }
    }

    public override bool SameAs(JsonFrame other) => other is JsonFormatFrame o && ReferenceEquals(o.Parent, Parent) && o.Key == Key;

    private (JsonStringFormat, int, ulong) Key => (format, position, alive);

    public override void Step(byte b, List<JsonFrame> output)
    {
        ulong next = 0;
        bool ends = false;
        for (ulong rest = alive; rest != 0; rest &= rest - 1)
        {
            int t = System.Numerics.BitOperations.TrailingZeroCount(rest);
            var template = format.Templates[t];
            if (position == template.Length)
            {
                ends |= b == '"';
            }
            else if (b < 0x80 && template[position].Contains((char)b, StringComparison.Ordinal))
            {
                next |= 1UL << t;
            }
        }

        if (ends)
        {
            Emit(Parent!.AfterChild(), output);
        }

        if (next != 0)
        {
            Emit(new JsonFormatFrame(Parent, Continuation, Settings, format, position + 1, next), output);
        }
    }
}

/// <summary>A number in progress (JSON's grammar; integers only when the schema says integer), at most a set length.</summary>
internal sealed class JsonNumberFrame(JsonFrame? parent, int continuation, JsonSettings settings, bool integerOnly, JsonNumberFrame.Phase phase, int length)
    : JsonFrame(parent, continuation, settings)
{
    public enum Phase
    {
        Minus,
        Zero,
        Int,
        Dot,
        Fraction,
        E,
        ESign,
        Exponent,
    }

    public override bool SameAs(JsonFrame other) => other is JsonNumberFrame o && ReferenceEquals(o.Parent, Parent) && o.Key == Key;

    private (bool, Phase, int) Key => (integerOnly, phase, length);

    /// <summary>Whether the number may end here.</summary>
    public bool CanEnd => phase is Phase.Zero or Phase.Int or Phase.Fraction or Phase.Exponent;

    public override int OwnCost => CanEnd ? 0 : 1;

    public override bool IsComplete => CanEnd && Parent is JsonRootFrame;

    public override void Step(byte b, List<JsonFrame> output)
    {
        bool digit = b >= '0' && b <= '9';
        bool room = length < Settings.MaxNumberLength;
        Phase? next = phase switch
        {
            Phase.Minus when digit => b == '0' ? Phase.Zero : Phase.Int,
            Phase.Int when digit => Phase.Int,
            Phase.Zero or Phase.Int when b == '.' && !integerOnly => Phase.Dot,
            Phase.Zero or Phase.Int or Phase.Fraction when (b == 'e' || b == 'E') && !integerOnly => Phase.E,
            Phase.Dot or Phase.Fraction when digit => Phase.Fraction,
            Phase.E when b == '+' || b == '-' => Phase.ESign,
            Phase.E or Phase.ESign or Phase.Exponent when digit => Phase.Exponent,
            _ => null,
        };

        if (next is Phase p)
        {
            // The last byte allowed must leave a number that can end.
            if (room && (length + 1 < Settings.MaxNumberLength || p is Phase.Zero or Phase.Int or Phase.Fraction or Phase.Exponent))
            {
                Emit(new JsonNumberFrame(Parent, Continuation, Settings, integerOnly, p, length + 1), output);
            }

            return;
        }

        if (CanEnd)
        {
            // The byte ends the number and belongs to the container.
            Parent!.AfterChild().Step(b, output);
        }
    }
}

/// <summary>One of a set of exact texts in progress: true, false, null, or enum/const values.</summary>
internal sealed class JsonLiteralFrame(JsonFrame? parent, int continuation, JsonSettings settings, byte[][] candidates, int matched)
    : JsonFrame(parent, continuation, settings)
{
    public static readonly byte[] True = "true"u8.ToArray();
    public static readonly byte[] False = "false"u8.ToArray();
    public static readonly byte[] Null = "null"u8.ToArray();

    public override bool SameAs(JsonFrame other) => other is JsonLiteralFrame o && ReferenceEquals(o.Parent, Parent) && o.Key.Item1 == matched && o.Key.Item2.AsSpan().SequenceEqual(candidates);

    private (int, byte[][]) Key => (matched, candidates);

    public override int OwnCost
    {
        get
        {
            int best = int.MaxValue;
            foreach (var c in candidates)
            {
                best = Math.Min(best, c.Length - matched);
            }

            return best;
        }
    }

    public override void Step(byte b, List<JsonFrame> output)
    {
        List<byte[]>? longer = null;
        foreach (var c in candidates)
        {
            if (c[matched] == b)
            {
                if (c.Length == matched + 1)
                {
                    Emit(Parent!.AfterChild(), output);
                }
                else
                {
                    (longer ??= []).Add(c);
                }
            }
        }

        if (longer is not null)
        {
            Emit(new JsonLiteralFrame(Parent, Continuation, Settings, longer.Count == candidates.Length ? candidates : [.. longer], matched + 1), output);
        }
    }
}

/// <summary>UTF-8 well-formedness (RFC 3629): the continuation ranges after each lead byte.</summary>
internal static class Utf8
{
    /// <summary>Whether <paramref name="b"/> starts a multi-byte character, how many continuation bytes follow, and the first one's range.</summary>
    public static bool Lead(byte b, out int more, out byte lo, out byte hi)
    {
        (more, lo, hi) = b switch
        {
            >= 0xC2 and <= 0xDF => (1, (byte)0x80, (byte)0xBF),
            0xE0 => (2, (byte)0xA0, (byte)0xBF),
            0xED => (2, (byte)0x80, (byte)0x9F),
            >= 0xE1 and <= 0xEF => (2, (byte)0x80, (byte)0xBF),
            0xF0 => (3, (byte)0x90, (byte)0xBF),
            >= 0xF1 and <= 0xF3 => (3, (byte)0x80, (byte)0xBF),
            0xF4 => (3, (byte)0x80, (byte)0x8F),
            _ => (0, (byte)0, (byte)0),
        };
        return more > 0;
    }

    /// <summary>Packs a continuation range (one of four) into a byte.</summary>
    public static byte Pack(byte lo, byte hi) => (lo, hi) switch
    {
        (0xA0, 0xBF) => 1,
        (0x80, 0x9F) => 2,
        (0x90, 0xBF) => 3,
        (0x80, 0x8F) => 4,
        _ => 0,
    };

    /// <summary>The range <see cref="Pack"/> packed.</summary>
    public static (byte Lo, byte Hi) Range(byte packed) => packed switch
    {
        1 => (0xA0, 0xBF),
        2 => (0x80, 0x9F),
        3 => (0x90, 0xBF),
        4 => (0x80, 0x8F),
        _ => (0x80, 0xBF),
    };
}
