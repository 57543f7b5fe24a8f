using System.Text.Json;

namespace LmWrapper.HuggingFace.Safetensors;

/// <summary>
/// A model's weights as transformers saves them: one <c>model.safetensors</c>, or a
/// <c>model.safetensors.index.json</c> whose <c>weight_map</c> names the shard holding each tensor.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    /// <summary>The single-file weights name.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The sharded-weights index name.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly Dictionary<string, SafetensorsFile> _byTensor;
    private readonly List<SafetensorsFile> _files;

    private SafetensorsCheckpoint(string folder, List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> byTensor, IReadOnlyDictionary<string, string> metadata)
    {
        Folder = folder;
        _files = files;
        _byTensor = byTensor;
        Metadata = metadata;
    }

    /// <summary>The folder holding the weights.</summary>
    public string Folder { get; }

    /// <summary>The open files (one, or every shard).</summary>
    public IReadOnlyList<SafetensorsFile> Files => _files;

    /// <summary>Every tensor name, across all shards.</summary>
    public IEnumerable<string> TensorNames => _byTensor.Keys;

    /// <summary>The metadata: the index's <c>metadata</c> (values as text) for a sharded checkpoint, else the file's <c>__metadata__</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Whether the folder has safetensors weights this class can open.</summary>
    /// <param name="folder">The model folder.</param>
    /// <returns>True when <c>model.safetensors</c> or its index exists.</returns>
    public static bool Exists(string folder) =>
        File.Exists(Path.Combine(folder, IndexFileName)) || File.Exists(Path.Combine(folder, SingleFileName));

    /// <summary>Opens a model folder's weights (or a single <c>.safetensors</c> file).</summary>
    /// <param name="folderOrFile">A model folder, or the path of one safetensors file.</param>
    /// <returns>The checkpoint; dispose it to unmap every file.</returns>
    /// <exception cref="SafetensorsException">There are no safetensors weights, the index is malformed, a shard is missing, or a file is invalid.</exception>
    public static SafetensorsCheckpoint Open(string folderOrFile)
    {
        ArgumentNullException.ThrowIfNull(folderOrFile);
        string full = Path.GetFullPath(folderOrFile);
        if (File.Exists(full))
        {
            var f = SafetensorsFile.Open(full);
            return new SafetensorsCheckpoint(Path.GetDirectoryName(full)!, [f], f.TensorNames.ToDictionary(n => n, _ => f, StringComparer.Ordinal), f.Metadata);
        }
        if (!Directory.Exists(full)) throw new SafetensorsException(full, "there is no such file or folder.");
        string index = Path.Combine(full, IndexFileName);
        if (File.Exists(index)) return OpenSharded(full, index);
        string single = Path.Combine(full, SingleFileName);
        if (File.Exists(single)) return Open(single);
        string[] others = Directory.GetFiles(full, "*.bin").Concat(Directory.GetFiles(full, "*.pth")).Select(Path.GetFileName).ToArray()!;
        throw new SafetensorsException(full, $"the folder has no safetensors weights ({SingleFileName} or {IndexFileName})."
            + (others.Length > 0 ? $" It has PyTorch pickle weights ({string.Join(", ", others)}), which LmWrapper does not load; convert them to safetensors (for example by loading the model in transformers and calling save_pretrained(..., safe_serialization=True))." : ""));
    }

    private static SafetensorsCheckpoint OpenSharded(string folder, string index)
    {
        Dictionary<string, string> weightMap = new(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(index));
            if (!doc.RootElement.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                throw new SafetensorsException(index, "the index has no weight_map object.");
            foreach (var p in wm.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String) throw new SafetensorsException(index, $"weight_map entry '{p.Name}' must be a file name.");
                weightMap[p.Name] = p.Value.GetString()!;
            }
            if (doc.RootElement.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in md.EnumerateObject())
                    metadata[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
            }
        }
        catch (JsonException ex)
        {
            throw new SafetensorsException(index, $"the index is not valid JSON: {ex.Message}", ex);
        }

        var files = new List<SafetensorsFile>();
        var byName = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        var byTensor = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (string shard in weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                if (Path.IsPathRooted(shard) || shard.Contains("..", StringComparison.Ordinal))
                    throw new SafetensorsException(index, $"shard name '{shard}' must be a file name inside the model folder.");
                string path = Path.Combine(folder, shard);
                if (!File.Exists(path)) throw new SafetensorsException(index, $"shard '{shard}' listed in the weight_map is missing from the folder (an incomplete download?).");
                var f = SafetensorsFile.Open(path);
                files.Add(f);
                byName[shard] = f;
            }
            foreach (var (tensor, shard) in weightMap)
            {
                var f = byName[shard];
                if (!f.Contains(tensor)) throw new SafetensorsException(f.FilePath, $"the index says tensor '{tensor}' is in this shard but it is not.");
                byTensor[tensor] = f;
            }
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
        return new SafetensorsCheckpoint(folder, files, byTensor, metadata);
    }

    /// <summary>Whether any file holds a tensor of this name.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>True when present.</returns>
    public bool Contains(string name) => _byTensor.ContainsKey(name);

    /// <summary>The file that holds a tensor.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>Its file.</returns>
    /// <exception cref="SafetensorsException">No file holds it.</exception>
    public SafetensorsFile FileOf(string name) =>
        _byTensor.TryGetValue(name, out var f) ? f : throw new SafetensorsException(Folder, $"the checkpoint has no tensor named '{name}'.");

    /// <summary>A tensor's header entry.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>Its dtype, shape and offsets.</returns>
    public SafetensorsTensorInfo GetTensor(string name) => FileOf(name).GetTensor(name);

    /// <summary>A tensor's raw bytes (no copy).</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>The bytes; valid until the checkpoint is disposed.</returns>
    public ReadOnlySpan<byte> GetBytes(string name) => FileOf(name).GetBytes(name);

    /// <summary>Reads a floating-point tensor as float32 into a new array.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>The values, row-major.</returns>
    public float[] ReadAsFloat32(string name) => FileOf(name).ReadAsFloat32(name);

    /// <summary>Reads a floating-point tensor as float32 into the caller's buffer.</summary>
    /// <param name="name">The tensor name.</param>
    /// <param name="destination">Where to write; must hold exactly the element count.</param>
    public void ReadAsFloat32(string name, Span<float> destination) => FileOf(name).ReadAsFloat32(name, destination);

    /// <summary>Unmaps every file.</summary>
    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
