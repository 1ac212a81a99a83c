#!/usr/bin/env python3
"""Reference oracle for RuleSetParityTests: datatrove's GopherQualityFilter, GopherRepetitionFilter and
FineWebQualityFilter decisions (huggingface/datatrove src/datatrove/pipeline/filters/*.py, transcribed with the default
parameters; the word tokenizer is the one input that is not datatrove's: the test passes each text's words, as
Curation's script-aware tokenizer cut them, because NLTK and its models are not available here).
Reads [{"text": ..., "words": [...]}] on stdin, writes [[gopher_quality, gopher_repetition, fineweb_quality] reasons]
("" = kept)."""
import json, re, sys, unicodedata
from collections import Counter

TERMINAL = set("!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e\u0964\u0965\u0f0d\u0f0e"
               "\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u1803\u1809\u1944\u1945\u3002\uff01\uff0e\uff1f\uff61")
PUNCT = set("!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»") | TERMINAL
STOP = {"the", "be", "to", "of", "and", "that", "have", "with"}

def gopher_quality(text, words):
    n_words = len(words)
    # Curation's one documented deviation: a token made only of Unicode punctuation or symbols (categories P*, S*) is
    # not a word. datatrove's list above misses "•", "·", "§" and most scripts' punctuation, so it counts a bullet
    # "•" as a word; Curation does not (GopherQualityStageSpec.MinDocWords).
    non_symbol = [w for w in words if any(ch not in PUNCT and unicodedata.category(ch)[0] not in "PS" for ch in w)]
    if len(non_symbol) < 50: return "gopher_short_doc"
    if len(non_symbol) > 100000: return "gopher_long_doc"
    avg = sum(len(w) for w in non_symbol) / len(non_symbol)
    if avg < 3: return "gopher_below_avg_threshold"
    if avg > 10: return "gopher_above_avg_threshold"
    if text.count("#") / n_words > 0.1: return "gopher_too_many_hashes"
    if (text.count("...") + text.count("…")) / n_words > 0.1: return "gopher_too_many_ellipsis"
    lines = text.splitlines()
    if sum(s.lstrip().startswith("•") or s.lstrip().startswith("-") for s in lines) / len(lines) > 0.9:
        return "gopher_too_many_bullets"
    if sum(s.rstrip().endswith("...") or s.rstrip().endswith("…") for s in lines) / len(lines) > 0.3:
        return "gopher_too_many_end_ellipsis"
    if sum([any((c.isalpha() for c in w)) for w in words]) / n_words < 0.8: return "gopher_below_alpha_threshold"
    if len(STOP.intersection(set(words))) < 2: return "gopher_enough_stop_words"
    return ""

def find_duplicates(x):
    seen, chars, n = set(), 0, 0
    for e in x:
        if e in seen: chars += len(e); n += 1
        else: seen.add(e)
    return n, chars

def find_top_duplicate(x):
    c = Counter(x)
    top = c.most_common(1)[0]
    return len(top[0]) * top[1]

def find_all_duplicate(words, n):
    unique, repeated, idx = set(), 0, 0
    while idx < len(words) - n + 1:
        g = "".join(words[idx: idx + n])
        if g in unique: repeated += len(g); idx += n
        else: unique.add(g); idx += 1
    return repeated

def gopher_repetition(text, words):
    paragraphs = re.split(r"\n{2,}", text.strip())
    d, c = find_duplicates(paragraphs)
    if d / len(paragraphs) > 0.3: return "dup_para_frac"
    if c / len(text) > 0.2: return "dup_para_char_frac"
    lines = re.split("\n+", text)
    d, c = find_duplicates(lines)
    if d / len(lines) > 0.3: return "dup_line_frac"
    if c / len(text) > 0.2: return "dup_line_char_frac"
    for n, frac in ((2, 0.2), (3, 0.18), (4, 0.16)):
        grams = [" ".join(words[i: i + n]) for i in range(len(words) - n + 1)]
        if grams and find_top_duplicate(grams) / len(text) > frac: return f"top_{n}_gram"
    for n, frac in ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)):
        if find_all_duplicate(words, n) / len(text) > frac: return f"duplicated_{n}_n_grams"
    return ""

def fineweb(text, words):
    lines = [l for l in text.split("\n") if l.strip() != ""]
    if not lines: return "empty"
    if sum(1 for l in lines if l.endswith(tuple(TERMINAL))) / len(lines) < 0.12: return "line_punct_ratio"
    if sum(1 for l in lines if len(l) <= 30) / len(lines) > 0.67: return "short_line_ratio"
    if find_duplicates(lines)[1] / len(text.replace("\n", "")) > 0.01: return "char_dup_ratio"
    if text.count("\n") / len(words) > 0.3: return "list_ratio"
    return ""

docs = json.load(sys.stdin)
json.dump([[gopher_quality(d["text"], d["words"]), gopher_repetition(d["text"], d["words"]), fineweb(d["text"], d["words"])] for d in docs], sys.stdout)
