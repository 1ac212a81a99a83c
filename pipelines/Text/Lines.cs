namespace Curation.Pipelines.Text;

/// <summary>Line splitting as the reference rule sets (Python) do it.</summary>
public static class Lines
{
    /// <summary>
    /// Python's <c>str.splitlines()</c>: breaks at \n, \r\n, \r, \v, \f, \x1c–\x1e, \x85, U+2028, U+2029; no trailing
    /// empty line; an empty text has no lines.
    /// </summary>
    public static List<string> SplitLines(string text)
    {
        var lines = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is not ('\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')) continue;
            lines.Add(text[start..i]);
            if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
            start = i + 1;
        }
        if (start < text.Length) lines.Add(text[start..]);
        return lines;
    }

    /// <summary>Python's <c>str.strip()</c> family strips Unicode whitespace; .NET's Trim does the same set.</summary>
    public static bool IsBlank(string line) => string.IsNullOrWhiteSpace(line);
}
