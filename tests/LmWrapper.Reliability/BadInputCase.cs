namespace LmWrapper.Reliability;

/// <summary>One row of the hostile-input table: what is done, the exception it must give and what its message must name.</summary>
/// <param name="Name">The case's name (a test row).</param>
/// <param name="Exception">The exception type expected (or a subclass).</param>
/// <param name="Names">What the message must contain (the field, file, setting or line), case-insensitively.</param>
/// <param name="Act">Does the bad thing.</param>
public sealed record BadInputCase(string Name, Type Exception, string Names, Func<BadInputContext, Task> Act)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}
