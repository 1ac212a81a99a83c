// Reference side of the train_tokenize parity test and of `bench train-tokenize`: js-tiktoken (a JavaScript port of
// OpenAI's tiktoken) encodes every document of a JSON Lines file ({"id", "text"}) as ordinary text (special tokens are
// text, as tiktoken's encode_ordinary) and writes one line of comma-separated ids per document.
// Usage: node encode.mjs <encoding> <in.jsonl> <out.txt> [repeat]
// Prints {"documents", "tokens", "seconds"} on stdout: the time spent encoding only (one thread), best of `repeat`.
import { readFileSync, writeFileSync } from "node:fs";
import { getEncoding } from "js-tiktoken";

const [encodingName, input, output, repeatArg] = process.argv.slice(2);
const encoding = getEncoding(encodingName);
const texts = readFileSync(input, "utf8").split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line).text);
const repeat = Math.max(1, Number(repeatArg ?? 1));
let best = Infinity;
let lines = [];
let tokens = 0;
for (let r = 0; r < repeat; r++) {
  const start = process.hrtime.bigint();
  const ids = texts.map((text) => encoding.encode(text, [], []));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  best = Math.min(best, seconds);
  if (r === 0) {
    lines = ids.map((a) => a.join(","));
    tokens = ids.reduce((sum, a) => sum + a.length, 0);
  }
}
writeFileSync(output, lines.join("\n") + "\n");
console.log(JSON.stringify({ documents: texts.length, tokens, seconds: best }));
