using System.Globalization;
using System.Text;

namespace LmWrapper.HuggingFace.ChatTemplates;

/// <summary>Python's <c>datetime.strftime</c> for the directives chat templates use.</summary>
internal static class PyStrftime
{
    private static readonly string[] Days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    private static readonly string[] Months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

    public static string Format(DateTime t, string format)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%' || i + 1 >= format.Length) { sb.Append(c); continue; }
            char d = format[++i];
            bool noPad = false;
            if (d == '-' && i + 1 < format.Length) { noPad = true; d = format[++i]; }
            string Pad(int v, int w) => noPad ? v.ToString(inv) : v.ToString(new string('0', w), inv);
            int dow = ((int)t.DayOfWeek + 6) % 7;
            sb.Append(d switch
            {
                'Y' => t.Year.ToString(inv),
                'y' => Pad(t.Year % 100, 2),
                'm' => Pad(t.Month, 2),
                'd' => Pad(t.Day, 2),
                'e' => t.Day.ToString(inv).PadLeft(2),
                'H' => Pad(t.Hour, 2),
                'I' => Pad(t.Hour % 12 == 0 ? 12 : t.Hour % 12, 2),
                'M' => Pad(t.Minute, 2),
                'S' => Pad(t.Second, 2),
                'f' => (t.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", inv),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'j' => Pad(t.DayOfYear, 3),
                'a' => Days[dow][..3],
                'A' => Days[dow],
                'b' or 'h' => Months[t.Month - 1][..3],
                'B' => Months[t.Month - 1],
                'w' => ((int)t.DayOfWeek).ToString(inv),
                'u' => (dow + 1).ToString(inv),
                'F' => t.ToString("yyyy-MM-dd", inv),
                'T' => t.ToString("HH:mm:ss", inv),
                'D' => t.ToString("MM/dd/yy", inv),
                'R' => t.ToString("HH:mm", inv),
                'c' => $"{Days[dow][..3]} {Months[t.Month - 1][..3]} {t.Day,2} {t:HH:mm:ss} {t.Year}",
                'x' => t.ToString("MM/dd/yy", inv),
                'X' => t.ToString("HH:mm:ss", inv),
                'n' => "\n",
                't' => "\t",
                '%' => "%",
                _ => "%" + d,
            });
        }
        return sb.ToString();
    }
}
