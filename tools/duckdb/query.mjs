// Runs SQL statements with DuckDB (an in-memory database) and prints each statement's rows as one JSON line.
// usage: node query.mjs "<sql>" ["<sql>" ...]
import { DuckDBInstance } from '@duckdb/node-api';

const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
for (const sql of process.argv.slice(2)) {
  const reader = await connection.runAndReadAll(sql);
  console.log(JSON.stringify(reader.getRowObjectsJson()));
}
