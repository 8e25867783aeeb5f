"""Neighbours: councils joined with ``la_lookup.csv``, and compared with their statistical neighbours and region.

- :func:`read_lookup` reads the lookup (one row per council: Ofsted URN, old and new LA
  codes, region, LA type, the DfE's ten statistical neighbours) into a :class:`Lookup`;
  a bad file is one :class:`~pipeline.errors.UserError` naming it.
- :func:`match_councils` finds each council of the input in it: by Ofsted URN where the
  report metadata gives one, else by name after :func:`normalise_council` (compared
  with the lookup's ONS name, its other names and its local-authority names). Councils
  found nowhere are returned, never dropped silently.
- :func:`benchmark` compares each matched council's theme profile in its latest full
  inspection (weakness share and net score per theme) with the mean of its statistical
  neighbours' and its region's latest inspections in the input, and ranks it among its
  neighbours (1 = highest net score).
- :func:`benchmark_rows`, :func:`neighbours_section`: the workbook's rows and the
  dashboard's section.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any, Mapping, Sequence

from pipeline.data import ReportMeta
from pipeline.report import esc
from pipeline.errors import UserError
from pipeline.schema import THEME_NAMES, THEMES

LOOKUP_COLUMNS = ("urn", "la_code", "la_code_new", "local_authority_ons_name", "region_name", "ons_la_type",
                  "stat_neighbours")
# other names of a council in the lookup, matched as well as its ONS name
_NAME_COLUMNS = ("local_authority_ons_name", "ltla23nm", "utla23nm")

# Name normalisation, in this order: lower case; '&' -> 'and'; "st." / "saint" -> "st"; every
# character that is not a letter or digit -> a space; the words of _NOISE dropped; spaces collapsed.
# "Bristol, City of" -> "bristol"; "Kingston Upon Hull, City of" -> "kingston upon hull";
# "London Borough of Barking & Dagenham" -> "barking and dagenham"; "County Durham" -> "durham";
# "Bedford Borough" -> "bedford"; "Southend-on-Sea" -> "southend on sea"; "St. Helens" -> "st helens".
_NOISE = re.compile(
    r"\b(?:the|london borough of|royal borough of|metropolitan borough of|city of|county of|borough of|"
    r"metropolitan district|metropolitan borough|metropolitan|borough|city|county|district|council|"
    r"unitary authority|local authority)\b"
)

# Short forms the reports use, after normalisation -> the lookup's normalised name
ALIASES = {
    "london corporation": "london",  # City of London
    "corporation of london": "london",
    "east riding": "east riding of yorkshire",
    "newcastle": "newcastle upon tyne",
    "hull": "kingston upon hull",
    "bcp": "bournemouth christchurch and poole",
}


def normalise_council(name: str) -> str:
    """A council's name reduced for matching across sources (see the rules above), short forms expanded."""
    s = (name or "").lower().replace("&", " and ").replace("’", "'")
    s = re.sub(r"\b(?:st\.|saint)\s*", "st ", s)
    s = re.sub(r"[^a-z0-9]+", " ", s)
    s = " ".join(_NOISE.sub(" ", s).split())
    return ALIASES.get(s, s)


@dataclass(frozen=True)
class LA:
    """A council in the lookup."""

    la_code: str  # old three-digit DfE code, e.g. 302
    la_code_new: str  # ONS code, e.g. E09000003
    name: str
    urn: str
    region: str
    la_type: str
    neighbours: tuple[str, ...]  # statistical neighbours' old codes, closest first


@dataclass(frozen=True)
class Lookup:
    path: Path
    las: tuple[LA, ...]
    by_code: dict[str, LA]
    by_urn: dict[str, LA]
    by_name: dict[str, LA]  # normalised name -> council (names two councils share are left out)

    def match(self, council: str, urn: str = "") -> LA | None:
        """The council with this Ofsted URN, else this name (or old/new LA code), else None."""
        if urn and urn in self.by_urn:
            return self.by_urn[urn]
        key = (council or "").strip()
        return self.by_code.get(key) or self.by_code.get(key.upper()) or self.by_name.get(normalise_council(key))


def _codes(raw: str) -> tuple[str, ...]:
    return tuple(c for c in re.split(r"[\s,;]+", raw or "") if c)


def read_lookup(path: Path) -> Lookup:
    """Read ``la_lookup.csv``; every problem is one UserError naming the file and what to do."""
    hint = "give a CSV like shared/corpus/la_lookup.csv (paths.la_lookup in params.yaml, or --lookup)"
    if not path.is_file():
        raise UserError(f"{path}: council lookup not found; {hint}.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text; {hint}.")
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror}); {hint}.")
    try:
        reader = csv.DictReader(text.splitlines())
        header = reader.fieldnames or []
        missing = [c for c in LOOKUP_COLUMNS if c not in header]
        if missing:
            raise UserError(f"{path}:1: missing column(s) {', '.join(missing)}; {hint}.")
        las, names, by_code, by_urn = [], {}, {}, {}
        for n, r in enumerate(reader, start=2):
            code, name = (r.get("la_code") or "").strip(), (r.get("local_authority_ons_name") or "").strip()
            if not code or not name:
                raise UserError(f"{path}:{n}: a row without la_code or local_authority_ons_name; fix the row, "
                                "or give another lookup with --lookup.")
            if code in by_code:
                raise UserError(f"{path}:{n}: la_code {code} appears twice; keep one row per council, "
                                "or give another lookup with --lookup.")
            la = LA(code, (r.get("la_code_new") or "").strip(), name, (r.get("urn") or "").strip(),
                    (r.get("region_name") or "").strip(), (r.get("ons_la_type") or "").strip(),
                    _codes(r.get("stat_neighbours") or ""))
            las.append(la)
            by_code[code] = la
            if la.la_code_new:
                by_code[la.la_code_new] = la
            if la.urn:
                by_urn[la.urn] = la
            aka = re.findall(r"[^\[\],]+(?:,\s*City of)?", r.get("also_known_as") or "")
            for alias in [r.get(c) or "" for c in _NAME_COLUMNS] + aka:
                key = normalise_council(alias)
                if key:
                    names.setdefault(key, set()).add(code)
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV ({exc}); {hint}.")
    if not las:
        raise UserError(f"{path}: no councils in the file; {hint}.")
    by_name = {k: by_code[next(iter(v))] for k, v in names.items() if len(v) == 1}
    return Lookup(path, tuple(las), by_code, by_urn, by_name)


def match_councils(metas: Mapping[str, ReportMeta], lookup: Lookup) -> tuple[dict[str, LA], list[str]]:
    """Council name (as in the report rows) -> its lookup entry, and the councils that could not be matched."""
    found: dict[str, LA] = {}
    seen = set()
    for m in metas.values():
        seen.add(m.council)
        if m.council not in found:
            la = lookup.match(m.council, m.urn)
            if la:
                found[m.council] = la
    return found, sorted(c for c in seen if c not in found)


LOOKUP_FIELDS = ("la_code", "la_code_new", "region", "la_type")


def join_rows(rows: Sequence[dict[str, Any]], matched: Mapping[str, LA]) -> list[dict[str, Any]]:
    """Report rows with the council's codes, region and LA type after ``council`` (blank if unmatched)."""
    out = []
    for r in rows:
        la = matched.get(r["council"])
        extra = dict(zip(LOOKUP_FIELDS, (la.la_code, la.la_code_new, la.region, la.la_type) if la else ("",) * 4))
        new: dict[str, Any] = {}
        for k, v in r.items():
            new[k] = v
            if k == "council":
                new.update(extra)
        out.append(new)
    return out


# --------------------------------------------------------------------------- #
# Comparison with neighbours and region
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Profile:
    """A report's theme profile: weakness share and net score per theme, and the whole report's net score."""

    report: str
    date: str
    net: float | None
    weakness_share: dict[str, float | None]
    theme_net: dict[str, float | None]


@dataclass(frozen=True)
class ThemeBench:
    theme: str
    net: float | None
    neighbours_net: float | None
    region_net: float | None
    weakness_share: float | None
    neighbours_weakness_share: float | None
    region_weakness_share: float | None
    rank: int | None  # among the council and its neighbours with a net score on the theme; 1 = highest
    ranked: int


@dataclass(frozen=True)
class CouncilBench:
    council: str
    la: LA
    profile: Profile
    neighbours: tuple[str, ...]  # neighbour councils with a report in the input
    region_councils: int  # other councils of the region with a report in the input
    neighbours_net: float | None
    region_net: float | None
    rank: int | None  # whole-report net score among the council and its neighbours; 1 = highest
    ranked: int
    themes: tuple[ThemeBench, ...]


def profile(row: Mapping[str, Any]) -> Profile:
    share, net = {}, {}
    for th in THEMES:
        s, w, r = (row[f"{th}__{t}"] for t in ("strength", "weakness", "recommendation"))
        share[th] = round(w / (s + w + r), 4) if s + w + r else None
        net[th] = row[f"{th}__net"]
    return Profile(row["report"], row["date"], row["net_score"], share, net)


def latest_rows(rows: Sequence[dict[str, Any]], full: str = "full inspection") -> dict[str, dict[str, Any]]:
    """Each council's latest full inspection (its latest report if it has none), by date."""
    out: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (r.get("kind") == full, r["date"] or "", r["report"])):
        out[r["council"]] = r
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(mean(vals), 4) if vals else None


def _rank(own: float | None, others: Sequence[float | None]) -> tuple[int | None, int]:
    vals = [v for v in others if v is not None]
    if own is None:
        return None, len(vals)
    return 1 + sum(v > own for v in vals), len(vals) + 1


def benchmark(rows: Sequence[dict[str, Any]], matched: Mapping[str, LA]) -> list[CouncilBench]:
    """Every matched council's latest profile against its statistical neighbours' and region's (means of
    their latest profiles; councils without a report in the input are left out of the means)."""
    latest = {c: profile(r) for c, r in latest_rows(rows).items() if c in matched}
    council_of_code = {la.la_code: c for c, la in matched.items() if c in latest}
    out = []
    for c, p in sorted(latest.items()):
        la = matched[c]
        nb = [council_of_code[code] for code in la.neighbours if code in council_of_code and council_of_code[code] != c]
        reg = [o for o in latest if o != c and matched[o].region == la.region and la.region]
        themes = []
        for th in THEMES:
            rank, ranked = _rank(p.theme_net[th], [latest[o].theme_net[th] for o in nb])
            themes.append(ThemeBench(th, p.theme_net[th], _mean([latest[o].theme_net[th] for o in nb]),
                                     _mean([latest[o].theme_net[th] for o in reg]), p.weakness_share[th],
                                     _mean([latest[o].weakness_share[th] for o in nb]),
                                     _mean([latest[o].weakness_share[th] for o in reg]), rank, ranked))
        rank, ranked = _rank(p.net, [latest[o].net for o in nb])
        out.append(CouncilBench(c, la, p, tuple(nb), len(reg), _mean([latest[o].net for o in nb]),
                                _mean([latest[o].net for o in reg]), rank, ranked, tuple(themes)))
    return out


def council_rows(benches: Sequence[CouncilBench]) -> list[dict[str, Any]]:
    """One row per council: its latest report's net score against its neighbours' and region's."""
    return [{"council": b.council, "la_code": b.la.la_code, "la_code_new": b.la.la_code_new, "region": b.la.region,
             "la_type": b.la.la_type, "latest_report": b.profile.report, "date": b.profile.date,
             "net_score": b.profile.net, "neighbours_net_score": b.neighbours_net, "region_net_score": b.region_net,
             "rank_among_neighbours": b.rank, "ranked": b.ranked, "neighbours_in_input": "; ".join(b.neighbours),
             "region_councils_in_input": b.region_councils} for b in benches]


def benchmark_rows(benches: Sequence[CouncilBench]) -> list[dict[str, Any]]:
    """One row per council and theme (the workbook's 'neighbours' sheet)."""
    return [{"council": b.council, "la_code": b.la.la_code, "region": b.la.region, "latest_report": b.profile.report,
             "theme": t.theme, "theme_name": THEME_NAMES[t.theme], "weakness_share": t.weakness_share,
             "neighbours_weakness_share": t.neighbours_weakness_share,
             "region_weakness_share": t.region_weakness_share, "net_score": t.net,
             "neighbours_net_score": t.neighbours_net, "region_net_score": t.region_net,
             "rank_among_neighbours": t.rank, "ranked": t.ranked} for b in benches for t in b.themes]


# --------------------------------------------------------------------------- #
# The dashboard's section
# --------------------------------------------------------------------------- #
def _f(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:.0%}" if pct else f"{v:+.2f}"


def _rank_text(rank: int | None, ranked: int) -> str:
    return "–" if rank is None or ranked < 2 else f"{rank} of {ranked}"


def _council_detail(b: CouncilBench) -> str:
    rows = "".join(
        f"<tr><th scope='row'>{esc(THEME_NAMES[t.theme])}</th><td>{_f(t.weakness_share, True)}</td>"
        f"<td>{_f(t.neighbours_weakness_share, True)}</td><td>{_f(t.region_weakness_share, True)}</td>"
        f"<td>{_f(t.net)}</td><td>{_f(t.neighbours_net)}</td><td>{_f(t.region_net)}</td>"
        f"<td>{_rank_text(t.rank, t.ranked)}</td></tr>" for t in b.themes)
    nb = ", ".join(b.neighbours) or "none in this input"
    return (f"<details><summary>{esc(b.council)}: theme by theme</summary>"
            f"<p>Latest report {esc(b.profile.report)}; neighbours with a report here: {esc(nb)}.</p>"
            f"<table><caption>{esc(b.council)} against its statistical neighbours and region</caption>"
            "<tr><th scope='col'>theme</th><th scope='col'>weakness share</th><th scope='col'>neighbours</th>"
            "<th scope='col'>region</th><th scope='col'>net score</th><th scope='col'>neighbours</th>"
            f"<th scope='col'>region</th><th scope='col'>rank among neighbours</th></tr>{rows}</table></details>")


def neighbours_section(benches: Sequence[CouncilBench], unmatched: Sequence[str], lookup: Path | None) -> str:
    """The dashboard's 'Neighbours and region' section."""
    if lookup is None:
        return "<p>No council lookup was given (paths.la_lookup in params.yaml, or --lookup).</p>"
    rows = "".join(
        f"<tr><th scope='row'>{esc(b.council)}</th><td>{esc(b.la.la_code)}</td>"
        f"<td>{esc(b.la.region)}</td><td>{esc(b.la.la_type)}</td>"
        f"<td>{esc(b.profile.date)}</td><td>{_f(b.profile.net)}</td><td>{_f(b.neighbours_net)}</td>"
        f"<td>{_f(b.region_net)}</td><td>{_rank_text(b.rank, b.ranked)}</td></tr>" for b in benches)
    miss = (f"<p><b>Councils not found in {esc(lookup.name)}</b> (no codes, region or neighbours): "
            f"{esc(', '.join(unmatched))}.</p>") if unmatched else ""
    return ("<p>Each council's latest full inspection against the mean of its DfE statistical neighbours' and its "
            "region's latest inspections in this input. Rank 1 is the highest net score among the council and its "
            "neighbours.</p>" + miss +
            "<table><caption>Net score against statistical neighbours and region</caption><tr><th scope='col'>council"
            "</th><th scope='col'>LA code</th><th scope='col'>region</th><th scope='col'>LA type</th>"
            "<th scope='col'>latest inspection</th><th scope='col'>net score</th><th scope='col'>neighbours</th>"
            f"<th scope='col'>region</th><th scope='col'>rank among neighbours</th></tr>{rows}</table>"
            + "".join(_council_detail(b) for b in benches))
