using System.Globalization;
using System.Text;

namespace LmWrapper.HuggingFace.ChatTemplates;

internal enum TokenKind
{
    Data,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    Eof,
}

internal readonly record struct JinjaToken(TokenKind Kind, string Value, int Line, int Column)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsOp(string value) => Kind == TokenKind.Operator && Value == value;

    public bool IsName(string value) => Kind == TokenKind.Name && Value == value;

    public override string ToString() => Kind switch
    {
        TokenKind.Eof => "end of template",
        TokenKind.VariableEnd => "end of print statement",
        TokenKind.BlockEnd => "end of statement block",
        TokenKind.String => $"string '{Value}'",
        _ => $"'{Value}'",
    };
}

/// <summary>
/// Splits a template into tokens the way jinja2 does for Hugging Face chat templates:
/// <c>trim_blocks=True</c>, <c>lstrip_blocks=True</c>, <c>keep_trailing_newline=False</c>,
/// whitespace control with <c>-</c> and <c>+</c>, comments and raw blocks.
/// </summary>
internal sealed class JinjaLexer
{
    private static readonly string[] Operators =
    [
        "**", "//", "==", "!=", "<=", ">=",
        "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ",", ":", "|", "(", ")", "[", "]", "{", "}",
    ];

    private readonly string _src;
    private readonly List<JinjaToken> _tokens = [];
    private int _pos;

    private JinjaLexer(string source)
    {
        // jinja2 splits the source on \r\n, \r and \n and joins it with \n before lexing;
        // keep_trailing_newline=False then drops exactly one trailing newline.
        source = NormalizeNewlines(source);
        if (source.EndsWith('\n')) source = source[..^1];
        _src = source;
    }

    public static List<JinjaToken> Tokenize(string source)
    {
        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    internal static bool IsPyWhitespace(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    // Where LineCol last stopped: tokens come in source order, so each call walks on from there (linear in all, not
    // quadratic in the template's length).
    private int _lcPos;
    private int _lcLine = 1;
    private int _lcCol = 1;

    private (int Line, int Column) LineCol(int pos)
    {
        if (pos < _lcPos)
        {
            _lcPos = 0;
            _lcLine = 1;
            _lcCol = 1;
        }

        int end = Math.Min(pos, _src.Length);
        for (int i = _lcPos; i < end; i++)
        {
            if (_src[i] == '\n') { _lcLine++; _lcCol = 1; }
            else _lcCol++;
        }
        if (end > _lcPos) _lcPos = end;
        return (_lcLine, _lcCol);
    }

    private ChatTemplateSyntaxException Error(string message, int pos)
    {
        var (line, col) = LineCol(pos);
        return new ChatTemplateSyntaxException(message, line, col);
    }

    private void Add(TokenKind kind, string value, int pos)
    {
        var (line, col) = LineCol(pos);
        _tokens.Add(new JinjaToken(kind, value, line, col));
    }

    private static string NormalizeNewlines(string s) =>
        s.Contains('\r') ? s.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n') : s;

    private void AddData(string text, int pos)
    {
        if (text.Length > 0) Add(TokenKind.Data, NormalizeNewlines(text), pos);
    }

    private void Run()
    {
        bool lineStarting = true;
        bool lstripNext = false;
        while (true)
        {
            int tagStart = FindTagStart(_pos);
            int dataStart = _pos;
            string text = tagStart < 0 ? _src[_pos..] : _src[_pos..tagStart];
            if (lstripNext)
            {
                int k = 0;
                while (k < text.Length && IsPyWhitespace(text[k])) k++;
                text = text[k..];
                dataStart += k;
                lstripNext = false;
            }
            if (tagStart < 0)
            {
                AddData(text, dataStart);
                break;
            }

            char kind = _src[tagStart + 1]; // '{', '%' or '#'
            char sign = tagStart + 2 < _src.Length ? _src[tagStart + 2] : '\0';
            if (sign == '-')
            {
                int end = text.Length;
                while (end > 0 && IsPyWhitespace(text[end - 1])) end--;
                text = text[..end];
            }
            else if (sign != '+' && kind != '{')
            {
                // lstrip_blocks: remove spaces and tabs from the start of a line up to a block or comment.
                int lpos = text.LastIndexOf('\n') + 1;
                if ((lpos > 0 || lineStarting) && lpos < text.Length && text.AsSpan(lpos).ToString().All(IsPyWhitespace))
                    text = text[..lpos];
            }
            AddData(text, dataStart);
            int inner = tagStart + 2 + (sign is '-' or '+' ? 1 : 0);

            if (kind == '#')
            {
                int close = _src.IndexOf("#}", inner, StringComparison.Ordinal);
                if (close < 0) throw Error("Missing end of comment tag.", tagStart);
                bool dash = close - 1 >= inner && _src[close - 1] == '-';
                bool plus = close - 1 >= inner && _src[close - 1] == '+';
                _pos = close + 2;
                lstripNext = dash;
                lineStarting = TrimNewline(dash || plus);
                continue;
            }

            if (kind == '%' && TryRawBlock(inner, tagStart, ref lineStarting, ref lstripNext)) continue;

            Add(kind == '{' ? TokenKind.VariableBegin : TokenKind.BlockBegin, kind == '{' ? "{{" : "{%", tagStart);
            _pos = inner;
            bool dashEnd = LexTagBody(kind == '{' ? '}' : '%', tagStart, out bool plusEnd);
            lstripNext = dashEnd;
            lineStarting = kind == '%' ? TrimNewline(dashEnd || plusEnd) : false;
        }
        Add(TokenKind.Eof, "", _src.Length);
    }

    /// <summary>trim_blocks: after a block or comment tag, drop one newline. Returns whether the tag ended a line.</summary>
    private bool TrimNewline(bool suppressed)
    {
        if (!suppressed && _pos < _src.Length && _src[_pos] == '\n')
        {
            _pos++;
            return true;
        }
        return false;
    }

    private int FindTagStart(int from)
    {
        int i = from;
        while (true)
        {
            i = _src.IndexOf('{', i);
            if (i < 0 || i + 1 >= _src.Length) return -1;
            char n = _src[i + 1];
            if (n is '{' or '%' or '#') return i;
            i++;
        }
    }

    private bool TryRawBlock(int inner, int tagStart, ref bool lineStarting, ref bool lstripNext)
    {
        int p = inner;
        while (p < _src.Length && IsPyWhitespace(_src[p])) p++;
        if (string.CompareOrdinal(_src, p, "raw", 0, 3) != 0) return false;
        p += 3;
        if (p < _src.Length && (char.IsLetterOrDigit(_src[p]) || _src[p] == '_')) return false;
        while (p < _src.Length && IsPyWhitespace(_src[p])) p++;
        bool dash = p < _src.Length && _src[p] == '-';
        if (dash || (p < _src.Length && _src[p] == '+')) p++;
        if (string.CompareOrdinal(_src, p, "%}", 0, 2) != 0) throw Error("Expected '%}' after 'raw'.", p);
        p += 2;
        // jinja2 applies '-' after the opening raw tag, but not trim_blocks.
        if (dash) { while (p < _src.Length && IsPyWhitespace(_src[p])) p++; }
        var endRe = new System.Text.RegularExpressions.Regex(@"\{%([-+]?)\s*endraw\s*([-+]?)%\}");
        var m = endRe.Match(_src, p);
        if (!m.Success) throw Error("Missing '{% endraw %}' for this raw block.", tagStart);
        string body = _src[p..m.Index];
        if (m.Groups[1].Value == "-")
        {
            int end = body.Length;
            while (end > 0 && IsPyWhitespace(body[end - 1])) end--;
            body = body[..end];
        }
        else if (m.Groups[1].Value != "+")
        {
            int lpos = body.LastIndexOf('\n') + 1;
            if (lpos < body.Length && body[lpos..].All(IsPyWhitespace)) body = body[..lpos];
        }
        AddData(body, p);
        _pos = m.Index + m.Length;
        lstripNext = m.Groups[2].Value == "-";
        lineStarting = TrimNewline(m.Groups[2].Value is "-" or "+");
        return true;
    }

    /// <summary>Lexes expression tokens until the closing <c>}}</c> or <c>%}</c>. Returns whether it was a <c>-</c> close.</summary>
    private bool LexTagBody(char closer, int tagStart, out bool plusEnd)
    {
        int depth = 0;
        plusEnd = false;
        while (true)
        {
            while (_pos < _src.Length && IsPyWhitespace(_src[_pos])) _pos++;
            if (_pos >= _src.Length)
                throw Error(closer == '}' ? "Unexpected end of template: missing '}}'." : "Unexpected end of template: missing '%}'.", tagStart);
            char c = _src[_pos];
            if (depth == 0)
            {
                if ((c == '-' || (c == '+' && closer == '%')) && _pos + 2 < _src.Length
                    && _src[_pos + 1] == closer && _src[_pos + 2] == '}')
                {
                    Add(closer == '}' ? TokenKind.VariableEnd : TokenKind.BlockEnd, closer == '}' ? "}}" : "%}", _pos);
                    _pos += 3;
                    plusEnd = c == '+';
                    return c == '-';
                }
                if (c == closer && _pos + 1 < _src.Length && _src[_pos + 1] == '}')
                {
                    Add(closer == '}' ? TokenKind.VariableEnd : TokenKind.BlockEnd, closer == '}' ? "}}" : "%}", _pos);
                    _pos += 2;
                    return false;
                }
            }
            int start = _pos;
            if (char.IsAsciiLetter(c) || c == '_')
            {
                while (_pos < _src.Length && (char.IsAsciiLetterOrDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
                Add(TokenKind.Name, _src[start.._pos], start);
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                LexNumber(start);
                continue;
            }
            if (c is '\'' or '"')
            {
                Add(TokenKind.String, LexString(c), start);
                continue;
            }
            string? op = null;
            foreach (var o in Operators)
            {
                if (string.CompareOrdinal(_src, _pos, o, 0, o.Length) == 0) { op = o; break; }
            }
            if (op is null) throw Error($"Unexpected character '{c}' in tag.", _pos);
            if (op is "(" or "[" or "{") depth++;
            else if (op is ")" or "]" or "}")
            {
                if (depth == 0) throw Error($"Unexpected '{op}'.", _pos);
                depth--;
            }
            _pos += op.Length;
            Add(TokenKind.Operator, op, start);
        }
    }

    private void LexNumber(int start)
    {
        while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        bool isFloat = false;
        if (_pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        }
        if (_pos < _src.Length && (_src[_pos] == 'e' || _src[_pos] == 'E'))
        {
            int save = _pos;
            _pos++;
            if (_pos < _src.Length && (_src[_pos] == '+' || _src[_pos] == '-')) _pos++;
            if (_pos < _src.Length && char.IsAsciiDigit(_src[_pos]))
            {
                isFloat = true;
                while (_pos < _src.Length && char.IsAsciiDigit(_src[_pos])) _pos++;
            }
            else _pos = save;
        }
        string text = _src[start.._pos].Replace("_", "", StringComparison.Ordinal);
        Add(isFloat ? TokenKind.Float : TokenKind.Integer, text, start);
    }

    private string LexString(char quote)
    {
        int start = _pos;
        _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _src.Length) throw Error("Unterminated string literal.", start);
            char c = _src[_pos];
            if (c == quote) { _pos++; break; }
            if (c != '\\') { sb.Append(c); _pos++; continue; }
            if (_pos + 1 >= _src.Length) throw Error("Unterminated string literal.", start);
            char e = _src[_pos + 1];
            _pos += 2;
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case 'a': sb.Append('\a'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case '\n': break;
                case 'x': sb.Append(ReadHex(2, start)); break;
                case 'u': sb.Append(ReadHex(4, start)); break;
                case 'U': sb.Append(ReadHex(8, start)); break;
                case >= '0' and <= '7':
                    {
                        int v = e - '0', n = 1;
                        while (n < 3 && _pos < _src.Length && _src[_pos] is >= '0' and <= '7') { v = v * 8 + (_src[_pos] - '0'); _pos++; n++; }
                        sb.Append((char)v);
                        break;
                    }
                default: sb.Append('\\').Append(e); break;
            }
        }
        return NormalizeNewlines(sb.ToString());
    }

    private string ReadHex(int digits, int start)
    {
        if (_pos + digits > _src.Length || !int.TryParse(_src.AsSpan(_pos, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int v))
            throw Error("Bad escape sequence in string literal.", start);
        _pos += digits;
        return char.ConvertFromUtf32(v);
    }
}
