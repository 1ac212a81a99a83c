using System.Text.Json;
using System.Text.Json.Serialization;
using Curation.Pipelines.Execution;
using Curation.Pipelines.IO;
using Curation.Pipelines.Spec;
using Curation.Pipelines.Stages;
using Curation.Pipelines.Storage;
using Curation.Testing;
using Parquet.Serialization;

namespace Curation.Pipelines.Tests.Stages;

/// <summary>
/// Every input field besides text and id reaches the curated shards: Parquet columns with their types (a list of strings as
/// a list column), JSONL fields of one type as typed columns, nested and mixed ones in <c>metadata</c>;
/// <c>fields</c>/<c>dropFields</c> choose them; drops and quarantine keep id, source and position only; DuckDB reads
/// every output file, in both output formats.
/// </summary>
public sealed class MetadataPassthroughTests : IDisposable
{
    private readonly TempDirectory _temp = new("metadata");

    public void Dispose() => _temp.Dispose();

    private sealed class Row
    {
        [JsonPropertyName("id")] public string Id { get; set; } = "";
        [JsonPropertyName("text")] public string Text { get; set; } = "";
        [JsonPropertyName("year")] public int Year { get; set; }
        [JsonPropertyName("url")] public string? Url { get; set; }
        [JsonPropertyName("score")] public double? Score { get; set; }
        [JsonPropertyName("tags")] public List<string> Tags { get; set; } = [];
        [JsonPropertyName("secret")] public string Secret { get; set; } = "";
    }

    private async Task<string> WriteCorpusAsync()
    {
        var folder = _temp.Combine("corpus");
        Directory.CreateDirectory(folder);
        var rows = new List<Row>
        {
            new() { Id = "p1", Text = "The river runs north through the old valley town.", Year = 2021, Url = "https://a.example/1", Score = 0.5, Tags = ["news", "geo"], Secret = "x" },
            new() { Id = "p2", Text = "Bakers rise before dawn to shape the morning bread.", Year = 1999, Url = null, Score = null, Tags = [], Secret = "y" },
            new() { Id = "p3", Text = "The river runs north through the old valley town.", Year = 2022, Url = "https://a.example/3", Score = 1.5, Tags = ["dup"], Secret = "z" },
        };
        await using (var file = File.Create(Path.Combine(folder, "table.parquet")))
            await ParquetSerializer.SerializeAsync(rows, file);
        string[] lines =
        [
            """{"id":"j1","text":"A quiet harbour wakes to gulls and fishing boats.","url":"https://b.example/1","n":1,"ratio":1,"ok":true,"meta":{"lang":"en","tags":["a","b"]},"mixed":"one","drop_me":"x"}""",
            """{"id":"j2","text":"Mountain trails wind past lakes of glacial blue water.","url":"https://b.example/2","n":2,"ratio":0.25,"ok":false,"meta":{"lang":"fr"},"mixed":2,"drop_me":"y"}""",
            """{"id":"j3","text":"Students gather in the library before the final exam.","url":null,"n":"three","ratio":3,"ok":true,"meta":[1,2],"mixed":null,"drop_me":"z"}""",
            """{"id":"j4","text":"Mountain trails wind past lakes of glacial blue water.","url":"https://b.example/4","n":4}""",
            """{"id":"j5","text": 5, "url":"https://b.example/5"}""",
        ];
        await File.WriteAllLinesAsync(Path.Combine(folder, "docs.jsonl"), lines);
        return folder;
    }

    private static JobSpec Spec(string folder, OutputFormat format, bool embed) => new()
    {
        Name = "metadata",
        Inputs =
        [
            new InputSpec { Path = Path.Combine(folder, "*.parquet"), IdField = "id", DropFields = ["secret"] },
            new InputSpec { Path = Path.Combine(folder, "*.jsonl"), IdField = "id", DropFields = ["drop_me"] },
        ],
        Stages = embed
            ? [new NormalizeStageSpec(), new ExactDedupStageSpec(), new TokenizeStageSpec(), new EmbedStageSpec()]
            : [new NormalizeStageSpec(), new ExactDedupStageSpec()],
        Output = new OutputSpec { Path = "curated/metadata", Format = format },
    };

    [Fact]
    public async Task Parquet_and_JSONL_fields_round_trip_into_curated_shards_that_DuckDB_reads()
    {
        var folder = await WriteCorpusAsync();
        var root = _temp.Combine("data");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        using var services = StageServices.CreateDefault();
        await InProcessJob.RunAsync(Spec(folder, OutputFormat.Parquet, embed: true), stores, services);
        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/metadata");
        var outputFolder = Path.Combine(root, "curated", "metadata");

        // The schema: core columns, typed passthrough columns in name order, metadata; stage columns after.
        var schema = output.Manifest.Schema.ToDictionary(c => c.Name, c => c.Type);
        Assert.Equal("int64?", schema["year"]);
        Assert.Equal("string", schema["url"]);
        Assert.Equal("double?", schema["score"]);   // Parquet double; JSONL has none
        Assert.Equal("double?", schema["ratio"]);   // JSONL integers and floats
        Assert.Equal("bool?", schema["ok"]);
        Assert.DoesNotContain("n", schema.Keys);      // integers and a string: mixed
        Assert.Equal("string", schema["metadata"]);
        Assert.Equal("list<string>", schema["tags"]); // a Parquet list of strings: a list column
        Assert.DoesNotContain("meta", schema.Keys);   // nested objects
        Assert.DoesNotContain("mixed", schema.Keys);  // string and integer
        Assert.DoesNotContain("secret", schema.Keys);
        Assert.DoesNotContain("drop_me", schema.Keys);

        // DuckDB reads every file the manifest lists, with its row count.
        var files = output.Manifest.Shards.Concat(output.Manifest.Drops).Concat(output.Manifest.Quarantine).Concat(output.Manifest.Embeddings).ToArray();
        var counts = DuckDbReference.Query(files.Select(f => $"SELECT count(*)::INTEGER AS n FROM read_parquet('{Path.Combine(outputFolder, f.Key)}')").ToArray());
        for (var i = 0; i < files.Length; i++) Assert.Equal(files[i].Rows, counts[i][0].GetProperty("n").GetInt64());

        var shards = Path.Combine(outputFolder, "part-*.parquet");
        var drops = Path.Combine(outputFolder, "drops", "*.parquet");
        var quarantine = Path.Combine(outputFolder, "quarantine", "*.parquet");
        var embeddings = Path.Combine(outputFolder, "embeddings", "*.parquet");
        var results = DuckDbReference.Query(
            $"SELECT id, year::INTEGER AS year, url, score, ratio, ok, to_json(tags)::VARCHAR AS tags, metadata FROM read_parquet('{shards}') ORDER BY id",
            $"SELECT typeof(year) AS year, typeof(score) AS score, typeof(ok) AS ok, typeof(tags) AS tags FROM read_parquet('{shards}') LIMIT 1",
            $"SELECT id, tags[2] AS tag FROM read_parquet('{shards}') WHERE id = 'p1'",
            $"SELECT id, to_json(tags)::VARCHAR AS tags FROM read_parquet('{Path.Combine(folder, "table.parquet")}') ORDER BY id",
            $"SELECT * FROM read_parquet('{drops}') LIMIT 1",
            $"SELECT * FROM read_parquet('{quarantine}') LIMIT 1",
            $"SELECT count(*)::INTEGER AS n, min(len(embedding))::INTEGER AS lo FROM read_parquet('{embeddings}')",
            $"SELECT array_cosine_similarity(x.embedding::FLOAT[384], x.embedding::FLOAT[384])::DOUBLE AS cos FROM read_parquet('{embeddings}') x LIMIT 1");

        var rows = results[0].EnumerateArray().ToDictionary(r => r.GetProperty("id").GetString()!);
        Assert.Equal(["j1", "j2", "j3", "p1", "p2"], rows.Keys);   // p3 and j4 duplicate p1 and j2; j5 is quarantined
        Assert.Equal(2021, rows["p1"].GetProperty("year").GetInt64());
        Assert.Equal("https://a.example/1", rows["p1"].GetProperty("url").GetString());
        Assert.Equal(0.5, rows["p1"].GetProperty("score").GetDouble());
        Assert.Equal(JsonValueKind.Null, rows["p2"].GetProperty("url").ValueKind);
        Assert.Equal(JsonValueKind.Null, rows["p2"].GetProperty("score").ValueKind);
        // The list column exactly as DuckDB reads it from the input file, an empty list included; nothing left for metadata.
        AssertJson("""["news","geo"]""", rows["p1"].GetProperty("tags").GetString());
        AssertJson("[]", rows["p2"].GetProperty("tags").GetString());
        Assert.Equal(JsonValueKind.Null, rows["p1"].GetProperty("metadata").ValueKind);
        Assert.Equal(JsonValueKind.Null, rows["j1"].GetProperty("tags").ValueKind);
        foreach (var input in results[3].EnumerateArray().Where(r => rows.ContainsKey(r.GetProperty("id").GetString()!)))
            AssertJson(input.GetProperty("tags").GetString()!, rows[input.GetProperty("id").GetString()!].GetProperty("tags").GetString());

        Assert.Equal(1.0, rows["j1"].GetProperty("ratio").GetDouble());
        Assert.Equal(0.25, rows["j2"].GetProperty("ratio").GetDouble());
        Assert.True(rows["j1"].GetProperty("ok").GetBoolean());
        Assert.False(rows["j2"].GetProperty("ok").GetBoolean());
        Assert.Equal(JsonValueKind.Null, rows["j1"].GetProperty("year").ValueKind);
        AssertJson("""{"n":1,"meta":{"lang":"en","tags":["a","b"]},"mixed":"one"}""", rows["j1"].GetProperty("metadata").GetString());
        AssertJson("""{"n":2,"meta":{"lang":"fr"},"mixed":2}""", rows["j2"].GetProperty("metadata").GetString());
        AssertJson("""{"n":"three","meta":[1,2],"mixed":null}""", rows["j3"].GetProperty("metadata").GetString());
        Assert.Equal(JsonValueKind.Null, rows["j3"].GetProperty("url").ValueKind);

        var types = results[1][0];
        Assert.Equal("BIGINT", types.GetProperty("year").GetString());
        Assert.Equal("DOUBLE", types.GetProperty("score").GetString());
        Assert.Equal("BOOLEAN", types.GetProperty("ok").GetString());
        Assert.Equal("VARCHAR[]", types.GetProperty("tags").GetString());
        Assert.Equal("geo", results[2][0].GetProperty("tag").GetString());

        // Drops and quarantine: id, source, position (and the reason), never the document's fields.
        var dropColumns = results[4][0].EnumerateObject().Select(p => p.Name).ToArray();
        var quarantineColumns = results[5][0].EnumerateObject().Select(p => p.Name).ToArray();
        foreach (var columns in new[] { dropColumns, quarantineColumns })
        {
            Assert.Contains("source", columns);
            Assert.Contains("position", columns);
            Assert.DoesNotContain("url", columns);
            Assert.DoesNotContain("metadata", columns);
            Assert.DoesNotContain("text", columns);
        }
        Assert.Contains("id", dropColumns);
        Assert.Equal(5, results[6][0].GetProperty("n").GetInt64());
        Assert.Equal(384, results[6][0].GetProperty("lo").GetInt64());
        Assert.Equal(1.0, results[7][0].GetProperty("cos").GetDouble(), 4);
    }

    [Fact]
    public async Task JSONL_output_carries_the_same_columns_with_metadata_as_a_JSON_object_and_fields_chooses_them()
    {
        var folder = await WriteCorpusAsync();
        var root = _temp.Combine("data");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        using var services = StageServices.CreateDefault();
        var spec = Spec(folder, OutputFormat.JsonlZst, embed: false) with
        {
            Inputs =
            [
                new InputSpec { Path = Path.Combine(folder, "*.parquet"), IdField = "id", Fields = ["year", "tags"] },
                new InputSpec { Path = Path.Combine(folder, "*.jsonl"), IdField = "id", Fields = ["url", "meta"] },
            ],
        };
        await InProcessJob.RunAsync(spec, stores, services);
        var (manifest, _) = await stores.DataStore.TryReadJsonAsync<Manifest>("curated/metadata/" + Manifest.FileName, CurationJson.Options);
        Assert.Equal(["id", "text", "source", "position", "tags", "url", "year", "metadata"], manifest!.Schema.Select(c => c.Name).Take(8));
        var shard = Path.Combine(root, "curated", "metadata", manifest.Shards.Single().Key);
        Assert.EndsWith(".jsonl.zst", shard);
        var results = DuckDbReference.Query(
            $"SELECT id, year::INTEGER AS year, url, to_json(tags)::VARCHAR AS tags, json_extract_string(metadata::JSON, '$.meta.lang') AS lang FROM read_json('{shard}', format = 'newline_delimited') ORDER BY id");
        var rows = results[0].EnumerateArray().ToDictionary(r => r.GetProperty("id").GetString()!);
        Assert.Equal(["j1", "j2", "j3", "p1", "p2"], rows.Keys);
        Assert.Equal(2021, rows["p1"].GetProperty("year").GetInt64());
        Assert.Equal("https://b.example/1", rows["j1"].GetProperty("url").GetString());
        Assert.Equal("en", rows["j1"].GetProperty("lang").GetString());
        AssertJson("""["news","geo"]""", rows["p1"].GetProperty("tags").GetString());
        AssertJson("[]", rows["p2"].GetProperty("tags").GetString());
    }

    [Fact]
    public async Task An_empty_or_unreadable_first_object_does_not_send_every_field_to_metadata()
    {
        // A Spark or Hadoop export often starts with an empty part file; the sample was the first object only, so every
        // field of such an input became metadata. Objects are sampled in key order until the sample is full.
        var folder = _temp.Combine("parts");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "part-00000.jsonl"), "");
        await File.WriteAllTextAsync(Path.Combine(folder, "part-00001.jsonl"), "{not json\n{\"id\": \"q\", \"text\": 7}\n");
        await File.WriteAllLinesAsync(Path.Combine(folder, "part-00002.jsonl"),
        [
            """{"id":"a","text":"The ferry leaves the harbour at seven every morning.","lang":"en","year":2021,"meta":{"k":1}}""",
            """{"id":"b","text":"Le bac quitte le port à sept heures chaque matin.","lang":"fr","year":2022,"meta":{"k":2}}""",
        ]);
        var root = _temp.Combine("parts-data");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        using var services = StageServices.CreateDefault();
        var spec = new JobSpec
        {
            Name = "parts",
            Inputs = [new InputSpec { Path = Path.Combine(folder, "*.jsonl"), IdField = "id" }],
            Stages = [new NormalizeStageSpec()],
            Output = new OutputSpec { Path = "curated/parts" },
        };
        await InProcessJob.RunAsync(spec, stores, services);
        var (manifest, _) = await stores.DataStore.TryReadJsonAsync<Manifest>("curated/parts/" + Manifest.FileName, CurationJson.Options);
        Assert.Equal(["lang:string", "year:int64?", "metadata:string"], manifest!.Schema.Skip(4).Select(c => $"{c.Name}:{c.Type}"));
        Assert.Equal(2, manifest.Accounting.Kept);
        Assert.Equal(2, manifest.Accounting.Quarantined);
        var shard = Path.Combine(root, "curated", "parts", manifest.Shards.Single().Key);
        var rows = DuckDbReference.Query($"SELECT id, lang, year, json_extract(metadata, '$.meta.k')::INTEGER AS k FROM '{shard}' ORDER BY id")[0];
        // year is the BIGINT column (DuckDB's JSON writes 64-bit integers as strings); k comes from the metadata object.
        Assert.Equal("""[{"id":"a","lang":"en","year":"2021","k":1},{"id":"b","lang":"fr","year":"2022","k":2}]""", rows.GetRawText());
    }

    [Fact]
    public async Task A_field_without_a_name_goes_into_metadata_instead_of_failing_the_job()
    {
        // Excel and many exports end the header with a delimiter (an unnamed last column); JSON allows a "" key. As a
        // column of its own it failed the job at its output write, after every stage had run: "'' does not exist in this file".
        var folder = _temp.Combine("unnamed");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "sheet.csv"), "id,text,kind,\nc1,A row from a spreadsheet export with a trailing comma.,k,extra\n");
        await File.WriteAllTextAsync(Path.Combine(folder, "docs.jsonl"), """{"id":"j1","text":"A JSON record with an empty key in it.","":"blank","kind":"m"}""" + "\n");
        var root = _temp.Combine("unnamed-data");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        using var services = StageServices.CreateDefault();
        var spec = new JobSpec
        {
            Name = "unnamed",
            Inputs = [new InputSpec { Path = Path.Combine(folder, "*.csv"), IdField = "id" }, new InputSpec { Path = Path.Combine(folder, "*.jsonl"), IdField = "id" }],
            Stages = [new NormalizeStageSpec()],
            Output = new OutputSpec { Path = "curated/unnamed", Format = OutputFormat.Jsonl },
        };
        await InProcessJob.RunAsync(spec, stores, services);
        var (manifest, _) = await stores.DataStore.TryReadJsonAsync<Manifest>("curated/unnamed/" + Manifest.FileName, CurationJson.Options);
        Assert.Equal(["kind", "metadata"], manifest!.Schema.Skip(4).Select(c => c.Name));
        var lines = File.ReadAllLines(Path.Combine(root, "curated", "unnamed", manifest.Shards.Single().Key));
        Assert.Contains(lines, l => l.Contains("\"id\":\"c1\"", StringComparison.Ordinal) && l.Contains("\"metadata\":{\"\":\"extra\"}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("\"id\":\"j1\"", StringComparison.Ordinal) && l.Contains("\"metadata\":{\"\":\"blank\"}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Parquet_dates_times_and_timestamps_are_ISO_text_that_does_not_depend_on_the_silos_time_zone()
    {
        // DuckDB writes the kinds a warehouse export holds: a local ("naive") timestamp, a UTC one, a date, a time of day,
        // and a struct holding a date and a timestamp.
        var folder = _temp.Combine("temporal");
        Directory.CreateDirectory(folder);
        var input = Path.Combine(folder, "events.parquet");
        DuckDbReference.Query(
            "COPY (SELECT 'e' || i AS id, 'Event number ' || i || ' was logged by the old valley station at dawn.' AS text, " +
            "TIMESTAMP '2024-01-01 10:30:00' + INTERVAL (i * 1500) MILLISECOND AS local_ts, TIMESTAMPTZ '2024-01-01 10:30:00+02' AS utc_ts, " +
            "DATE '2024-02-01' + i::INTEGER AS day, TIME '10:30:00.5' AS time_of_day, {'day': DATE '2024-03-01', 'ts': TIMESTAMP '2024-01-01 10:30:00'} AS nested " +
            $"FROM range(2) t(i)) TO '{input}' (FORMAT parquet)");
        var root = _temp.Combine("data");
        var stores = CurationStoreServiceCollectionExtensions.CreateResolver(new CurationStoreOptions { RootPath = root });
        using var services = StageServices.CreateDefault();
        var spec = new JobSpec
        {
            Name = "temporal", Inputs = [new InputSpec { Path = input, IdField = "id" }], Stages = [new NormalizeStageSpec()],
            Output = new OutputSpec { Path = "curated/temporal" },
        };
        await InProcessJob.RunAsync(spec, stores, services);

        var output = await CuratedOutput.ReadAsync(stores.DataStore, "curated/temporal");
        var schema = output.Manifest.Schema.ToDictionary(c => c.Name, c => c.Type);
        foreach (var column in new[] { "local_ts", "utc_ts", "day", "time_of_day" }) Assert.Equal("string", schema[column]);
        var shard = Path.Combine(root, "curated", "temporal", output.Manifest.Shards.Single().Key);
        var rows = DuckDbReference.Query($"SELECT id, local_ts, utc_ts, day, time_of_day, metadata FROM read_parquet('{shard}') ORDER BY id")[0]
            .EnumerateArray().ToDictionary(r => r.GetProperty("id").GetString()!);
        // A local timestamp has no offset: Parquet.Net reads it as the machine's local time, and writing that kind's offset
        // would put the silo's time zone into the shard (+00:00 here, -05:00 in New York). Zero fractions are left out.
        Assert.Equal("2024-01-01T10:30:00", rows["e0"].GetProperty("local_ts").GetString());
        Assert.Equal("2024-01-01T10:30:01.5", rows["e1"].GetProperty("local_ts").GetString());
        Assert.Equal("2024-01-01T08:30:00Z", rows["e0"].GetProperty("utc_ts").GetString());
        // A date is a date, not midnight UTC; a time of day is not its microsecond count.
        Assert.Equal("2024-02-01", rows["e0"].GetProperty("day").GetString());
        Assert.Equal("2024-02-02", rows["e1"].GetProperty("day").GetString());
        Assert.Equal("10:30:00.5", rows["e0"].GetProperty("time_of_day").GetString());
        AssertJson("""{"nested":{"day":"2024-03-01","ts":"2024-01-01T10:30:00"}}""", rows["e0"].GetProperty("metadata").GetString());
        // DuckDB casts each back to the value it wrote.
        var cast = DuckDbReference.Query(
            $"SELECT bool_and(local_ts::TIMESTAMP = TIMESTAMP '2024-01-01 10:30:00' + INTERVAL (position * 1500) MILLISECOND " +
            $"AND utc_ts::TIMESTAMPTZ = TIMESTAMPTZ '2024-01-01 08:30:00Z' AND day::DATE = DATE '2024-02-01' + position::INTEGER " +
            $"AND time_of_day::TIME = TIME '10:30:00.5') AS same FROM read_parquet('{shard}')");
        Assert.True(cast[0][0].GetProperty("same").GetBoolean());
    }

    private static void AssertJson(string expected, string? actual)
    {
        Assert.NotNull(actual);
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(expected).RootElement, JsonDocument.Parse(actual).RootElement), $"expected {expected}, got {actual}");
    }
}

/// <summary>The column rule itself: one type → typed column; mixed, nested, null-only, reserved → metadata; misfits → metadata.</summary>
public sealed class InputFieldsTests
{
    [Fact]
    public void Typed_columns_come_from_the_sample_and_values_that_do_not_fit_go_to_metadata()
    {
        FieldValue F(string name, object? value) => new(name, value);
        var sample = new[]
        {
            F("url", "u"), F("n", 1L), F("x", 1L), F("x", 2.5), F("flag", true), F("nested", new RawJson("{}")),
            F("mixed", "a"), F("mixed", 1L), F("nothing", null), F("source", "s"), F("token_count", 3L), F("url", null),
        };
        var schema = InputFields.Schema(sample, keepsAny: true, reserved: new HashSet<string> { "token_count" });
        Assert.Equal(["flag:Nullable`1", "n:Nullable`1", "url:String", "x:Nullable`1", "metadata:String"], schema.Select(c => c.ToString()));
        Assert.Equal([typeof(bool?), typeof(long?), typeof(string), typeof(double?), typeof(string)], schema.Select(c => c.Type));
        Assert.Empty(InputFields.Schema(sample, keepsAny: false));

        var batch = Model.RecordBatch.WithSchema(schema);
        var columns = new FieldColumns(schema);
        columns.Add(batch, [F("n", "seven"), F("x", 3L), F("url", "v"), F("source", "s"), F("later", 1L)]);
        columns.Add(batch, null);
        columns.Add(batch, [F("ja", "日本語 \"q\"")]);
        Assert.Equal(new long?[] { null, null, null }, batch.GetColumn<long?>("n").List);
        Assert.Equal(new double?[] { 3.0, null, null }, batch.GetColumn<double?>("x").List);
        Assert.Equal(new string?[] { "v", null, null }, batch.GetColumn<string>("url").List);
        Assert.Equal(new string?[] { """{"n":"seven","source":"s","later":1}""", null, """{"ja":"日本語 \"q\""}""" }, batch.GetColumn<string>("metadata").List);

        var spec = new InputSpec { Path = "x", IdField = "id", Fields = ["a", "b", "id"], DropFields = ["b"] };
        Assert.True(InputFields.Keeps(spec, "a"));
        Assert.False(InputFields.Keeps(spec, "b"));
        Assert.False(InputFields.Keeps(spec, "c"));
        Assert.False(InputFields.Keeps(spec, "id"));
        Assert.False(InputFields.Keeps(spec, "text"));
    }
}
