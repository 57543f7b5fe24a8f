using System.Text.Json.Nodes;

namespace LmWrapper.Testing.Anthropic;

/// <summary>One Message Batch held by the fake (internal).</summary>
internal sealed class FakeAnthropicBatch(string id, DateTimeOffset createdAt, IReadOnlyList<(string CustomId, JsonNode? Params)> requests)
{
    private readonly object _gate = new();
    private readonly List<JsonObject> _results = [];

    public string Id { get; } = id;

    public DateTimeOffset CreatedAt { get; } = createdAt;

    public IReadOnlyList<(string CustomId, JsonNode? Params)> Requests { get; } = requests;

    public string Status { get; private set; } = "in_progress";

    public DateTimeOffset? CancelInitiatedAt { get; private set; }

    public DateTimeOffset? EndedAt { get; private set; }

    /// <summary>How many times the batch has been retrieved (<c>GET …/{id}</c>).</summary>
    public int Looks { get; private set; }

    public void Look()
    {
        lock (_gate)
        {
            Looks++;
        }
    }

    public void Cancel(DateTimeOffset now)
    {
        lock (_gate)
        {
            if (Status == "in_progress")
            {
                Status = "canceling";
                CancelInitiatedAt = now;
            }
        }
    }

    /// <summary>
    /// Moves the batch on: a canceling batch ends with its requests canceled; an in-progress one ends once its time is up
    /// or, when <paramref name="looksToEnd"/> is set, once it has been retrieved that many times.
    /// </summary>
    public void Advance(DateTimeOffset now, TimeSpan processingTime, int? looksToEnd, Func<string, JsonNode?, JsonObject> run)
    {
        lock (_gate)
        {
            if (Status == "canceling")
            {
                foreach (var (customId, _) in Requests)
                {
                    _results.Add(new JsonObject { ["custom_id"] = customId, ["result"] = new JsonObject { ["type"] = "canceled" } });
                }

                Status = "ended";
                EndedAt = now;
            }
            else if (Status == "in_progress" && (looksToEnd is { } n ? Looks >= n : now >= CreatedAt + processingTime))
            {
                foreach (var (customId, p) in Requests)
                {
                    _results.Add(new JsonObject { ["custom_id"] = customId, ["result"] = run(customId, p) });
                }

                Status = "ended";
                EndedAt = now;
            }
        }
    }

    public IReadOnlyList<JsonObject> Results
    {
        get
        {
            lock (_gate)
            {
                return [.. _results];
            }
        }
    }

    public JsonObject ToJson(Uri baseUrl)
    {
        lock (_gate)
        {
            int Count(string type) => _results.Count(r => r["result"]?["type"]?.GetValue<string>() == type);
            bool ended = Status == "ended";
            return new JsonObject
            {
                ["id"] = Id,
                ["type"] = "message_batch",
                ["processing_status"] = Status,
                ["request_counts"] = new JsonObject
                {
                    ["processing"] = ended ? 0 : Requests.Count,
                    ["succeeded"] = Count("succeeded"),
                    ["errored"] = Count("errored"),
                    ["canceled"] = Count("canceled"),
                    ["expired"] = Count("expired"),
                },
                ["ended_at"] = EndedAt is { } e ? FakeAnthropicRules.Timestamp(e) : null,
                ["created_at"] = FakeAnthropicRules.Timestamp(CreatedAt),
                ["expires_at"] = FakeAnthropicRules.Timestamp(CreatedAt.AddHours(24)),
                ["archived_at"] = null,
                ["cancel_initiated_at"] = CancelInitiatedAt is { } c ? FakeAnthropicRules.Timestamp(c) : null,
                ["results_url"] = ended ? new Uri(baseUrl, $"v1/messages/batches/{Id}/results").AbsoluteUri : null,
            };
        }
    }
}
