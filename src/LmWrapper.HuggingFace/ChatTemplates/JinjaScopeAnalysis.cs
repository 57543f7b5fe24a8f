namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>
/// jinja2 decides at compile time where each name in a frame comes from (its idtracking): in a frame, a name whose first
/// use is a load resolves from the enclosing frames or the context; a name whose first use is a store — in every branch
/// outside any <c>if</c> — is a local of that frame that starts out missing, so reads of it (including from loop bodies and
/// macros nested in the frame) are undefined until the assignment runs, even if the context has a value of that name.
/// This pass computes, for every frame body, the names to start as missing.
/// </summary>
internal static class JinjaScopeAnalysis
{
    private enum Kind { Param, Resolve, Alias, Undefined }

    private sealed class Symbols(Symbols? parent)
    {
        public Symbols? Parent { get; } = parent;

        public Dictionary<string, Kind> Refs { get; private init; } = new(StringComparer.Ordinal);

        public HashSet<string> Stores { get; private init; } = new(StringComparer.Ordinal);

        public bool FindRef(string name)
        {
            for (var s = this; s is not null; s = s.Parent)
            {
                if (s.Refs.ContainsKey(name)) return true;
            }
            return false;
        }

        public void Load(string name)
        {
            if (!FindRef(name)) Refs[name] = Kind.Resolve;
        }

        public void Store(string name)
        {
            Stores.Add(name);
            if (Refs.ContainsKey(name)) return;
            Refs[name] = Parent is not null && Parent.FindRef(name) ? Kind.Alias : Kind.Undefined;
        }

        public Symbols Copy() => new(Parent)
        {
            Refs = new Dictionary<string, Kind>(Refs, StringComparer.Ordinal),
            Stores = new HashSet<string>(Stores, StringComparer.Ordinal),
        };
    }

    /// <summary>The names each frame body starts with as missing, by body (reference identity).</summary>
    public static Dictionary<List<Stmt>, string[]> Analyze(List<Stmt> template)
    {
        var result = new Dictionary<List<Stmt>, string[]>(ReferenceEqualityComparer.Instance);
        Frame(template, null, [], result);
        return result;
    }

    private static void Frame(List<Stmt> body, Symbols? parent, IEnumerable<string> parameters, Dictionary<List<Stmt>, string[]> result, Expr? firstExpr = null)
    {
        var sym = new Symbols(parent);
        foreach (var p in parameters) sym.Refs[p] = Kind.Param;
        if (firstExpr is not null) Expr(firstExpr, sym);
        foreach (var s in body) Stmt(s, sym, result);
        var missing = sym.Refs.Where(kv => kv.Value == Kind.Undefined).Select(kv => kv.Key).ToArray();
        if (missing.Length > 0) result[body] = missing;
    }

    private static IEnumerable<string> TargetNames(Target t) => t switch
    {
        NameTarget n => [n.Name],
        TupleTarget tt => tt.Items.SelectMany(TargetNames),
        _ => [],
    };

    private static void StoreTarget(Target t, Symbols sym)
    {
        switch (t)
        {
            case NameTarget n: sym.Store(n.Name); break;
            case TupleTarget tt: foreach (var i in tt.Items) StoreTarget(i, sym); break;
            case NamespaceTarget ns: sym.Load(ns.Namespace); break;
        }
    }

    private static void Stmt(Stmt stmt, Symbols sym, Dictionary<List<Stmt>, string[]> result)
    {
        switch (stmt)
        {
            case OutputStmt o:
                Expr(o.Value, sym);
                break;
            case IfStmt s:
                If(s.Branches, 0, s.Else, sym, result);
                break;
            case ForStmt f:
                Expr(f.Iterable, sym);
                Frame(f.Body, sym, [.. TargetNames(f.Target), "loop"], result, f.Filter);
                if (f.Else is not null) Frame(f.Else, sym, [], result);
                break;
            case SetStmt s:
                Expr(s.Value, sym);
                StoreTarget(s.Target, sym);
                break;
            case SetBlockStmt s:
                StoreTarget(s.Target, sym);
                Frame(s.Body, sym, [], result);
                break;
            case MacroStmt m:
                sym.Store(m.Name);
                Frame(m.Body, sym, [.. m.Params.Select(p => p.Name), "varargs", "kwargs", "caller"], result);
                break;
            case CallBlockStmt c:
                Expr(c.Call, sym);
                Frame(c.Body, sym, [.. c.Params.Select(p => p.Name), "varargs", "kwargs", "caller"], result);
                break;
            case FilterBlockStmt fb:
                foreach (var f in fb.Filters) Args(f.Args, sym);
                Frame(fb.Body, sym, [], result);
                break;
            case WithStmt w:
                foreach (var (_, value) in w.Assignments) Expr(value, sym);
                Frame(w.Body, sym, w.Assignments.SelectMany(a => TargetNames(a.Target)), result);
                break;
            case BlockStmt b:
                Frame(b.Body, sym, [], result);
                break;
        }
    }

    /// <summary>jinja2 visits an if as test, then three branches — the body, all elifs in sequence, the else — and merges.</summary>
    private static void If(List<(Expr Condition, List<Stmt> Body)> branches, int index, List<Stmt>? elseBody, Symbols sym, Dictionary<List<Stmt>, string[]> result)
    {
        Expr(branches[index].Condition, sym);
        var bodySym = sym.Copy();
        foreach (var s in branches[index].Body) Stmt(s, bodySym, result);
        var elifSym = sym.Copy();
        if (index == 0)
        {
            for (int i = 1; i < branches.Count; i++) Elif(branches[i], elifSym, result);
        }
        var elseSym = sym.Copy();
        if (index == 0 && elseBody is not null)
        {
            foreach (var s in elseBody) Stmt(s, elseSym, result);
        }
        BranchUpdate(sym, [bodySym, elifSym, elseSym]);
    }

    /// <summary>An elif is an if of its own with empty elif and else branches.</summary>
    private static void Elif((Expr Condition, List<Stmt> Body) branch, Symbols sym, Dictionary<List<Stmt>, string[]> result)
    {
        Expr(branch.Condition, sym);
        var bodySym = sym.Copy();
        foreach (var s in branch.Body) Stmt(s, bodySym, result);
        BranchUpdate(sym, [bodySym, sym.Copy(), sym.Copy()]);
    }

    /// <summary>Merges the branches of an if: any name first stored inside a branch resolves from outside until assigned.</summary>
    private static void BranchUpdate(Symbols sym, Symbols[] branches)
    {
        var stores = new HashSet<string>(branches.SelectMany(b => b.Stores), StringComparer.Ordinal);
        stores.ExceptWith(sym.Stores);
        foreach (var b in branches)
        {
            foreach (var kv in b.Refs) sym.Refs[kv.Key] = kv.Value;
            sym.Stores.UnionWith(b.Stores);
        }
        foreach (var name in stores)
            sym.Refs[name] = sym.Parent is not null && sym.Parent.FindRef(name) ? Kind.Alias : Kind.Resolve;
    }

    private static void Args(CallArgs a, Symbols sym)
    {
        foreach (var e in a.Positional) Expr(e, sym);
        foreach (var (_, e) in a.Keyword) Expr(e, sym);
        if (a.StarArgs is not null) Expr(a.StarArgs, sym);
        if (a.StarKwargs is not null) Expr(a.StarKwargs, sym);
    }

    private static void Expr(Expr? e, Symbols sym)
    {
        switch (e)
        {
            case null: return;
            case NameExpr n: sym.Load(n.Name); return;
            case ListExpr l: foreach (var x in l.Items) Expr(x, sym); return;
            case TupleExpr t: foreach (var x in t.Items) Expr(x, sym); return;
            case DictExpr d: foreach (var (k, v) in d.Items) { Expr(k, sym); Expr(v, sym); } return;
            case GetAttrExpr g: Expr(g.Target, sym); return;
            case GetItemExpr g: Expr(g.Target, sym); Expr(g.Key, sym); return;
            case SliceExpr s: Expr(s.Start, sym); Expr(s.Stop, sym); Expr(s.Step, sym); return;
            case CallExpr c: Expr(c.Function, sym); Args(c.Args, sym); return;
            case FilterExpr f: Expr(f.Value, sym); Args(f.Args, sym); return;
            case TestExpr t: Expr(t.Value, sym); Args(t.Args, sym); return;
            case UnaryExpr u: Expr(u.Operand, sym); return;
            case BinaryExpr b: Expr(b.Left, sym); Expr(b.Right, sym); return;
            case ConcatExpr c: foreach (var x in c.Parts) Expr(x, sym); return;
            case CompareExpr c: Expr(c.First, sym); foreach (var (_, x) in c.Rest) Expr(x, sym); return;
            case CondExpr c: Expr(c.Test, sym); Expr(c.Then, sym); Expr(c.Else, sym); return;
        }
    }
}
