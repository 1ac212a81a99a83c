// Extracts the main text of HTML pages with Mozilla Readability on jsdom (the reference of `bench extract`).
// usage: node extract.mjs <pages.json> <passes>
//   pages.json: a JSON array of HTML strings. Prints one JSON object: the texts of the last pass and the seconds of
//   each pass (parse + extract; node's start and the file read are not timed), single-threaded.
import { readFileSync } from 'node:fs';
import { JSDOM, VirtualConsole } from 'jsdom';
import { Readability } from '@mozilla/readability';

const pages = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const passes = Number(process.argv[3] ?? 2);
const quiet = new VirtualConsole();
let texts = [];
const seconds = [];
for (let pass = 0; pass < passes; pass++) {
  texts = [];
  const start = process.hrtime.bigint();
  for (const html of pages) {
    const dom = new JSDOM(html, { virtualConsole: quiet });
    const article = new Readability(dom.window.document).parse();
    texts.push(article?.textContent ?? '');
    dom.window.close();
  }
  seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
}
console.log(JSON.stringify({ seconds, texts }));
