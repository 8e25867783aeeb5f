"""Data: the sentence corpus, the council-level split, label batches.

- ``build_sentences``: every corpus report and seed article through ingest and
  segment into ``data/build/sentences.jsonl`` (generated, git-ignored; rebuilt
  by ``ofsted-tagger data build`` in about half a minute).
- ``make_split``: a fixed group split by local authority, committed as
  ``data/split.csv``; no council is on two sides.
- ``read_metadata``: the report metadata CSV (council, inspection date, grades).
"""

from __future__ import annotations

import collections
import csv
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Iterator, Mapping

from pipeline.config import Params
from pipeline.errors import UserError, atomic_write
from pipeline.ingest import ingest_limits, read_document
from pipeline.inputs import progress_bar
from pipeline.model import Context, neighbour_texts
from pipeline.label import (
    LABEL_FIELDS,
    LabelRow,
    Unit,
    lf_stats,
    lf_weights,
    parse_themes,
    read_labels,
    rewrite_labels,
    validate_row,
    weak_label,
)
from pipeline.schema import JUDGEMENTS, THEMES, TYPES, normalise_grade, parse_grade
from pipeline.segment import segment

SPLITS = ("train", "dev", "test")
SEED_COUNCIL = "seed_articles"


def sentence_id(report: str, text: str) -> str:
    """Stable id of a sentence: its report and its whitespace-normalised text."""
    key = report + "\x1f" + " ".join(text.split())
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


@dataclass
class ReportMeta:
    """What is known of a report besides its text: its council, inspection date and grades."""

    report: str
    council: str = ""
    date: str = ""  # ISO date of the inspection's end (else publication)
    grades: dict[str, str | None] = field(default_factory=dict)  # JUDGEMENTS key -> GRADE_SCORE key or None
    kind: str = ""  # full inspection, re-inspection, focused visit, monitoring visit... (read from the report)
    urn: str = ""  # Ofsted's unique reference number of the council, where the metadata CSV gives it


def read_metadata(path: Path) -> dict[str, ReportMeta]:
    """Report metadata from a CSV like ``shared/corpus/reports.csv`` (report_id, local_authority,
    inspection_end or publication_date, one column per judgement); one-line UserError naming the
    line for a file that is not such a CSV."""
    if not path.is_file():
        raise UserError(f"{path}: report metadata not found; give a CSV like shared/corpus/reports.csv "
                        "(paths.corpus_metadata in params.yaml, or --metadata).")
    out: dict[str, ReportMeta] = {}
    line = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if "report_id" not in (reader.fieldnames or []):
                raise UserError(f"{path}:1: needs a report_id column (and local_authority, dates, grades).")
            for r in reader:
                line = reader.line_num
                rid = (r.get("report_id") or "").strip() if isinstance(r.get("report_id"), str) else ""
                if not rid:
                    raise UserError(f"{path}:{line}: the report_id is empty; fill it in or remove the row.")
                if None in r:  # more fields than the header
                    raise UserError(f"{path}:{line}: more fields than the header has; check the quoting.")
                if rid in out:
                    raise UserError(f"{path}:{line}: report_id '{rid}' appears twice; keep one row per report.")
                date = r.get("inspection_end") or ""
                m = re.match(r"(\d{2})/(\d{2})/(\d{4})", date)
                date = f"{m.group(3)}-{m.group(2)}-{m.group(1)}" if m else (r.get("publication_date") or "")
                out[rid] = ReportMeta(rid, (r.get("local_authority") or "").strip().lower(), date.strip(),
                                      {k: normalise_grade(r.get(k)) for k in JUDGEMENTS},
                                      urn=(r.get("urn") or "").strip())
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); save the CSV as UTF-8.")
    except csv.Error as exc:
        raise UserError(f"{path}:{line}: not a readable CSV ({exc}); check the file.")
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror}); check the file.")
    return out


def council_of(report_id: str, meta: dict[str, ReportMeta]) -> str:
    """The local authority of a report; seed articles form their own group."""
    if report_id in meta:
        return meta[report_id].council
    m = re.match(r"^(.*)_\d{4}-\d{2}-\d{2}$", report_id)
    return m.group(1).replace("_", " ") if m else SEED_COUNCIL


def corpus_files(params: Params) -> list[Path]:
    texts = sorted(params.paths.corpus_text.glob("*.txt"))
    seeds = sorted(params.paths.seeds.glob("*.txt"))
    if not texts:
        raise UserError(f"{params.paths.corpus_text}: no corpus text files; check paths.corpus_text in params.yaml.")
    return texts + seeds


def report_id(f: Path, params: Params) -> str:
    """A corpus file's report id: its stem, ``seed_`` + stem for a seed article."""
    return f.stem if f.parent != params.paths.seeds else f"seed_{f.stem}"


def label_contexts(params: Params, reports: Iterable[str], progress: bool = True) -> Mapping[str, Context]:
    """Sentence id -> its neighbours (:func:`pipeline.model.neighbour_texts`) for every sentence of
    these reports, segmented afresh from the corpus and seeds as ``predict`` segments a report
    (about 13 s for all of them): the context the theme tagger is fitted and scored with.
    Kept for the process (read-only), so a second dataset load in the same process is free."""
    key = (str(params.paths.corpus_text), str(params.paths.seeds), params.ingest.model_dump_json(),
           params.segment.model_dump_json(), frozenset(reports))
    if key not in _CONTEXTS:
        _CONTEXTS[key] = MappingProxyType(_label_contexts(params, key[-1], progress))
    return _CONTEXTS[key]


_CONTEXTS: dict[tuple, Mapping[str, Context]] = {}


def _label_contexts(params: Params, wanted: frozenset[str], progress: bool) -> dict[str, Context]:
    files = [f for f in corpus_files(params) if report_id(f, params) in wanted]
    out: dict[str, Context] = {}
    for f in (progress_bar(files, "context", "report", minimum=1) if progress else files):
        rid = report_id(f, params)
        doc = read_document(f, params.ingest.max_file_mb, report_id=rid, **ingest_limits(params.ingest))
        units = segment(doc, params.segment.max_sentence_chars, params.segment.heading_max_words)
        for u, ctx in zip(units, neighbour_texts([u.text for u in units], [u.kind for u in units])):
            out.setdefault(sentence_id(rid, u.text), ctx)
    return out


def sentences_path(params: Params) -> Path:
    return params.paths.data / "build" / "sentences.jsonl"


def build_sentences(params: Params, files: Iterable[Path] | None = None, progress: bool = True) -> Path:
    """Ingest and segment the corpus and seeds into ``data/build/sentences.jsonl``
    (a progress bar only when stderr is a terminal)."""
    files = list(files) if files is not None else corpus_files(params)
    out = sentences_path(params)
    with atomic_write(out) as fh:
        for f in (progress_bar(files, "segment", "report", minimum=1) if progress else files):
            rid = report_id(f, params)
            doc = read_document(f, params.ingest.max_file_mb, report_id=rid, **ingest_limits(params.ingest))
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


def create_split(params: Params, force: bool = False) -> tuple[Path, int]:
    """Write the council split from the report metadata (fixed seed); refuses to replace it without ``force``."""
    path = split_path(params)
    if path.exists() and not force:
        raise UserError(f"{path}: the split exists and is committed; pass --force to replace it.")
    meta = read_metadata(params.paths.corpus_metadata)
    split = make_split([council_of(r, meta) for r in meta] + [SEED_COUNCIL], params.split.seed,
                       params.split.dev_fraction, params.split.test_fraction)
    write_split(path, split)
    return path, len(split)


def read_split(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise UserError(f"{path}: split file missing; run 'ofsted-tagger data split' to create it.")
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["local_authority"]: r["split"] for r in csv.DictReader(fh)}


def split_report_files(params: Params, side: str, pdf: bool = True) -> list[Path]:
    """The corpus files of the reports of one side's councils (``train``/``dev``/``test``): their original
    PDFs where the corpus has them (``pdf``), else every report's text file; sorted."""
    meta = read_metadata(params.paths.corpus_metadata)
    sides = read_split(split_path(params))
    folder, suffix = (params.paths.corpus_pdf, ".pdf") if pdf else (params.paths.corpus_text, ".txt")
    files = (folder / f"{r}{suffix}" for r in sorted(meta) if sides.get(council_of(r, meta)) == side)
    return [f for f in files if f.is_file()]


# --------------------------------------------------------------------------- #
# Sampling sentences to label
# --------------------------------------------------------------------------- #
def with_context(rows: list[dict]) -> Iterator[dict]:
    """Attach the previous and next sentence of the same report to each row."""
    for i, r in enumerate(rows):
        prev = rows[i - 1]["text"] if i and rows[i - 1]["report"] == r["report"] else ""
        nxt = rows[i + 1]["text"] if i + 1 < len(rows) and rows[i + 1]["report"] == r["report"] else ""
        yield {**r, "prev": prev, "next": nxt}


# --------------------------------------------------------------------------- #
# Hand labels: merging helper batches, checking, agreement
# --------------------------------------------------------------------------- #
def labels_path(params: Params) -> Path:
    return params.paths.data / "labels" / "hand.csv"


WRITTEN_FIELDS = ("text", "type", "themes")


def written_dir(params: Params) -> Path:
    """Sentences written from the codebook (news genre, plain findings): training only."""
    return params.paths.data / "labels" / "written"


def read_written(params: Params) -> list[LabelRow]:
    """Every written sentence as a label row (report ``written``, no section); the first bad
    row raises a UserError naming its file and line."""
    rows: list[LabelRow] = []
    for f in sorted(written_dir(params).glob("*.csv")):
        with f.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if list(reader.fieldnames or [])[:3] != list(WRITTEN_FIELDS):
                raise UserError(f"{f}:1: header must be {','.join(WRITTEN_FIELDS)}; fix the header line.")
            for line_no, raw in enumerate(reader, start=2):
                raw = {**raw, "id": sentence_id("written", raw.get("text") or ""), "report": "written", "section": "",
                       "source": f"written_{f.stem}"}
                problem = validate_row(raw)
                if problem:
                    raise UserError(f"{f}:{line_no}: {problem}; fix or remove that row.")
                rows.append(LabelRow(raw["id"], "written", "", raw["text"], raw["type"], parse_themes(raw["themes"]),
                                     raw["source"]))
    return rows


def _batch_inputs(batch_dir: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for f in sorted(batch_dir.glob("*.jsonl")):
        with f.open(encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                out[r["id"]] = r
    return out


def _read_decisions(path: Path) -> dict[str, tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["id"]: (r["type"], r.get("themes") or "") for r in csv.DictReader(fh)}


def read_decision_files(folder: Path, pattern: str) -> dict[str, tuple[str, str]]:
    """``id -> (type, themes)`` of every ``folder/pattern`` decision file, in name order (a later file wins)."""
    out: dict[str, tuple[str, str]] = {}
    for f in sorted(folder.glob(pattern)):
        out.update(_read_decisions(f))
    return out


def merge_batches(params: Params) -> int:
    """Merge helper batches (``labels/hand/batch_*.csv`` over ``labels/batches/*.jsonl``) and
    adjudications (``labels/adjudicated.csv``) into ``labels/hand.csv``.

    Rows written by the annotation tool (source not starting with 'batch_') are kept.
    Returns the number of rows written.
    """
    base = params.paths.data / "labels"
    inputs = _batch_inputs(base / "batches")
    adjudicated = _read_decisions(base / "adjudicated.csv") if (base / "adjudicated.csv").is_file() else {}
    existing = read_labels(labels_path(params)) if labels_path(params).is_file() else []
    rows: dict[str, LabelRow] = {}
    for f in sorted((base / "hand").glob("batch_*.csv")):
        for sid, (typ, themes) in _read_decisions(f).items():
            src = inputs.get(sid)
            if src is None:
                raise UserError(f"{f}: id {sid} is in no batch input under {base / 'batches'}.")
            typ, themes = adjudicated.get(sid, (typ, themes))
            rows[sid] = LabelRow(sid, src["report"], src["section"], src["text"], typ, parse_themes(themes), f.stem)
    for r in existing:
        if not r.source.startswith("batch_"):
            rows[r.id] = r
    rewrite_labels(labels_path(params), rows.values())
    return len(rows)


@dataclass(frozen=True)
class CheckResult:
    errors: list[str]
    warnings: list[str]
    report: list[str]


def check_data(params: Params) -> CheckResult:
    """Schema, allowed labels, duplicates, empty text and split leakage of the committed data."""
    errors: list[str] = []
    warnings: list[str] = []
    path = labels_path(params)
    if not path.is_file():
        return CheckResult([f"{path}: label file not found; run 'ofsted-tagger data merge' or label some sentences."], [], [])
    split_file = split_path(params)
    split: dict[str, str] = {}
    if not split_file.is_file():
        errors.append(f"{split_file}: split file missing; run 'ofsted-tagger data split'.")
    else:
        with split_file.open(encoding="utf-8", newline="") as fh:
            for n, r in enumerate(csv.DictReader(fh), start=2):
                council, side = r.get("local_authority", ""), r.get("split", "")
                if side not in SPLITS:
                    errors.append(f"{split_file}:{n}: split '{side}' is not one of {', '.join(SPLITS)}.")
                elif council in split and split[council] != side:
                    errors.append(f"{split_file}:{n}: council '{council}' is on two sides ({split[council]} and {side}).")
                split[council] = side
    meta = read_metadata(params.paths.corpus_metadata)
    seen: dict[str, int] = {}
    texts: dict[tuple[str, str], tuple[int, str]] = {}
    by_type: collections.Counter[str] = collections.Counter()
    by_theme: collections.Counter[str] = collections.Counter()
    by_split: collections.Counter[str] = collections.Counter()
    reports: set[str] = set()
    n_rows = 0
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [h for h in LABEL_FIELDS if h not in (reader.fieldnames or [])]
        if missing:
            return CheckResult([f"{path}:1: header lacks {', '.join(missing)}; the header must be {','.join(LABEL_FIELDS)}."], [], [])
        for n, raw in enumerate(reader, start=2):
            problem = validate_row(raw)
            if problem:
                errors.append(f"{path}:{n}: {problem}.")
                continue
            if raw["id"] in seen:
                errors.append(f"{path}:{n}: duplicate id {raw['id']} (first on line {seen[raw['id']]}).")
                continue
            seen[raw["id"]] = n
            if sentence_id(raw["report"], raw["text"]) != raw["id"]:
                errors.append(f"{path}:{n}: id {raw['id']} does not match its report and text; relabel or fix the row.")
            key = (raw["report"], " ".join(raw["text"].split()))
            if key in texts and texts[key][1] != raw["type"]:
                warnings.append(f"{path}:{n}: same sentence as line {texts[key][0]} with another type.")
            texts.setdefault(key, (n, raw["type"]))
            council = council_of(raw["report"], meta)
            if split and council not in split:
                errors.append(f"{path}:{n}: council '{council}' of report {raw['report']} is in no split; add it to {split_file}.")
                continue
            n_rows += 1
            reports.add(raw["report"])
            by_type[raw["type"]] += 1
            by_split[split.get(council, "?")] += 1
            for t in raw["themes"].split(";"):
                if t:
                    by_theme[t] += 1
    report = [f"{n_rows} hand-labelled sentences from {len(reports)} reports"]
    report.append("type: " + ", ".join(f"{t} {by_type[t]}" for t in TYPES))
    report.append("themes: " + ", ".join(f"{t} {by_theme[t]}" for t in THEMES))
    report.append("split: " + ", ".join(f"{s} {by_split[s]}" for s in SPLITS))
    sides = collections.Counter(split.values())
    report.append("councils: " + ", ".join(f"{s} {sides[s]}" for s in SPLITS))
    return CheckResult(errors, warnings, report)


def agreement(primary: dict[str, tuple[str, str]], second: dict[str, tuple[str, str]]) -> dict:
    """Cohen's kappa for type and per-theme agreement between two independent labellings."""
    from sklearn.metrics import cohen_kappa_score  # lazy: scikit-learn costs ~1 s of start-up for every data command

    ids = sorted(set(primary) & set(second))
    if not ids:
        return {"n": 0}
    a = [primary[i][0] for i in ids]
    b = [second[i][0] for i in ids]
    themes = {}
    for t in THEMES:
        x = [t in primary[i][1].split(";") for i in ids]
        y = [t in second[i][1].split(";") for i in ids]
        pos = sum(x) + sum(y)
        agree = sum(p == q for p, q in zip(x, y)) / len(ids)
        kappa = cohen_kappa_score(x, y) if pos and len(set(x + y)) > 1 else float("nan")
        themes[t] = {"agreement": agree, "kappa": kappa, "positives": pos}
    return {
        "n": len(ids),
        "type_agreement": sum(p == q for p, q in zip(a, b)) / len(ids),
        "type_kappa": cohen_kappa_score(a, b),
        "themes": themes,
    }


# --------------------------------------------------------------------------- #
# Weak labels over the whole corpus, and the data card
# --------------------------------------------------------------------------- #
def weak_path(params: Params) -> Path:
    return params.paths.data / "build" / "weak.jsonl"


def _units_and_gold(params: Params, splits: tuple[str, ...] = SPLITS):
    meta = read_metadata(params.paths.corpus_metadata)
    split = read_split(split_path(params))
    rows = [r for r in read_labels(labels_path(params)) if split.get(council_of(r.report, meta)) in splits]
    units = [Unit(r.text, r.section, parse_grade(r.section), "heading" if r.text == r.section else "sentence") for r in rows]
    return units, [r.type for r in rows]


def weak_label_stats(params: Params, splits: tuple[str, ...] = ("train",)):
    units, gold = _units_and_gold(params, splits)
    return lf_stats(units, gold)


def build_weak_labels(params: Params) -> Path:
    """Weak label (or abstain) for every corpus sentence, weights measured on train-split hand labels."""
    weights = lf_weights(weak_label_stats(params, ("train",)))
    out = weak_path(params)
    with atomic_write(out) as fh:
        for r in load_sentences(params):
            label, conf = weak_label(Unit(r["text"], r["section"], r["grade"], r["kind"]), weights)
            fh.write(json.dumps({"id": r["id"], "report": r["report"], "section": r["section"], "text": r["text"],
                                 "type": label, "confidence": round(conf, 3)}, ensure_ascii=False) + "\n")
    return out


def build_dataset(params: Params) -> tuple[Path, Path]:
    """``data build``: the sentence corpus, then its weak labels."""
    return build_sentences(params), build_weak_labels(params)


def weak_label_report(params: Params) -> list[str]:
    """Coverage/accuracy of each labelling function and of the combined vote, on dev hand labels
    (weights measured on train)."""
    weights = lf_weights(weak_label_stats(params, ("train",)))
    units, gold = _units_and_gold(params, ("dev",))
    lines = [f"{'labelling function':28s} {'coverage':>8s} {'accuracy':>8s} {'fired':>6s}   (dev hand labels, n={len(gold)})"]
    for s in lf_stats(units, gold):
        lines.append(f"{s.name:28s} {s.coverage:8.3f} {s.accuracy:8.3f} {s.fired:6d}")
    votes = [(weak_label(u, weights)[0], g) for u, g in zip(units, gold)]
    fired = [(v, g) for v, g in votes if v is not None]
    acc = sum(v == g for v, g in fired) / max(1, len(fired))
    lines.append(f"{'combined (weighted vote)':28s} {len(fired) / max(1, len(gold)):8.3f} {acc:8.3f} {len(fired):6d}")
    return lines


def _round_of(source: str) -> str:
    if source.startswith("batch_r"):
        return f"round {source[len('batch_r')]}"
    if source.startswith("batch_"):
        return "rounds 1-3"
    return source or "annotation tool"


def _sources_section(params: Params) -> list[str]:
    """Hand labels by labelling round, the pools each round drew from, and the written sentences."""
    labels = read_labels(labels_path(params))
    rounds = collections.Counter(_round_of(r.source) for r in labels)
    out = ["### Sources", "", "| labelling round | sentences |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in sorted(rounds.items())]
    pools: collections.Counter = collections.Counter()
    labelled = {r.id for r in labels}
    for f in sorted((params.paths.data / "labels").glob("round*_pools.csv")):
        with f.open(encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                if r["id"] in labelled:
                    pools[(f.stem.split("_")[0], r["pool"])] += 1
    if pools:
        out += ["", "| round | pool (what the sample was chosen for) | labelled |", "|---|---|---|"]
        out += [f"| {rnd[len('round'):]} | {pool} | {n} |" for (rnd, pool), n in sorted(pools.items())]
    written = collections.Counter(r.source for r in read_written(params))
    if written:
        out += ["", f"Written from the codebook (training only, `labels/written/`): {sum(written.values())} sentences "
                + "(" + ", ".join(f"{k[len('written_'):]} {v}" for k, v in sorted(written.items())) + ")."]
    evals = sorted(params.paths.eval_sets.glob("*.csv")) if params.paths.eval_sets.is_dir() else []
    if evals:
        sizes = []
        for f in evals:
            with f.open(encoding="utf-8", newline="") as fh:
                sizes.append(f"{f.stem} {sum(1 for _ in csv.DictReader(fh))}")
        out += ["", "Evaluation sets written from the codebook by an independent reader, never trained on "
                f"(`{params.paths.eval_sets.name}/`): " + ", ".join(sizes) + " sentences."]
    return out + [""]


def _coverage_section(params: Params) -> list[str]:
    """Evaluative terms (data/lexicon/evaluative_terms.txt) in >= 5 corpus sentences: how many
    appear in a labelled sentence, and the ones that do not."""
    terms_file = params.paths.data / "lexicon" / "evaluative_terms.txt"
    out = ["### Vocabulary coverage", ""]
    if not terms_file.is_file() or not sentences_path(params).is_file():
        return out + ["(needs `data/lexicon/evaluative_terms.txt` and `ofsted-tagger data build`.)", ""]
    terms = [t.strip().lower() for t in terms_file.read_text(encoding="utf-8").splitlines()
             if t.strip() and not t.startswith("#")]
    word = re.compile(r"[a-z][a-z'-]*")
    corpus = collections.Counter()
    with sentences_path(params).open(encoding="utf-8") as fh:
        for line in fh:
            corpus.update(set(word.findall(json.loads(line)["text"].lower())))
    labelled_words = set()
    labelled_text = []
    for r in list(read_labels(labels_path(params))) + read_written(params):
        low = r.text.lower()
        labelled_words.update(word.findall(low))
        labelled_text.append(low)
    joined = "\n".join(labelled_text)
    frequent, uncovered = [], []
    for t in terms:
        if " " in t:  # phrases: counted in the labelled text only, frequency by their rarest word
            n = min(corpus.get(w, 0) for w in t.split())
            covered = t in joined
        else:
            n, covered = corpus.get(t, 0), t in labelled_words
        if n >= 5:
            frequent.append(t)
            if not covered:
                uncovered.append(t)
    out.append(f"{len(frequent)} evaluative words and phrases occur in at least 5 corpus sentences; "
               f"{len(frequent) - len(uncovered)} of them appear in labelled sentences. Not covered "
               f"({len(uncovered)}): " + (", ".join(uncovered) if uncovered else "none") + ".")
    return out + [""]


def _curve_section(params: Params) -> list[str]:
    path = params.paths.data / "learning_curve.json"
    if not path.is_file():
        return []
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    out = ["### Learning curve (`ofsted-tagger train --curve`)", "",
           "Dev figures in context (sections; themes also read the neighbours) and alone (as `predict --sentences`).", "",
           "| share of train | sentences | dev type macro-F1 | alone | dev theme micro-F1 | alone |",
           "|---|---|---|---|---|---|"]
    out += [f"| {r['fraction']:.0%} | {int(r['train_n'])} | {r['dev_type_macro_f1']:.3f} | "
            f"{r['dev_nosec_type_macro_f1']:.3f} | {r['dev_theme_micro_f1']:.3f} | "
            + (f"{r['dev_nosec_theme_micro_f1']:.3f} |" if "dev_nosec_theme_micro_f1" in r else "- |") for r in rows]
    return out + [""]


def review_section(primary: dict[str, tuple[str, str]], base: Path) -> list[str]:
    """The review of labels a cross-validated model disputed: second readings (``hand/review_*.csv``),
    third readings of the type disagreements (``hand/review3_*.csv``), and how many labels changed."""
    second = read_decision_files(base / "hand", "review_*.csv")
    third = read_decision_files(base / "hand", "review3_*.csv")
    ids = [i for i in second if i in primary]
    if not ids:
        return []
    split = [i for i in ids if second[i][0] != primary[i][0]]
    read3 = [i for i in split if i in third]
    changed = [i for i in read3 if third[i][0] == second[i][0]]
    return ["### Review of disputed labels", "",
            f"{len(ids)} train sentences whose label a 4-fold cross-validated model (folds by council) disagreed "
            f"with were read again blind (`hand/review_*.csv`). The second reading agreed with the first on "
            f"{len(ids) - len(split)} ({(len(ids) - len(split)) / len(ids):.1%}); the {len(split)} type "
            f"disagreements were read a third time, blind (`hand/review3_*.csv`: {len(read3)} read). Where the "
            f"third reading sided with the second, the label was changed to the majority (type and that reading's "
            f"themes, in `adjudicated.csv`): {len(changed)} labels ({len(changed) / len(ids):.1%} of those "
            "reviewed); otherwise the first reading stands.", ""]


THEME_REVIEW_NOTE = "theme review: majority of three readings"


def theme_review_readings(base: Path) -> dict[str, list[tuple[str, str]]]:
    """The train sentences of the review of disputed themes, each with its three readings (first first):
    the type review's sentences whose first two readings gave different theme sets, with their third
    reading (``hand/review3_*.csv`` or ``hand/threview3_*.csv``), and the sentences an out-of-fold model
    disputed, read twice more (``hand/threview_a_*.csv``, ``hand/threview_b_*.csv``)."""
    hand = base / "hand"
    first = read_decision_files(hand, "batch_*.csv")
    second = read_decision_files(hand, "review_*.csv")
    third = read_decision_files(hand, "review3_*.csv") | read_decision_files(hand, "threview3_*.csv")
    a, b = read_decision_files(hand, "threview_a_*.csv"), read_decision_files(hand, "threview_b_*.csv")
    double = read_decision_files(hand, "double*.csv")
    out: dict[str, list[tuple[str, str]]] = {}
    for i, r in first.items():
        if i in double:
            continue
        if i in second and i in third and set(parse_themes(r[1])) != set(parse_themes(second[i][1])):
            out[i] = [r, second[i], third[i]]
        elif i in a and i in b:
            out[i] = [r, a[i], b[i]]
    return out


def majority_of_three(readings: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """The label three readings ``(type, themes)`` decide: a theme is kept when two of them give it (at
    most three, the most-voted first, ties in reading order); the type changes only when the two later
    readings agree against the first (as in the review of disputed types)."""
    first_type, (t2, _), (t3, _) = readings[0][0], readings[1], readings[2]
    typ = t2 if t2 == t3 != first_type else first_type
    votes = collections.Counter(t for _, th in readings for t in set(parse_themes(th)))
    order = {t: k for k, t in reversed(list(enumerate(t for _, th in readings for t in parse_themes(th))))}
    kept = sorted((t for t, v in votes.items() if v >= 2), key=lambda t: (-votes[t], order[t]))
    return typ, kept[:3]


def theme_review_section(base: Path) -> list[str]:
    """The review of disputed themes for the data card: how many sentences, and what the vote changed."""
    readings = theme_review_readings(base)
    if not readings:
        return []
    second_look = read_decision_files(base / "hand", "threview_a_*.csv")
    oof = [i for i in readings if i in second_look]
    changed, added, removed = 0, collections.Counter(), collections.Counter()
    for rs in readings.values():
        _, kept = majority_of_three(rs)
        before = set(parse_themes(rs[0][1]))
        changed += set(kept) != before
        added.update(set(kept) - before)
        removed.update(before - set(kept))
    rows = [f"| {t} | {added[t]} | {removed[t]} |" for t in THEMES if added[t] or removed[t]]
    return ["### Review of disputed themes", "",
            f"{len(readings)} train sentences with three blind readings were put to a per-theme vote: "
            f"{len(readings) - len(oof)} of the review of disputed labels whose first two readings gave different "
            f"theme sets (third readings in `hand/review3_*.csv` and `hand/threview3_*.csv`), and {len(oof)} read "
            "once whose themes a 4-fold council-grouped out-of-fold model disputed most strongly, read twice more "
            "(`hand/threview_a_*.csv`, `hand/threview_b_*.csv`). A theme is kept when two of the three readings "
            "give it; the type changes only when both later readings agree against the first "
            f"(`scripts/theme_review.py`, decisions in `adjudicated.csv`). The vote changed the themes of "
            f"{changed} sentences ({changed / len(readings):.1%}):", "",
            "| theme | added | removed |", "|---|---|---|", *rows, ""]


def dev_reread_section(primary: dict[str, tuple[str, str]], base: Path) -> list[str]:
    """1,000 random dev sentences read twice more, blind (``hand/devreread_a_*.csv``, ``_b_*``): how
    closely readers agree on themes, and what a vote of three would change. Not applied: dev stays as
    first labelled, so its figures stay comparable across runs."""
    from sklearn.metrics import f1_score  # lazy, as in agreement()

    a = read_decision_files(base / "hand", "devreread_a_*.csv")
    b = read_decision_files(base / "hand", "devreread_b_*.csv")
    ids = sorted(i for i in a if i in b and i in primary)
    if not ids:
        return []

    def matrix(d: dict[str, tuple[str, str]]) -> list[list[bool]]:
        return [[t in parse_themes(d[i][1]) for t in THEMES] for i in ids]

    f1 = {name: f1_score(matrix(x), matrix(y), average="micro") for name, x, y in
          (("a-first", a, primary), ("b-first", b, primary), ("a-b", a, b))}
    changed = sum(set(majority_of_three([primary[i], a[i], b[i]])[1]) != set(parse_themes(primary[i][1])) for i in ids)
    density = {n: sum(len(parse_themes(d[i][1])) for i in ids) / len(ids) for n, d in (("first", primary), ("a", a), ("b", b))}
    return ["### Dev sentences read three times", "",
            f"{len(ids)} dev sentences drawn at random were read twice more, blind, by two other readers "
            "(`hand/devreread_a_*.csv`, `hand/devreread_b_*.csv`). Theme micro-F1 between readings: "
            f"{f1['a-first']:.3f} and {f1['b-first']:.3f} against the first reading, {f1['a-b']:.3f} between the two "
            f"new ones; themes a sentence {density['first']:.2f} / {density['a']:.2f} / {density['b']:.2f}; type "
            f"agreement {sum(a[i][0] == primary[i][0] for i in ids) / len(ids):.3f} and "
            f"{sum(b[i][0] == primary[i][0] for i in ids) / len(ids):.3f}. A vote of the three readings would change "
            f"the themes of {changed} ({changed / len(ids):.1%}). This is the ceiling readers set for theme "
            "micro-F1 (about 0.93); the labels of dev are left as first read, so its figures stay comparable.", ""]


def write_data_card(params: Params) -> Path:
    """Regenerate the figures section of data/README.md between its markers."""
    result = check_data(params)
    if result.errors:
        raise UserError(f"{labels_path(params)}: data check fails ({result.errors[0]}); fix the data first.")
    base = params.paths.data / "labels"
    primary = read_decision_files(base / "hand", "batch_*.csv")
    second: dict[str, tuple[str, str]] = {}
    parts = []
    for f in sorted((base / "hand").glob("double*.csv")):
        d = _read_decisions(f)
        second.update(d)
        a = agreement(primary, d)
        parts.append(f"`{f.name}` {a['n']} (type agreement {a['type_agreement']:.3f}, kappa {a['type_kappa']:.3f})")
    agree = agreement(primary, second) if second else {"n": 0}
    adjudicated = 0  # the double-labelling disagreements (the review's decisions are counted in their section)
    if (base / "adjudicated.csv").is_file():
        with (base / "adjudicated.csv").open(encoding="utf-8", newline="") as fh:
            adjudicated = sum(1 for r in csv.DictReader(fh)
                              if not (r.get("note") or "").startswith(("review", "theme review")))
    lines = ["<!-- figures: generated by `ofsted-tagger data card`; do not edit by hand -->", "", "### Counts", "", "```"]
    lines += result.report
    lines += ["```", ""] + _sources_section(params) + ["### Agreement (independent double labelling)", ""]
    if agree["n"]:
        lines.append(
            f"{agree['n']} sentences labelled independently by two readers of the codebook: type agreement "
            f"{agree['type_agreement']:.3f}, Cohen's kappa {agree['type_kappa']:.3f} ({'; '.join(parts)}). "
            f"The {adjudicated} disagreements (type or themes) were adjudicated by a third reading against the "
            "codebook (`adjudicated.csv`); the adjudicated label is the one in hand.csv. The figures compare the "
            "two independent readings, before adjudication."
        )
        lines += ["", "| theme | agreement | kappa | positive votes |", "|---|---|---|---|"]
        for t, v in agree["themes"].items():
            k = "n/a" if v["kappa"] != v["kappa"] else f"{v['kappa']:.3f}"
            lines.append(f"| {t} | {v['agreement']:.3f} | {k} | {v['positives']} |")
    lines += [""] + review_section(primary, base) + theme_review_section(base) + dev_reread_section(primary, base)
    lines += _coverage_section(params) + _curve_section(params)
    lines += ["### Weak labels", "", "```"] + weak_label_report(params) + ["```", ""]
    card = params.paths.data / "README.md"
    head = card.read_text(encoding="utf-8").split("<!-- figures:")[0] if card.is_file() else "# Data card\n\n"
    with atomic_write(card) as fh:
        fh.write(head + "\n".join(lines))
    return card
