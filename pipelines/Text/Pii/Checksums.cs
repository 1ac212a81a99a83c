namespace Curation.Pipelines.Text.Pii;

/// <summary>The check digits that separate real card numbers and IBANs from random digit runs.</summary>
public static class Checksums
{
    /// <summary>Luhn (mod 10) over the digits of <paramref name="digits"/>.</summary>
    public static bool Luhn(ReadOnlySpan<char> digits)
    {
        var sum = 0;
        var doubled = false;
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            var d = digits[i] - '0';
            if (doubled) { d *= 2; if (d > 9) d -= 9; }
            sum += d;
            doubled = !doubled;
        }
        return sum % 10 == 0;
    }

    /// <summary>ISO 13616 mod-97: the first four characters moved to the end, letters as 10…35, the number mod 97 must be 1.</summary>
    public static bool Iban(ReadOnlySpan<char> iban)
    {
        if (iban.Length is < 15 or > 34) return false;
        var remainder = 0;
        for (var k = 0; k < iban.Length; k++)
        {
            var c = iban[(k + 4) % iban.Length];
            if (c is >= '0' and <= '9') remainder = (remainder * 10 + (c - '0')) % 97;
            else if (c is >= 'A' and <= 'Z') remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
            else return false;
        }
        return remainder == 1;
    }

    /// <summary>Shannon entropy in bits per character.</summary>
    public static double Entropy(ReadOnlySpan<char> value)
    {
        Span<int> counts = stackalloc int[128];
        var other = 0;
        foreach (var c in value)
            if (c < 128) counts[c]++;
            else other++;
        double entropy = 0;
        foreach (var n in counts)
            if (n > 0) { var p = n / (double)value.Length; entropy -= p * Math.Log2(p); }
        if (other > 0) { var p = other / (double)value.Length; entropy -= p * Math.Log2(p); }
        return entropy;
    }
}
