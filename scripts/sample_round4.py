"""Round 4 of hand labelling (issue 10): choose ~27,000 more sentences to label,
sampled for what the model lacks, and write them as helper batches.

Pools (train councils unless said; each sentence in one pool only):
  test_random   random sentences of the test councils' reports (test grows to >= 3,000)
  dev_random    random sentences of the dev councils' reports
  uncertain     smallest type confidence of the current champion (at most 15 a report)
  vocab         evaluative words/phrases (data/lexicon/*.txt) in >= 5 corpus sentences
                but in no labelled sentence: up to 3 sentences each
  negation      negation and concession cues (codebook rules 2-3)
  neutral       likely-neutral facts and procedure (model or weak label says neutral,
                dates, numbers, "inspectors ...", structures and post-holders)
  old_lists     improvement lists in 2013-2018 layouts
  random        random train sentences (the natural mix stays measurable)

Run once from the project root after `ofsted-tagger data build` and a trained champion:
    .venv/bin/python scripts/sample_round4.py
It writes data/labels/batches/r4_NNN.jsonl (800 sentences each, pools interleaved in
priority order) and data/labels/round4_pools.csv (id -> pool). Fixed seed: rerunning on
the same corpus, labels and model gives the same batches.
"""

from __future__ import annotations

import csv
import json
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import default_params  # noqa: E402
from pipeline.data import council_of, labels_path, load_sentences, read_metadata, read_split, split_path, with_context  # noqa: E402
from pipeline.label import read_labels  # noqa: E402
from pipeline.predict import load_model  # noqa: E402

SEED = 20261202
BATCH = 800
SIZES = {"test_random": 2300, "dev_random": 1200, "uncertain": 4000, "vocab": 3000,
         "negation": 2500, "neutral": 4200, "old_lists": 1500, "random": 9000}
WORD = re.compile(r"[a-z][a-z'-]*")
NEGATION = re.compile(r"(?i)\b(?:no|not|never|none|nor|without|lack(?:s|ing)?|absence|although|though|while|whilst|"
                      r"despite|however|but|yet|unless|neither|n't|cannot|fail(?:s|ed)? to)\b")
NEUTRAL_CUE = re.compile(r"(?i)(?:\binspectors?\b|\bat the time of\b|\bthe local authority (?:has|had|is|was)\b|"
                         r"\bpopulation\b|\bper cent\b|%|\b(?:19|20)\d\d\b|\bappointed\b|\bin post\b|\bis responsible for\b|"
                         r"\bconsists? of\b|\bcomprises?\b|\bthere (?:are|were) \d|\bthis (?:inspection|visit|report)\b|"
                         r"\bcommissioned\b|\bprovided by\b|\blocated\b|\bsince\b)")
OLD_LIST = re.compile(r"(?i)areas? for improvement|what needs to improve|recommendations?|should focus|priority action|immediate action")


def polar_words(vader_min: float = 1.5, textblob_min: float = 0.4, word: re.Pattern = WORD) -> set[str]:
    """The polar single words of the MIT-licensed VADER (|valence| >= vader_min) and TextBlob
    (|polarity| >= textblob_min) lexicons that ``word`` matches whole (ImportError without them)."""
    import xml.etree.ElementTree as ET

    import textblob
    import vaderSentiment

    words: set[str] = set()
    for line in (Path(vaderSentiment.__file__).parent / "vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        w, v = line.split("\t")[:2]
        if word.fullmatch(w) and abs(float(v)) >= vader_min:
            words.add(w)
    for e in ET.parse(Path(textblob.__file__).parent / "en" / "en-sentiment.xml").getroot():
        w = e.get("form", "").lower()
        if word.fullmatch(w) and abs(float(e.get("polarity", 0))) >= textblob_min:
            words.add(w)
    return words


def load_terms() -> list[str]:
    terms: set[str] = set()
    for line in (ROOT / "data" / "lexicon" / "domain_terms.txt").read_text(encoding="utf-8").splitlines():
        t = line.split("#", 1)[0].strip().lower()
        if t:
            terms.add(t)
    try:  # general lexicons (MIT): strongly polar words only
        terms |= polar_words()
    except ImportError:
        print("note: vaderSentiment/textblob not installed; domain terms only", file=sys.stderr)
    return sorted(terms)


def term_rx(term: str) -> re.Pattern:
    return re.compile(r"\b" + re.escape(term) + r"\b")


def main() -> None:
    params = default_params()
    rng = random.Random(SEED)
    rows = list(with_context(load_sentences(params)))
    meta = read_metadata(params.paths.corpus_metadata)
    split = read_split(split_path(params))
    labelled = {r.id: r for r in read_labels(labels_path(params))}
    side = {r["id"]: split.get(council_of(r["report"], meta), "train") for r in rows}
    cand = [r for r in rows if r["id"] not in labelled and len(r["text"].strip()) > 1
            and not r["report"].startswith("seed_")]
    cand = list({r["id"]: r for r in cand}.values())
    taken: dict[str, str] = {}

    def take(pool: str, items: list[dict], n: int) -> None:
        k = 0
        for r in items:
            if k >= n:
                break
            if r["id"] not in taken:
                taken[r["id"]] = pool
                k += 1
        print(f"{pool}: {k}", file=sys.stderr)

    by_side = defaultdict(list)
    for r in cand:
        by_side[side[r["id"]]].append(r)
    for s in by_side.values():
        rng.shuffle(s)
    train = by_side["train"]

    take("test_random", by_side["test"], SIZES["test_random"])
    take("dev_random", by_side["dev"], SIZES["dev_random"])

    # uncertainty and likely-neutral from the current champion
    model = load_model(None, params)
    pred = model.predict([r["text"] for r in train], [r["section"] or "" for r in train], evidence=False)
    conf = pred.confidence
    neutral_p = pred.type_scores[:, 3]
    per_report: Counter = Counter()
    unc = []
    for i in sorted(range(len(train)), key=lambda i: conf[i]):
        rep = train[i]["report"]
        if per_report[rep] < 15 and len(train[i]["text"].split()) > 4:
            per_report[rep] += 1
            unc.append(train[i])
    take("uncertain", unc, SIZES["uncertain"])

    # vocabulary coverage
    lab_text = " \n ".join(r.text.lower() for r in labelled.values())
    corpus_lower = [r["text"].lower() for r in train]
    vocab_items = []
    uncovered = []
    for term in load_terms():
        rx = term_rx(term)
        if rx.search(lab_text):
            continue
        hits = [train[i] for i, t in enumerate(corpus_lower) if term in t and rx.search(t)]
        if len(hits) >= 5:
            uncovered.append(term)
            vocab_items.extend(rng.sample(hits, min(3, len(hits))))
    print(f"uncovered evaluative terms with >= 5 train sentences: {len(uncovered)}", file=sys.stderr)
    take("vocab", vocab_items, SIZES["vocab"])

    take("negation", [r for r in train if NEGATION.search(r["text"]) and len(r["text"].split()) > 5], SIZES["negation"])
    neut = [r for i, r in enumerate(train) if neutral_p[i] >= 0.35 or (NEUTRAL_CUE.search(r["text"]) and neutral_p[i] >= 0.1)]
    take("neutral", neut, SIZES["neutral"])
    take("old_lists", [r for r in train if r["report"][-10:-6] <= "2018" and OLD_LIST.search(r["section"] or "")],
         SIZES["old_lists"])
    take("random", train, SIZES["random"])

    # batches: pools interleaved in priority order, each batch sorted by report and position
    order = ["test_random", "uncertain", "vocab", "negation", "neutral", "old_lists", "dev_random", "random"]
    by_pool = defaultdict(list)
    for r in cand:
        if r["id"] in taken:
            by_pool[taken[r["id"]]].append(r)
    for p in by_pool.values():
        rng.shuffle(p)
    queue: list[dict] = by_pool["test_random"][:]  # test first: the acceptance needs it
    rest = [p for p in order if p != "test_random"]
    idx = {p: 0 for p in rest}
    while any(idx[p] < len(by_pool[p]) for p in rest):
        for p in rest[:-2]:  # strategic pools interleaved; dev and random after them
            if idx[p] < len(by_pool[p]):
                queue.append(by_pool[p][idx[p]])
                idx[p] += 1
        if all(idx[p] >= len(by_pool[p]) for p in rest[:-2]):
            for p in rest[-2:]:
                queue.extend(by_pool[p][idx[p]:])
                idx[p] = len(by_pool[p])
    pos = {r["id"]: (r["report"], r["index"]) for r in rows}
    out_dir = ROOT / "data" / "labels" / "batches"
    fields = ("id", "report", "section", "prev", "text", "next")
    for b in range(0, len(queue), BATCH):
        chunk = sorted(queue[b : b + BATCH], key=lambda r: pos[r["id"]])
        with (out_dir / f"r4_{b // BATCH:03d}.jsonl").open("w", encoding="utf-8") as fh:
            for r in chunk:
                fh.write(json.dumps({k: r[k] for k in fields}, ensure_ascii=False) + "\n")
    with (ROOT / "data" / "labels" / "round4_pools.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "pool"])
        for r in queue:
            w.writerow([r["id"], taken[r["id"]]])
    with (ROOT / "data" / "lexicon" / "uncovered_before_round4.txt").open("w", encoding="utf-8") as fh:
        fh.write("\n".join(uncovered) + "\n")
    print(f"{len(queue)} sentences in {(len(queue) + BATCH - 1) // BATCH} batches", file=sys.stderr)


if __name__ == "__main__":
    main()
