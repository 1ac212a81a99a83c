// Peer side of `bench language`: franc (trigram profiles) identifies every document of a JSON Lines file ({"id", "text"})
// and writes one ISO 639-3 code per line ("und" when franc cannot tell). With an `only` list (comma-separated 639-3
// codes) franc chooses among those languages only. Prints {"documents", "seconds"}: detection time only (one
// thread), best of `repeat`.
// Usage: node detect.mjs <in.jsonl> <out.txt> [repeat] [only]
import { readFileSync, writeFileSync } from "node:fs";
import { franc } from "franc";

const [input, output, repeatArg, onlyArg] = process.argv.slice(2);
const texts = readFileSync(input, "utf8").split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line).text);
const repeat = Math.max(1, Number(repeatArg ?? 1));
const options = onlyArg ? { only: onlyArg.split(",") } : {};
let best = Infinity;
let codes = [];
for (let r = 0; r < repeat; r++) {
  const start = process.hrtime.bigint();
  const found = texts.map((text) => franc(text, options));
  best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  if (r === 0) codes = found;
}
writeFileSync(output, codes.join("\n") + "\n");
console.log(JSON.stringify({ documents: texts.length, seconds: best }));
