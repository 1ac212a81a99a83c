using System.Net;
using System.Text.RegularExpressions;
using PhoneNumbers;

namespace Curation.Pipelines.Text.Pii;

/// <summary>
/// Finds personal data and secrets in a text: every detector proposes spans (a pattern, then a check that
/// separates the real thing from look-alikes: Luhn for cards, mod-97 for IBANs, an address parse for IPs,
/// libphonenumber's validity for phones, entropy for keyword-adjacent tokens); overlaps are settled by type
/// priority (secret, e-mail, IBAN, card, IP, phone), then by length. Stateless and thread-safe.
/// </summary>
public static partial class PiiScanner
{
    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();

    /// <summary>Every wanted match of <paramref name="text"/>, sorted by position and non-overlapping.</summary>
    /// <param name="region">ISO 3166 region for numbers written without a country code (e.g. <c>DE</c>); null: only <c>+</c> numbers.</param>
    /// <param name="allIpAddresses">Also addresses that are not globally reachable (<see cref="IpRanges.IsGlobal"/>): private,
    /// loopback, link-local, documentation; by default only global ones are personal data, as in datatrove.</param>
    public static List<PiiMatch> Find(string text, IReadOnlySet<PiiType> types, string? region, bool allIpAddresses = false)
    {
        var found = new List<PiiMatch>();
        if (types.Contains(PiiType.Secret)) Secrets(text, found);
        if (types.Contains(PiiType.Email)) Emails(text, found);
        if (types.Contains(PiiType.Iban)) Ibans(text, found);
        if (types.Contains(PiiType.Card)) Cards(text, found);
        if (types.Contains(PiiType.IpAddress)) IpAddresses(text, found, allIpAddresses);
        if (types.Contains(PiiType.Phone))
        {
            // The other types settled first (the same result: phone ranks last), so only their kept matches hide digits.
            if (found.Count > 1) found = Settle(found);
            PhoneNumbers(text, region, found);
        }
        return found.Count <= 1 ? found : Settle(found);
    }

    /// <summary>Keeps, left to right, each match that overlaps no match of a higher priority (earlier type) or a longer one of its type.</summary>
    private static List<PiiMatch> Settle(List<PiiMatch> found)
    {
        var ranked = found.OrderBy(m => (int)Priority(m.Type)).ThenByDescending(m => m.Length).ThenBy(m => m.Start);
        var kept = new List<PiiMatch>();
        foreach (var m in ranked)
            if (!kept.Any(k => k.Start < m.End && m.Start < k.End)) kept.Add(m);
        kept.Sort((a, b) => a.Start.CompareTo(b.Start));
        return kept;
    }

    private static int Priority(PiiType type) => type switch
    {
        PiiType.Secret => 0,
        PiiType.Email => 1,
        PiiType.Iban => 2,
        PiiType.Card => 3,
        PiiType.IpAddress => 4,
        _ => 5,
    };

    private static void AddAll(Regex pattern, string text, PiiType type, List<PiiMatch> found)
    {
        foreach (var m in pattern.EnumerateMatches(text)) found.Add(new PiiMatch(m.Index, m.Length, type));
    }

    /// <summary>
    /// E-mail addresses, found from each '@' (a regex scanning for the local part would try every letter of the text):
    /// the local part is the run of local-part characters before it (1–64 of them, not preceded by another), the domain
    /// must match <see cref="EmailDomainPattern"/> right after it. The same matches as the one pattern
    /// <c>(?&lt;![local])[local]{1,64}@domain</c>, left to right and non-overlapping.
    /// </summary>
    private static void Emails(string text, List<PiiMatch> found)
    {
        var end = 0;
        for (var at = text.IndexOf('@'); at >= 0; at = at + 1 < text.Length ? text.IndexOf('@', at + 1) : -1)
        {
            if (at < end) continue;
            var start = at;
            while (start > 0 && IsLocalPartChar(text[start - 1])) start--;
            if (start == at || at - start > 64 || start < end) continue;
            var domain = EmailDomainPattern().Match(text, at + 1);
            if (!domain.Success) continue;
            found.Add(new PiiMatch(start, domain.Index + domain.Length - start, PiiType.Email));
            end = domain.Index + domain.Length;
        }
    }

    private static bool IsLocalPartChar(char c) => char.IsLetterOrDigit(c) || char.IsNumber(c) || c is '.' or '_' or '%' or '+' or '-';

    [GeneratedRegex(@"\G(?:[\p{L}\p{N}](?:[\p{L}\p{N}\-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,24}(?![\p{L}\p{N}\-])")]
    private static partial Regex EmailDomainPattern();

    [GeneratedRegex(@"(?<![\d.\w])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d|\w)")]
    private static partial Regex Ipv4Pattern();

    [GeneratedRegex(@"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?::(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")]
    private static partial Regex Ipv6Pattern();

    /// <summary>
    /// Words after which a dotted quad is a version number (<c>Version 1.2.3.4</c>, <c>build: 10.0.19041.1</c>) or the
    /// number of a standard's section (<c>section 8.2.4.45</c>, <c>#section-6.5.4.1</c>, <c>§ 4.3.2.1</c>), an object
    /// identifier (<c>OID 1.3.101.110</c>) or V8's four-part version (<c>V8 to 10.1.124.8</c>), not an address.
    /// </summary>
    private static readonly string[] VersionWords =
        ["version", "versión", "versão", "versione", "ver.", "release", "build", "バージョン", "版本", "section", "sections", "sec.", "chapter", "clause",
         "oid", "v8", "v8 to"];

    private static bool IsVersion(string text, int index)
    {
        if (index > 0 && text[index - 1] is 'v' or 'V' or '§') return true; // v1.2.3.4, §7.1.2.3
        var end = index;
        while (end > 0 && index - end < 3 && text[end - 1] is ' ' or ':' or '\u00A0' or '"' or '-') end--;
        if (end > 0 && end < index && text[end - 1] == '§') return true;
        if (end == index) return false;
        foreach (var word in VersionWords)
            if (end >= word.Length && text.AsSpan(end - word.Length, word.Length).Equals(word, StringComparison.OrdinalIgnoreCase)
                && (end == word.Length || !char.IsLetter(text[end - word.Length - 1]) || !char.IsAsciiLetter(word[0])))
                return true;
        return false;
    }

    private static void IpAddresses(string text, List<PiiMatch> found, bool all)
    {
        foreach (var m in Ipv4Pattern().EnumerateMatches(text))
            if (!IsVersion(text, m.Index) && (all || IpRanges.IsGlobal(IPAddress.Parse(text.AsSpan(m.Index, m.Length)))))
                found.Add(new PiiMatch(m.Index, m.Length, PiiType.IpAddress));
        // An address has "::" or seven colons: most texts with a colon have neither and skip the pattern.
        if (text.Contains("::", StringComparison.Ordinal) || text.AsSpan().Count(':') >= 7)
            foreach (var m in Ipv6Pattern().EnumerateMatches(text))
            {
                var candidate = text.AsSpan(m.Index, m.Length);
                var colons = candidate.Count(':');
                var hexDigits = 0;
                foreach (var c in candidate) if (char.IsAsciiHexDigit(c)) hexDigits++;
                // Full form (7 colons) or compressed (::) with ≥ 3 hex digits: times (12:30:45) and C++ scopes (a::b) never pass.
                if ((colons == 7 || candidate.Contains("::", StringComparison.Ordinal)) && hexDigits >= 3
                    && IPAddress.TryParse(candidate, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                    && (all || IpRanges.IsGlobal(address)))
                    found.Add(new PiiMatch(m.Index, m.Length, PiiType.IpAddress));
            }
    }

    /// <summary>13–19 digits, in groups separated by single spaces or hyphens.</summary>
    [GeneratedRegex(@"(?<![\w\-.,/+])\d{2,6}(?:[ \-]?\d{2,6}){1,7}(?![\w\-]|[.,/]\d)")]
    private static partial Regex CardPattern();

    private static void Cards(string text, List<PiiMatch> found)
    {
        Span<char> digits = stackalloc char[19];
        foreach (var m in CardPattern().EnumerateMatches(text))
        {
            var span = text.AsSpan(m.Index, m.Length);
            var n = 0;
            foreach (var c in span)
                if (char.IsAsciiDigit(c)) { if (n == 19) { n = 99; break; } digits[n++] = c; }
            if (n is < 13 or > 19) continue;
            var number = digits[..n];
            if (IsCardPrefix(number) && Checksums.Luhn(number)) found.Add(new PiiMatch(m.Index, m.Length, PiiType.Card));
        }
    }

    /// <summary>Issuer prefixes of the major networks (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro).</summary>
    private static bool IsCardPrefix(ReadOnlySpan<char> d)
    {
        var two = (d[0] - '0') * 10 + (d[1] - '0');
        var four = two * 100 + (d[2] - '0') * 10 + (d[3] - '0');
        return d[0] == '4' && d.Length is 13 or 16 or 19
            || (two is >= 51 and <= 55 || four is >= 2221 and <= 2720) && d.Length == 16
            || two is 34 or 37 && d.Length == 15
            || (four == 6011 || two == 65 || four is >= 6440 and <= 6499) && d.Length is >= 16 and <= 19
            || four is >= 3528 and <= 3589 && d.Length is >= 16 and <= 19
            || two is 36 or 38 or 30 && d.Length is >= 14 and <= 19
            || two == 62 && d.Length is >= 16 and <= 19
            || two is 50 or 56 or 57 or 58 or 67 && d.Length is >= 13 and <= 19;
    }

    [GeneratedRegex(@"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?!\w)")]
    private static partial Regex IbanPattern();

    /// <summary>IBAN lengths of the countries that use them most; a country not listed needs only the checksum.</summary>
    private static readonly Dictionary<string, int> IbanLengths = new(StringComparer.Ordinal)
    {
        ["AT"] = 20, ["BE"] = 16, ["CH"] = 21, ["CZ"] = 24, ["DE"] = 22, ["DK"] = 18, ["ES"] = 24, ["FI"] = 18, ["FR"] = 27, ["GB"] = 22,
        ["GR"] = 27, ["HU"] = 28, ["IE"] = 22, ["IT"] = 27, ["LU"] = 20, ["NL"] = 18, ["NO"] = 15, ["PL"] = 28, ["PT"] = 25, ["RO"] = 24,
        ["SE"] = 24, ["SK"] = 24, ["TR"] = 26,
    };

    private static void Ibans(string text, List<PiiMatch> found)
    {
        Span<char> compact = stackalloc char[40];
        foreach (var m in IbanPattern().EnumerateMatches(text))
        {
            var n = 0;
            foreach (var c in text.AsSpan(m.Index, m.Length))
                if (c != ' ' && n < compact.Length) compact[n++] = c;
            var iban = compact[..n];
            if (IbanLengths.TryGetValue(iban[..2].ToString(), out var length) && length != n) continue;
            if (Checksums.Iban(iban)) found.Add(new PiiMatch(m.Index, m.Length, PiiType.Iban));
        }
    }

    [GeneratedRegex(@"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")]
    private static partial Regex PrivateKeyPattern();

    /// <summary>Formats that identify themselves: AWS, GitHub, Slack, Stripe, Google, OpenAI-style keys and JWTs.</summary>
    [GeneratedRegex(@"(?<![\w\-])(?:(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255}|xox[abprs]-[A-Za-z0-9\-]{10,200}" +
        @"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,200}|AIza[0-9A-Za-z_\-]{35}|sk-(?:proj-)?[A-Za-z0-9_\-]{32,200}|glpat-[A-Za-z0-9_\-]{20}" +
        @"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})(?![\w\-])")]
    private static partial Regex TokenFormatPattern();

    /// <summary>A value assigned to a key/token/secret/password name: <c>api_key = "…"</c>, <c>token: …</c>.</summary>
    [GeneratedRegex(@"(?i:key|token|secret|passw(?:or)?d|credential)s?[\w\-]{0,20}[""']?\s{0,3}(?:[:=]|=>|\bis\b)\s{0,3}[""']?(?<value>[A-Za-z0-9+/_\-.=~]{20,200})")]
    private static partial Regex AssignedSecretPattern();

    private static void Secrets(string text, List<PiiMatch> found)
    {
        if (text.Contains("PRIVATE KEY", StringComparison.Ordinal)) AddAll(PrivateKeyPattern(), text, PiiType.Secret, found);
        AddAll(TokenFormatPattern(), text, PiiType.Secret, found);
        foreach (Match m in AssignedSecretPattern().Matches(text))
        {
            var value = m.Groups["value"];
            var span = value.ValueSpan.TrimEnd('.');
            if (IsHighEntropyToken(span)) found.Add(new PiiMatch(value.Index, span.Length, PiiType.Secret));
        }
    }

    /// <summary>Random-looking: letters and digits mixed, ≥ 3.5 bits per character (words, paths and version strings stay below).</summary>
    private static bool IsHighEntropyToken(ReadOnlySpan<char> value)
    {
        if (value.Length < 20) return false;
        bool digit = false, letter = false;
        foreach (var c in value)
        {
            digit |= char.IsAsciiDigit(c);
            letter |= char.IsAsciiLetter(c);
        }
        return digit && letter && Checksums.Entropy(value) >= 3.5;
    }

    private static void PhoneNumbers(string text, string? region, List<PiiMatch> found)
    {
        // libphonenumber's matcher scans the whole text with its candidate pattern: give it only windows around digit
        // clusters that could hold a number (≥ 7 digits, gaps ≤ ClusterGap characters), with enough context around them
        // for its checks of the characters before and after a candidate. Digits inside a match of another type do not
        // count: a phone number overlapping one would lose to it anyway (phone has the lowest priority).
        bool[]? covered = null;
        foreach (var m in found)
        {
            covered ??= new bool[text.Length];
            covered.AsSpan(m.Start, m.Length).Fill(true);
        }
        var end = 0;
        while (NextDigitCluster(text, covered, end) is var (first, last) && first >= 0)
        {
            end = last + 1;
            var start = Math.Max(0, first - WindowMargin);
            var stop = Math.Min(text.Length, last + 1 + WindowMargin);
            // Merge the windows of clusters whose margins touch, so no candidate is cut in two.
            while (stop < text.Length && NextDigitCluster(text, covered, end) is var (nextFirst, nextLast) && nextFirst >= 0 && nextFirst - WindowMargin <= stop)
            {
                end = nextLast + 1;
                stop = Math.Min(text.Length, nextLast + 1 + WindowMargin);
            }
            var window = text.Substring(start, stop - start);
            foreach (var m in Phones.FindNumbers(window, region ?? "ZZ", PhoneNumberUtil.Leniency.VALID, long.MaxValue))
                if (!DottedNumberPattern().IsMatch(m.RawString) && !PartOfIdentifier(text, start + m.Start, start + m.Start + m.Length))
                    found.Add(new PiiMatch(start + m.Start, m.Length, PiiType.Phone));
            if (end >= text.Length) break;
        }
    }

    /// <summary>
    /// Whether the candidate <c>text[start..end)</c> is glued to a word or a version around it, as no written phone number
    /// is: an identifier's digits (<c>CVE-2026-121229</c>, <c>GHSA-…</c>, <c>#2026121229</c>, <c>v2.39…</c>), or part of a
    /// dotted version (<c>2.38.50.20220707-1</c>, <c>112.0.5615.121-1~deb12u1</c>). A Debian changelog had 1,116 CVE ids
    /// and ~100 package versions redacted as phone numbers, and no phone number.
    /// </summary>
    private static bool PartOfIdentifier(string text, int start, int end)
    {
        char Before(int k) => start - k >= 0 ? text[start - k] : ' ';
        char After(int k) => end + k - 1 < text.Length ? text[end + k - 1] : ' ';
        var (b1, b2) = (Before(1), Before(2));
        // Latin letters only: Chinese or Japanese text writes a number right after its words, with no space between.
        if (char.IsAsciiLetter(b1) || b1 is '#' or '_' or '`' || (b1 == '-' && char.IsAsciiLetterOrDigit(b2))) return true;
        if (b1 == '/' && IsUrlPathSegment(text, start)) return true;
        var candidate = text.AsSpan(start, end - start);
        if (!candidate.Contains('.') && b1 != '.') return false;
        // Two dots and then a hyphen: a version with its revision (112.0.5615.121-1); phone numbers keep one separator.
        var hyphen = candidate.LastIndexOf('-');
        if (hyphen > 0 && candidate[..hyphen].Count('.') >= 2) return true;
        var (a1, a2) = (After(1), After(2));
        return char.IsAsciiDigit(b1) || (b1 == '.' && char.IsAsciiDigit(b2)) || char.IsAsciiLetter(a1) || (a1 is '.' or '-' or '~' or '+' && char.IsAsciiLetterOrDigit(a2));
    }

    /// <summary>
    /// Whether the candidate starting at <paramref name="start"/>, right after a '/', is a path segment of a URL
    /// (<c>https://github.com/nodejs/node/commit/7202859402</c>: a commit's short hash that is all digits), except a
    /// WhatsApp link's number (<c>https://wa.me/12026121229</c>), which is one.
    /// </summary>
    private static bool IsUrlPathSegment(string text, int start)
    {
        var token = start - 1;
        while (token > 0 && !char.IsWhiteSpace(text[token - 1]) && text[token - 1] is not ('(' or '<' or '"' or '\'' or '[')) token--;
        var url = text.AsSpan(token, start - token);
        return url.Contains("://", StringComparison.Ordinal) && !url.EndsWith("wa.me/", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Characters between two digits of one cluster at most (an extension such as " extension " fits).</summary>
    private const int ClusterGap = 16;

    /// <summary>Context around a cluster handed to the matcher: a leading + or (, a trailing letter or time suffix.</summary>
    private const int WindowMargin = 24;

    /// <summary>The next run of uncovered digits (any script) from <paramref name="from"/> whose gaps are ≤ <see cref="ClusterGap"/> and that holds ≥ 7 digits; (-1, -1) when none.</summary>
    private static (int First, int Last) NextDigitCluster(string text, bool[]? covered, int from)
    {
        int first = -1, last = -1, digits = 0;
        for (var i = from; i < text.Length; i++)
        {
            if (!char.IsDigit(text[i]) || (covered is not null && covered[i])) continue;
            if (first >= 0 && i - last > ClusterGap)
            {
                if (digits >= 7) return (first, last);
                first = -1;
                digits = 0;
            }
            if (first < 0) first = i;
            last = i;
            digits++;
        }
        return digits >= 7 ? (first, last) : (-1, -1);
    }

    /// <summary>Digits in 3–4 dot-separated short groups: dates (06.09.2001) and versions (16.9.56), which some regions' plans accept as numbers.</summary>
    [GeneratedRegex(@"^\d{1,4}(?:\.\d{1,4}){2,3}$")]
    private static partial Regex DottedNumberPattern();
}
