namespace Curation.Pipelines.Text;

/// <summary>
/// The one URL normal form of the product: scheme and host lower-cased, default ports, the fragment and tracking
/// parameters (<c>utm_*</c>, <c>fbclid</c>, <c>gclid</c>, …) removed, remaining parameters in their order, a trailing
/// slash of a non-root path removed, <c>http</c> and <c>https</c> treated as one. Null for a string that is no absolute http(s) URL.
/// </summary>
public static class UrlNormalizer
{
    private static readonly HashSet<string> TrackingParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid", "_ga", "_gl", "ref_src", "spm",
    };

    public static string? Normalize(string? url)
    {
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Host.Length == 0)
            return null;
        var host = uri.IdnHost.ToLowerInvariant().TrimEnd('.');
        var port = uri.IsDefaultPort || uri.Port is 80 or 443 ? "" : ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var path = uri.AbsolutePath;
        if (path.Length > 1 && path.EndsWith('/')) path = path.TrimEnd('/');
        var query = string.Join('&', uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => !IsTracking(p.Split('=', 2)[0])));
        return $"http://{host}{port}{(path.Length == 0 ? "/" : path)}{(query.Length == 0 ? "" : "?" + query)}";
    }

    /// <summary>The host of a URL, lower-cased, without a leading <c>www.</c>; null when it has none.</summary>
    public static string? Host(string? url)
    {
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || uri.Host.Length == 0) return null;
        var host = uri.IdnHost.ToLowerInvariant().TrimEnd('.');
        return host.StartsWith("www.", StringComparison.Ordinal) ? host[4..] : host;
    }

    private static bool IsTracking(string name) =>
        name.StartsWith("utm_", StringComparison.OrdinalIgnoreCase) || TrackingParameters.Contains(name);
}
