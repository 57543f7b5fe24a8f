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
        (typeof(Dictionary<string, double>), new Dictionary<string, double> { ["a"] = 1.25, ["b"] = -3 }),
    ];

    /// <summary>
    /// The schema of <see cref="Order"/> (a C# enum with a string converter becomes a JSON enum; the root and the
    /// non-nullable references are not nullable, so the model must write the whole object).
    /// </summary>
    public static string OrderSchema() => JsonSchemaExporter.GetJsonSchemaAsNode(
        JsonSerializerOptions.Default, typeof(Order), new JsonSchemaExporterOptions { TreatNullObliviousAsNonNullable = true }).ToJsonString();

    public sealed record Address(string Street, string City);

    public sealed record OrderLine(string Product, int Quantity, double Price);

    [JsonConverter(typeof(JsonStringEnumConverter<Priority>))]
    public enum Priority
    {
        Low,
        High,
    }

    public sealed record Order(int Id, string Customer, List<OrderLine> Lines, Priority Priority, Address ShipTo, Address? BillTo, bool Paid);

    public sealed class Category
    {
        public required string Name { get; init; }

        public List<Category>? Children { get; init; }
    }
}
