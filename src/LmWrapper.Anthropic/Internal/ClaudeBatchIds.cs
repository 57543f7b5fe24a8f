using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace LmWrapper.Anthropic.Internal;

/// <summary>
/// The <c>custom_id</c>s of LmWrapper's Message Batch requests. Claude samples one completion per request, so a prompt
/// that needs <c>n</c> samples becomes <c>n</c> requests. The request file holds <c>{customId}_{sample}</c>; on the way
/// to the API each id gets the batch's tag appended: <c>{customId}_{sample}_{tag}</c>, where the tag is 12 hex digits of
/// a hash of LmWrapper's local batch id. Anthropic batches carry no metadata, so the tag is what proves, from an ended
/// batch's results, that a batch is the one a local id stands for. The orchestration's custom ids (32 hex digits, or
/// "u" and an index) fit Anthropic's rule of 1–64 characters of <c>[a-zA-Z0-9_-]</c> with room to spare.
/// </summary>
internal static class ClaudeBatchIds
{
    /// <summary>Anthropic's longest <c>custom_id</c>.</summary>
    public const int MaxLength = 64;

    /// <summary>The length of a tag (hex digits).</summary>
    public const int TagLength = 12;

    /// <summary>The tag of a local batch id: 12 lowercase hex digits of its SHA-256.</summary>
    public static string Tag(string localId) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(localId)).AsSpan(0, TagLength / 2));

    /// <summary>The id of one sample in the request file.</summary>
    public static string Sample(string customId, int sample) => customId + "_" + sample.ToString(CultureInfo.InvariantCulture);

    /// <summary>The id sent to the API: a sample id with the batch's tag.</summary>
    public static string Tagged(string sampleId, string tag) => sampleId + "_" + tag;

    /// <summary>Checks that the orchestration's custom id, with a sample index and a tag, stays within Anthropic's rules.</summary>
    /// <exception cref="ArgumentException">It would not.</exception>
    public static void Validate(string customId, int numCompletions)
    {
        ArgumentException.ThrowIfNullOrEmpty(customId);
        ArgumentOutOfRangeException.ThrowIfLessThan(numCompletions, 1);
        int longest = Tagged(Sample(customId, numCompletions - 1), new string('0', TagLength)).Length;
        if (longest > MaxLength)
        {
            throw new ArgumentException(
                $"The custom id \"{customId}\" with {numCompletions} samples makes Message Batch ids of {longest} characters; Anthropic allows {MaxLength}.",
                nameof(customId));
        }

        foreach (char c in customId)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                throw new ArgumentException($"The custom id \"{customId}\" has '{c}'; Anthropic allows only letters, digits, '_' and '-'.", nameof(customId));
            }
        }
    }

    /// <summary>Reads an id the API echoes back: <c>{customId}_{sample}_{tag}</c>. False for ids LmWrapper did not make.</summary>
    public static bool TryParse(string id, out string customId, out int sample, out string tag)
    {
        customId = string.Empty;
        sample = 0;
        tag = string.Empty;
        int last = id.LastIndexOf('_');
        if (last <= 0 || id.Length - last - 1 != TagLength)
        {
            return false;
        }

        int mid = id.LastIndexOf('_', last - 1);
        if (mid <= 0
            || !int.TryParse(id.AsSpan(mid + 1, last - mid - 1), NumberStyles.None, CultureInfo.InvariantCulture, out sample))
        {
            return false;
        }

        customId = id[..mid];
        tag = id[(last + 1)..];
        return true;
    }
}
