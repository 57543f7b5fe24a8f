using System.Text;
using System.Text.Json;
using System.Text.Json.Schema;
using LmWrapper.HuggingFace.Generation;

namespace LmWrapper.HuggingFace.Tests.JsonDecoding;

/// <summary>The constrained-decoding JSON parser on its own: which prefixes it accepts, when a document is complete, what it costs to close.</summary>
public sealed class JsonMatcherTests
{
    internal const string PersonSchema = """
        {"type":"object","properties":{
          "name":{"type":"string","minLength":1,"maxLength":12},
          "age":{"type":"integer"},
          "active":{"type":"boolean"},
          "color":{"enum":["red","green","blue"]}},
         "required":["name","age","active","color"],"additionalProperties":false}
        """;

    internal const string TreeSchema = """
        {"$defs":{"node":{"type":"object","properties":{
           "value":{"type":"integer"},
           "children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},
         "required":["value"],"additionalProperties":false}},
         "$ref":"#/$defs/node"}
        """;

    internal const string ChoiceSchema = """
        {"anyOf":[{"type":"string","maxLength":5},
                  {"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false},
                  {"type":"array","items":{"type":["number","null"]},"minItems":1,"maxItems":3}]}
        """;

    [Theory]
    [InlineData("{", true)]
    [InlineData("{\"a\"", true)]
    [InlineData("{\"a\":[1,2.5e-3,{\"b\":null},\"\\u00e9\",true,false", true)]
    [InlineData("   {", true)]
    [InlineData("[", false)]
    [InlineData("\"a\"", false)]
    [InlineData("{a", false)]
    [InlineData("{\"a\" 1", false)]
    [InlineData("{\"a\":01", false)]
    [InlineData("{\"a\":tru ", false)]
    [InlineData("{\"a\":1,}", false)]
    [InlineData("{\"a\":1,\"a\"", false)]
    [InlineData("{\"a\":1.}", false)]
    [InlineData("{\"a\":-}", false)]
    [InlineData("{\"a\":\"\\x\"", false)]
    [InlineData("{\"a\":\"\\uD800\"", false)]
    [InlineData("{\"a\":\"\t\"", false)]
    public void AnyObjectAcceptsExactlyTheValidPrefixes(string text, bool valid)
    {
        Assert.Equal(valid, JsonMatcher.IsValidPrefix(JsonSchemaCompiler.AnyObject(), text));
    }

    [Fact]
    public void ACompleteObjectAllowsNothingMore()
    {
        var m = JsonMatcher.Start(JsonSchemaCompiler.AnyObject()).Advance("{\"a\":{\"b\":[]}}");
        Assert.NotNull(m);
        Assert.True(m.IsComplete);
        Assert.True(m.IsFinal);
        Assert.Equal(0, m.CloseCost);
        foreach (string next in (string[])[" ", "}", "\n", ",", "a"])
        {
            Assert.Null(m.Advance(next));
        }

        var open = JsonMatcher.Start(JsonSchemaCompiler.AnyObject()).Advance("{\"a\":{\"b\":[]}");
        Assert.False(open!.IsComplete);
    }

    [Fact]
    public void WhitespaceRunsAreBounded()
    {
        var schema = JsonSchemaCompiler.AnyObject();
        Assert.True(JsonMatcher.IsValidPrefix(schema, "{    \"a\"  :    1   ,\n\t  \"b\""));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "{     "));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "{\"a\":1     "));
        var compact = new JsonSettings(MaxWhitespace: 0);
        Assert.True(JsonMatcher.IsValidDocument(schema, "{\"a\":[1,2]}", compact));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "{ ", compact));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "{\"a\": 1", compact));
    }

    [Fact]
    public void NumbersHaveABoundedLength()
    {
        var schema = Compile("""{"type":"number"}""");
        Assert.True(JsonMatcher.IsValidDocument(schema, "1234567890123456"));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "12345678901234567"));

        // The last byte that fits must leave a number that can end.
        Assert.False(JsonMatcher.IsValidPrefix(schema, "123456789012345."));
    }

    [Fact]
    public void TopLevelNumbersAreCompleteButMayGoOn()
    {
        var schema = Compile("""{"type":"number"}""");
        var m = JsonMatcher.Start(schema).Advance("-12");
        Assert.True(m!.IsComplete);
        Assert.False(m.IsFinal);
        Assert.True(m.Advance(".5e+3")!.IsComplete);
        Assert.False(m.Advance(".")!.IsComplete);
        Assert.Null(m.Advance(" "));
        Assert.False(JsonMatcher.IsValidPrefix(Compile("""{"type":"integer"}"""), "1."));
        Assert.False(JsonMatcher.IsValidPrefix(Compile("""{"type":"integer"}"""), "1e5"));
    }

    [Theory]
    [InlineData("{\"name\":\"Al\",\"age\":30,\"active\":true,\"color\":\"red\"}", true)]
    [InlineData("{\"color\":\"blue\",\"active\":false,\"age\":-1,\"name\":\"é\"}", true)]
    [InlineData("{}", false)]
    [InlineData("{\"name\":\"Al\",\"age\":30,\"active\":true}", false)]
    [InlineData("{\"name\":\"\",\"age\":30,\"active\":true,\"color\":\"red\"}", false)]
    [InlineData("{\"name\":\"Al\",\"age\":3.5,\"active\":true,\"color\":\"red\"}", false)]
    [InlineData("{\"name\":\"Al\",\"age\":30,\"active\":1,\"color\":\"red\"}", false)]
    [InlineData("{\"name\":\"Al\",\"age\":30,\"active\":true,\"color\":\"purple\"}", false)]
    [InlineData("{\"name\":\"Al\",\"age\":30,\"active\":true,\"color\":\"red\",\"x\":1}", false)]
    [InlineData("{\"name\":\"Al\",\"name\":\"Bo\",\"age\":30,\"active\":true,\"color\":\"red\"}", false)]
    [InlineData("{\"name\":\"abcdefghijklm\",\"age\":30,\"active\":true,\"color\":\"red\"}", false)]
    public void RequiredEnumAndLengthAreEnforced(string text, bool valid)
    {
        var schema = Compile(PersonSchema);
        Assert.Equal(valid, JsonMatcher.IsValidDocument(schema, text));

        // The independent checker agrees on the complete documents.
        using var s = JsonDocument.Parse(PersonSchema);
        using var d = JsonDocument.Parse(text);
        Assert.Equal(valid, SchemaChecker.Matches(s.RootElement, s.RootElement, d.RootElement));
    }

    [Fact]
    public void PrefixesThatCannotBeFinishedAreRefusedAtTheFirstBadByte()
    {
        var schema = Compile(PersonSchema);
        Assert.True(JsonMatcher.IsValidPrefix(schema, "{\"na"));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "{\"nb"));
        Assert.True(JsonMatcher.IsValidPrefix(schema, "{\"color\":\"gr"));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "{\"color\":\"gra"));

        // With every property given and no others allowed, a comma has no way on.
        var closed = Compile("""{"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false}""");
        Assert.True(JsonMatcher.IsValidPrefix(closed, "{\"a\":1"));
        Assert.False(JsonMatcher.IsValidPrefix(closed, "{\"a\":1,"));
    }

    [Fact]
    public void CloseCostIsTheLengthOfTheShortestCompletion()
    {
        var schema = Compile(PersonSchema);
        var m = JsonMatcher.Start(schema).Advance("{\"age\":7,\"na");
        const string shortest = "me\":\"a\",\"active\":true,\"color\":\"red\"}";
        Assert.Equal(Encoding.UTF8.GetByteCount(shortest), m!.CloseCost);
        Assert.True(m.Advance(shortest)!.IsComplete);

        var tree = JsonMatcher.Start(Compile(TreeSchema)).Advance("{\"children\":[{\"children\":[");
        const string treeShortest = "],\"value\":0}],\"value\":0}";
        Assert.Equal(treeShortest.Length, tree!.CloseCost);
        Assert.True(tree.Advance(treeShortest)!.IsComplete);
        Assert.False(JsonMatcher.IsValidDocument(Compile(TreeSchema), "{\"children\":[{\"children\":[]}]}"));
    }

    [Theory]
    [InlineData("\"abc\"", true)]
    [InlineData("\"abcdef\"", false)]
    [InlineData("{\"x\":12}", true)]
    [InlineData("{\"y\":12}", false)]
    [InlineData("[null,1.5]", true)]
    [InlineData("[]", false)]
    [InlineData("[1,2,3,4]", false)]
    [InlineData("12", false)]
    public void AnyOfTriesEachAlternative(string text, bool valid)
    {
        Assert.Equal(valid, JsonMatcher.IsValidDocument(Compile(ChoiceSchema), text));
    }

    [Fact]
    public void RecursiveReferencesResolve()
    {
        var schema = Compile(TreeSchema);
        Assert.True(JsonMatcher.IsValidDocument(schema, "{\"value\":1,\"children\":[{\"value\":2,\"children\":[]},{\"children\":[{\"value\":3}],\"value\":4}]}"));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "{\"value\":1,\"children\":[{\"value\":2},{\"value\":3},"));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "{\"value\":1,\"children\":[{\"name\""));
    }

    [Fact]
    public void StringsCountCodePointsAndRefuseBadUtf8()
    {
        var schema = Compile("""{"type":"string","minLength":2,"maxLength":3}""");
        Assert.True(JsonMatcher.IsValidDocument(schema, "\"é€😀\""));
        Assert.True(JsonMatcher.IsValidDocument(schema, "\"a\\n\""));
        Assert.False(JsonMatcher.IsValidDocument(schema, "\"a\""));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "\"abcd"));
        Assert.True(JsonMatcher.IsValidDocument(schema, "\"\\u00e9\\u20ac\""));

        var any = Compile("""{"type":"string"}""");
        var start = JsonMatcher.Start(any).Advance("\"");
        Assert.NotNull(start!.Advance([0xC3]));
        Assert.NotNull(start.Advance([0xC3, 0xA9, (byte)'"']));
        Assert.Null(start.Advance([0xC0, 0x80]));         // overlong
        Assert.Null(start.Advance([0xED, 0xA0, 0x80]));   // a surrogate in UTF-8
        Assert.Null(start.Advance([0xF4, 0x90, 0x80, 0x80])); // above U+10FFFF
        Assert.Null(start.Advance([0xC3, (byte)'"']));    // a character cut short
        Assert.Null(start.Advance([0x80]));               // a stray continuation byte
    }

    [Theory]
    [InlineData("date-time", "2024-02-28T23:59:59Z", true)]
    [InlineData("date-time", "1999-12-01T00:00:00+05:30", true)]
    [InlineData("date-time", "2024-13-01T00:00:00Z", false)]
    [InlineData("date-time", "2024-02-28T24:00:00Z", false)]
    [InlineData("date-time", "2024-02-28T23:60:00Z", false)]
    [InlineData("date-time", "2024-02-28 23:59:59Z", false)]
    [InlineData("date", "2024-00-10", false)]
    [InlineData("date", "2024-10-10", true)]
    [InlineData("time", "23:59:59", true)]
    [InlineData("time", "7:59:59", false)]
    [InlineData("uuid", "0f8fad5b-d9cb-469f-a165-70867728950e", true)]
    [InlineData("uuid", "0f8fad5b-d9cb-469f-a165-70867728950", false)]
    [InlineData("uuid", "0f8fad5b-d9cb-469f-a165-70867728950g", false)]
    public void FormatsAcceptOnlyValidValues(string format, string value, bool valid)
    {
        var schema = Compile($$"""{"type":"string","format":"{{format}}"}""");
        Assert.Equal(valid, JsonMatcher.IsValidDocument(schema, $"\"{value}\""));
        if (valid)
        {
            // What the matcher accepts, .NET reads.
            bool parses = format switch
            {
                "date-time" => DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _),
                "date" => DateOnly.TryParseExact(value, "yyyy-MM-dd", out _),
                "time" => TimeOnly.TryParseExact(value, "HH:mm:ss", out _),
                _ => Guid.TryParse(value, out _),
            };
            Assert.True(parses, value);
        }
    }

    [Fact]
    public void ArraysHonourItemCountsAndPrefixItems()
    {
        var counted = Compile("""{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":3}""");
        Assert.False(JsonMatcher.IsValidDocument(counted, "[1]"));
        Assert.True(JsonMatcher.IsValidDocument(counted, "[1,2]"));
        Assert.False(JsonMatcher.IsValidPrefix(counted, "[1,2,3,"));
        Assert.False(JsonMatcher.IsValidPrefix(counted, "[1]"));

        var tuple = Compile("""{"type":"array","prefixItems":[{"type":"string"},{"type":"boolean"}],"items":false}""");
        Assert.True(JsonMatcher.IsValidDocument(tuple, "[\"a\",true]"));
        Assert.True(JsonMatcher.IsValidDocument(tuple, "[\"a\"]"));
        Assert.False(JsonMatcher.IsValidPrefix(tuple, "[\"a\",true,"));
        Assert.False(JsonMatcher.IsValidPrefix(tuple, "[true"));
    }

    [Fact]
    public void ConstAndEnumOfAnyValueAreExactTexts()
    {
        var schema = Compile("""{"type":"object","properties":{"v":{"const":{"k":[1,"é"]}},"n":{"enum":[1,12,null]}},"required":["v","n"]}""");
        Assert.True(JsonMatcher.IsValidDocument(schema, "{\"v\":{\"k\":[1,\"é\"]},\"n\":12}"));
        Assert.True(JsonMatcher.IsValidDocument(schema, "{\"n\":1,\"v\":{\"k\":[1,\"é\"]}}"));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "{\"n\":2"));
        Assert.False(JsonMatcher.IsValidPrefix(schema, "{\"v\":{\"k\":[2"));
    }

    [Theory]
    [InlineData("""{"type":"string","pattern":"^a"}""", "pattern")]
    [InlineData("""{"type":"string","format":"email"}""", "'email'")]
    [InlineData("""{"type":"integer","minimum":0}""", "minimum")]
    [InlineData("""{"type":"array","uniqueItems":true}""", "uniqueItems")]
    [InlineData("""{"$ref":"https://example.com/schema"}""", "https://example.com/schema")]
    [InlineData("""{"type":"object","properties":{"a":{"not":{}}}}""", "#/properties/a")]
    [InlineData("""{"type":"object","anyOf":[{"required":["a"]}]}""", "type")]
    [InlineData("""{"type":"teapot"}""", "teapot")]
    [InlineData("""{"type":"object","required":["a"],"additionalProperties":false}""", "cannot be satisfied")]
    public void UnsupportedOrBrokenSchemasFailNamingTheProblem(string schema, string named)
    {
        using var doc = JsonDocument.Parse(schema);
        var ex = Assert.Throws<LmPromptException>(() => JsonSchemaCompiler.Compile(doc.RootElement));
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
        Assert.Equal("ResponseFormat", ex.FieldName);
    }

    [Fact]
    public void JsonSchemaExporterSchemasCompileAndAcceptWhatTheSerializerWrites()
    {
        var options = new JsonSerializerOptions(JsonSerializerOptions.Default);
        foreach (var ((type, value), strict) in ExporterSamples.All.SelectMany(s => new[] { (s, false), (s, true) }))
        {
            var exporterOptions = new JsonSchemaExporterOptions { TreatNullObliviousAsNonNullable = strict };
            string schemaText = JsonSchemaExporter.GetJsonSchemaAsNode(options, type, exporterOptions).ToJsonString();
            var schema = Compile(schemaText);
            string json = JsonSerializer.Serialize(value, type, options);
            Assert.True(JsonMatcher.IsValidDocument(schema, json), $"{type.Name}: {json} against {schemaText}");
            SchemaChecker.AssertMatches(schemaText, json);
        }

        // As LmResponseFormat.ForType makes them: camelCase, closed objects, everything required.
        foreach (var (type, value) in ExporterSamples.All.Where(s => s.Type != typeof(Dictionary<string, double>)))
        {
            string schemaText = ExporterSamples.ForTypeSchema(type);
            string json = JsonSerializer.Serialize(value, type, ExporterSamples.WebOptions);
            if (type == typeof(ExporterSamples.Category))
            {
                // Closed and all-required: the leaf's children must be written too (as they are, []).
                Assert.Contains("\"children\":[]", json, StringComparison.Ordinal);
            }

            Assert.True(JsonMatcher.IsValidDocument(Compile(schemaText), json), $"{type.Name}: {json} against {schemaText}");
            SchemaChecker.AssertMatches(schemaText, json);
            Assert.False(JsonMatcher.IsValidPrefix(Compile(schemaText), json[..^1] + ",\"zz\""));
        }
    }

    [Fact]
    public void RandomWalksEndInMatchingDocuments()
    {
        // Pick random allowed bytes, then, past a budget, bytes that bring the document closer to its end: every result
        // must parse and match (checked independently), and closing must always be possible.
        var random = new Random(1234);
        foreach (string schemaText in (string[])[PersonSchema, TreeSchema, ChoiceSchema, """{"type":"object"}""", ExporterSamples.OrderSchema()])
        {
            var schema = Compile(schemaText);
            for (int run = 0; run < 20; run++)
            {
                var m = JsonMatcher.Start(schema);
                var bytes = new List<byte>();
                int budget = 40 + random.Next(60);
                while (!m.IsFinal && !(m.IsComplete && random.Next(4) == 0))
                {
                    var options = Enumerable.Range(0, 256).Select(b => (Byte: (byte)b, Next: m.Advance([(byte)b]))).Where(o => o.Next is not null).ToList();
                    Assert.NotEmpty(options);
                    if (bytes.Count >= budget)
                    {
                        int best = options.Min(o => o.Next!.CloseCost);
                        Assert.Equal(m.CloseCost - 1, best);
                        options = [.. options.Where(o => o.Next!.CloseCost == best)];
                    }

                    var pick = options[random.Next(options.Count)];
                    bytes.Add(pick.Byte);
                    m = pick.Next!;
                }

                SchemaChecker.AssertMatches(schemaText, Encoding.UTF8.GetString([.. bytes]));
            }
        }
    }

    internal static JsonSchemaNode Compile(string schema)
    {
        using var doc = JsonDocument.Parse(schema);
        return JsonSchemaCompiler.Compile(doc.RootElement.Clone());
    }
}
