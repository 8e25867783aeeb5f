"""Data: the sentence corpus, the council-level split, label batches.

- ``build_sentences``: every corpus report and seed article through ingest and
  segment into ``data/build/sentences.jsonl`` (generated, git-ignored; rebuilt
  by ``ofsted-tagger data build`` in about half a minute).
- ``make_split``: a fixed group split by local authority, committed as
  ``data/split.csv``; no council is on two sides.
- ``sample_batch``: sentences to hand-label, stratified over reports, years and
  sections, with neighbours for context.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from pipeline.config import Params
from pipeline.errors import UserError, atomic_write
from pipeline.ingest import read_document
from pipeline.segment import Sentence, segment

SPLITS = ("train", "dev", "test")
SEED_COUNCIL = "seed_articles"


def sentence_id(report: str, text: str) -> str:
    """Stable id of a sentence: its report and its whitespace-normalised text."""
    key = report + "\x1f" + " ".join(text.split())
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class ReportMeta:
    report_id: str
    local_authority: str
    publication_date: str
    framework: str
    overall_effectiveness: str


def read_metadata(path: Path) -> dict[str, ReportMeta]:
    if not path.is_file():
        raise UserError(f"{path}: report metadata not found; set paths.corpus_metadata in params.yaml.")
    with path.open(encoding="utf-8", newline="") as fh:
        return {
            r["report_id"]: ReportMeta(
                r["report_id"], r["local_authority"], r["publication_date"], r["framework"], r["overall_effectiveness"]
            )
            for r in csv.DictReader(fh)
        }


def council_of(report_id: str, meta: dict[str, ReportMeta]) -> str:
    """The local authority of a report; seed articles form their own group."""
    if report_id in meta:
        return meta[report_id].local_authority
    m = re.match(r"^(.*)_\d{4}-\d{2}-\d{2}$", report_id)
    return m.group(1).replace("_", " ") if m else SEED_COUNCIL


def corpus_files(params: Params) -> list[Path]:
    texts = sorted(params.paths.corpus_text.glob("*.txt"))
    seeds = sorted(params.paths.seeds.glob("*.txt"))
    if not texts:
        raise UserError(f"{params.paths.corpus_text}: no corpus text files; check paths.corpus_text in params.yaml.")
    return texts + seeds


def sentences_path(params: Params) -> Path:
    return params.paths.data / "build" / "sentences.jsonl"


def build_sentences(params: Params, files: Iterable[Path] | None = None, progress: bool = True) -> Path:
    """Ingest and segment the corpus and seeds into ``data/build/sentences.jsonl``."""
    from tqdm import tqdm

    files = list(files) if files is not None else corpus_files(params)
    out = sentences_path(params)
    with atomic_write(out) as fh:
        for f in tqdm(files, desc="segment", unit="report", disable=not progress):
            rid = f.stem if f.parent != params.paths.seeds else f"seed_{f.stem}"
            doc = read_document(f, params.ingest.max_file_mb, report_id=rid)
            for s in segment(doc, params.segment.max_sentence_chars, params.segment.heading_max_words):
                rec = s.to_dict()
                rec["id"] = sentence_id(s.report, s.text)
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return out


def load_sentences(params: Params) -> list[dict]:
    path = sentences_path(params)
    if not path.is_file():
        raise UserError(f"{path}: sentence corpus not built yet; run 'ofsted-tagger data build' first.")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


# --------------------------------------------------------------------------- #
# Split by local authority
# --------------------------------------------------------------------------- #
def split_path(params: Params) -> Path:
    return params.paths.data / "split.csv"


def make_split(councils: Iterable[str], seed: int, dev_fraction: float, test_fraction: float) -> dict[str, str]:
    """Assign each council to train/dev/test at random (fixed seed); seeds go to train."""
    names = sorted(set(councils) - {SEED_COUNCIL})
    rng = random.Random(seed)
    rng.shuffle(names)
    n_test = round(len(names) * test_fraction)
    n_dev = round(len(names) * dev_fraction)
    out = {name: "test" for name in names[:n_test]}
    out.update({name: "dev" for name in names[n_test : n_test + n_dev]})
    out.update({name: "train" for name in names[n_test + n_dev :]})
    out[SEED_COUNCIL] = "train"
    return dict(sorted(out.items()))


def write_split(path: Path, split: dict[str, str]) -> None:
    with atomic_write(path) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["local_authority", "split"])
        for k, v in split.items():
            w.writerow([k, v])


def read_split(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise UserError(f"{path}: split file missing; run 'ofsted-tagger data split' to create it.")
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["local_authority"]: r["split"] for r in csv.DictReader(fh)}


# --------------------------------------------------------------------------- #
# Sampling sentences to label
# --------------------------------------------------------------------------- #
def with_context(rows: list[dict]) -> Iterator[dict]:
    """Attach the previous and next sentence of the same report to each row."""
    for i, r in enumerate(rows):
        prev = rows[i - 1]["text"] if i and rows[i - 1]["report"] == r["report"] else ""
        nxt = rows[i + 1]["text"] if i + 1 < len(rows) and rows[i + 1]["report"] == r["report"] else ""
        yield {**r, "prev": prev, "next": nxt}


def sample_batch(
    rows: list[dict], reports: list[str], per_report: int, exclude: set[str], seed: int
) -> list[dict]:
    """Up to ``per_report`` sentences from each report, spread over its length."""
    rng = random.Random(seed)
    by_report: dict[str, list[dict]] = {}
    for r in with_context(rows):
        if r["report"] in reports and r["id"] not in exclude and len(r["text"]) > 1:
            by_report.setdefault(r["report"], []).append(r)
    out = []
    for rep in reports:
        cand = by_report.get(rep, [])
        if len(cand) <= per_report:
            out.extend(cand)
            continue
        step = len(cand) / per_report
        picks = [cand[min(len(cand) - 1, int(i * step + rng.random() * step))] for i in range(per_report)]
        out.extend({p["id"]: p for p in picks}.values())
    return out
