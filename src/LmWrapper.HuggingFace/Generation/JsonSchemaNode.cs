namespace LmWrapper.HuggingFace.Generation;

/// <summary>The JSON value kinds a schema node allows (JSON Schema's "type").</summary>
[Flags]
internal enum JsonTypes
{
    None = 0,
    Object = 1,
    Array = 2,
    String = 4,
    Number = 8,
    Integer = 16,
    Boolean = 32,
    Null = 64,
    Any = Object | Array | String | Number | Integer | Boolean | Null,
}

/// <summary>
/// One compiled JSON Schema (sub)schema, in the subset that constrained decoding supports (see
/// <see cref="JsonSchemaCompiler"/>). Nodes are immutable once compiled and may form cycles through <c>$ref</c>.
/// </summary>
internal sealed class JsonSchemaNode
{
    /// <summary>A cost that means "no value can satisfy this".</summary>
    public const int Impossible = 1 << 28;

    /// <summary>The schema <c>true</c> (or <c>{}</c>): any JSON value.</summary>
    public static readonly JsonSchemaNode AnyValue = MakeAnyValue();

    /// <summary>The schema <c>false</c>: no value.</summary>
    public static readonly JsonSchemaNode Nothing = new() { Types = JsonTypes.None, _minCost = Impossible };

    private int _minCost = -1;

    private static JsonSchemaNode MakeAnyValue()
    {
        // Its own member and item schema (the property initializers ran before AnyValue was assigned).
        var any = new JsonSchemaNode { Types = JsonTypes.Any, _minCost = 1 };
        any.AdditionalProperties = any;
        any.Items = any;
        return any;
    }

    /// <summary>The allowed kinds (ignored when <see cref="AnyOf"/> or <see cref="Literals"/> is set).</summary>
    public JsonTypes Types { get; set; } = JsonTypes.Any;

    /// <summary>With enum/const: the only allowed values, each as its compact UTF-8 JSON text.</summary>
    public byte[][]? Literals { get; set; }

    /// <summary>With anyOf/oneOf (or a <c>$ref</c>): the alternatives; the value must match one.</summary>
    public JsonSchemaNode[]? AnyOf { get; set; }

    /// <summary>Object members: each known name (UTF-8, no escapes needed) and its schema, in schema order.</summary>
    public List<(byte[] Name, JsonSchemaNode Schema)> Properties { get; } = [];

    /// <summary>A bit for each of <see cref="Properties"/>.</summary>
    public ulong AllPropertiesMask => Properties.Count >= 64 ? ulong.MaxValue : (1UL << Properties.Count) - 1;

    /// <summary>Bit i set: <see cref="Properties"/>[i] is required.</summary>
    public ulong RequiredMask { get; set; }

    /// <summary>The schema of other members; null: no other members (additionalProperties: false).</summary>
    public JsonSchemaNode? AdditionalProperties { get; set; } = AnyValue;

    /// <summary>The schemas of the first array items (prefixItems).</summary>
    public JsonSchemaNode[] PrefixItems { get; set; } = [];

    /// <summary>The schema of the items after <see cref="PrefixItems"/>; null: none (items: false).</summary>
    public JsonSchemaNode? Items { get; set; } = AnyValue;

    public int MinItems { get; set; }

    public int MaxItems { get; set; } = int.MaxValue;

    public int MinLength { get; set; }

    /// <summary>With format: the template strings must follow (overrides minLength/maxLength).</summary>
    public JsonStringFormat? Format { get; set; }

    public int MaxLength { get; set; } = int.MaxValue;

    /// <summary>The schema of array item <paramref name="index"/>; null when no item may be there.</summary>
    public JsonSchemaNode? ItemSchema(int index) => index < PrefixItems.Length ? PrefixItems[index] : Items;

    /// <summary>The index of the known property with this UTF-8 name, or -1.</summary>
    public int PropertyIndex(ReadOnlySpan<byte> name)
    {
        for (int i = 0; i < Properties.Count; i++)
        {
            if (name.SequenceEqual(Properties[i].Name))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The fewest bytes of a JSON text that matches this schema (no whitespace); <see cref="Impossible"/> if none.</summary>
    public int MinCost => _minCost >= 0 ? _minCost : throw new InvalidOperationException("Schema costs were not computed.");

    /// <summary>
    /// Computes <see cref="MinCost"/> for every node, as a fixed point (costs only fall from "impossible"), so recursive
    /// <c>$ref</c> cycles get their true shortest value.
    /// </summary>
    public static void ComputeCosts(IReadOnlyCollection<JsonSchemaNode> nodes)
    {
        foreach (var n in nodes)
        {
            n._minCost = Impossible;
        }

        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (var n in nodes)
            {
                int c = n.ComputeMinCost();
                if (c < n._minCost)
                {
                    n._minCost = c;
                    changed = true;
                }
            }
        }
    }

    /// <summary>The fewest bytes for one member "name":value of known property <paramref name="index"/>.</summary>
    public int MemberCost(int index) => Add(Properties[index].Name.Length + 3, Properties[index].Schema.MinCost);

    /// <summary>
    /// The fewest bytes to finish an object whose members so far are <paramref name="seen"/> (<paramref name="count"/>
    /// of them), from just after a value (or just after the opening brace when count is 0), closing brace included.
    /// </summary>
    public int ObjectCloseCost(ulong seen, int count)
    {
        int cost = 1;
        int members = count;
        ulong missing = RequiredMask & ~seen;
        for (int i = 0; missing != 0 && i < Properties.Count; i++)
        {
            if ((missing & (1UL << i)) != 0)
            {
                cost = Add(cost, Add(MemberCost(i), members > 0 ? 1 : 0));
                members++;
            }
        }

        return cost;
    }

    /// <summary>The fewest bytes to finish an array with <paramref name="count"/> items so far, from just after a value (or the opening bracket when 0).</summary>
    public int ArrayCloseCost(int count)
    {
        int cost = 1;
        for (int i = count; i < MinItems; i++)
        {
            var item = ItemSchema(i);
            cost = Add(cost, item is null ? Impossible : Add(item.MinCost, i > 0 ? 1 : 0));
        }

        return cost;
    }

    /// <summary>Adds costs, saturating at <see cref="Impossible"/>.</summary>
    public static int Add(int a, int b) => a >= Impossible || b >= Impossible ? Impossible : Math.Min(Impossible, a + b);

    private int ComputeMinCost()
    {
        if (AnyOf is { } alternatives)
        {
            int best = Impossible;
            foreach (var a in alternatives)
            {
                best = Math.Min(best, a.MinCost);
            }

            return best;
        }

        if (Literals is { } literals)
        {
            return literals.Length == 0 ? Impossible : literals.Min(l => l.Length);
        }

        int cost = Impossible;
        if ((Types & (JsonTypes.Number | JsonTypes.Integer)) != 0)
        {
            cost = 1;
        }

        if ((Types & JsonTypes.Object) != 0)
        {
            cost = Math.Min(cost, Add(1, ObjectCloseCost(0, 0)));
        }

        if ((Types & JsonTypes.Array) != 0 && MinItems <= MaxItems)
        {
            cost = Math.Min(cost, Add(1, ArrayCloseCost(0)));
        }

        if ((Types & JsonTypes.String) != 0 && Format is { } format)
        {
            cost = Math.Min(cost, 2 + format.MinLength);
        }
        else if ((Types & JsonTypes.String) != 0 && MinLength <= MaxLength)
        {
            cost = Math.Min(cost, Add(2, MinLength));
        }

        if ((Types & (JsonTypes.Boolean | JsonTypes.Null)) != 0)
        {
            cost = Math.Min(cost, 4);
        }

        return cost;
    }
}
