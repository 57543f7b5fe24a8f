namespace LmWrapper.HuggingFace.Generation;

/// <summary>One sample's progress through a <see cref="JsonConstraint"/>: the parser state after the tokens taken so far.</summary>
internal sealed class JsonConstraintState
{
    private readonly JsonConstraint _constraint;
    private readonly List<List<JsonFrame>> _levels = [];
    private JsonMatcher _matcher;

    internal JsonConstraintState(JsonConstraint constraint, JsonMatcher start)
    {
        _constraint = constraint;
        _matcher = start;
    }

    /// <summary>The parser state.</summary>
    public JsonMatcher Matcher => _matcher;

    /// <summary>Whether the output so far is a whole matching document (end-of-sequence is allowed).</summary>
    public bool IsComplete => _matcher.IsComplete;

    /// <summary>Whether the document is complete and closed: nothing but end-of-sequence may follow.</summary>
    public bool IsFinal => _matcher.IsFinal;

    /// <summary>
    /// Marks the token ids that may come next (others are left false; end-of-sequence is the caller's, when
    /// <see cref="IsComplete"/>). <paramref name="remainingTokens"/> counts this token: tokens after which the document
    /// could not be closed in the rest are left out, unless that leaves none (the output will then be cut by the limit).
    /// </summary>
    /// <returns>How many ids were marked.</returns>
    public int FillAllowed(Span<bool> allowed, int remainingTokens)
    {
        int n = Fill(allowed, remainingTokens - 1);
        if (n == 0 && !IsComplete)
        {
            n = Fill(allowed, int.MaxValue);
        }

        return n;
    }

    /// <summary>Moves past a chosen token.</summary>
    /// <exception cref="InvalidOperationException">The token was not allowed.</exception>
    public void Advance(int id)
    {
        var bytes = (uint)id < (uint)_constraint.Vocabulary.IdCount ? _constraint.Vocabulary.TokenBytes[id] : null;
        _matcher = (bytes is { Length: > 0 } ? _matcher.Advance(bytes) : null)
            ?? throw new InvalidOperationException($"Token {id} does not continue the constrained JSON output.");
    }

    private int Fill(Span<bool> allowed, int budget)
    {
        allowed.Clear();
        var start = new List<JsonFrame>(_matcher.States);
        var trie = _constraint.Vocabulary;
        if (start.Count == 1 && trie.Special is { } special && start[0].PlainRoom(budget) is int room and >= 0)
        {
            // Inside a string: plain-content tokens by their length alone, only the rest through the trie.
            int marked = 0;
            var ids = trie.PlainIds;
            var codePoints = trie.PlainCodePoints;
            for (int i = 0; i < ids.Length; i++)
            {
                if (codePoints[i] <= room && ids[i] < allowed.Length)
                {
                    allowed[ids[i]] = true;
                    marked++;
                }
            }

            return marked + Walk(special, TokenTrie.Root, start, 0, allowed, budget);
        }

        if (start.Count == 1 && trie.Special is { } rest && start[0] is JsonKeyFrame key && key.FreeNameTooDear(budget))
        {
            // An object key near the end of the budget: a plain token that leaves the known names makes a free name,
            // which cannot fit, and plain content never lowers the cost; so plain tokens only along known names, and the
            // others (quotes, escapes, partial characters) through their own trie.
            return Walk(rest, TokenTrie.Root, start, 0, allowed, budget) + Walk(trie, TokenTrie.Root, start, 0, allowed, budget, knownNamesOnly: true);
        }

        return Walk(trie, TokenTrie.Root, start, 0, allowed, budget);
    }

    private int Walk(TokenTrie trie, int node, List<JsonFrame> states, int depth, Span<bool> allowed, int budget, bool knownNamesOnly = false)
    {
        if (_levels.Count <= depth)
        {
            _levels.Add([]);
        }

        var next = _levels[depth];
        int marked = 0;
        var (start, count) = trie.Children(node);
        for (int e = start; e < start + count; e++)
        {
            next.Clear();
            byte b = trie.EdgeByte(e);
            foreach (var s in states)
            {
                s.Step(b, next);
            }

            if (next.Count == 0 || (knownNamesOnly && !(next.Count == 1 && next[0] is JsonKeyFrame { OnKnownName: true })))
            {
                continue;
            }

            int child = trie.EdgeNode(e);
            int cost = MinCloseCost(next);

            // Each byte lowers the close cost by at most one, so no token below can fit a budget this far off.
            if (cost - trie.Height(child) > budget)
            {
                continue;
            }

            var ids = trie.TokensAt(child);
            if (ids.Length > 0 && cost <= budget)
            {
                foreach (int id in ids)
                {
                    if (id < allowed.Length && !allowed[id])
                    {
                        allowed[id] = true;
                        marked++;
                    }
                }
            }

            marked += Walk(trie, child, next, depth + 1, allowed, budget, knownNamesOnly);
        }

        return marked;
    }

    private static int MinCloseCost(List<JsonFrame> states)
    {
        int best = int.MaxValue;
        foreach (var s in states)
        {
            best = Math.Min(best, s.CloseCost);
        }

        return best;
    }
}
