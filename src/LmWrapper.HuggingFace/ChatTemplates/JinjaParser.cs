using System.Globalization;

namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>Turns tokens into a syntax tree, following jinja2's grammar and operator precedence.</summary>
internal sealed class JinjaParser
{
    private readonly List<JinjaToken> _tokens;
    private int _i;

    // How many for-loop bodies enclose the current statement (a macro body starts again at zero):
    // break and continue elsewhere are errors, as they are when jinja2 compiles the template.
    private int _loopDepth;

    // How deeply blocks, parentheses and unary operators nest here: bounded so that a hostile template cannot overflow the stack.
    private int _nesting;

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    /// <summary>Enters one more level of nesting, or throws when the template nests deeper than <see cref="ChatTemplate.MaxNestingDepth"/>.</summary>
    private void Nest()
    {
        if (++_nesting > ChatTemplate.MaxNestingDepth || !System.Runtime.CompilerServices.RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            var at = Current;
            throw new ChatTemplateLimitException($"The template nests blocks or expressions more than {ChatTemplate.MaxNestingDepth} deep (template line {at.Line}, column {at.Column}).");
        }
    }

    public static List<Stmt> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var (body, end) = parser.ParseBody([]);
        if (end is not null) throw Error($"Encountered unknown tag '{end}'.", parser.Previous);
        return body;
    }

    private JinjaToken Current => _tokens[_i];

    private JinjaToken Previous => _tokens[Math.Max(0, _i - 1)];

    private JinjaToken Peek(int n = 1) => _tokens[Math.Min(_i + n, _tokens.Count - 1)];

    private JinjaToken Next() => _tokens[_i < _tokens.Count - 1 ? _i++ : _i];

    private static ChatTemplateSyntaxException Error(string message, JinjaToken at) => new(message, at.Line, at.Column);

    private ChatTemplateSyntaxException Error(string message) => Error(message, Current);

    private JinjaToken Expect(TokenKind kind, string? value = null)
    {
        var t = Current;
        if (t.Kind != kind || (value is not null && t.Value != value))
        {
            string want = value is not null ? $"'{value}'" : kind switch
            {
                TokenKind.Name => "name",
                TokenKind.BlockEnd => "end of statement block",
                TokenKind.VariableEnd => "end of print statement",
                _ => kind.ToString(),
            };
            throw Error($"Expected {want}, got {t}.");
        }
        return Next();
    }

    private bool SkipOp(string op)
    {
        if (!Current.IsOp(op)) return false;
        Next();
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        Next();
        return true;
    }

    /// <summary>Parses statements until one of <paramref name="endTags"/> opens a block. Returns that tag (consumed), or null at the end.</summary>
    private (List<Stmt> Body, string? EndTag) ParseBody(string[] endTags)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var t = Current;
            switch (t.Kind)
            {
                case TokenKind.Data:
                    Next();
                    body.Add(new DataStmt(t.Value, t.Line));
                    break;
                case TokenKind.VariableBegin:
                    Next();
                    var e = ParseTuple();
                    Expect(TokenKind.VariableEnd);
                    body.Add(new OutputStmt(e, t.Line));
                    break;
                case TokenKind.BlockBegin:
                    {
                        Next();
                        var nameTok = Current;
                        if (nameTok.Kind != TokenKind.Name) throw Error($"Expected a statement name, got {nameTok}.");
                        if (Array.IndexOf(endTags, nameTok.Value) >= 0)
                        {
                            Next();
                            return (body, nameTok.Value);
                        }
                        body.Add(ParseStatement(endTags));
                        break;
                    }
                case TokenKind.Eof:
                    if (endTags.Length > 0)
                        throw Error($"Unexpected end of template. Jinja was looking for the following tags: {string.Join(" or ", endTags.Select(x => $"'{x}'"))}.");
                    return (body, null);
                default:
                    throw Error($"Unexpected {t}.");
            }
        }
    }

    private Stmt ParseStatement(string[] outerEndTags)
    {
        Nest();
        try
        {
            var t = Next();
            switch (t.Value)
            {
                case "if": return ParseIf(t);
                case "for": return ParseFor(t);
                case "set": return ParseSet(t);
                case "macro": return ParseMacro(t);
                case "call": return ParseCallBlock(t);
                case "filter": return ParseFilterBlock(t);
                case "with": return ParseWith(t);
                case "break":
                    if (_loopDepth == 0) throw Error("'break' outside loop.", t);
                    Expect(TokenKind.BlockEnd);
                    return new BreakStmt(t.Line);
                case "continue":
                    if (_loopDepth == 0) throw Error("'continue' not properly in loop.", t);
                    Expect(TokenKind.BlockEnd);
                    return new ContinueStmt(t.Line);
                case "generation":
                    {
                        // transformers' AssistantTracker tag: renders its body unchanged.
                        Expect(TokenKind.BlockEnd);
                        var (body, _) = ParseBody(["endgeneration"]);
                        Expect(TokenKind.BlockEnd);
                        return new BlockStmt(body, t.Line);
                    }
                default:
                    if (outerEndTags.Length > 0)
                        throw Error($"Encountered unknown tag '{t.Value}'. Jinja was looking for the following tags: {string.Join(" or ", outerEndTags.Select(x => $"'{x}'"))}.", t);
                    throw Error($"Encountered unknown tag '{t.Value}'.", t);
            }
        }
        finally
        {
            _nesting--;
        }
    }

    private IfStmt ParseIf(JinjaToken t)
    {
        var branches = new List<(Expr, List<Stmt>)>();
        List<Stmt>? elseBody = null;
        var cond = ParseTuple(withCondExpr: false);
        Expect(TokenKind.BlockEnd);
        while (true)
        {
            var (body, end) = ParseBody(["elif", "else", "endif"]);
            branches.Add((cond, body));
            if (end == "elif")
            {
                cond = ParseTuple(withCondExpr: false);
                Expect(TokenKind.BlockEnd);
                continue;
            }
            if (end == "else")
            {
                Expect(TokenKind.BlockEnd);
                (elseBody, _) = ParseBody(["endif"]);
            }
            Expect(TokenKind.BlockEnd);
            return new IfStmt(branches, elseBody, t.Line);
        }
    }

    private ForStmt ParseFor(JinjaToken t)
    {
        var target = ParseAssignTarget(withNamespace: false, extraEnd: "in");
        Expect(TokenKind.Name, "in");
        var iter = ParseTuple(withCondExpr: false, extraEnd: "recursive");
        Expr? filter = null;
        if (SkipName("if")) filter = ParseExpression();
        bool recursive = SkipName("recursive");
        Expect(TokenKind.BlockEnd);
        _loopDepth++;
        List<Stmt> body;
        string? end;
        try
        {
            (body, end) = ParseBody(["endfor", "else"]);
        }
        finally
        {
            _loopDepth--;
        }
        List<Stmt>? elseBody = null;
        if (end == "else")
        {
            Expect(TokenKind.BlockEnd);
            (elseBody, _) = ParseBody(["endfor"]);
        }
        Expect(TokenKind.BlockEnd);
        return new ForStmt(target, iter, filter, body, elseBody, recursive, t.Line);
    }

    private Stmt ParseSet(JinjaToken t)
    {
        var target = ParseAssignTarget(withNamespace: true);
        if (SkipOp("="))
        {
            var value = ParseTuple();
            Expect(TokenKind.BlockEnd);
            return new SetStmt(target, value, t.Line);
        }
        var filters = ParseFilterChain();
        Expect(TokenKind.BlockEnd);
        var (body, _) = ParseBody(["endset"]);
        Expect(TokenKind.BlockEnd);
        return new SetBlockStmt(target, filters, body, t.Line);
    }

    private List<FilterExpr> ParseFilterChain()
    {
        var filters = new List<FilterExpr>();
        while (SkipOp("|")) filters.Add(ParseFilterCall(null));
        return filters;
    }

    private T OutsideLoops<T>(Func<T> parse)
    {
        int saved = _loopDepth;
        _loopDepth = 0;
        try
        {
            return parse();
        }
        finally
        {
            _loopDepth = saved;
        }
    }

    private MacroStmt ParseMacro(JinjaToken t)
    {
        string name = Expect(TokenKind.Name).Value;
        var ps = ParseSignature();
        Expect(TokenKind.BlockEnd);
        var (body, _) = OutsideLoops(() => ParseBody(["endmacro"]));
        if (Current.Kind == TokenKind.Name && Current.Value == name) Next();
        Expect(TokenKind.BlockEnd);
        return new MacroStmt(name, ps, body, t.Line);
    }

    private List<MacroParam> ParseSignature()
    {
        var ps = new List<MacroParam>();
        Expect(TokenKind.Operator, "(");
        while (!Current.IsOp(")"))
        {
            if (ps.Count > 0) Expect(TokenKind.Operator, ",");
            if (Current.IsOp(")")) break;
            string pname = Expect(TokenKind.Name).Value;
            Expr? def = null;
            if (SkipOp("=")) def = ParseExpression();
            else if (ps.Count > 0 && ps[^1].Default is not null)
                throw Error("Non-default argument follows default argument.");
            ps.Add(new MacroParam(pname, def));
        }
        Next();
        return ps;
    }

    private CallBlockStmt ParseCallBlock(JinjaToken t)
    {
        var ps = Current.IsOp("(") ? ParseSignature() : [];
        var callExpr = ParseExpression();
        if (callExpr is not CallExpr call) throw Error("Expected a call after 'call'.", t);
        Expect(TokenKind.BlockEnd);
        var (body, _) = OutsideLoops(() => ParseBody(["endcall"]));
        Expect(TokenKind.BlockEnd);
        return new CallBlockStmt(call, ps, body, t.Line);
    }

    private FilterBlockStmt ParseFilterBlock(JinjaToken t)
    {
        var filters = new List<FilterExpr> { ParseFilterCall(null) };
        filters.AddRange(ParseFilterChain());
        Expect(TokenKind.BlockEnd);
        var (body, _) = ParseBody(["endfilter"]);
        Expect(TokenKind.BlockEnd);
        return new FilterBlockStmt(filters, body, t.Line);
    }

    private WithStmt ParseWith(JinjaToken t)
    {
        var assigns = new List<(Target, Expr)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assigns.Count > 0) Expect(TokenKind.Operator, ",");
            var target = ParseAssignTarget(withNamespace: false);
            Expect(TokenKind.Operator, "=");
            assigns.Add((target, ParseExpression()));
        }
        Next();
        var (body, _) = ParseBody(["endwith"]);
        Expect(TokenKind.BlockEnd);
        return new WithStmt(assigns, body, t.Line);
    }

    private Target ParseAssignTarget(bool withNamespace, string? extraEnd = null)
    {
        if (withNamespace && Current.Kind == TokenKind.Name && Peek().IsOp("."))
        {
            string ns = Next().Value;
            Next();
            string attr = Expect(TokenKind.Name).Value;
            return new NamespaceTarget(ns, attr);
        }
        var items = new List<Target>();
        bool isTuple = false;
        bool paren = SkipOp("(");
        while (true)
        {
            if (items.Count > 0) Expect(TokenKind.Operator, ",");
            if (Current.Kind is TokenKind.BlockEnd || Current.IsOp(")") || Current.IsOp("=") || (extraEnd is not null && Current.IsName(extraEnd)))
                break;
            var tok = Expect(TokenKind.Name);
            if (tok.Value is "true" or "false" or "none" or "True" or "False" or "None")
                throw Error($"Can't assign to '{tok.Value}'.", tok);
            items.Add(new NameTarget(tok.Value));
            if (Current.IsOp(",")) isTuple = true;
            else break;
        }
        if (paren) Expect(TokenKind.Operator, ")");
        if (items.Count == 0) throw Error("Expected an assignment target.");
        return isTuple || paren && items.Count > 1 ? new TupleTarget(items) : items[0];
    }

    // ----- expressions -----

    private Expr ParseTuple(bool withCondExpr = true, string? extraEnd = null, bool explicitParens = false)
    {
        Nest();
        try
        {
            var start = Current;
            var args = new List<Expr>();
            bool isTuple = false;
            while (true)
            {
                if (args.Count > 0) Expect(TokenKind.Operator, ",");
                if (Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd || Current.IsOp(")") || (extraEnd is not null && Current.IsName(extraEnd)))
                    break;
                args.Add(withCondExpr ? ParseExpression() : ParseOr());
                if (Current.IsOp(",")) isTuple = true;
                else break;
            }
            if (!isTuple)
            {
                if (args.Count > 0) return args[0];
                if (!explicitParens) throw Error($"Expected an expression, got {Current}.");
            }
            return new TupleExpr(args, start.Line, start.Column);
        }
        finally
        {
            _nesting--;
        }
    }

    private Expr ParseExpression()
    {
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            var t = Next();
            var test = ParseOr();
            Expr? elseExpr = SkipName("else") ? ParseExpression() : null;
            expr = new CondExpr(test, expr, elseExpr, t.Line, t.Column);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var t = Next();
            left = new BinaryExpr("or", left, ParseAnd(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var t = Next();
            left = new BinaryExpr("and", left, ParseNot(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseNot()
    {
        Nest();
        try
        {
            if (Current.IsName("not"))
            {
                var t = Next();
                return new UnaryExpr("not", ParseNot(), t.Line, t.Column);
            }
            return ParseCompare();
        }
        finally
        {
            _nesting--;
        }
    }

    private Expr ParseCompare()
    {
        var start = Current;
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            var t = Current;
            if (t.Kind == TokenKind.Operator && t.Value is "==" or "!=" or "<" or "<=" or ">" or ">=")
            {
                Next();
                rest.Add((t.Value, ParseMath1()));
            }
            else if (t.IsName("in"))
            {
                Next();
                rest.Add(("in", ParseMath1()));
            }
            else if (t.IsName("not") && Peek().IsName("in"))
            {
                Next();
                Next();
                rest.Add(("notin", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, start.Line, start.Column);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.Kind == TokenKind.Operator && Current.Value is "+" or "-")
        {
            var t = Next();
            left = new BinaryExpr(t.Value, left, ParseConcat(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var start = Current;
        var parts = new List<Expr> { ParseMath2() };
        while (SkipOp("~")) parts.Add(ParseMath2());
        return parts.Count == 1 ? parts[0] : new ConcatExpr(parts, start.Line, start.Column);
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Value is "*" or "/" or "//" or "%")
        {
            var t = Next();
            left = new BinaryExpr(t.Value, left, ParsePow(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary();
        while (Current.IsOp("**"))
        {
            var t = Next();
            left = new BinaryExpr("**", left, ParseUnary(), t.Line, t.Column);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter = true)
    {
        Nest();
        try
        {
            var t = Current;
            Expr node;
            if (t.IsOp("-")) { Next(); node = new UnaryExpr("-", ParseUnary(false), t.Line, t.Column); }
            else if (t.IsOp("+")) { Next(); node = new UnaryExpr("+", ParseUnary(false), t.Line, t.Column); }
            else node = ParsePrimary();
            node = ParsePostfix(node);
            if (withFilter) node = ParseFilterExpr(node);
            return node;
        }
        finally
        {
            _nesting--;
        }
    }

    private Expr ParsePrimary()
    {
        var t = Current;
        switch (t.Kind)
        {
            case TokenKind.Name:
                Next();
                return t.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, t.Line, t.Column),
                    "false" or "False" => new LiteralExpr(false, t.Line, t.Column),
                    "none" or "None" => new LiteralExpr(null, t.Line, t.Column),
                    _ => new NameExpr(t.Value, t.Line, t.Column),
                };
            case TokenKind.String:
                {
                    Next();
                    string s = t.Value;
                    while (Current.Kind == TokenKind.String) s += Next().Value;
                    return new LiteralExpr(s, t.Line, t.Column);
                }
            case TokenKind.Integer:
                Next();
                if (!long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long l))
                    return new LiteralExpr(double.Parse(t.Value, CultureInfo.InvariantCulture), t.Line, t.Column);
                return new LiteralExpr(l, t.Line, t.Column);
            case TokenKind.Float:
                Next();
                return new LiteralExpr(double.Parse(t.Value, CultureInfo.InvariantCulture), t.Line, t.Column);
            case TokenKind.Operator when t.Value == "(":
                {
                    Next();
                    var e = ParseTuple(explicitParens: true);
                    Expect(TokenKind.Operator, ")");
                    return e;
                }
            case TokenKind.Operator when t.Value == "[":
                {
                    Next();
                    var items = new List<Expr>();
                    while (!Current.IsOp("]"))
                    {
                        if (items.Count > 0) Expect(TokenKind.Operator, ",");
                        if (Current.IsOp("]")) break;
                        items.Add(ParseExpression());
                    }
                    Next();
                    return new ListExpr(items, t.Line, t.Column);
                }
            case TokenKind.Operator when t.Value == "{":
                {
                    Next();
                    var items = new List<(Expr, Expr)>();
                    while (!Current.IsOp("}"))
                    {
                        if (items.Count > 0) Expect(TokenKind.Operator, ",");
                        if (Current.IsOp("}")) break;
                        var k = ParseExpression();
                        Expect(TokenKind.Operator, ":");
                        items.Add((k, ParseExpression()));
                    }
                    Next();
                    return new DictExpr(items, t.Line, t.Column);
                }
            default:
                throw Error($"Unexpected {t}.");
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var t = Current;
            if (t.IsOp("."))
            {
                Next();
                var a = Next();
                if (a.Kind == TokenKind.Name) node = new GetAttrExpr(node, a.Value, t.Line, t.Column);
                else if (a.Kind == TokenKind.Integer) node = new GetItemExpr(node, new LiteralExpr(long.Parse(a.Value, CultureInfo.InvariantCulture), a.Line, a.Column), t.Line, t.Column);
                else throw Error($"Expected an attribute name after '.', got {a}.", a);
            }
            else if (t.IsOp("["))
            {
                Next();
                var keys = new List<Expr>();
                while (!Current.IsOp("]"))
                {
                    if (keys.Count > 0) Expect(TokenKind.Operator, ",");
                    if (Current.IsOp("]")) break;
                    keys.Add(ParseSubscribed());
                }
                Expect(TokenKind.Operator, "]");
                if (keys.Count == 0) throw Error("Expected a subscript.", t);
                node = new GetItemExpr(node, keys.Count == 1 ? keys[0] : new TupleExpr(keys, t.Line, t.Column), t.Line, t.Column);
            }
            else if (t.IsOp("("))
            {
                Next();
                node = new CallExpr(node, ParseCallArgs(), t.Line, t.Column);
            }
            else return node;
        }
    }

    private Expr ParseSubscribed()
    {
        var t = Current;
        Expr? start = null;
        if (!Current.IsOp(":"))
        {
            start = ParseExpression();
            if (!Current.IsOp(":")) return start;
        }
        Next(); // ':'
        Expr? stop = null, step = null;
        if (!Current.IsOp("]") && !Current.IsOp(",") && !Current.IsOp(":")) stop = ParseExpression();
        if (SkipOp(":"))
        {
            if (!Current.IsOp("]") && !Current.IsOp(",")) step = ParseExpression();
        }
        return new SliceExpr(start, stop, step, t.Line, t.Column);
    }

    /// <summary>Parses call arguments after the opening parenthesis, through the closing one.</summary>
    private CallArgs ParseCallArgs()
    {
        var pos = new List<Expr>();
        var kw = new List<(string, Expr)>();
        Expr? star = null, starStar = null;
        bool first = true;
        while (!Current.IsOp(")"))
        {
            if (!first) Expect(TokenKind.Operator, ",");
            first = false;
            if (Current.IsOp(")")) break;
            if (SkipOp("**")) { starStar = ParseExpression(); continue; }
            if (SkipOp("*")) { star = ParseExpression(); continue; }
            if (Current.Kind == TokenKind.Name && Peek().IsOp("="))
            {
                string name = Next().Value;
                Next();
                kw.Add((name, ParseExpression()));
                continue;
            }
            if (kw.Count > 0) throw Error("Positional argument follows keyword argument.");
            pos.Add(ParseExpression());
        }
        Next();
        return new CallArgs(pos, kw, star, starStar);
    }

    private static readonly CallArgs NoArgs = new([], [], null, null);

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (Current.IsOp("|"))
            {
                Next();
                node = ParseFilterCall(node);
            }
            else if (Current.IsName("is"))
            {
                node = ParseTest(node);
            }
            else if (Current.IsOp("("))
            {
                var t = Next();
                node = new CallExpr(node, ParseCallArgs(), t.Line, t.Column);
            }
            else return node;
        }
    }

    private string ParseDottedName()
    {
        string name = Expect(TokenKind.Name).Value;
        while (Current.IsOp(".") && Peek().Kind == TokenKind.Name)
        {
            Next();
            name += "." + Next().Value;
        }
        return name;
    }

    private FilterExpr ParseFilterCall(Expr? value)
    {
        var t = Current;
        string name = ParseDottedName();
        if (!JinjaFilters.Exists(name)) throw Error($"No filter named '{name}'.", t);
        CallArgs args = NoArgs;
        if (SkipOp("(")) args = ParseCallArgs();
        return new FilterExpr(value, name, args, t.Line, t.Column);
    }

    private Expr ParseTest(Expr node)
    {
        var isTok = Next();
        bool negated = SkipName("not");
        var t = Current;
        string name = ParseDottedName();
        if (!JinjaTests.Exists(name)) throw Error($"No test named '{name}'.", t);
        CallArgs args = NoArgs;
        var c = Current;
        if (c.IsOp("("))
        {
            Next();
            args = ParseCallArgs();
        }
        else if ((c.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float || c.IsOp("[") || c.IsOp("{"))
                 && !(c.IsName("else") || c.IsName("or") || c.IsName("and")))
        {
            if (c.IsName("is")) throw Error("You cannot chain multiple tests with is.");
            var arg = ParsePostfix(ParsePrimary());
            args = new CallArgs([arg], [], null, null);
        }
        return new TestExpr(node, name, args, negated, isTok.Line, isTok.Column);
    }
}
