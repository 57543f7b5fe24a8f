namespace LmWrapper;

/// <summary>
/// One part of a chat turn's content: a piece of text or an image (see <see cref="LmChatTurn.Parts"/>). Make one with
/// <see cref="FromText"/> or <see cref="FromImage"/>.
/// </summary>
public sealed record LmContentPart
{
    private LmContentPart(string? text, LmImage? image, LmImageDetail detail)
    {
        Text = text;
        Image = image;
        Detail = detail;
    }

    /// <summary>The text of a text part; null for an image part.</summary>
    public string? Text { get; }

    /// <summary>The image of an image part; null for a text part.</summary>
    public LmImage? Image { get; }

    /// <summary>For an image part: how closely an OpenAI model looks at it (Claude ignores it). Part of the cache key.</summary>
    public LmImageDetail Detail { get; }

    /// <summary>Whether this is an image part.</summary>
    public bool IsImage => Image is not null;

    /// <summary>A text part.</summary>
    /// <param name="text">The text.</param>
    public static LmContentPart FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new(text, null, LmImageDetail.Auto);
    }

    /// <summary>An image part.</summary>
    /// <param name="image">The image.</param>
    /// <param name="detail">How closely an OpenAI model looks at it.</param>
    public static LmContentPart FromImage(LmImage image, LmImageDetail detail = LmImageDetail.Auto)
    {
        ArgumentNullException.ThrowIfNull(image);
        return new(null, image, detail);
    }
}
