using System.Globalization;
using System.Text;
using System.Text.Json;
using Curation.Pipelines.Text.Pii;
using PhoneNumbers;

namespace Curation.Testing;

/// <summary>
/// Real text (the demo corpus' paragraphs) with planted personal data of every type and written format, plus
/// look-alikes that must not match (version numbers, dates, times, ISBNs, hashes, digit runs failing Luhn, build
/// numbers). Each planted value's span is recorded, so precision and recall per type are exact. Seeded.
/// </summary>
public sealed class PiiCorpus
{
    public sealed record Planted(int Start, int Length, PiiType Type, string Value);

    public sealed record Document(string Id, string Language, string Text, IReadOnlyList<Planted> Planted);

    public IReadOnlyList<Document> Documents { get; }

    private PiiCorpus(IReadOnlyList<Document> documents) => Documents = documents;

    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();
    private static readonly (string Language, string Region)[] Locales = [("en", "US"), ("en-GB", "GB"), ("de", "DE"), ("fr", "FR"), ("ja", "JP"), ("es", "ES")];

    public static PiiCorpus Generate(int documents, int seed = 16)
    {
        var random = new Random(seed);
        var paragraphs = RealParagraphs();
        var result = new List<Document>();
        for (var d = 0; d < documents; d++)
        {
            var (language, region) = Locales[random.Next(Locales.Length)];
            var text = new StringBuilder();
            var planted = new List<Planted>();
            var sentences = paragraphs[random.Next(paragraphs.Count)].Split(". ");
            foreach (var sentence in sentences)
            {
                text.Append(sentence).Append(". ");
                var roll = random.Next(10);
                if (roll < 4) Plant(random, region, text, planted);
                else if (roll < 7) text.Append(LookAlike(random)).Append(' ');
            }
            result.Add(new Document($"pii-{d:D5}", language, text.ToString(), planted));
        }
        return new PiiCorpus(result);
    }

    private static List<string> RealParagraphs()
    {
        var paragraphs = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(RepositoryRoot.Get(), "samples", "corpus"), "*.jsonl").Order(StringComparer.Ordinal))
            foreach (var line in File.ReadLines(file))
            {
                using var json = JsonDocument.Parse(line);
                paragraphs.Add(json.RootElement.GetProperty("text").GetString()!);
            }
        return paragraphs;
    }

    private static void Plant(Random random, string region, StringBuilder text, List<Planted> planted)
    {
        var type = PiiTypes.All[random.Next(PiiTypes.All.Count)];
        var (before, value, after) = type switch
        {
            PiiType.Email => (Pick(random, "Write to ", "Contact: ", "mail ", "(", "reach me at "), Email(random), Pick(random, " for details.", ")", ".", " today.")),
            PiiType.IpAddress => (Pick(random, "The server at ", "Connected from ", "host ", "address: "), Ip(random), Pick(random, " responded.", ".", " was blocked.")),
            PiiType.Phone => (Pick(random, "Call ", "Phone: ", "Tel. ", "ring us on "), Phone(random, region), Pick(random, " after six.", ".", " (office).")),
            PiiType.Card => (Pick(random, "Card number ", "paid with ", "CC: "), Card(random), Pick(random, ", exp 04/27.", ".", " was charged.")),
            PiiType.Iban => (Pick(random, "IBAN ", "Transfer to ", "account: "), Iban(random), Pick(random, ".", " (Sparkasse).", " by Friday.")),
            _ => Secret(random),
        };
        text.Append(before);
        planted.Add(new Planted(text.Length, value.Length, type, value));
        text.Append(value).Append(after).Append(' ');
    }

    private static string Pick(Random random, params string[] options) => options[random.Next(options.Length)];

    private const string Lower = "abcdefghijklmnopqrstuvwxyz";
    private const string Alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private static string Chars(Random random, string alphabet, int length) =>
        new(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());

    private static string Email(Random random) =>
        Pick(random, Chars(random, Lower, 5) + "." + Chars(random, Lower, 7), Chars(random, Lower, 4) + "_" + random.Next(99),
            Chars(random, Lower, 6) + "+news", "j.müller" + random.Next(9), Chars(random, Lower, 8))
        + "@" + Pick(random, "example.com", "mail.co.uk", "uni-hamburg.de", "sub.domain.org", "posteo.net", "müller.de");

    /// <summary>A globally reachable address (first octets and prefixes of public allocations only): personal data.</summary>
    private static string Ip(Random random) => random.Next(4) switch
    {
        0 or 1 => $"{Pick(random, "8", "23", "31", "45", "52", "64", "81", "91", "104", "142", "151", "185", "212")}.{random.Next(256)}.{random.Next(256)}.{random.Next(1, 255)}",
        2 => $"2a0{random.Next(10)}:" + string.Join(':', Enumerable.Range(0, 7).Select(_ => random.Next(65536).ToString("x", CultureInfo.InvariantCulture))),
        _ => $"{Pick(random, "2606:4700", "2a00:1450", "2001:4860")}::{random.Next(1, 65536):x}:{random.Next(65536):x}",
    };

    /// <summary>An address that names no one: private, loopback, link-local, documentation, shared (not personal data).</summary>
    private static string LocalIp(Random random) => random.Next(7) switch
    {
        0 => $"10.{random.Next(256)}.{random.Next(256)}.{random.Next(256)}",
        1 => $"192.168.{random.Next(256)}.{random.Next(1, 255)}",
        2 => $"172.{random.Next(16, 32)}.{random.Next(256)}.{random.Next(1, 255)}",
        3 => $"{Pick(random, "192.0.2", "198.51.100", "203.0.113")}.{random.Next(256)}",
        4 => $"127.0.0.{random.Next(1, 255)}",
        5 => $"2001:db8::{random.Next(1, 65536):x}:{random.Next(65536):x}",
        _ => $"fe80::{random.Next(65536):x}:{random.Next(65536):x}:{random.Next(65536):x}",
    };

    /// <summary>A valid number of the region (its example number with random subscriber digits), written in one of the usual formats.</summary>
    private static string Phone(Random random, string region)
    {
        var example = Phones.GetExampleNumberForType(region, random.Next(2) == 0 ? PhoneNumberType.MOBILE : PhoneNumberType.FIXED_LINE);
        PhoneNumber number;
        do
        {
            var national = example.NationalNumber.ToString(CultureInfo.InvariantCulture);
            var digits = national[..Math.Min(3, national.Length - 4)] + Chars(random, "0123456789", national.Length - Math.Min(3, national.Length - 4));
            number = new PhoneNumber.Builder().SetCountryCode(example.CountryCode).SetNationalNumber(ulong.Parse(digits, CultureInfo.InvariantCulture)).Build();
        }
        while (!Phones.IsValidNumber(number));
        return random.Next(3) switch
        {
            0 => Phones.Format(number, PhoneNumberFormat.INTERNATIONAL),
            1 => Phones.Format(number, PhoneNumberFormat.NATIONAL),
            _ => Phones.Format(number, PhoneNumberFormat.E164),
        };
    }

    private static string Card(Random random)
    {
        var (prefix, length) = Pick(random, "visa", "mc", "amex", "disc") switch
        {
            "visa" => ("4", 16),
            "mc" => ("5" + random.Next(1, 6), 16),
            "amex" => ("3" + Pick(random, "4", "7"), 15),
            _ => ("6011", 16),
        };
        var digits = prefix + Chars(random, "0123456789", length - prefix.Length - 1);
        for (var check = 0; check < 10; check++)
            if (Checksums.Luhn(digits + check)) { digits += check; break; }
        return random.Next(3) switch
        {
            0 => digits,
            1 when length == 15 => $"{digits[..4]} {digits[4..10]} {digits[10..]}",
            1 => string.Join(' ', digits.Chunk(4).Select(c => new string(c))),
            _ => string.Join('-', digits.Chunk(4).Select(c => new string(c))),
        };
    }

    private static string Iban(Random random)
    {
        var (country, length) = Pick(random, "DE", "FR", "GB", "NL", "ES") switch
        {
            "DE" => ("DE", 22),
            "FR" => ("FR", 27),
            "GB" => ("GB", 22),
            "NL" => ("NL", 18),
            _ => ("ES", 24),
        };
        var bban = country is "GB" or "NL" ? Chars(random, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4) + Chars(random, "0123456789", length - 8)
            : Chars(random, "0123456789", length - 4);
        var check = 98 - Mod97(bban + country + "00");
        var iban = $"{country}{check:D2}{bban}";
        return random.Next(2) == 0 ? iban : string.Join(' ', iban.Chunk(4).Select(c => new string(c)));
    }

    private static int Mod97(string value)
    {
        var remainder = 0;
        foreach (var c in value)
            remainder = char.IsAsciiDigit(c) ? (remainder * 10 + (c - '0')) % 97 : (remainder * 100 + (c - 'A' + 10)) % 97;
        return remainder;
    }

    private static (string Before, string Value, string After) Secret(Random random) => random.Next(7) switch
    {
        0 => ("Key file:\n", "-----BEGIN RSA PRIVATE KEY-----\n" + string.Join('\n', Enumerable.Range(0, 4).Select(_ => Chars(random, Alnum + "+/", 64)))
            + "\n-----END RSA PRIVATE KEY-----", "\n"),
        1 => ("aws_access_key_id = ", "AKIA" + Chars(random, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16), ""),
        2 => ("GITHUB_TOKEN=", "ghp_" + Chars(random, Alnum, 36), ""),
        3 => ("Stripe ", "sk_live_" + Chars(random, Alnum, 24), " leaked."),
        4 => ("api_key: \"", Chars(random, Alnum, 32), "\""),
        5 => ("Authorization: Bearer ", "eyJ" + Chars(random, Alnum, 20) + ".eyJ" + Chars(random, Alnum, 30) + "." + Chars(random, Alnum + "_-", 43), ""),
        _ => ("client secret is ", Chars(random, Alnum, 40), "."),
    };

    /// <summary>Strings that look like personal data but are not.</summary>
    private static string LookAlike(Random random) => random.Next(12) switch
    {
        11 => $"The router at {LocalIp(random)} forwards to {LocalIp(random)}.",
        0 => $"Upgrade to version {random.Next(1, 20)}.{random.Next(30)}.{random.Next(100)}.",
        1 => $"It shipped in v{random.Next(1, 9)}.{random.Next(20)}.{random.Next(20)}.{random.Next(200)} last year.",
        2 => $"On {random.Next(1990, 2030)}-{random.Next(1, 13):D2}-{random.Next(1, 29):D2} at {random.Next(24):D2}:{random.Next(60):D2}:{random.Next(60):D2} it ended.",
        3 => $"Dated {random.Next(1, 29):D2}.{random.Next(1, 13):D2}.{random.Next(1990, 2030)} and {random.Next(1, 13)}/{random.Next(1, 29)}/{random.Next(1990, 2030)}.",
        4 => $"ISBN {Isbn13(random)}.",
        5 => $"sha256 {Chars(random, "0123456789abcdef", 64)} and commit {Chars(random, "0123456789abcdef", 40)}.",
        6 => $"Order {LuhnFailing(random)} was shipped.",
        7 => $"Build {random.Next(10, 12)}.0.{random.Next(10000, 30000)}.{random.Next(1, 999)} is stable.",
        8 => $"The population grew to {random.Next(1, 999)},{random.Next(1000):D3},{random.Next(1000):D3} by then.",
        9 => $"See std::vector<int> and a::b::c in section {random.Next(1, 20)}.{random.Next(1, 20)}.",
        _ => $"The api key rotation policy applies to every service account token described in chapter {random.Next(1, 30)}.",
    };

    private static string Isbn13(Random random)
    {
        var digits = "978" + Chars(random, "0123456789", 9);
        var sum = digits.Select((c, i) => (c - '0') * (i % 2 == 0 ? 1 : 3)).Sum();
        digits += (10 - sum % 10) % 10;
        return $"{digits[..3]}-{digits[3]}-{digits[4..6]}-{digits[6..12]}-{digits[12]}";
    }

    /// <summary>A Visa-shaped 16-digit number whose Luhn check fails.</summary>
    private static string LuhnFailing(Random random)
    {
        string digits;
        do digits = "4" + Chars(random, "0123456789", 15);
        while (Checksums.Luhn(digits));
        return random.Next(2) == 0 ? digits : string.Join(' ', digits.Chunk(4).Select(c => new string(c)));
    }

    /// <summary>Precision and recall of one type: a found span counts when it overlaps a planted span of its type.</summary>
    public static Dictionary<PiiType, (int Planted, int Found, int TruePositives, double Precision, double Recall)> Score(
        IEnumerable<(Document Document, IReadOnlyList<PiiMatch> Found)> results)
    {
        var tally = PiiTypes.All.ToDictionary(t => t, _ => (Planted: 0, Found: 0, Hit: 0, Correct: 0));
        foreach (var (document, found) in results)
        {
            foreach (var p in document.Planted)
            {
                var t = tally[p.Type];
                t.Planted++;
                if (found.Any(f => f.Type == p.Type && f.Start < p.Start + p.Length && p.Start < f.End)) t.Hit++;
                tally[p.Type] = t;
            }
            foreach (var f in found)
            {
                var t = tally[f.Type];
                t.Found++;
                if (document.Planted.Any(p => f.Type == p.Type && f.Start < p.Start + p.Length && p.Start < f.End)) t.Correct++;
                tally[f.Type] = t;
            }
        }
        return tally.ToDictionary(t => t.Key, t => (t.Value.Planted, t.Value.Found, t.Value.Correct,
            t.Value.Found == 0 ? 0 : t.Value.Correct / (double)t.Value.Found, t.Value.Planted == 0 ? 0 : t.Value.Hit / (double)t.Value.Planted));
    }
}
