using System.Text;

namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>Runs a parsed template against variables, with jinja2's semantics.</summary>
internal sealed class JinjaInterpreter
{
    private enum Flow { Normal, Break, Continue }

    private readonly Func<DateTime> _now;
    private readonly Dictionary<List<Stmt>, string[]> _frameLocals;
    private readonly CancellationToken _cancellationToken;
    private int _depth;
    private long _steps;

    public JinjaInterpreter(Func<DateTime> now, Dictionary<List<Stmt>, string[]> frameLocals, CancellationToken cancellationToken = default)
    {
        _now = now;
        _frameLocals = frameLocals;
        _cancellationToken = cancellationToken;
    }

    /// <summary>Counts one step (a statement or a loop iteration): past <see cref="ChatTemplate.MaxRenderSteps"/> it throws; now and then it checks for cancellation.</summary>
    private void Step()
    {
        if (++_steps > ChatTemplate.MaxRenderSteps)
            throw new ChatTemplateLimitException($"The template ran more than {ChatTemplate.MaxRenderSteps:N0} steps (statements and loop iterations) in one render; it is looping without bound.");
        if ((_steps & 1023) == 0) _cancellationToken.ThrowIfCancellationRequested();
    }

    private static void CheckOutput(StringBuilder sb)
    {
        if (sb.Length > ChatTemplate.MaxOutputChars)
            throw new ChatTemplateLimitException($"The template's output passed {ChatTemplate.MaxOutputChars:N0} characters.");
    }

    /// <summary>Enters a frame: a new scope with jinja2's declared-but-unassigned locals of that body.</summary>
    private Scope Enter(Scope parent, List<Stmt> body)
    {
        var scope = new Scope(parent);
        if (_frameLocals.TryGetValue(body, out var names))
        {
            foreach (var n in names) scope.Set(n, Scope.Missing);
        }
        return scope;
    }

    public string Render(List<Stmt> template, Dictionary<string, object?> variables)
    {
        var globals = new Scope(null);
        foreach (var (name, fn) in Globals()) globals.Set(name, fn);
        var context = new Scope(globals);
        foreach (var kv in variables) context.Set(kv.Key, kv.Value);
        var sb = new StringBuilder();
        _cancellationToken.ThrowIfCancellationRequested();
        Exec(template, Enter(context, template), sb);
        return sb.ToString();
    }

    private IEnumerable<(string, JinjaFunction)> Globals()
    {
        yield return ("raise_exception", new JinjaFunction("raise_exception", (a, k) =>
            throw new ChatTemplateRaisedException(Py.Str(a.Count > 0 ? a[0] : k.GetValueOrDefault("message")))));
        yield return ("strftime_now", new JinjaFunction("strftime_now", (a, k) =>
            PyStrftime.Format(_now(), Py.Str(a.Count > 0 ? a[0] : k.GetValueOrDefault("format")))));
        yield return ("namespace", new JinjaFunction("namespace", (a, k) =>
        {
            var ns = new JinjaNamespace();
            foreach (var x in a)
            {
                if (x is not Dictionary<object, object?> d) throw new ChatTemplateException("namespace() takes mappings or keyword arguments");
                foreach (var kv in d) ns.Attributes[Py.Str(kv.Key)] = kv.Value;
            }
            foreach (var kv in k) ns.Attributes[kv.Key] = kv.Value;
            return ns;
        }));
        yield return ("range", new JinjaFunction("range", (a, _) =>
        {
            long start = 0, stop, step = 1;
            if (a.Count == 1) stop = Py.ToLong(a[0]);
            else if (a.Count is 2 or 3) { start = Py.ToLong(a[0]); stop = Py.ToLong(a[1]); if (a.Count == 3) step = Py.ToLong(a[2]); }
            else throw new ChatTemplateException("range expected 1 to 3 arguments");
            if (step == 0) throw new ChatTemplateException("range() arg 3 must not be zero");
            var list = new List<object?>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step)
            {
                list.Add(i);
                if (list.Count > 100_000) throw new ChatTemplateException("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
            }
            return list;
        }));
        yield return ("dict", new JinjaFunction("dict", (a, k) =>
        {
            var d = Py.NewDict();
            foreach (var x in a)
            {
                if (x is Dictionary<object, object?> src) foreach (var kv in src) d[kv.Key] = kv.Value;
                else foreach (var pair in Py.Iterate(x)) { var p = Py.Iterate(pair); d[p[0] ?? "None"] = p[1]; }
            }
            foreach (var kv in k) d[kv.Key] = kv.Value;
            return d;
        }));
    }

    // ----- statements -----

    private Flow Exec(List<Stmt> body, Scope scope, StringBuilder sb)
    {
        foreach (var stmt in body)
        {
            Flow f;
            try
            {
                Step();
                f = ExecOne(stmt, scope, sb);
                CheckOutput(sb);
            }
            catch (ChatTemplateException ex) when (ex.Line is null && ex is not ChatTemplateRaisedException)
            {
                ex.Line = stmt.Line;
                throw;
            }
            if (f != Flow.Normal) return f;
        }
        return Flow.Normal;
    }

    private Flow ExecOne(Stmt stmt, Scope scope, StringBuilder sb)
    {
        switch (stmt)
        {
            case DataStmt d:
                sb.Append(d.Text);
                return Flow.Normal;
            case OutputStmt o:
                sb.Append(Py.Str(Eval(o.Value, scope)));
                return Flow.Normal;
            case IfStmt s:
                foreach (var (cond, branch) in s.Branches)
                {
                    if (Py.Truthy(Eval(cond, scope))) return Exec(branch, scope, sb);
                }
                return s.Else is null ? Flow.Normal : Exec(s.Else, scope, sb);
            case ForStmt f:
                ExecFor(f, Eval(f.Iterable, scope), scope, sb, 0);
                return Flow.Normal;
            case SetStmt s:
                Assign(s.Target, Eval(s.Value, scope), scope);
                return Flow.Normal;
            case SetBlockStmt s:
                {
                    var inner = new StringBuilder();
                    Exec(s.Body, Enter(scope, s.Body), inner);
                    object? v = inner.ToString();
                    foreach (var f in s.Filters) v = ApplyFilter(f, v, scope);
                    Assign(s.Target, v, scope);
                    return Flow.Normal;
                }
            case MacroStmt m:
                scope.Set(m.Name, MakeMacro(m.Name, m.Params, m.Body, scope));
                return Flow.Normal;
            case CallBlockStmt c:
                {
                    var caller = MakeMacro("caller", c.Params, c.Body, scope);
                    sb.Append(Py.Str(EvalCall(c.Call, scope, caller)));
                    return Flow.Normal;
                }
            case FilterBlockStmt fb:
                {
                    var inner = new StringBuilder();
                    Exec(fb.Body, Enter(scope, fb.Body), inner);
                    object? v = inner.ToString();
                    foreach (var f in fb.Filters) v = ApplyFilter(f, v, scope);
                    sb.Append(Py.Str(v));
                    return Flow.Normal;
                }
            case WithStmt w:
                {
                    var inner = Enter(scope, w.Body);
                    foreach (var (target, value) in w.Assignments) Assign(target, Eval(value, scope), inner);
                    return Exec(w.Body, inner, sb);
                }
            case BlockStmt b:
                return Exec(b.Body, Enter(scope, b.Body), sb);
            case BreakStmt:
                return Flow.Break;
            case ContinueStmt:
                return Flow.Continue;
            default:
                throw new ChatTemplateException($"Unsupported statement {stmt.GetType().Name}");
        }
    }

    private void ExecFor(ForStmt f, object? iterable, Scope scope, StringBuilder sb, int depth)
    {
        if (iterable is null) throw new ChatTemplateException("'NoneType' object is not iterable");
        var items = Py.Iterate(iterable);
        if (f.Filter is not null)
        {
            var filtered = new List<object?>();
            foreach (var item in items)
            {
                var fs = new Scope(scope);
                Assign(f.Target, item, fs);
                if (Py.Truthy(Eval(f.Filter, fs))) filtered.Add(item);
            }
            items = filtered;
        }
        else items = items.ToList();
        Func<object?, string>? recurse = f.Recursive ? sub =>
        {
            var inner = new StringBuilder();
            ExecFor(f, sub, scope, inner, depth + 1);
            return inner.ToString();
        } : null;
        var loop = new LoopContext(items, depth, recurse);
        // As jinja2 compiles it, the else block runs unless some iteration ran its body to the end
        // (so a loop whose every iteration hits break or continue still runs else).
        bool bodyCompleted = false;
        for (int i = 0; i < items.Count; i++)
        {
            // Each iteration is a fresh scope, as in jinja2: a set inside the body does not carry to the next iteration.
            Step();
            var loopScope = Enter(scope, f.Body);
            loopScope.Set("loop", loop);
            loop.Index0 = i;
            Assign(f.Target, items[i], loopScope);
            var flow = Exec(f.Body, loopScope, sb);
            if (flow == Flow.Break) break;
            if (flow == Flow.Normal) bodyCompleted = true;
        }
        if (!bodyCompleted && f.Else is not null) Exec(f.Else, Enter(scope, f.Else), sb);
    }

    private static void Assign(Target target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameTarget n:
                scope.Set(n.Name, value);
                break;
            case TupleTarget t:
                {
                    var items = Py.Iterate(value);
                    if (items.Count != t.Items.Count)
                        throw new ChatTemplateException(items.Count > t.Items.Count
                            ? $"too many values to unpack (expected {t.Items.Count})"
                            : $"not enough values to unpack (expected {t.Items.Count}, got {items.Count})");
                    for (int i = 0; i < items.Count; i++) Assign(t.Items[i], items[i], scope);
                    break;
                }
            case NamespaceTarget ns:
                {
                    if (!scope.TryGet(ns.Namespace, out var obj) || obj is not JinjaNamespace nsObj)
                        throw new ChatTemplateException("cannot assign attribute on non-namespace object");
                    nsObj.Attributes[ns.Attribute] = value;
                    break;
                }
        }
    }

    private JinjaFunction MakeMacro(string name, List<MacroParam> ps, List<Stmt> body, Scope closure) =>
        new(name, (args, kwargs) =>
        {
            if (++_depth > 200) throw new ChatTemplateException("maximum macro recursion depth exceeded");
            try
            {
                var s = Enter(closure, body);
                var extraKw = Py.NewDict();
                for (int i = 0; i < ps.Count; i++)
                {
                    var p = ps[i];
                    if (i < args.Count)
                    {
                        if (kwargs.ContainsKey(p.Name)) throw new ChatTemplateException($"macro '{name}' got multiple values for argument '{p.Name}'");
                        s.Set(p.Name, args[i]);
                    }
                    else if (kwargs.TryGetValue(p.Name, out var kv)) s.Set(p.Name, kv);
                    else if (p.Default is not null) s.Set(p.Name, Eval(p.Default, s));
                    else s.Set(p.Name, new JinjaUndefined($"parameter '{p.Name}' was not provided"));
                }
                foreach (var kv in kwargs)
                {
                    if (kv.Key == "caller") s.Set("caller", kv.Value);
                    else if (!ps.Any(p => p.Name == kv.Key)) extraKw[kv.Key] = kv.Value;
                }
                s.Set("varargs", args.Skip(ps.Count).ToArray());
                s.Set("kwargs", extraKw);
                var sb = new StringBuilder();
                Exec(body, s, sb);
                return sb.ToString();
            }
            finally
            {
                _depth--;
            }
        });

    // ----- expressions -----

    private object? Eval(Expr e, Scope scope)
    {
        switch (e)
        {
            case LiteralExpr l: return l.Value;
            case NameExpr n:
                return scope.TryGet(n.Name, out var v) && !ReferenceEquals(v, Scope.Missing) ? v : new JinjaUndefined($"'{n.Name}' is undefined");
            case ListExpr l: return l.Items.Select(x => Eval(x, scope)).ToList();
            case TupleExpr t: return t.Items.Select(x => Eval(x, scope)).ToArray();
            case DictExpr d:
                {
                    var dict = Py.NewDict();
                    foreach (var (k, val) in d.Items) dict[Py.Hashable(Eval(k, scope) ?? throw new ChatTemplateException("None is not supported as a dict key"))] = Eval(val, scope);
                    return dict;
                }
            case GetAttrExpr g: return Py.GetAttr(Eval(g.Target, scope), g.Attribute);
            case GetItemExpr g:
                {
                    var target = Eval(g.Target, scope);
                    if (g.Key is SliceExpr s)
                        return Py.Slice(target, s.Start is null ? null : Eval(s.Start, scope), s.Stop is null ? null : Eval(s.Stop, scope), s.Step is null ? null : Eval(s.Step, scope));
                    return Py.GetItem(target, Eval(g.Key, scope));
                }
            case CallExpr c: return EvalCall(c, scope, null);
            case FilterExpr f: return ApplyFilter(f, f.Value is null ? null : Eval(f.Value, scope), scope);
            case TestExpr t:
                {
                    var (args, _) = EvalArgs(t.Args, scope);
                    bool r = JinjaTests.Apply(t.Name, Eval(t.Value, scope), args);
                    return t.Negated ? !r : r;
                }
            case UnaryExpr u:
                {
                    var x = Eval(u.Operand, scope);
                    switch (u.Op)
                    {
                        case "not": return !Py.Truthy(x);
                        case "-":
                            if (x is JinjaUndefined ux) throw ux.Fail();
                            return x switch { long l => (object)(-l), double d => -d, bool b => b ? -1L : 0L, _ => throw new ChatTemplateException($"bad operand type for unary -: '{Py.TypeName(x)}'") };
                        default:
                            if (x is JinjaUndefined ux2) throw ux2.Fail();
                            return Py.IsNumber(x) ? x : throw new ChatTemplateException($"bad operand type for unary +: '{Py.TypeName(x)}'");
                    }
                }
            case BinaryExpr b:
                {
                    if (b.Op == "and")
                    {
                        var left = Eval(b.Left, scope);
                        return Py.Truthy(left) ? Eval(b.Right, scope) : left;
                    }
                    if (b.Op == "or")
                    {
                        var left = Eval(b.Left, scope);
                        return Py.Truthy(left) ? left : Eval(b.Right, scope);
                    }
                    return Py.Arith(b.Op, Eval(b.Left, scope), Eval(b.Right, scope));
                }
            case ConcatExpr c:
                {
                    var sb = new StringBuilder();
                    foreach (var p in c.Parts) sb.Append(Py.Str(Eval(p, scope)));
                    return sb.ToString();
                }
            case CompareExpr c:
                {
                    var left = Eval(c.First, scope);
                    foreach (var (op, operandExpr) in c.Rest)
                    {
                        var right = Eval(operandExpr, scope);
                        bool ok = op switch
                        {
                            "==" => Py.AreEqual(left, right),
                            "!=" => !Py.AreEqual(left, right),
                            "<" => Py.Compare(left, right, op) < 0,
                            "<=" => Py.Compare(left, right, op) <= 0,
                            ">" => Py.Compare(left, right, op) > 0,
                            ">=" => Py.Compare(left, right, op) >= 0,
                            "in" => Py.Contains(right, left),
                            "notin" => !Py.Contains(right, left),
                            _ => throw new ChatTemplateException($"unknown comparison {op}"),
                        };
                        if (!ok) return false;
                        left = right;
                    }
                    return true;
                }
            case CondExpr c:
                if (Py.Truthy(Eval(c.Test, scope))) return Eval(c.Then, scope);
                return c.Else is null ? new JinjaUndefined("the inline if-expression evaluated to false and no else section was defined.") : Eval(c.Else, scope);
            case SliceExpr:
                throw new ChatTemplateException("a slice is only allowed inside [ ]");
            default:
                throw new ChatTemplateException($"Unsupported expression {e.GetType().Name}");
        }
    }

    private (List<object?> Args, Dictionary<string, object?> Kwargs) EvalArgs(CallArgs a, Scope scope)
    {
        var args = a.Positional.Select(x => Eval(x, scope)).ToList();
        if (a.StarArgs is not null) args.AddRange(Py.Iterate(Eval(a.StarArgs, scope)));
        var kwargs = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in a.Keyword) kwargs[name] = Eval(value, scope);
        if (a.StarKwargs is not null)
        {
            if (Eval(a.StarKwargs, scope) is not Dictionary<object, object?> d) throw new ChatTemplateException("argument after ** must be a mapping");
            foreach (var kv in d) kwargs[Py.Str(kv.Key)] = kv.Value;
        }
        return (args, kwargs);
    }

    private object? EvalCall(CallExpr c, Scope scope, JinjaFunction? caller)
    {
        var fn = Eval(c.Function, scope);
        var (args, kwargs) = EvalArgs(c.Args, scope);
        if (caller is not null) kwargs["caller"] = caller;
        return Py.Call(fn, args, kwargs);
    }

    private object? ApplyFilter(FilterExpr f, object? value, Scope scope)
    {
        var (args, kwargs) = EvalArgs(f.Args, scope);
        return JinjaFilters.Apply(f.Name, value, args, kwargs);
    }
}
