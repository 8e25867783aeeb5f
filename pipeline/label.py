"""Label: the codebook's label set, the hand-label file, and weak labels.

- The label set (:data:`~pipeline.schema.TYPES`, :data:`~pipeline.schema.THEMES`) is in :mod:`pipeline.schema`.
- :class:`LabelRow` is one hand-labelled sentence; :func:`read_labels` /
  :func:`append_label` / :func:`rewrite_labels` are the only code that touches
  the label file (``data/labels/hand.csv``), and :func:`validate_row` the only
  code that says what a valid row is.
- Weak labels: labelling functions that read report structure (section
  headings, grades) and wording (cue phrases), combined by an
  accuracy-weighted vote with an abstain option (:func:`weak_label`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from pipeline.errors import UserError, atomic_write
from pipeline.schema import MAX_THEMES, THEMES, TYPES, section_leans

LABEL_FIELDS = ("id", "report", "section", "text", "type", "themes", "source")
ABSTAIN = None


@dataclass(frozen=True)
class LabelRow:
    """One hand-labelled sentence: exactly one type and 0-3 themes."""

    id: str
    report: str
    section: str
    text: str
    type: str
    themes: tuple[str, ...] = field(default_factory=tuple)
    source: str = ""

    def as_csv(self) -> dict[str, str]:
        return {
            "id": self.id,
            "report": self.report,
            "section": self.section,
            "text": self.text,
            "type": self.type,
            "themes": ";".join(self.themes),
            "source": self.source,
        }


def parse_themes(raw: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in (raw or "").split(";") if t.strip())


def validate_row(raw: dict[str, str]) -> str | None:
    """What is wrong with a raw label row, or None if it is valid."""
    missing = [f for f in LABEL_FIELDS if f not in raw or raw[f] is None]
    if missing:
        return f"missing column(s) {', '.join(missing)}"
    if not raw["id"].strip():
        return "empty id"
    if not raw["text"].strip():
        return "empty text"
    if raw["type"] not in TYPES:
        return f"type '{raw['type']}' is not one of {', '.join(TYPES)}"
    themes = parse_themes(raw["themes"])
    bad = [t for t in themes if t not in THEMES]
    if bad:
        return f"theme '{bad[0]}' is not in the codebook"
    if len(themes) > MAX_THEMES:
        return f"{len(themes)} themes; the codebook allows at most {MAX_THEMES}"
    if len(set(themes)) != len(themes):
        return "a theme is repeated"
    return None


def read_labels(path: Path, strict: bool = True) -> list[LabelRow]:
    """Read a label CSV; with ``strict`` the first bad row raises a UserError naming file and line."""
    if not path.is_file():
        raise UserError(f"{path}: label file not found; check paths.data in params.yaml.")
    rows: list[LabelRow] = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        if [h for h in LABEL_FIELDS if h not in header]:
            raise UserError(f"{path}:1: header must be {','.join(LABEL_FIELDS)}; fix the header line.")
        for line_no, raw in enumerate(reader, start=2):
            problem = validate_row(raw)
            if problem:
                if strict:
                    raise UserError(f"{path}:{line_no}: {problem}; fix or remove that row.")
                continue
            rows.append(
                LabelRow(raw["id"], raw["report"], raw["section"], raw["text"], raw["type"],
                         parse_themes(raw["themes"]), raw.get("source", ""))
            )
    return rows


def rewrite_labels(path: Path, rows: Iterable[LabelRow]) -> None:
    """Write the whole label file atomically (used by undo and merges)."""
    with atomic_write(path) as fh:
        w = csv.DictWriter(fh, fieldnames=LABEL_FIELDS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(r.as_csv())


def append_label(path: Path, row: LabelRow) -> None:
    """Append one row and flush it to disk, creating the file with a header if needed."""
    problem = validate_row(row.as_csv())
    if problem:
        raise UserError(f"{path}: refusing to write a bad label ({problem}).")
    new = not path.exists() or path.stat().st_size == 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=LABEL_FIELDS, lineterminator="\n")
        if new:
            w.writeheader()
        w.writerow(row.as_csv())
        fh.flush()
        os.fsync(fh.fileno())


# --------------------------------------------------------------------------- #
# Weak labels
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Unit:
    """What a labelling function sees: the sentence and where it sits."""

    text: str
    section: str = ""
    grade: str | None = None
    kind: str = "sentence"


LabellingFunction = Callable[[Unit], str | None]

_WEAK_CUES = re.compile(
    r"(?i)\bnot (?:always|consistently|yet|sufficiently|all|routinely|fully|well enough|effective)\b|\btoo (?:many|few|long|slow|often|much|late)\b"
    r"|\binconsisten|\bdelay|\bdrift\b|\bpoor\b|\bweak(?:ness|nesses)?\b|\black(?:s|ing)?\b|\binsufficient|\bvariable\b"
    r"|\bdoes not\b|\bdo not\b|\bhave not\b|\bhas not\b|\bdeclin|\bdeteriorat|\bunclear\b|\blimited\b|\bshortfall"
    r"|\bgaps?\b|\bmissed\b|\bfail(?:s|ed|ure)?\b|\bineffective|\bunder-?developed|\bsome children\b|\ba small number\b"
    r"|\bfragile\b|\bless effective\b|\binadequate\b|\bnot been\b|\btoo early\b|\brecognise(?:s)? that\b"
)
_STRONG_CUES = re.compile(
    r"(?i)\beffective(?:ly)?\b|\bwell[- ](?:supported|understood|established|managed|coordinated)\b|\btimely\b|\bstrong(?:ly)?\b"
    r"|\brobust(?:ly)?\b|\bgood[- ]quality\b|\bhigh[- ]quality\b|\bhas improved\b|\bhave improved\b|\bimpressive\b|\bstrength\b"
    r"|\bthorough\b|\bappropriate(?:ly)?\b|\bskilled\b|\bcommitted\b|\bbenefit(?:s)? from\b|\bpositive\b|\bexcellent\b|\bwell\b"
)
_PRESCRIPTIVE = re.compile(
    r"(?i)^(?:ensure|improve|develop|strengthen|review|increase|reduce|establish|make sure)\b|\bshould (?:ensure|improve|develop|be)\b"
    r"|^(?:the )?local authority (?:should|must|needs to)|\bOfsted recommends\b|^(?:the )?(?:quality|timeliness|effectiveness|consistency|"
    r"recording|oversight|use|response|arrangements|sufficiency|availability|take-up|impact|application) (?:of|for|to)\b"
)
_NEUTRAL_CUES = re.compile(
    r"(?i)^inspectors? (?:visited|looked|considered|spoke|reviewed|met|evaluated|also)|^lead inspector|^inspection dates?"
    r"|^this (?:visit|inspection) was|\b(?:said|says|added|welcomed|pledged|thanked|commented)\b|^(?:the )?(?:cabinet member|council leader|"
    r"director of children[’']s services) said|^tel:|contact us|cookie|^read more|\bcopyright\b|^\d{1,2} \w+ \d{4}$"
)


def lf_improvement_section(u: Unit) -> str | None:
    """Items under "What needs to improve?", "Areas for improvement", "Recommendations" are recommendations."""
    if u.kind != "heading" and section_leans(u.section, "recommendation"):
        return "recommendation"
    return ABSTAIN


def lf_heading(u: Unit) -> str | None:
    """Headings and table cells are neutral."""
    return "neutral" if u.kind == "heading" else ABSTAIN


def lf_strengths_section(u: Unit) -> str | None:
    """Sentences under "The local authority's strengths" lean strength."""
    return "strength" if section_leans(u.section, "strength") and u.kind != "heading" else ABSTAIN


def lf_section_grade(u: Unit) -> str | None:
    """A section judged outstanding leans strength; inadequate leans weakness."""
    if u.kind == "heading" or section_leans(u.section, "recommendation"):
        return ABSTAIN
    if u.grade == "outstanding":
        return "strength"
    if u.grade == "inadequate":
        return "weakness"
    return ABSTAIN


def lf_weakness_cues(u: Unit) -> str | None:
    """Partial qualifiers and shortfall words ("not always", "too many", "delay")."""
    return "weakness" if u.kind != "heading" and _WEAK_CUES.search(u.text) else ABSTAIN


def lf_strength_cues(u: Unit) -> str | None:
    """Praise words ("effective", "timely", "robust") with no shortfall word."""
    if u.kind == "heading" or _WEAK_CUES.search(u.text):
        return ABSTAIN
    return "strength" if _STRONG_CUES.search(u.text) else ABSTAIN


def lf_concession(u: Unit) -> str | None:
    """A concession then a shortfall in the main clause: "Although X is good, it does not ..." -> weakness;
    a concession holding the shortfall: "While some plans lack detail, most children are well supported" -> strength."""
    m = re.match(r"(?i)^(?:although|while|whilst|despite|even though)\b([^,]*),(.*)$", u.text)
    if not m:
        return ABSTAIN
    sub, main = m.group(1), m.group(2)
    if _WEAK_CUES.search(main):
        return "weakness"
    if _WEAK_CUES.search(sub) and _STRONG_CUES.search(main):
        return "strength"
    return ABSTAIN


def lf_but_clause(u: Unit) -> str | None:
    """"X is good, but Y is poor": the clause after but/however wins."""
    m = re.search(r"(?i)[,;]\s*(?:but|however)\b(.*)$", u.text)
    if not m:
        return ABSTAIN
    return "weakness" if _WEAK_CUES.search(m.group(1)) else ABSTAIN


def lf_prescriptive(u: Unit) -> str | None:
    """Normative wording ("Ensure that", "should", "Ofsted recommends") is a recommendation."""
    return "recommendation" if u.kind != "heading" and _PRESCRIPTIVE.search(u.text) else ABSTAIN


def lf_neutral_cues(u: Unit) -> str | None:
    """Procedure, officials' reactions, contact details and footers are neutral."""
    return "neutral" if _NEUTRAL_CUES.search(u.text) else ABSTAIN


LABELLING_FUNCTIONS: tuple[LabellingFunction, ...] = (
    lf_improvement_section,
    lf_heading,
    lf_strengths_section,
    lf_section_grade,
    lf_weakness_cues,
    lf_strength_cues,
    lf_concession,
    lf_but_clause,
    lf_prescriptive,
    lf_neutral_cues,
)


@dataclass(frozen=True)
class LFStats:
    name: str
    coverage: float
    accuracy: float
    fired: int


def lf_stats(units: list[Unit], gold: list[str]) -> list[LFStats]:
    """Coverage and accuracy of every labelling function against hand labels."""
    out = []
    for lf in LABELLING_FUNCTIONS:
        votes = [(lf(u), g) for u, g in zip(units, gold)]
        fired = [(v, g) for v, g in votes if v is not ABSTAIN]
        acc = sum(v == g for v, g in fired) / len(fired) if fired else 0.0
        out.append(LFStats(lf.__name__, len(fired) / max(1, len(units)), acc, len(fired)))
    return out


def lf_weights(stats: list[LFStats]) -> dict[str, float]:
    """Log-odds weights from measured accuracies (clipped), for the weighted vote."""
    w = {}
    for s in stats:
        acc = min(max(s.accuracy, 0.26), 0.99)
        w[s.name] = math.log(acc / (1 - acc)) if s.fired else 0.0
    return w


DEFAULT_WEIGHTS: dict[str, float] = {lf.__name__: 1.0 for lf in LABELLING_FUNCTIONS}


def weak_label(u: Unit, weights: dict[str, float] | None = None) -> tuple[str | None, float]:
    """Combine the labelling functions by weighted vote; (None, 0.0) when all abstain.

    Returns the label and its share of the positive vote weight (0-1), a rough confidence.
    """
    weights = weights or DEFAULT_WEIGHTS
    score: dict[str, float] = {}
    for lf in LABELLING_FUNCTIONS:
        v = lf(u)
        if v is not ABSTAIN:
            score[v] = score.get(v, 0.0) + max(weights.get(lf.__name__, 0.0), 0.0)
    total = sum(score.values())
    if not score or total <= 0:
        return ABSTAIN, 0.0
    best = max(sorted(score), key=lambda k: score[k])
    return best, score[best] / total


def read_eval_file(path: Path) -> list[LabelRow]:
    """A labelled evaluation file (CSV or JSONL): ``text``, ``type``, ``themes`` (list or ';'-joined),
    optional ``section``, ``report``, ``id``. Bad rows raise a UserError naming file and line."""
    if not path.is_file():
        raise UserError(f"{path}: no such file; give a labelled CSV or JSONL.")
    raws: list[tuple[int, dict]] = []
    try:
        if path.suffix.lower() in (".jsonl", ".json"):
            with path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, start=1):
                    if line.strip():
                        try:
                            raw = json.loads(line)
                        except (json.JSONDecodeError, RecursionError):
                            raise UserError(f"{path}:{n}: not valid JSON; fix that line.")
                        if not isinstance(raw, dict):
                            raise UserError(f"{path}:{n}: a JSON {type(raw).__name__}, not an object; each line must be "
                                            '{"text": ..., "type": ..., "themes": [...]}.')
                        raws.append((n, raw))
        else:
            with path.open(encoding="utf-8", newline="") as fh:
                raws = list(enumerate(csv.DictReader(fh), start=2))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text; convert it to UTF-8 and retry.")
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV ({exc}); check the file.")
    rows = []
    for n, raw in raws:
        themes = raw.get("themes") or ""
        if isinstance(themes, list):
            themes = ";".join(str(t) for t in themes)
        elif not isinstance(themes, str):
            raise UserError(f"{path}:{n}: 'themes' must be a list or a ';'-separated string; fix that row.")
        rec = {"id": str(raw.get("id") or n), "report": str(raw.get("report") or path.stem),
               "section": str(raw.get("section") or ""), "text": str(raw.get("text") or ""),
               "type": str(raw.get("type") or ""), "themes": themes, "source": path.name}
        problem = validate_row(rec)
        if problem:
            raise UserError(f"{path}:{n}: {problem}; fix or remove that row.")
        rows.append(LabelRow(rec["id"], rec["report"], rec["section"], rec["text"], rec["type"],
                             parse_themes(rec["themes"]), rec["source"]))
    if not rows:
        raise UserError(f"{path}: no labelled rows; expected columns text,type,themes.")
    return rows
