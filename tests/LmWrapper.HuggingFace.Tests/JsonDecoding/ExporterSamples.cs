using System.Text.Json;
using System.Text.Json.Schema;
using System.Text.Json.Serialization;

namespace LmWrapper.HuggingFace.Tests.JsonDecoding;

/// <summary>C# types whose JsonSchemaExporter schemas constrained decoding must take, with a value of each.</summary>
internal static class ExporterSamples
{
    public static IEnumerable<(Type Type, object Value)> All =>
    [
        (typeof(Address), new Address("1 Main St", "Springfield")),
        (typeof(Order), new Order(7, "Ann", [new OrderLine("pen", 2, 1.5), new OrderLine("ink", 1, 12)], Priority.High, new Address("x", "y"), null, true)),
        (typeof(Category), new Category { Name = "root", Children = [new Category { Name = "leaf", Children = [] }] }),
        (typeof(List<int>), new List<int> { 1, 2, 3 }),
        (typeof(Appointment), new Appointment("dentist", new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc), new DateOnly(2023, 12, 28), new TimeOnly(23, 0, 59), Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e"), new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.FromHours(-5)))),
        (typeof(Dictionary<string, double>), new Dictionary<string, double> { ["a"] = 1.25, ["b"] = -3 }),
    ];

    /// <summary>Web defaults with numbers as numbers only, as LmResponseFormat.ForType uses them.</summary>
    public static JsonSerializerOptions WebOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.Strict,
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
    };

    /// <summary>
    /// The schema of <see cref="Order"/> made as LmResponseFormat.ForType makes one: camelCase names, not nullable where
    /// C# says so, every object closed with all its properties required (a C# enum with a string converter becomes a
    /// JSON enum), so the model must write the whole object.
    /// </summary>
    public static string OrderSchema() => ForTypeSchema(typeof(Order));

    /// <summary>A type's schema as LmResponseFormat.ForType makes it (see <see cref="OrderSchema"/>).</summary>
    public static string ForTypeSchema(Type type)
    {
        var node = JsonSchemaExporter.GetJsonSchemaAsNode(WebOptions, type, new JsonSchemaExporterOptions { TreatNullObliviousAsNonNullable = true });
        Close(node);
        return node.ToJsonString();
    }

    private static void Close(System.Text.Json.Nodes.JsonNode? node)
    {
        switch (node)
        {
            case System.Text.Json.Nodes.JsonObject obj:
                if (obj["properties"] is System.Text.Json.Nodes.JsonObject props)
                {
                    obj["additionalProperties"] = false;
                    obj["required"] = new System.Text.Json.Nodes.JsonArray([.. props.Select(p => (System.Text.Json.Nodes.JsonNode?)p.Key)]);
                }

                foreach (var (_, child) in obj.ToList())
                {
                    Close(child);
                }

                break;
            case System.Text.Json.Nodes.JsonArray array:
                foreach (var child in array)
                {
                    Close(child);
                }

                break;
        }
    }

    public sealed record Address(string Street, string City);

    public sealed record OrderLine(string Product, int Quantity, double Price);

    [JsonConverter(typeof(JsonStringEnumConverter<Priority>))]
    public enum Priority
    {
        Low,
        High,
    }

    public sealed record Order(int Id, string Customer, List<OrderLine> Lines, Priority Priority, Address ShipTo, Address? BillTo, bool Paid);

    public sealed record Appointment(string What, DateTime At, DateOnly Day, TimeOnly Time, Guid Id, DateTimeOffset Booked);

    public sealed class Category
    {
        public required string Name { get; init; }

        public List<Category>? Children { get; init; }
    }
}
