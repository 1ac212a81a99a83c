using Curation.Pipelines.Storage;
using Curation.Testing;

namespace Curation.Pipelines.Tests.Storage;

/// <summary>
/// A local folder store confined to allowed roots checks real paths: symbolic links to files, to folders and links to
/// links that lead out of the roots are refused (naming the path and the roots) when opened, not followed by listings,
/// and refused for writing; links that stay inside work; a link swapped in after listing is caught when opened.
/// </summary>
public sealed class AllowedRootsTests : IDisposable
{
    private readonly TempDirectory _allowed = new("allowed");
    private readonly TempDirectory _outside = new("outside");

    public AllowedRootsTests()
    {
        File.WriteAllText(_allowed.Combine("inside.jsonl"), "{\"text\":\"inside\"}\n");
        Directory.CreateDirectory(_allowed.Combine("sub"));
        File.WriteAllText(_allowed.Combine("sub", "deep.jsonl"), "{\"text\":\"deep\"}\n");
        File.WriteAllText(_outside.Combine("secret.conf"), "root:x:0:0:secret\n");
        Directory.CreateDirectory(_outside.Combine("etc"));
        File.WriteAllText(_outside.Combine("etc", "passwd"), "root:x:0:0:secret\n");
    }

    public void Dispose()
    {
        _allowed.Dispose();
        _outside.Dispose();
    }

    private LocalFolderStore Store(string? root = null) => new(root ?? _allowed.Path, new AllowedRoots([_allowed.Path]));

    [Fact]
    public async Task A_link_to_a_file_outside_is_refused_when_opened_naming_the_path_and_the_root()
    {
        File.CreateSymbolicLink(_allowed.Combine("passwd.jsonl"), _outside.Combine("secret.conf"));
        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => Store().ReadBytesAsync("passwd.jsonl"));
        Assert.Contains(_allowed.Combine("passwd.jsonl"), e.Message);
        Assert.Contains(_outside.Combine("secret.conf"), e.Message);
        Assert.Contains(_allowed.Path, e.Message);
        Assert.Contains("outside the allowed roots", e.Message);
        // GetInfo too: a planner sizing it learns as much.
        await Assert.ThrowsAsync<ObjectStoreException>(() => Store().GetInfoAsync("passwd.jsonl"));
    }

    [Fact]
    public async Task A_link_to_a_folder_outside_is_not_followed_by_a_listing_and_refused_as_a_root()
    {
        Directory.CreateSymbolicLink(_allowed.Combine("etclink"), _outside.Combine("etc"));
        var keys = await Store().ListAsync("").Select(i => i.Key).ToListAsync();
        Assert.Equal(["inside.jsonl", "sub/deep.jsonl"], keys);
        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => Store().ReadBytesAsync("etclink/passwd"));
        Assert.Contains("etclink", e.Message);

        // A job that names the link itself as its folder (allowed/etclink/*.conf) gets a store rooted there: refused.
        var linked = Store(_allowed.Combine("etclink"));
        var listing = await Assert.ThrowsAsync<ObjectStoreException>(async () => await linked.ListAsync("").ToListAsync());
        Assert.Contains(_outside.Combine("etc"), listing.Message);
    }

    [Fact]
    public async Task Links_to_links_are_resolved_to_the_end()
    {
        File.CreateSymbolicLink(_outside.Combine("hop.conf"), _outside.Combine("secret.conf"));
        File.CreateSymbolicLink(_allowed.Combine("hop1"), _allowed.Combine("hop2"));
        File.CreateSymbolicLink(_allowed.Combine("hop2"), _outside.Combine("hop.conf")); // inside → inside → outside → outside
        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => Store().ReadBytesAsync("hop1"));
        Assert.Contains(_outside.Combine("secret.conf"), e.Message);
        Assert.Equal(_outside.Combine("secret.conf"), RealPaths.Resolve(_allowed.Combine("hop1")));

        // A relative link climbing out through ".." is resolved the same way.
        File.CreateSymbolicLink(_allowed.Combine("sub", "up"), Path.Combine("..", "..", Path.GetFileName(_outside.Path), "secret.conf"));
        await Assert.ThrowsAsync<ObjectStoreException>(() => Store().ReadBytesAsync("sub/up"));
    }

    [Fact]
    public async Task Links_that_stay_inside_the_roots_work()
    {
        File.CreateSymbolicLink(_allowed.Combine("alias.jsonl"), _allowed.Combine("sub", "deep.jsonl"));
        Directory.CreateSymbolicLink(_allowed.Combine("subalias"), _allowed.Combine("sub"));
        var store = Store();
        Assert.Equal("{\"text\":\"deep\"}\n", System.Text.Encoding.UTF8.GetString(await store.ReadBytesAsync("alias.jsonl")));
        var keys = await store.ListAsync("").Select(i => i.Key).ToListAsync();
        Assert.Contains("subalias/deep.jsonl", keys);
        await store.WriteBytesAsync("subalias/out.txt", "ok"u8.ToArray(), WriteCondition.CreateOnly);
        Assert.True(File.Exists(_allowed.Combine("sub", "out.txt")));
    }

    [Fact]
    public async Task Writing_through_a_link_that_leads_outside_is_refused()
    {
        Directory.CreateSymbolicLink(_allowed.Combine("out"), _outside.Path);
        var e = await Assert.ThrowsAsync<ObjectStoreException>(() =>
            Store().WriteBytesAsync("out/curated/part-00000.parquet", "x"u8.ToArray(), WriteCondition.CreateOnly));
        Assert.Contains("outside the allowed roots", e.Message);
        Assert.False(Directory.Exists(_outside.Combine("curated")));
    }

    [Fact]
    public async Task A_link_swapped_in_after_listing_is_caught_when_the_file_is_opened()
    {
        var store = Store();
        var keys = await store.ListAsync("").Select(i => i.Key).ToListAsync();
        Assert.Contains("inside.jsonl", keys);
        // Planned as a plain file; replaced by a link before the task opens it.
        File.Delete(_allowed.Combine("inside.jsonl"));
        File.CreateSymbolicLink(_allowed.Combine("inside.jsonl"), _outside.Combine("secret.conf"));
        await Assert.ThrowsAsync<ObjectStoreException>(() => store.ReadBytesAsync("inside.jsonl"));
    }

    [Fact]
    public void A_root_that_is_itself_a_link_is_compared_by_its_real_path()
    {
        var link = _outside.Combine("allowed-link");
        Directory.CreateSymbolicLink(link, _allowed.Path);
        var roots = new AllowedRoots([link]);
        Assert.Null(roots.Problem(Path.Combine(_allowed.Path, "sub")));
        Assert.Null(roots.Problem(Path.Combine(link, "sub", "deep.jsonl")));
        Assert.NotNull(roots.Problem(_outside.Combine("secret.conf")));
    }
}
