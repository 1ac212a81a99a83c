using System.Globalization;
using System.Text;

namespace Curation.SampleGenerator;

/// <summary>The Markdown files written next to the data, so their counts always match it.</summary>
public static class Docs
{
    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    public static string CorpusReadme(Stats s, ulong seed, IReadOnlyList<string> truthExamples)
    {
        var k = s.PlantedByKind;
        var sb = new StringBuilder();
        sb.AppendLine("# Demo corpus");
        sb.AppendLine();
        sb.AppendLine("<!-- Written by samples/generator; edit the generator (Docs.cs), not this file. -->");
        sb.AppendLine();
        sb.AppendLine(F($"A small English corpus for the README's main command and for end-to-end tests: {s.Total} documents in {s.Parts} JSON Lines files, with planted duplicates and low-quality documents whose ground truth is in `corpus.truth.jsonl`."));
        sb.AppendLine();
        sb.AppendLine("| path | what |");
        sb.AppendLine("|---|---|");
        sb.AppendLine(F($"| `corpus/part-0000.jsonl` … `part-{s.Parts - 1:D4}.jsonl` | the corpus, {s.PerPart} documents per part (the last may hold fewer), shuffled |"));
        sb.AppendLine("| `corpus.truth.jsonl` | one line per planted document: what it is and which document it duplicates |");
        sb.AppendLine("| `LICENSE-corpus.md` | where the text comes from and under which licences |");
        sb.AppendLine("| `bad-input/` | broken records and objects for reader tests, with their expected outcome (`bad-input/README.md`) |");
        sb.AppendLine("| `generator/` | the program that wrote all of the above |");
        sb.AppendLine();
        sb.AppendLine("## Records");
        sb.AppendLine();
        sb.AppendLine("```json");
        sb.AppendLine("{\"id\": \"doc-000123\", \"text\": \"…\", \"source_kind\": \"abstract\", \"origin\": \"000_d9718c7cf0edaeae.txt:6\", \"title\": \"…\"}");
        sb.AppendLine("{\"id\": \"doc-001877\", \"text\": \"…\", \"source_kind\": \"debian-doc\", \"origin\": \"/usr/share/doc/sed/sedfaq.txt.gz#paragraph-748\"}");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine("- `id`: stable, unique, `doc-000001` … assigned by a random permutation, so a duplicate's id is as likely smaller as larger than its original's (the pipeline keeps the smallest id of a group). Point a job at it with `\"idField\": \"id\"`.");
        sb.AppendLine("- `text`: one paper abstract, or one prose paragraph of Debian package documentation joined into one line (planted variants may have line breaks, tabs, odd characters).");
        sb.AppendLine("- `source_kind`: `abstract` or `debian-doc` (a planted document carries its original's; a low-quality one the kind of text it was made from).");
        sb.AppendLine("- `origin`: the line of the seed file, or the documentation file and paragraph number, the text was taken from (`generated` for low-quality documents); `title`: the paper title (abstracts only).");
        sb.AppendLine();
        sb.AppendLine("## Counts");
        sb.AppendLine();
        sb.AppendLine("| kind | documents | notes |");
        sb.AppendLine("|---|---:|---|");
        sb.AppendLine(F($"| original | {s.Originals} | {s.OriginalAbstracts} paper abstracts + {s.OriginalDebian} Debian documentation paragraphs from {s.Packages} packages; no two share 20% of their word 5-grams |"));
        sb.AppendLine(F($"| `exact` | {k.GetValueOrDefault(Truth.Exact)} | byte-identical copies of {s.ExactOriginals} originals (some originals have 2 or 3 copies: largest group {s.ExactLargestGroup} documents) |"));
        sb.AppendLine(F($"| `whitespace_case` | {k.GetValueOrDefault(Truth.WhitespaceCase)} | layout, case and invisible-character variants of distinct originals (transforms below) |"));
        sb.AppendLine(F($"| `near` | {k.GetValueOrDefault(Truth.Near)} | edited copies of distinct originals at controlled word-5-gram Jaccard levels (below) |"));
        sb.AppendLine(F($"| `chain` | {s.ChainDocs} | {s.Chains.Count} chains a ~ b ~ c: b is a near duplicate of the original a, c of b |"));
        sb.AppendLine(F($"| `low_quality` | {k.GetValueOrDefault(Truth.LowQuality)} | {string.Join(", ", s.LowQualityByReason.Select(r => $"{r.Value} `{r.Key}`"))} |"));
        sb.AppendLine(F($"| **total** | **{s.Total}** | |"));
        sb.AppendLine();
        sb.AppendLine(F($"Of the {s.CopiesWithOf} planted documents that duplicate another, {s.CopySmallerId} have a smaller id than the document they duplicate."));
        sb.AppendLine();
        sb.AppendLine("### Near-duplicate levels");
        sb.AppendLine();
        sb.AppendLine("Similarity is the Jaccard index of the sets of word 5-grams after lower-casing (invariant culture) and splitting on whitespace (a text of fewer than five words is one shingle); punctuation stays attached to words. The generator edits a copy (synonym swaps, letter swaps, dropped or added adverbs, a deleted or inserted sentence, an added header or footer line) until the similarity lands within ±0.025 of the target, and records the actual value as `jaccard`.");
        sb.AppendLine();
        sb.AppendLine("| target | documents | actual jaccard |");
        sb.AppendLine("|---:|---:|---|");
        foreach (var l in s.NearLevels) sb.AppendLine(F($"| {l.Target:F2} | {l.Count} | {l.Min:F3} – {l.Max:F3} |"));
        sb.AppendLine();
        sb.AppendLine("Chains (`jaccard` of each step and of the ends; a ~ c is below a ~ b, so c joins a's group only through b):");
        sb.AppendLine();
        sb.AppendLine("| b | c | a ~ b | b ~ c | a ~ c |");
        sb.AppendLine("|---|---|---:|---:|---:|");
        foreach (var c in s.Chains) sb.AppendLine(F($"| {c.B} | {c.C} | {c.Ab:F3} | {c.Bc:F3} | {c.Ac:F3} |"));
        sb.AppendLine();
        sb.AppendLine("### Whitespace / case transforms");
        sb.AppendLine();
        sb.AppendLine("Each variant has one leading transform (every transform leads in turn) and up to two more; `transforms` lists them. Every variant equals its original after: Unicode NFC, removing control (Cc) and invisible format characters (Cf: zero-width space, word joiner, BOM, soft hyphen; ZWNJ/ZWJ are never planted, since they carry meaning in some scripts), collapsing whitespace runs (`char.IsWhiteSpace`, so including no-break and thin spaces) to one space, trimming and lower-casing. An exact-dedup stage that does not remove format characters will miss the `zero_width` ones.");
        sb.AppendLine();
        sb.AppendLine("| transform | variants using it | what it does |");
        sb.AppendLine("|---|---:|---|");
        var what = new Dictionary<string, string>
        {
            ["extra_spaces"] = "some spaces become 2–4 spaces",
            ["tabs"] = "some spaces become a tab or space+tab",
            ["rewrap"] = "hard line breaks (`\\n`) at a width of 48–88, sometimes a blank line after a sentence",
            ["crlf_rewrap"] = "the same with `\\r\\n`",
            ["trailing_whitespace"] = "spaces at line ends, leading/trailing blank lines or spaces",
            ["unicode_spaces"] = "some spaces become U+00A0, U+2009, U+202F or U+2002",
            ["upper"] = "the whole text upper-cased",
            ["lower"] = "the whole text lower-cased",
            ["case_words"] = "the first sentence upper-cased, or some words capitalised",
            ["nfd"] = "Unicode NFD (decomposed accents; only originals with accented letters)",
            ["zero_width"] = "U+200B (zero-width space), U+2060 (word joiner), U+FEFF (BOM), U+00AD (soft hyphen) inside words, sometimes a leading BOM",
            ["control_chars"] = "C0 controls (U+0001–0003, 0007, 0008, 000E, 0010, 001A, 001B) and U+007F inside words",
        };
        foreach (var t in Variants.WhitespaceCaseTransforms) sb.AppendLine(F($"| `{t}` | {s.TransformCounts.GetValueOrDefault(t)} | {what[t]} |"));
        sb.AppendLine();
        sb.AppendLine("### Low-quality documents");
        sb.AppendLine();
        sb.AppendLine("Each fails exactly one check of the `quality_filter` stage at its default thresholds (`minChars` 50, `minWords` 5, `maxSymbolRatio` 0.1, `maxRepeatedLineFraction` 0.3), and also with `minWords` 8 (the demo job's setting), whether words are counted as whitespace-separated tokens or as runs of letters and digits. The generator verifies this, and that every other document passes all four checks under the same settings:");
        sb.AppendLine();
        sb.AppendLine("- `too_short`: under 50 characters but at least eight words (the opening words of a sentence, `...` where it was cut, as a snippet or teaser leaves them);");
        sb.AppendLine("- `too_few_words`: 50 characters or more in fewer than five whitespace-separated words (words run together as broken PDF extraction leaves them, checksum lines);");
        sb.AppendLine("- `symbol_ratio`: words buried in runs of symbols (box drawing, arrows, stars, `$$`, `<<>>`…): at least 30% of the non-space characters are Unicode symbols, far above 0.1 even if punctuation is not counted as symbols;");
        sb.AppendLine("- `repeated_lines`: one line (sometimes two alternating) repeated 6–24 times, so well over 30% of the lines repeat an earlier one; some reuse the scrape's own page chrome (\"Get trending papers in your email inbox!\").");
        sb.AppendLine();
        sb.AppendLine("## Ground truth: `corpus.truth.jsonl`");
        sb.AppendLine();
        sb.AppendLine("One line per planted document, sorted by `id`; a document not listed is an original. Fields:");
        sb.AppendLine();
        sb.AppendLine("| field | in | meaning |");
        sb.AppendLine("|---|---|---|");
        sb.AppendLine("| `id` | all | the planted document |");
        sb.AppendLine("| `kind` | all | `exact`, `whitespace_case`, `near`, `chain` or `low_quality` |");
        sb.AppendLine("| `of` | all | the document it duplicates (an original; for the second link of a chain, the first link); `null` for `low_quality` |");
        sb.AppendLine("| `jaccard` | near, chain | actual word-5-gram Jaccard similarity to `of` (4 decimals) |");
        sb.AppendLine("| `target` | near, chain | the level it was made for |");
        sb.AppendLine("| `edits` | near, chain | the edits applied, with counts |");
        sb.AppendLine("| `root`, `chain_position`, `jaccard_to_root` | chain | the chain's original, 1 for b / 2 for c, similarity to the original |");
        sb.AppendLine("| `transforms` | whitespace_case | the transforms applied, in order |");
        sb.AppendLine("| `expected_reason` | low_quality | the quality check it fails |");
        sb.AppendLine();
        sb.AppendLine("The first line of each kind:");
        sb.AppendLine();
        sb.AppendLine("```json");
        foreach (var line in truthExamples) sb.AppendLine(line);
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine("A duplicate group is an original together with every document whose `of` leads to it; the pipeline should keep the group's smallest id and point every dropped member at a kept one.");
        sb.AppendLine();
        sb.AppendLine("### What a job should end with");
        sb.AppendLine();
        sb.AppendLine(F($"- After `quality_filter` (defaults): {s.AfterQuality} documents; the {k.GetValueOrDefault(Truth.LowQuality)} `low_quality` ones dropped with their `expected_reason`, nothing else."));
        sb.AppendLine(F($"- After `normalize` + `exact_dedup` (`caseFold` and `collapseWhitespace` on, the defaults): {s.AfterExact} documents: all `exact` and `whitespace_case` documents dropped, each group keeping its smallest id. If normalize leaves zero-width (Cf) characters in place, the `zero_width` variants survive: {s.AfterExactWithoutZeroWidthRule}."));
        sb.AppendLine("- Near dedup (MinHash LSH) should find the `near` documents in proportion to their similarity: nearly all at 0.85 and above, few at 0.6 and below, with a band-dependent S-curve between; chains should end up in one group (connected components).");
        sb.AppendLine("- Semantic dedup is not covered by this truth: the near duplicates are also close in embedding space, and a few originals (paragraphs about the same topic) may be close too.");
        sb.AppendLine();
        sb.AppendLine("## How it was made");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.AppendLine("dotnet run --project samples/generator -- --out samples      # add -c Release to halve the ~30 s");
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(F($"Defaults: `--seed {seed}`, `--abstracts /work/shared/seeds/000_d9718c7cf0edaeae.txt`, `--doc-root /usr/share/doc`, `--parts {s.Parts}`. The generator is deterministic (its own SplitMix64 generator, ordinal sorting everywhere): the same sources and seed give the same bytes. Its sources are files of the machine it runs on — the documentation under `/usr/share/doc` differs with the installed packages — so it is **not** run by tests or builds: its output is checked in. `bad-input` alone (`-- bad-input --out samples`) rebuilds `bad-input/` from the checked-in corpus and needs no sources."));
        sb.AppendLine();
        sb.AppendLine("Abstracts: the seed file alternates title lines and abstract lines; its web boilerplate lines (\"Get trending papers in your email inbox!\", the \"Subscribe\" button text glued to the first title) are dropped. Debian paragraphs: README/NEWS/FAQ/TODO/BUGS/upstream changelog files and `*.txt`/`*.md`/`*.rst` (gzip-compressed or not) of packages whose `copyright` file is in the machine-readable (DEP-5) format; a paragraph is taken when it is 200–2000 characters of hard-wrapped English prose (list items with a hanging indent count, the marker dropped): no licence or legal wording, no e-mail addresses or URLs, little code punctuation, no table-like gaps, enough English function words, at least two sentences. Originals are taken round-robin over packages for variety.");
        return sb.ToString();
    }

    public static string LicenceNotes(Corpus c, string abstractsPath)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Where the demo corpus text comes from");
        sb.AppendLine();
        sb.AppendLine("<!-- Written by samples/generator; edit the generator (Docs.cs), not this file. -->");
        sb.AppendLine();
        sb.AppendLine("The corpus (`corpus/*.jsonl`, and the texts reused in `bad-input/`) is made of excerpts of third-party text, unchanged except for whitespace (paragraphs joined into one line; a list item's leading `*`/`-` marker dropped) and for the deliberate edits of the planted duplicates and low-quality documents described in `README.md`. Nothing here is relicensed: each excerpt stays under the terms of its source, listed below. The corpus is a small sample for testing a data-curation pipeline; it is not meant for training models.");
        sb.AppendLine();
        var abstracts = c.Originals.Where(d => d.SourceKind == SourceKinds.Abstract)
            .OrderBy(d => int.Parse(d.Origin[(d.Origin.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture)).ToList();
        sb.AppendLine(F($"## 1. Paper abstracts ({abstracts.Count} documents, `source_kind: abstract`)"));
        sb.AppendLine();
        sb.AppendLine(F($"Taken from `{Path.GetFileName(abstractsPath)}`, the paper-abstract seed shipped with this repository's shared seeds: a scrape of a paper-listing web page (its boilerplate such as \"Get trending papers in your email inbox!\" is visible in it) holding titles and abstracts of research papers on tokenization and text embeddings; judging by the titles, largely arXiv preprints, though that was not checked paper by paper. The scrape carries no author names, links or licence statements. arXiv states that it makes its article metadata, abstracts included, available under CC0 1.0; whether that covers every abstract here was not verified, and for any that it does not cover, copyright stays with the papers' authors. They are used here as a small research sample, unchanged apart from whitespace, with attribution by title: each record's `title` field names its paper, and the titles are listed below in the order of the seed file (search any title to find the paper and its authors)."));
        sb.AppendLine();
        foreach (var a in abstracts) sb.AppendLine(F($"- {a.Title} (`{a.Origin}`)"));
        sb.AppendLine();
        var debian = c.Originals.Count(d => d.SourceKind == SourceKinds.DebianDoc);
        sb.AppendLine(F($"## 2. Debian package documentation ({debian} paragraphs from {c.ParagraphsPerPackage.Count} packages, `source_kind: debian-doc`)"));
        sb.AppendLine();
        sb.AppendLine("Prose paragraphs of the documentation that Debian packages install under `/usr/share/doc/<package>/` (README, NEWS, FAQ, upstream changelogs, manuals in text form) on the machine the generator ran on (Debian 12 \"bookworm\"). Each record's `origin` names the file and the paragraph's number in it. Only packages whose `/usr/share/doc/<package>/copyright` file is in the machine-readable DEP-5 format were used, and only files that file's stanzas cover, so every paragraph's licence can be named: the licence of the last stanza that is `Files: *` or names the file itself (DEP-5: the last match wins). The names are the copyright files' own short names (`GPL-2+` = GNU GPL version 2 or later, `LGPL-2.1+` = GNU Lesser GPL 2.1 or later, `GFDL-NIV-1.3+` = GNU Free Documentation License 1.3 or later without invariant sections, `BSD-3-clause`, `Expat` = MIT, `Apache-2.0`, `public-domain`, …); the full texts are in those copyright files and in `/usr/share/common-licenses/`. All are free licences that allow redistributing excerpts with attribution (the table is that attribution); the copyleft ones (GPL, LGPL, GFDL) apply to these paragraphs as to the rest of the package's documentation.");
        sb.AppendLine();
        sb.AppendLine("| package | paragraphs | licence of those paragraphs | files they come from |");
        sb.AppendLine("|---|---:|---|---|");
        foreach (var (pkg, n) in c.ParagraphsPerPackage)
        {
            var docs = c.Originals.Where(d => d.Package == pkg).ToList();
            var licences = docs.GroupBy(d => d.Licence ?? "?").OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => g.Count() == n ? g.Key : $"{g.Key} ({g.Count()})");
            var files = docs.Select(d => d.Origin[("/usr/share/doc/" + pkg + "/").Length..d.Origin.LastIndexOf('#')]).Distinct().OrderBy(f => f, StringComparer.Ordinal);
            sb.AppendLine(F($"| {pkg} | {n} | {Escape(string.Join("; ", licences))} | {string.Join(", ", files.Select(f => $"`{f}`"))} |"));
        }
        sb.AppendLine();
        sb.AppendLine("## 3. Generated text");
        sb.AppendLine();
        sb.AppendLine("Header, footer and filler sentences of the near duplicates, the symbol runs of the `symbol_ratio` documents and the checksum lines of some `too_few_words` documents were written for this corpus by the generator (`samples/generator`) and are under this repository's licence.");
        return sb.ToString();
    }

    private static string Escape(string s) => s.Replace("|", "\\|");

    public static string BadInputReadme(List<(string Object, int Records, int Documents, List<(long Position, string Reason)> Quarantined, string Note)> objects)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Bad-input corpus");
        sb.AppendLine();
        sb.AppendLine("<!-- Written by samples/generator (`-- bad-input --out samples`); edit the generator (Docs.cs, BadInput.cs), not this file. -->");
        sb.AppendLine();
        sb.AppendLine("Objects that exercise the readers' quarantine paths (design invariant 6: bad input never crashes a job and is never silently lost). `expected.json` holds the same expectations in machine-readable form; glob the data by extension (`*.jsonl`, `*.jsonl.gz`, `*.parquet`), since this README and `expected.json` sit in the same folder. Positions are 0-based record numbers: for JSONL the 0-based line index (position 2 is the third line, which an editor and the reader's detail text call line 3). Every good record has `id` and `text`; the texts come from the demo corpus. Not here: a 50 MB document (record_too_large) — tests generate that on the fly.");
        sb.AppendLine();
        sb.AppendLine("| object | records | documents | quarantined (position: reason) |");
        sb.AppendLine("|---|---:|---:|---|");
        foreach (var o in objects)
            sb.AppendLine(F($"| `{o.Object}` | {o.Records} | {o.Documents} | {(o.Quarantined.Count == 0 ? "—" : string.Join(", ", o.Quarantined.Select(q => $"{q.Position}: `{q.Reason}`")))} |"));
        var total = objects.Sum(o => o.Records);
        var docs = objects.Sum(o => o.Documents);
        sb.AppendLine(F($"| **all** | **{total}** | **{docs}** | **{total - docs}** |"));
        sb.AppendLine();
        sb.AppendLine("Accounting over the whole folder: records read = documents + quarantined. With `\"idField\": \"id\"` every document has its own id.");
        sb.AppendLine();
        sb.AppendLine("## Per object");
        sb.AppendLine();
        foreach (var o in objects)
        {
            sb.AppendLine(F($"### `{o.Object}`"));
            sb.AppendLine();
            sb.AppendLine(o.Note);
            sb.AppendLine();
            if (o.Object == "mixed.jsonl")
            {
                sb.AppendLine("| line | content | expected |");
                sb.AppendLine("|---:|---|---|");
                var bad = o.Quarantined.ToDictionary(q => q.Position, q => q.Reason);
                var what = new Dictionary<long, string>
                {
                    [2] = "a record cut off inside its text string (no closing quote or brace)",
                    [4] = "a JSON record whose text holds two Latin-1 bytes (0xE9 `é`, 0xE8 `è`): not UTF-8",
                    [6] = "valid JSON with `id` and `body` but no `text`",
                    [8] = "`{\"id\": \"mixed-08\", \"text\": 12345}`",
                    [10] = "48 bytes that are not UTF-8 (0xFF 0xFE then random bytes ≥ 0x80): the UTF-8 check comes before JSON parsing",
                    [11] = "`{id: 'mixed-11', text: '…'}`: bare keys and single quotes",
                    [12] = "a good record with JSON escapes and a raw UTF-8 emoji",
                };
                for (var i = 0; i < o.Records; i++)
                    sb.AppendLine(F($"| {i} | {what.GetValueOrDefault(i, "a good record")} | {(bad.TryGetValue(i, out var r) ? $"quarantined: `{r}`" : $"document `mixed-{i:D2}`")} |"));
                sb.AppendLine();
            }
        }
        return sb.ToString();
    }
}
