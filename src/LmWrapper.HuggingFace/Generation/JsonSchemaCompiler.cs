using System.Text;
using System.Text.Json;

namespace LmWrapper.HuggingFace.Generation;

/// <summary>
/// Compiles a JSON Schema (a <see cref="JsonElement"/>) into <see cref="JsonSchemaNode"/>s for constrained decoding.
/// Supported: <c>type</c> (a name or an array of names), <c>properties</c>, <c>required</c>,
/// <c>additionalProperties</c> (false, true or a schema), <c>items</c> (a schema or false), <c>prefixItems</c>,
/// <c>format</c> (date, time, date-time, uuid: see <see cref="JsonStringFormat"/>), <c>enum</c>, <c>const</c>, <c>anyOf</c> and <c>oneOf</c> (both as "one of these alternatives"; oneOf's exclusivity is
/// not enforced), <c>minItems</c>, <c>maxItems</c>, <c>minLength</c>, <c>maxLength</c>, and <c>$ref</c> to a JSON
/// pointer inside the same document (<c>#</c>, <c>#/$defs/…</c>, <c>#/definitions/…</c>, <c>#/properties/…</c>, as
/// System.Text.Json's JsonSchemaExporter writes them). Annotations (title, description, default, examples, $schema,
/// $id, $comment, deprecated, readOnly, writeOnly) are ignored. Any other keyword (pattern, format, minimum, …) is
/// refused with an <see cref="LmPromptException"/> naming it and where it is, rather than silently not enforced (so
/// is an unsupported format).
/// </summary>
internal static class JsonSchemaCompiler
{
    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly",
        "$defs", "definitions",
    };

    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "type", "properties", "required", "additionalProperties", "items", "prefixItems", "enum", "const", "anyOf", "oneOf",
        "minItems", "maxItems", "minLength", "maxLength", "$ref", "format",
    };

    /// <summary>The field name exceptions name (the prompt's response format).</summary>
    private const string Field = "ResponseFormat";

    /// <summary>Compiles <paramref name="schema"/> (the whole document; <c>$ref</c>s resolve against it).</summary>
    /// <exception cref="LmPromptException">The schema uses a keyword outside the supported subset, or is malformed.</exception>
    public static JsonSchemaNode Compile(JsonElement schema)
    {
        var context = new Context(schema);
        var node = context.Compile(schema, "#");
        JsonSchemaNode.ComputeCosts(context.Nodes);
        if (node.MinCost >= JsonSchemaNode.Impossible)
        {
            throw new LmPromptException("The JSON schema cannot be satisfied by any JSON value (for example a required property that additionalProperties: false forbids, or minItems above maxItems).", Field);
        }

        return node;
    }

    /// <summary>The schema for "any JSON object" (JSON mode).</summary>
    public static JsonSchemaNode AnyObject()
    {
        var node = new JsonSchemaNode { Types = JsonTypes.Object };
        JsonSchemaNode.ComputeCosts([node]);
        return node;
    }

    private sealed class Context(JsonElement root)
    {
        private readonly Dictionary<string, JsonSchemaNode> _byPointer = new(StringComparer.Ordinal);

        public IReadOnlyCollection<JsonSchemaNode> Nodes => _byPointer.Values;

        public JsonSchemaNode Compile(JsonElement schema, string path)
        {
            if (_byPointer.TryGetValue(path, out var known))
            {
                return known;
            }

            if (schema.ValueKind == JsonValueKind.True)
            {
                return JsonSchemaNode.AnyValue;
            }

            if (schema.ValueKind == JsonValueKind.False)
            {
                return JsonSchemaNode.Nothing;
            }

            if (schema.ValueKind != JsonValueKind.Object)
            {
                throw Bad($"a schema must be an object or a boolean, not {schema.ValueKind}", path);
            }

            var node = new JsonSchemaNode();
            _byPointer[path] = node;
            var other = new List<string>();
            foreach (var p in schema.EnumerateObject())
            {
                if (!Keywords.Contains(p.Name) && !Annotations.Contains(p.Name))
                {
                    throw new LmPromptException(
                        $"The JSON schema keyword '{p.Name}' (at {path}) is not supported by local constrained decoding. Supported: {string.Join(", ", Keywords)} (annotations such as title and description are ignored).",
                        Field);
                }

                if (Keywords.Contains(p.Name))
                {
                    other.Add(p.Name);
                }
            }

            if (schema.TryGetProperty("$ref", out var reference))
            {
                Alone("$ref", other, path);
                node.AnyOf = [Resolve(reference, path)];
                return node;
            }

            foreach (var combinator in new[] { "anyOf", "oneOf" })
            {
                if (schema.TryGetProperty(combinator, out var alternatives))
                {
                    Alone(combinator, other, path);
                    if (alternatives.ValueKind != JsonValueKind.Array || alternatives.GetArrayLength() == 0)
                    {
                        throw Bad($"{combinator} must be a non-empty array", path);
                    }

                    node.AnyOf = [.. alternatives.EnumerateArray().Select((a, i) => Compile(a, $"{path}/{combinator}/{i}"))];
                    return node;
                }
            }

            if (schema.TryGetProperty("type", out var type))
            {
                node.Types = ParseTypes(type, path);
            }

            if (schema.TryGetProperty("enum", out var values))
            {
                if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
                {
                    throw Bad("enum must be a non-empty array", path);
                }

                node.Literals = [.. values.EnumerateArray().Where(v => Allows(node.Types, v)).Select(Canonical)];
            }

            if (schema.TryGetProperty("const", out var constant))
            {
                byte[] c = Canonical(constant);
                node.Literals = node.Literals is null
                    ? (Allows(node.Types, constant) ? [c] : [])
                    : [.. node.Literals.Where(l => l.AsSpan().SequenceEqual(c))];
            }

            if (schema.TryGetProperty("properties", out var properties))
            {
                if (properties.ValueKind != JsonValueKind.Object)
                {
                    throw Bad("properties must be an object", path);
                }

                foreach (var p in properties.EnumerateObject())
                {
                    node.Properties.Add((Name(p.Name, path), Compile(p.Value, $"{path}/properties/{Escape(p.Name)}")));
                }
            }

            if (schema.TryGetProperty("additionalProperties", out var additional))
            {
                var a = Compile(additional, $"{path}/additionalProperties");
                node.AdditionalProperties = ReferenceEquals(a, JsonSchemaNode.Nothing) ? null : a;
            }

            if (schema.TryGetProperty("required", out var required))
            {
                if (required.ValueKind != JsonValueKind.Array)
                {
                    throw Bad("required must be an array of names", path);
                }

                foreach (var r in required.EnumerateArray())
                {
                    byte[] name = Name(r.ValueKind == JsonValueKind.String ? r.GetString()! : throw Bad("required must be an array of names", path), path);
                    int index = node.PropertyIndex(name);
                    if (index < 0)
                    {
                        // Required but not listed: a member of the additionalProperties schema (impossible when false).
                        node.Properties.Add((name, node.AdditionalProperties ?? JsonSchemaNode.Nothing));
                        index = node.Properties.Count - 1;
                    }

                    if (index < 64)
                    {
                        node.RequiredMask |= 1UL << index;
                    }
                }
            }

            if (node.Properties.Count > 64)
            {
                throw Bad("more than 64 properties in one object schema are not supported", path);
            }

            if (schema.TryGetProperty("prefixItems", out var prefix))
            {
                if (prefix.ValueKind != JsonValueKind.Array)
                {
                    throw Bad("prefixItems must be an array of schemas", path);
                }

                node.PrefixItems = [.. prefix.EnumerateArray().Select((s, i) => Compile(s, $"{path}/prefixItems/{i}"))];
            }

            if (schema.TryGetProperty("items", out var items))
            {
                if (items.ValueKind == JsonValueKind.Array)
                {
                    throw new LmPromptException($"The JSON schema keyword 'items' (at {path}) is an array (draft-07 tuples); use prefixItems instead.", Field);
                }

                var i = Compile(items, $"{path}/items");
                node.Items = ReferenceEquals(i, JsonSchemaNode.Nothing) ? null : i;
            }

            if (schema.TryGetProperty("format", out var format))
            {
                string name = format.ValueKind == JsonValueKind.String ? format.GetString()! : throw Bad("format must be a string", path);
                node.Format = JsonStringFormat.Find(name) ?? throw new LmPromptException(
                    $"The JSON schema format '{name}' (at {path}) is not supported by local constrained decoding. Supported formats: {string.Join(", ", JsonStringFormat.Names)}.",
                    Field);
            }

            node.MinItems = Count(schema, "minItems", 0, path);
            node.MaxItems = Count(schema, "maxItems", int.MaxValue, path);
            node.MinLength = Count(schema, "minLength", 0, path);
            node.MaxLength = Count(schema, "maxLength", int.MaxValue, path);
            return node;
        }

        private JsonSchemaNode Resolve(JsonElement reference, string path)
        {
            string pointer = reference.ValueKind == JsonValueKind.String ? reference.GetString()! : throw Bad("$ref must be a string", path);
            if (!pointer.StartsWith('#'))
            {
                throw new LmPromptException($"The JSON schema $ref '{pointer}' (at {path}) is not supported: only references inside the same schema (\"#/...\") are.", Field);
            }

            var target = root;
            foreach (var raw in pointer.Length <= 2 ? [] : pointer[2..].Split('/'))
            {
                string part = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                if (target.ValueKind == JsonValueKind.Object && target.TryGetProperty(part, out var child))
                {
                    target = child;
                }
                else if (target.ValueKind == JsonValueKind.Array && int.TryParse(part, out int index) && index >= 0 && index < target.GetArrayLength())
                {
                    target = target[index];
                }
                else
                {
                    throw new LmPromptException($"The JSON schema $ref '{pointer}' (at {path}) points at nothing.", Field);
                }
            }

            return Compile(target, pointer.Length <= 1 ? "#" : pointer);
        }

        private static void Alone(string keyword, List<string> present, string path)
        {
            foreach (var k in present)
            {
                if (k != keyword)
                {
                    throw new LmPromptException($"The JSON schema keyword '{k}' next to '{keyword}' (at {path}) is not supported by local constrained decoding; put it inside each alternative.", Field);
                }
            }
        }

        private static JsonTypes ParseTypes(JsonElement type, string path)
        {
            if (type.ValueKind == JsonValueKind.String)
            {
                return ParseType(type.GetString()!, path);
            }

            if (type.ValueKind == JsonValueKind.Array)
            {
                var t = JsonTypes.None;
                foreach (var e in type.EnumerateArray())
                {
                    t |= e.ValueKind == JsonValueKind.String ? ParseType(e.GetString()!, path) : throw Bad("type must be a name or an array of names", path);
                }

                return t;
            }

            throw Bad("type must be a name or an array of names", path);
        }

        private static JsonTypes ParseType(string name, string path) => name switch
        {
            "object" => JsonTypes.Object,
            "array" => JsonTypes.Array,
            "string" => JsonTypes.String,
            "number" => JsonTypes.Number | JsonTypes.Integer,
            "integer" => JsonTypes.Integer,
            "boolean" => JsonTypes.Boolean,
            "null" => JsonTypes.Null,
            _ => throw Bad($"unknown type '{name}'", path),
        };

        private static bool Allows(JsonTypes types, JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.Object => (types & JsonTypes.Object) != 0,
            JsonValueKind.Array => (types & JsonTypes.Array) != 0,
            JsonValueKind.String => (types & JsonTypes.String) != 0,
            JsonValueKind.Number => (types & JsonTypes.Number) != 0 || ((types & JsonTypes.Integer) != 0 && value.TryGetInt64(out _)),
            JsonValueKind.True or JsonValueKind.False => (types & JsonTypes.Boolean) != 0,
            _ => (types & JsonTypes.Null) != 0,
        };

        private static byte[] Canonical(JsonElement value)
        {
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                value.WriteTo(writer);
            }

            return stream.ToArray();
        }

        private static byte[] Name(string name, string path)
        {
            foreach (char c in name)
            {
                if (c < 0x20 || c == '"' || c == '\\' || char.IsSurrogate(c))
                {
                    throw new LmPromptException($"The JSON schema property name '{name}' (at {path}) needs escaping in JSON, which local constrained decoding does not support.", Field);
                }
            }

            return Encoding.UTF8.GetBytes(name);
        }

        private static string Escape(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

        private static int Count(JsonElement schema, string keyword, int absent, string path)
        {
            if (!schema.TryGetProperty(keyword, out var value))
            {
                return absent;
            }

            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long n) || n < 0)
            {
                throw Bad($"{keyword} must be a non-negative integer", path);
            }

            return (int)Math.Min(n, int.MaxValue);
        }

        private static LmPromptException Bad(string what, string path) => new($"The JSON schema is malformed at {path}: {what}.", Field);
    }
}
