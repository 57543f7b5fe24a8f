namespace LmWrapper;

/// <summary>Images on chat turns: content parts (text and images) and the factories that make them.</summary>
public sealed partial record LmChatTurn
{
    /// <summary>What <see cref="Content"/> holds for a turn with parts: the text parts joined by this separator.</summary>
    public const string PartTextSeparator = "\n";

    private readonly ValueList<LmContentPart>? _parts;

    /// <summary>
    /// The turn's content as parts (text and images, in order), or null (the usual case) for a text-only turn. When set,
    /// <see cref="Content"/> must be the text parts joined by <see cref="PartTextSeparator"/> (the factories make it so),
    /// so that code that reads only <see cref="Content"/> keeps working. Images go on user turns only. Part of equality and
    /// of the cache key (which hashes the image bytes, not where they came from). An empty list, or parts without an image
    /// whose text is <see cref="Content"/>, read as null.
    /// </summary>
    public IReadOnlyList<LmContentPart>? Parts
    {
        get => _parts?.Items;
        init
        {
            if (value is null || value.Count == 0)
            {
                _parts = null;
                return;
            }

            LmContentPart[] parts = [.. value];
            bool anyImage = parts.Any(p => p?.Image is not null);
            _parts = !anyImage && parts.All(p => p is not null) && JoinText(parts) == Content ? null : new ValueList<LmContentPart>(parts);
        }
    }

    /// <summary>Whether the turn holds at least one image.</summary>
    public bool HasImages => _parts is not null && _parts.Items.Any(p => p?.Image is not null);

    /// <summary>Creates a user turn with text and images (the text first, then the images).</summary>
    /// <param name="text">What the user says (may be empty when there are images).</param>
    /// <param name="images">The images.</param>
    public static LmChatTurn User(string text, params LmImage[] images)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(images);
        var parts = new List<LmContentPart>(images.Length + 1);
        if (text.Length > 0)
        {
            parts.Add(LmContentPart.FromText(text));
        }

        foreach (var image in images)
        {
            parts.Add(LmContentPart.FromImage(image));
        }

        return FromParts(LmChatRole.User, parts);
    }

    /// <summary>Creates a user turn from parts in any order (text and images interleaved).</summary>
    /// <param name="parts">The parts.</param>
    /// <param name="name">An optional name for the user.</param>
    public static LmChatTurn User(IReadOnlyList<LmContentPart> parts, string? name = null) => FromParts(LmChatRole.User, parts, name);

    /// <summary>Creates a turn from parts; <see cref="Content"/> is their text joined by <see cref="PartTextSeparator"/>.</summary>
    /// <param name="role">The author.</param>
    /// <param name="parts">The parts.</param>
    /// <param name="name">An optional name for the author.</param>
    public static LmChatTurn FromParts(LmChatRole role, IReadOnlyList<LmContentPart> parts, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(parts);
        LmContentPart[] copy = [.. parts];
        foreach (var p in copy)
        {
            ArgumentNullException.ThrowIfNull(p, nameof(parts));
        }

        return new LmChatTurn(role, JoinText(copy), name) { Parts = copy };
    }

    /// <summary>The text parts joined by <see cref="PartTextSeparator"/>.</summary>
    internal static string JoinText(IEnumerable<LmContentPart?> parts) =>
        string.Join(PartTextSeparator, parts.Where(p => p?.Text is not null).Select(p => p!.Text));
}
