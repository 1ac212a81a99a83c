using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Curation.Pipelines.Text.Pii;

/// <summary>
/// Whether an address is globally reachable, as Python's <c>ipaddress</c> answers <c>is_global</c> (and so datatrove's
/// PII formatter, which by default replaces only such addresses): not in IANA's special-purpose registries — private
/// (10/8, 172.16/12, 192.168/16, fc00::/7), loopback, link-local, "this network", documentation (192.0.2/24,
/// 198.51.100/24, 203.0.113/24, 2001:db8::/32), benchmarking, shared (100.64/10), reserved (240/4) and the limited
/// broadcast. Such an address names no one: a config example, a home router, a test network.
/// </summary>
public static class IpRanges
{
    private static readonly (uint Network, int Bits)[] NotGlobalV4 =
    [
        (V4(0, 0, 0, 0), 8), (V4(10, 0, 0, 0), 8), (V4(100, 64, 0, 0), 10), (V4(127, 0, 0, 0), 8), (V4(169, 254, 0, 0), 16),
        (V4(172, 16, 0, 0), 12), (V4(192, 0, 0, 0), 29), (V4(192, 0, 0, 170), 31), (V4(192, 0, 2, 0), 24), (V4(192, 168, 0, 0), 16),
        (V4(198, 18, 0, 0), 15), (V4(198, 51, 100, 0), 24), (V4(203, 0, 113, 0), 24), (V4(240, 0, 0, 0), 4), (V4(255, 255, 255, 255), 32),
    ];

    private static readonly (UInt128 Network, int Bits)[] NotGlobalV6 =
    [
        (V6("::1"), 128), (V6("::"), 128), (V6("100::"), 64), (V6("2001::"), 23), (V6("2001:2::"), 48),
        (V6("2001:db8::"), 32), (V6("2001:10::"), 28), (V6("fc00::"), 7), (V6("fe80::"), 10),
    ];

    public static bool IsGlobal(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) return IsGlobal(address.MapToIPv4()); // ::ffff:a.b.c.d is judged as a.b.c.d, as Python does
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var written)) return true;
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var value = BinaryPrimitives.ReadUInt32BigEndian(bytes[..written]);
            foreach (var (network, bits) in NotGlobalV4)
                if ((value & (uint)(ulong.MaxValue << (32 - bits))) == network) return false;
            return true;
        }
        var v6 = BinaryPrimitives.ReadUInt128BigEndian(bytes[..written]);
        foreach (var (network, bits) in NotGlobalV6)
            if ((v6 & (UInt128.MaxValue << (128 - bits))) == network) return false;
        return true;
    }

    private static uint V4(byte a, byte b, byte c, byte d) => (uint)(a << 24 | b << 16 | c << 8 | d);

    private static UInt128 V6(string address)
    {
        Span<byte> bytes = stackalloc byte[16];
        IPAddress.Parse(address).TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }
}
