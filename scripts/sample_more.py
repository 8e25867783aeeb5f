"""Rounds 5 and later of hand labelling (issue 10): after the previous round is merged and a
model retrained on it, choose more sentences where the model is least sure, more dev sentences
(so model choices rest on a larger dev set), and a random share of the train councils'
remaining sentences (one per distinct text, never one handed out before).

    .venv/bin/python scripts/sample_more.py [MODEL_URI] [--round 5] [--uncertain 8000] [--dev 2400] [--random 30000]

Round 5 used the defaults with the model registered after round 4; round 6 was
``--round 6 --uncertain 0 --dev 0 --random 60000`` (every remaining distinct train text).
Writes data/labels/batches/rN_NNN.jsonl (800 each: uncertain first, then dev and random
interleaved) and data/labels/roundN_pools.csv (id -> pool).
"""

from __future__ import annotations

import csv
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import default_params  # noqa: E402
from pipeline.data import council_of, labels_path, load_sentences, read_metadata, read_split, split_path, with_context  # noqa: E402
from pipeline.label import read_labels  # noqa: E402
from pipeline.predict import load_model  # noqa: E402

import argparse

SEED = 20261203
BATCH = 800
PER_REPORT_UNCERTAIN = 30


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default=None)
    ap.add_argument("--round", type=int, default=5)
    ap.add_argument("--uncertain", type=int, default=8000)
    ap.add_argument("--dev", type=int, default=2400)
    ap.add_argument("--random", type=int, default=30000)
    args = ap.parse_args()
    SIZES = {"uncertain": args.uncertain, "dev_random": args.dev, "random": args.random}
    params = default_params()
    rng = random.Random(SEED + args.round - 5)
    rows = list(with_context(load_sentences(params)))
    meta = read_metadata(params.paths.corpus_metadata)
    split = read_split(split_path(params))
    done = {r.id for r in read_labels(labels_path(params))}
    for f in (ROOT / "data" / "labels").glob("round*_pools.csv"):  # handed out, maybe not merged yet
        with f.open(encoding="utf-8") as fh:
            done |= {r["id"] for r in csv.DictReader(fh)}
    side = {r["id"]: split.get(council_of(r["report"], meta), "train") for r in rows}
    seen_text: set[str] = set()
    cand = []
    for r in rows:
        key = " ".join(r["text"].lower().split())
        if r["id"] in done or len(key) <= 1 or r["report"].startswith("seed_") or key in seen_text:
            continue
        seen_text.add(key)
        cand.append(r)
    by_side = defaultdict(list)
    for r in cand:
        by_side[side[r["id"]]].append(r)
    for s in by_side.values():
        rng.shuffle(s)
    train = by_side["train"]
    uncertain = []
    if SIZES["uncertain"]:
        model = load_model(args.model, params)
        pred = model.predict([r["text"] for r in train], [r["section"] or "" for r in train], evidence=False)
        per_report: Counter = Counter()
        for i in sorted(range(len(train)), key=lambda i: pred.confidence[i]):
            if per_report[train[i]["report"]] < PER_REPORT_UNCERTAIN and len(train[i]["text"].split()) > 3:
                per_report[train[i]["report"]] += 1
                uncertain.append(train[i])
            if len(uncertain) >= SIZES["uncertain"]:
                break
    taken = {r["id"]: "uncertain" for r in uncertain}
    dev = by_side["dev"][: SIZES["dev_random"]]
    taken.update({r["id"]: "dev_random" for r in dev})
    rand = [r for r in train if r["id"] not in taken][: SIZES["random"]]
    taken.update({r["id"]: "random" for r in rand})
    rng.shuffle(uncertain)
    queue = list(uncertain)
    # dev spread evenly through the random batches
    step = max(1, len(rand) // max(1, len(dev)))
    for i, r in enumerate(rand):
        queue.append(r)
        if i % step == 0 and dev:
            queue.append(dev.pop())
    queue.extend(dev)
    pos = {r["id"]: (r["report"], r["index"]) for r in rows}
    fields = ("id", "report", "section", "prev", "text", "next")
    out_dir = ROOT / "data" / "labels" / "batches"
    for b in range(0, len(queue), BATCH):
        chunk = sorted(queue[b : b + BATCH], key=lambda r: pos[r["id"]])
        with (out_dir / f"r{args.round}_{b // BATCH:03d}.jsonl").open("w", encoding="utf-8") as fh:
            for r in chunk:
                fh.write(json.dumps({k: r[k] for k in fields}, ensure_ascii=False) + "\n")
    with (ROOT / "data" / "labels" / f"round{args.round}_pools.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "pool"])
        for r in queue:
            w.writerow([r["id"], taken[r["id"]]])
    print({k: sum(1 for v in taken.values() if v == k) for k in SIZES}, file=sys.stderr)
    print(f"{len(queue)} sentences in {(len(queue) + BATCH - 1) // BATCH} batches", file=sys.stderr)


if __name__ == "__main__":
    main()
