#!/usr/bin/env python3
"""Builds the static table's reference text (tools/static-training/reference-text.jsonl).

A frozen, deterministic selection of paragraphs of two licensed sources, disjoint in kind from the evaluation corpora
(Debian /usr/share/doc paragraphs, man pages):
  * python: docstrings of the CPython 3.11 standard library (/usr/lib/python3.11, PSF License 2.0): module, class and
    function docstrings, cleaned (inspect.cleandoc), cut into paragraphs at blank lines;
  * dotnet: the API documentation XML of the .NET reference pack (Microsoft.NETCore.App.Ref, MIT): each member's
    <summary>, <remarks>, <returns> and <param> texts, cross-references replaced by the simple names they show.
A paragraph is kept when it has 12 to 200 words, holds no code (no '>>>', no line of mostly symbols, no indented block)
and its case-folded, whitespace-collapsed text is new. Each source's paragraphs are sorted by (path, position) and
strided to its quota, so the same inputs give the same file. The output is committed: the product never reads these
inputs, only the file.

usage: extract.py PYTHON_LIB DOTNET_REF_DIR OUT [--python N] [--dotnet N]
"""
import argparse, ast, hashlib, inspect, json, os, re, sys
import xml.etree.ElementTree as ET

WORD = re.compile(r"\w+", re.UNICODE)
MIN_WORDS = 12


def words(text):
    return len(WORD.findall(text))


def good(paragraph):
    if ">>>" in paragraph or "..." == paragraph.strip()[:3]:
        return False
    lines = paragraph.split("\n")
    if any(l.startswith((" ", "\t")) for l in lines[1:]) and sum(l.startswith((" ", "\t")) for l in lines) * 2 >= len(lines):
        return False
    letters = sum(c.isalpha() for c in paragraph)
    if letters < 0.6 * len(paragraph.replace(" ", "").replace("\n", "")):
        return False
    n = words(paragraph)
    return MIN_WORDS <= n <= 200


def collapse(text):
    return re.sub(r"\s+", " ", text).strip()


def python_paragraphs(root):
    skip = re.compile(r"(^|/)(test|tests|idle_test|site-packages|dist-packages|__pycache__|lib2to3/tests|ensurepip/_bundled)(/|$)")
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        dirnames[:] = sorted(d for d in dirnames if not skip.search(os.path.join(rel, d)))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = os.path.normpath(os.path.join(rel, name))
            try:
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    tree = ast.parse(f.read())
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            nodes = [(tree, "")] + [(n, n.name) for n in ast.walk(tree)
                                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
            for node, owner in nodes:
                doc = ast.get_docstring(node, clean=True)
                if not doc:
                    continue
                for i, para in enumerate(re.split(r"\n\s*\n", doc)):
                    if good(para):
                        out.append((f"python/{path}:{owner or '<module>'}#{i}", collapse(para)))
    return out


def xml_text(element):
    parts = []

    def walk(e):
        tag = e.tag
        if tag in ("see", "seealso"):
            ref = e.get("cref") or e.get("langword") or e.get("href") or ""
            shown = "".join(e.itertext()).strip()
            if not shown:
                shown = ref.split(":", 1)[-1]
                shown = re.sub(r"\(.*\)$", "", shown)
                shown = shown.split(".")[-1].split("`")[0]
            parts.append(shown)
        elif tag in ("paramref", "typeparamref"):
            parts.append(e.get("name") or "")
        elif tag == "code":
            parts.append(" ")
        else:
            if e.text:
                parts.append(e.text)
            for child in e:
                walk(child)
                if child.tail:
                    parts.append(child.tail)
            parts.append(" ")  # <para>, <item>, <description>: a block ends with a space

    if element.text:
        parts.append(element.text)
    for child in element:
        walk(child)
        if child.tail:
            parts.append(child.tail)
    return collapse("".join(parts))


def dotnet_paragraphs(ref_dir):
    out = []
    for name in sorted(os.listdir(ref_dir)):
        if not name.endswith(".xml"):
            continue
        try:
            tree = ET.parse(os.path.join(ref_dir, name))
        except ET.ParseError:
            continue
        for member in tree.getroot().iter("member"):
            member_name = member.get("name", "")
            for k, child in enumerate(member):
                if child.tag not in ("summary", "remarks", "returns", "param", "exception"):
                    continue
                text = xml_text(child)
                if good(text):
                    out.append((f"dotnet/{name}:{member_name}#{child.tag}{k}", text))
    return out


def select(items, quota, seen):
    fresh = []
    for source, text in items:
        key = text.lower()
        if key in seen:
            continue
        seen.add(key)
        fresh.append((source, text))
    if len(fresh) <= quota:
        return fresh
    step = len(fresh) / quota
    return [fresh[int(i * step)] for i in range(quota)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("python_lib")
    ap.add_argument("dotnet_ref")
    ap.add_argument("out")
    ap.add_argument("--python", type=int, default=2500)
    ap.add_argument("--dotnet", type=int, default=2500)
    a = ap.parse_args()
    seen = set()
    py = select(python_paragraphs(a.python_lib), a.python, seen)
    dn = select(dotnet_paragraphs(a.dotnet_ref), a.dotnet, seen)
    with open(a.out, "w", encoding="utf-8", newline="\n") as f:
        for licence, rows in (("PSF-2.0", py), ("MIT", dn)):
            for source, text in rows:
                f.write(json.dumps({"source": source, "licence": licence, "text": text}, ensure_ascii=False) + "\n")
    digest = hashlib.sha256(open(a.out, "rb").read()).hexdigest()
    print(f"python {len(py)} dotnet {len(dn)} -> {a.out} sha256 {digest}", file=sys.stderr)


if __name__ == "__main__":
    main()
