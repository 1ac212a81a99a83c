#!/usr/bin/env python3
"""Builds the multilingual samples from Debian packages (run once; the output is committed).

    apt-get download debian-faq debian-faq-zh-cn debian-faq-ja debian-faq-ko debian-faq-de firefox-esr-l10n-th
    for f in *.deb; do dpkg -x "$f" x/; done
    python3 prepare.py x > faq.jsonl          (and th.jsonl, see below)

Debian FAQ (GPL-2+): the plain-text edition of each translation is cut into its numbered sections (one document each,
wrapped paragraphs joined back: without a space between two characters of scripts written without spaces).
Firefox ESR Thai language pack (MPL-2.0): the messages of each Fluent file with at least 60 Thai characters, one per
line, form one document; Fluent placeables are replaced by the product name.
"""
import glob, gzip, json, re, sys, zipfile

def unspaced(c):
    o = ord(c)
    return 0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF or 0x0E00 <= o <= 0x0FFF

def unwrap(block):
    lines = [l.strip() for l in block.split("\n") if l.strip()]
    out = ""
    for l in lines:
        if out and not (unspaced(out[-1]) and unspaced(l[0])): out += " "
        out += l
    return out

HEAD = re.compile(r"^(\d+\.\d+(?:\.\d+)?)\.[ \u00a0](.+)$", re.M)

def faq(root, lang, limit):
    text = gzip.open(f"{root}/usr/share/doc/debian/FAQ/debian-faq.{lang}.txt.gz", "rt", encoding="utf-8").read()
    heads = list(HEAD.finditer(text))
    docs = []
    for i, h in enumerate(heads):
        body = text[h.end(): heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        paras = [unwrap(p) for p in re.split(r"\n\s*\n", body)]
        paras = [p for p in paras if p]
        if not paras: continue  # a table-of-contents entry
        doc = h.group(2).strip() + "\n" + "\n".join(paras)
        if len(doc) < 200: continue
        docs.append({"id": f"faq-{lang}-{h.group(1)}", "text": doc, "language": lang.split("-")[0], "source": "debian-faq 11.1"})
    return docs[:limit]

def thai(root):
    xpi = glob.glob(f"{root}/usr/lib/firefox-esr/browser/extensions/langpack-th@*.xpi")[0]
    docs = []
    with zipfile.ZipFile(xpi) as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".ftl")):
            msgs = []
            for line in z.read(name).decode("utf-8").split("\n"):
                m = re.match(r"^[\w-]+\s*=\s*(.+)$", line) or re.match(r"^\s+\.[\w-]+\s*=\s*(.+)$", line)
                if not m: continue
                v = re.sub(r"\{[^}]*\}", "Firefox", m.group(1))
                v = re.sub(r"<[^>]*>", "", v).strip()
                if sum(1 for c in v if "\u0e00" <= c <= "\u0e7f") >= 60 and v not in msgs: msgs.append(v)
            # UI files hold variants of one message: keep a message only when it shares no 20-character run with an
            # earlier one of the document (a document of distinct messages, not of one phrase repeated).
            distinct = []
            for v in msgs:
                if not any(v[i:i + 20] in e for e in distinct for i in range(0, max(1, len(v) - 19), 5)): distinct.append(v)
            msgs = distinct
            if len(msgs) >= 3 and len(docs) < 30:
                msgs = msgs[:12]
                docs.append({"id": "firefox-th-" + name.split("/")[-1][:-4], "text": "\n".join(msgs), "language": "th", "source": "firefox-esr-l10n-th 153.8.0esr"})
    return docs

if __name__ == "__main__":
    root = sys.argv[1]
    if len(sys.argv) > 2 and sys.argv[2] == "th":
        docs = thai(root)
    else:
        docs = [d for lang in ["zh-cn", "ja", "ko", "de", "en"] for d in faq(root, lang, 30)]
    for d in docs: print(json.dumps(d, ensure_ascii=False))
