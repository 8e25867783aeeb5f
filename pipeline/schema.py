"""Schema: the words every stage shares — labels, records, report sections and grades.

Nothing here depends on another module of the package; everything else may depend
on this.

- :data:`TYPES`, :data:`THEMES`, :data:`MAX_THEMES`: the label set of
  ``shared/spec/codebook.md``; :func:`theme_matrix` encodes themes as a 0/1 matrix;
  :data:`THEME_NAMES` (:func:`theme_name`), :data:`TYPE_NAMES`, :data:`JUDGEMENT_NAMES` and
  :data:`GRADE_NAMES` are what people read instead of the keys.
- :class:`Sentence`: one unit to tag (what segmentation produces).
- :data:`RECORD`: the output record, column by column (one tagged sentence). The
  JSONL, CSV and XLSX writers, the archive's parquet, the API's response model and
  Spark's schema are generated from it (:func:`flat_columns`, :func:`flat_record`).
- Report sections and grades, in one place: the headings Ofsted uses
  (:data:`HEADING_RE`), the kinds of section (:data:`SECTION_KINDS`: model feature,
  judgement graded there, type its sentences lean to) and the grade words
  (:func:`parse_grade`, :func:`normalise_grade`, :data:`GRADE_SCORE`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

# --------------------------------------------------------------------------- #
# Labels (codebook)
# --------------------------------------------------------------------------- #
TYPES: tuple[str, ...] = ("strength", "weakness", "recommendation", "neutral")
THEMES: tuple[str, ...] = (
    "leadership_governance",
    "performance_quality_assurance",
    "workforce",
    "management_oversight",
    "front_door",
    "early_help",
    "assessment_planning",
    "child_protection",
    "domestic_abuse_neglect",
    "missing_exploitation",
    "disabled_children",
    "children_in_care",
    "fostering_adoption",
    "care_leavers",
    "partnership",
    "voice_of_child",
    "allegations",
    "vulnerable_groups",
)
MAX_THEMES = 3
# What a person reads: the one table of display names (pages, workbooks, terminal tables, plans: outputs for
# people use these, never the keys; the keys stay in data columns)
THEME_NAMES: dict[str, str] = {
    "leadership_governance": "Leadership and governance",
    "performance_quality_assurance": "Performance and quality assurance",
    "workforce": "Workforce",
    "management_oversight": "Management oversight",
    "front_door": "Front door / MASH",
    "early_help": "Early help",
    "assessment_planning": "Assessment and planning",
    "child_protection": "Child protection",
    "domestic_abuse_neglect": "Domestic abuse and neglect",
    "missing_exploitation": "Missing children and exploitation",
    "disabled_children": "Disabled children",
    "children_in_care": "Children in care",
    "fostering_adoption": "Fostering and adoption",
    "care_leavers": "Care leavers",
    "partnership": "Partnership working",
    "voice_of_child": "Voice of the child",
    "allegations": "Allegations against adults (LADO)",
    "vulnerable_groups": "Vulnerable groups",
}
TYPE_NAMES: dict[str, str] = {"strength": "Strength", "weakness": "Weakness", "recommendation": "Recommendation",
                              "neutral": "Neutral"}


def theme_name(theme: str) -> str:
    """A theme's display name ("front_door" -> "Front door / MASH"); an unknown key is shown as it is."""
    return THEME_NAMES.get(theme, theme)


def theme_matrix(themes: Sequence[Sequence[str]]) -> np.ndarray:
    """Themes per sentence as an n x 18 0/1 matrix, columns in THEMES order."""
    m = np.zeros((len(themes), len(THEMES)), dtype=int)
    index = {t: i for i, t in enumerate(THEMES)}
    for r, ts in enumerate(themes):
        for t in ts:
            m[r, index[t]] = 1
    return m


# --------------------------------------------------------------------------- #
# Records
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Sentence:
    """One unit to tag: a sentence, bullet item or heading of a report."""

    report: str
    index: int
    start: int
    end: int
    section: str
    grade: str | None
    text: str
    kind: str = "sentence"  # sentence | bullet | heading
    page: int | None = None  # 1-based page of the PDF the unit starts on; None for other inputs

    def to_dict(self) -> dict:
        return asdict(self)


_REQUIRED = object()


@dataclass(frozen=True)
class Column:
    """One field of the output record."""

    name: str
    type: Any  # the Python type of the value (used for the API's model and Spark's schema)
    doc: str
    flat: bool = True  # in the flat tables (csv, xlsx); lists are ';'-joined there
    archive: bool = True  # in analyse's sentences.parquet (lists kept as lists)
    labels: tuple[str, ...] = ()  # a dict of scores: spread into one p_<label> column per label
    default: Any = _REQUIRED  # what a record read back without this field gets


SENTENCE_COLUMNS: tuple[Column, ...] = (
    Column("report", str, "report id (file name without suffix, or the name given)"),
    Column("index", int, "position of the unit in its report, from 0"),
    Column("start", int, "character offset of the unit in the cleaned report text", flat=False, archive=False),
    Column("end", int, "end offset (exclusive)", flat=False, archive=False),
    Column("page", int | None, "1-based page of the PDF the unit starts on (null for text, HTML and DOCX)", default=None),
    Column("section", str, "the section heading the unit sits under ('' if none)", default=""),
    Column("grade", str | None, "the judgement grade the section heading states, if any", default=None),
    Column("kind", str, "sentence | bullet | heading", flat=False, default=""),
    Column("text", str, "the unit's text"),
)
SCORE_COLUMNS: tuple[Column, ...] = (
    Column("type", str, "predicted type: one of " + ", ".join(TYPES)),
    Column("confidence", float, "probability of the predicted type"),
    Column("type_scores", dict[str, float], "probability of each type", labels=TYPES),
    Column("themes", list[str], f"predicted themes, at most {MAX_THEMES}, highest score first"),
    Column("theme_scores", dict[str, float], "probability of each theme", labels=THEMES),
    Column("evidence", list[str], "the words that weighed most for the predicted type", default=[]),
)
RECORD: tuple[Column, ...] = SENTENCE_COLUMNS + SCORE_COLUMNS

# the segment command's output and the Spark engine's sentence rows
SENTENCE_FIELDS: tuple[str, ...] = tuple(c.name for c in SENTENCE_COLUMNS)


def flat_columns(archive: bool = False) -> list[str]:
    """Column names of the flat table: the record's plain columns, then one p_<label> per score."""
    keep = [c for c in RECORD if (c.archive if archive else c.flat)]
    return [c.name for c in keep if not c.labels] + [f"p_{lab}" for c in keep for lab in c.labels]


def flat_record(r: Mapping[str, Any], archive: bool = False) -> dict[str, Any]:
    """One record as a flat row (csv, xlsx; with ``archive`` the parquet row, lists kept)."""
    keep = [c for c in RECORD if (c.archive if archive else c.flat)]
    out: dict[str, Any] = {}
    for c in keep:
        if c.labels:
            continue
        v = r[c.name] if c.default is _REQUIRED else r.get(c.name, c.default)
        if isinstance(v, (list, tuple)):
            v = list(v) if archive else ";".join(v)
        out[c.name] = v
    for c in keep:
        for lab in c.labels:
            out[f"p_{lab}"] = r[c.name][lab]
    return out


def fill_defaults(r: dict[str, Any]) -> dict[str, Any]:
    """A record read back with its optional fields (section, grade, kind, evidence) filled in."""
    for c in RECORD:
        if c.name not in r and c.default is not _REQUIRED:
            r[c.name] = list(c.default) if isinstance(c.default, list) else c.default
    return r


# --------------------------------------------------------------------------- #
# Report sections and grades: the one table
# --------------------------------------------------------------------------- #
# Section headings of Ofsted reports (all frameworks since 2013); a line that starts
# one of these always starts a new block (ingest), and segmentation attaches the
# sentences under it to the heading.
# ": good", ": requires improvement to be good": once "(?::\s*[A-Za-z ]+)?", whose runs all share the
# blank (cubic on a heading followed by thousands of blanks); the same strings, read once: a colon, a
# check that a letter or space follows the blanks, the blanks, then letters and spaces.
_GRADE_WORDS_AFTER_COLON = r"(?::(?=\s*[A-Za-z ])\s*+[A-Za-z ]*+)?"
HEADING_PATTERNS: tuple[str, ...] = (
    r"What (?:needs|does the local authority need) to improve(?: in this area of social work practice)?\??",
    r"What needs to (?:happen|improve) next\??",
    r"Areas? for (?:improvement|priority action|development)",
    r"Priority and immediate action",
    r"Recommendations?",
    r"(?:The )?local authority[’']s strengths",
    r"Strengths",
    r"(?:Executive )?[Ss]ummary(?: of findings)?",
    r"Section \d++: .{3,100}+",
    r"(?:Headline|Main|Inspection|Key) findings",
    r"Findings(?: and evaluation of progress)?",
    r"Evaluation of progress",
    r"Overview",
    r"Information about this (?:inspection|local authority area|visit)",
    r"Inspection judgements about the local authority",
    r"The experiences and progress of (?:children who need help and protection|children in care(?: and care leavers)?"
    r"|care leavers)" + _GRADE_WORDS_AFTER_COLON,
    r"The impact of leaders on social work practice with children and families" + _GRADE_WORDS_AFTER_COLON,
    r"(?:\d\.(?:\d\s)?\s*+)?(?:Children who need help and protection|Children looked after and achieving permanence"
    r"|Leadership,? management and governance|Adoption performance|Experiences and progress of care leavers)"
    r"(?:\s++(?:Good|Outstanding|Inadequate|Requires improvement(?: to be good)?))?",
    r"Overall effectiveness(?::?(?=\s*[A-Za-z ])\s*+[A-Za-z ]*+)?",  # the colon optional here
)
# Every pattern above ends where "\s*$" must follow, so its last run may be possessive (a
# shorter run leaves only blanks, which "\s*$" takes just the same).
HEADING_RE = re.compile(r"^\s*+(?:" + "|".join(HEADING_PATTERNS) + r")\s*+$", re.I)
# the start of a heading that may run on over several layout lines
HEADING_START_RE = re.compile(
    r"^\s*+(?:What needs to improve|What does the local authority need|Areas? for (?:improvement|priority)"
    r"|Recommendations\s*+$|The experiences and progress of|The impact of leaders on social work practice"
    r"|The local authority[’']s strengths)",
    re.I,
)

@dataclass(frozen=True)
class SectionKind:
    """A kind of report section, and how a section heading is recognised as one for each use.

    ``pattern`` names the kind for the model's section feature (broad: measured on dev);
    ``judgement_pattern`` is stricter (only the heading of that Ofsted judgement, so that
    "children in care and care leavers" does not take the care leavers' grade);
    ``leans_pattern`` is what the weak labelling functions trust (narrow: measured accuracy).
    """

    name: str
    pattern: str
    judgement: str | None = None
    judgement_pattern: str | None = None
    leans: str | None = None
    leans_pattern: str | None = None


# first kind whose pattern matches wins (case-insensitive search)
SECTION_KINDS: tuple[SectionKind, ...] = (
    SectionKind("improve", r"what (?:needs|does the local authority need) to improve|areas? for (?:improvement|priority)"
                           r"|recommendation|priority and immediate action|should focus on|next steps",
                leans="recommendation",
                leans_pattern=r"what (?:needs|does the local authority need) to improve"
                              r"|areas? for (?:improvement|priority action)|^recommendations?$"
                              r"|priority and immediate action|should focus on"),
    SectionKind("strengths", r"strengths", leans="strength", leans_pattern=r"local authority[’']s strengths|^strengths$"),
    SectionKind("help_protection", r"help and protection",
                judgement="help_and_protection", judgement_pattern=r"help and protection"),
    SectionKind("care_leavers", r"care leavers", judgement="care_leavers",
                judgement_pattern=r"^(?:the )?(?:\d\.\d\s+)?experiences and progress of care leavers"),
    SectionKind("in_care", r"children in care|looked after|permanence|adoption", judgement="children_in_care",
                judgement_pattern=r"children in care|looked after and achieving permanence"),
    SectionKind("leaders", r"leaders|leadership|management and governance|safeguarding children board|lscb",
                judgement="impact_of_leaders",
                judgement_pattern=r"impact of leaders|leadership,? management and governance"),
    SectionKind("overall", r"overall|summary|findings|overview|headline|evaluation of progress",
                judgement="overall_effectiveness", judgement_pattern=r"^overall effectiveness|^the overall judgement"),
    SectionKind("info", r"information about|judgements mean|about this inspection|contents|inspection team"),
)
# Ofsted's judgements, in the order of the output columns
JUDGEMENTS: tuple[str, ...] = ("overall_effectiveness", "impact_of_leaders", "help_and_protection", "children_in_care",
                               "care_leavers")
JUDGEMENT_NAMES: dict[str, str] = {
    "overall_effectiveness": "Overall effectiveness",
    "impact_of_leaders": "Impact of leaders",
    "help_and_protection": "Help and protection",
    "children_in_care": "Children in care",
    "care_leavers": "Care leavers",
}

_KIND_RES = tuple((k.name, re.compile(k.pattern, re.I)) for k in SECTION_KINDS)
_JUDGEMENT_RES = tuple((k.judgement, re.compile(k.judgement_pattern, re.I)) for k in SECTION_KINDS if k.judgement_pattern)
_LEANS_RES = tuple((k.leans, re.compile(k.leans_pattern, re.I)) for k in SECTION_KINDS if k.leans_pattern)


def section_kind(section: str) -> str:
    """The kind of a section heading: a SECTION_KINDS name, 'other', or 'none' for no section."""
    return next((k for k, rx in _KIND_RES if rx.search(section or "")), "other" if section else "none")


def judgement_of_section(section: str) -> str | None:
    """The Ofsted judgement (a JUDGEMENTS key) graded in this section, if any."""
    return next((j for j, rx in _JUDGEMENT_RES if rx.search(section or "")), None)


def section_leans(section: str, type_: str) -> bool:
    """Do the sentences of this section lean to ``type_`` (weak labels)?"""
    return any(t == type_ and rx.search(section or "") for t, rx in _LEANS_RES)


# Grades, worst to best
GRADE_SCORE = {"inadequate": 1, "requires_improvement": 2, "good": 3, "outstanding": 4}
GRADE_NAMES: dict[str, str] = {"inadequate": "Inadequate", "requires_improvement": "Requires improvement to be good",
                               "good": "Good", "outstanding": "Outstanding"}
# searched: a run of blanks is entered only at its start ("\s+" tried from every blank of a
# long run is quadratic); the leftmost match starts there anyway, so the grade is the same.
GRADE_TAIL = re.compile(
    r"(?::\s*+|(?<!\s)\s++)(requires? improvement(?: to be good)?|outstanding|good|inadequate)\s*+$", re.I
)
GRADE_ONLY = re.compile(r"^\s*+(?:outstanding|good|inadequate|requires improvement(?: to be good)?)\s*+$", re.I)
# a judgement row: text ending in a capitalised grade after a colon or space, as in Ofsted's tables
# ("Children who need help and protection Inadequate"); short texts only (callers check length)
GRADE_ROW = re.compile(r"(?::|\s)\s*+(?:Outstanding|Good|Inadequate|Requires improvement(?: to be good)?)\s*+$")


def parse_grade(heading: str) -> str | None:
    """The judgement grade a heading states ("...care leavers: good" -> "good"), else None."""
    m = GRADE_TAIL.search(heading)
    if not m:
        return None
    g = m.group(1).lower()
    return "requires_improvement" if g.startswith("require") else g


def normalise_grade(raw: str | None) -> str | None:
    """A grade as written in a table or CSV ("Requires improvement to be good") -> a GRADE_SCORE key, else None."""
    g = (raw or "").strip().lower().replace("_", " ")
    if g.startswith("require"):
        return "requires_improvement"
    return g if g in GRADE_SCORE else None
