namespace LmWrapper.HuggingFace.ChatTemplates;

// The syntax tree of a parsed template. Expressions evaluate to values; statements write output.

internal abstract record Expr(int Line, int Column);

internal sealed record LiteralExpr(object? Value, int Line, int Column) : Expr(Line, Column);

internal sealed record NameExpr(string Name, int Line, int Column) : Expr(Line, Column);

internal sealed record ListExpr(List<Expr> Items, int Line, int Column) : Expr(Line, Column);

internal sealed record TupleExpr(List<Expr> Items, int Line, int Column) : Expr(Line, Column);

internal sealed record DictExpr(List<(Expr Key, Expr Value)> Items, int Line, int Column) : Expr(Line, Column);

internal sealed record GetAttrExpr(Expr Target, string Attribute, int Line, int Column) : Expr(Line, Column);

internal sealed record GetItemExpr(Expr Target, Expr Key, int Line, int Column) : Expr(Line, Column);

internal sealed record SliceExpr(Expr? Start, Expr? Stop, Expr? Step, int Line, int Column) : Expr(Line, Column);

internal sealed record CallArgs(List<Expr> Positional, List<(string Name, Expr Value)> Keyword, Expr? StarArgs, Expr? StarKwargs);

internal sealed record CallExpr(Expr Function, CallArgs Args, int Line, int Column) : Expr(Line, Column);

/// <summary>A filter applied to <see cref="Value"/>; Value is null inside filter blocks and block sets.</summary>
internal sealed record FilterExpr(Expr? Value, string Name, CallArgs Args, int Line, int Column) : Expr(Line, Column);

internal sealed record TestExpr(Expr Value, string Name, CallArgs Args, bool Negated, int Line, int Column) : Expr(Line, Column);

internal sealed record UnaryExpr(string Op, Expr Operand, int Line, int Column) : Expr(Line, Column);

internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line, int Column) : Expr(Line, Column);

internal sealed record ConcatExpr(List<Expr> Parts, int Line, int Column) : Expr(Line, Column);

internal sealed record CompareExpr(Expr First, List<(string Op, Expr Operand)> Rest, int Line, int Column) : Expr(Line, Column);

internal sealed record CondExpr(Expr Test, Expr Then, Expr? Else, int Line, int Column) : Expr(Line, Column);

internal abstract record Stmt(int Line);

internal sealed record DataStmt(string Text, int Line) : Stmt(Line);

internal sealed record OutputStmt(Expr Value, int Line) : Stmt(Line);

internal sealed record IfStmt(List<(Expr Condition, List<Stmt> Body)> Branches, List<Stmt>? Else, int Line) : Stmt(Line);

/// <summary>An assignment target: a name, a tuple of targets, or <c>namespace.attribute</c>.</summary>
internal abstract record Target;

internal sealed record NameTarget(string Name) : Target;

internal sealed record TupleTarget(List<Target> Items) : Target;

internal sealed record NamespaceTarget(string Namespace, string Attribute) : Target;

internal sealed record ForStmt(Target Target, Expr Iterable, Expr? Filter, List<Stmt> Body, List<Stmt>? Else, bool Recursive, int Line) : Stmt(Line);

internal sealed record SetStmt(Target Target, Expr Value, int Line) : Stmt(Line);

internal sealed record SetBlockStmt(Target Target, List<FilterExpr> Filters, List<Stmt> Body, int Line) : Stmt(Line);

internal sealed record MacroParam(string Name, Expr? Default);

internal sealed record MacroStmt(string Name, List<MacroParam> Params, List<Stmt> Body, int Line) : Stmt(Line);

internal sealed record CallBlockStmt(CallExpr Call, List<MacroParam> Params, List<Stmt> Body, int Line) : Stmt(Line);

internal sealed record FilterBlockStmt(List<FilterExpr> Filters, List<Stmt> Body, int Line) : Stmt(Line);

internal sealed record WithStmt(List<(Target Target, Expr Value)> Assignments, List<Stmt> Body, int Line) : Stmt(Line);

internal sealed record BreakStmt(int Line) : Stmt(Line);

internal sealed record ContinueStmt(int Line) : Stmt(Line);

internal sealed record BlockStmt(List<Stmt> Body, int Line) : Stmt(Line);
