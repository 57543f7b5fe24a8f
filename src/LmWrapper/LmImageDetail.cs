namespace LmWrapper;

/// <summary>
/// How closely an OpenAI model looks at an image (the <c>detail</c> of an <c>image_url</c> part). It changes the image's
/// tokens and the answer, so it is part of the cache key. Claude has no such setting and ignores it.
/// </summary>
public enum LmImageDetail
{
    /// <summary>The model decides (OpenAI's default); estimated as <see cref="High"/>, the larger of the two.</summary>
    Auto = 0,

    /// <summary>A 512 px low-resolution view at a fixed, small token cost.</summary>
    Low = 1,

    /// <summary>The low-resolution view plus detailed 512 px tiles.</summary>
    High = 2,
}
