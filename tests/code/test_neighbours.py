"""pipeline.neighbours: the council lookup (shared/corpus/la_lookup.csv), name matching, neighbour comparison."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.analyse import report_table
from pipeline.data import ReportMeta, read_metadata
from pipeline.errors import UserError
from pipeline.neighbours import (
    benchmark,
    benchmark_rows,
    join_rows,
    match_councils,
    neighbours_section,
    normalise_council,
    read_lookup,
)
from pipeline.schema import THEMES
from tests.conftest import ROOT, hand_records


@pytest.fixture(scope="module")
def lookup(params):
    return read_lookup(params.paths.la_lookup)


def test_the_lookup(lookup):
    assert len(lookup.las) == 156
    barnet = lookup.by_code["302"]
    assert (barnet.name, barnet.la_code_new, barnet.region, barnet.la_type) == (
        "Barnet", "E09000003", "London", "London Borough")
    assert len(barnet.neighbours) == 10 and barnet.neighbours[0] == "320"
    assert lookup.by_code["E09000003"] is barnet and lookup.by_urn["80487"] is barnet


@pytest.mark.parametrize("raw, key", [
    ("Bristol, City of", "bristol"), ("Kingston Upon Hull, City of", "kingston upon hull"),
    ("London Borough of Barking & Dagenham", "barking and dagenham"), ("County Durham", "durham"),
    ("Bedford Borough", "bedford"), ("Southend-on-Sea", "southend on sea"), ("St. Helens", "st helens"),
    ("bournemouth christchurch & poole", "bournemouth christchurch and poole"), ("london corporation", "london"),
    ("Sandwell Metropolitan Borough Council", "sandwell"), ("East Riding", "east riding of yorkshire"),
])
def test_name_normalisation(raw, key):
    assert normalise_council(raw) == key


def test_every_council_of_reports_csv_is_matched(lookup, params):
    meta = read_metadata(params.paths.corpus_metadata)
    matched, unmatched = match_councils(meta, lookup)  # by Ofsted URN
    assert unmatched == [] and len(matched) == 133
    by_name = {k: ReportMeta(k, m.council) for k, m in meta.items()}  # without the URN: by name alone
    matched2, unmatched2 = match_councils(by_name, lookup)
    assert unmatched2 == [] and {c: la.la_code for c, la in matched2.items()} == {
        c: la.la_code for c, la in matched.items()}
    assert matched["bournemouth christchurch & poole"].la_code == "839"


def test_unmatched_councils_are_reported_not_dropped(lookup):
    metas = {"a": ReportMeta("a", "barnet"), "b": ReportMeta("b", "atlantis"), "c": ReportMeta("c", "")}
    matched, unmatched = match_councils(metas, lookup)
    assert list(matched) == ["barnet"] and unmatched == ["", "atlantis"]
    rows = join_rows([{"report": "b", "council": "atlantis", "date": ""}], matched)
    assert rows[0] == {"report": "b", "council": "atlantis", "la_code": "", "la_code_new": "", "region": "",
                       "la_type": "", "date": ""}
    assert "Councils not found in la_lookup.csv" in neighbours_section([], unmatched, Path("la_lookup.csv"))


def test_benchmark_against_neighbours_and_region(lookup):
    """Hand-labelled reports of North West and West Midlands councils, several of them each other's neighbours."""
    councils = {"manchester", "salford", "bolton", "oldham", "rochdale", "tameside", "wigan", "sandwell",
                "birmingham", "coventry", "walsall", "wolverhampton", "dudley"}
    records, metas = hand_records(councils)
    matched, unmatched = match_councils(metas, lookup)
    assert not unmatched
    rows = join_rows(report_table(records, metas), matched)
    assert all(r["la_code"] and r["region"] in ("North West", "West Midlands") for r in rows)
    benches = {b.council: b for b in benchmark(rows, matched)}
    present = set(benches)
    for b in benches.values():
        assert set(b.neighbours) <= present and b.council not in b.neighbours
        assert list(b.neighbours) == [c for code in b.la.neighbours for c in present if matched[c].la_code == code]
        if b.neighbours:
            latest = [benches[n].profile.net for n in b.neighbours]
            assert b.neighbours_net == pytest.approx(sum(latest) / len(latest), abs=1e-4)
            assert 1 <= b.rank <= b.ranked == len(b.neighbours) + 1
            assert b.rank == 1 + sum(v > b.profile.net for v in latest)
        region = [o for o in benches.values() if o.la.region == b.la.region and o is not b]
        assert b.region_councils == len(region)
        # the latest inspection of the council is compared
        assert b.profile.date == max(r["date"] for r in rows if r["council"] == b.council)
    sandwell = benches["sandwell"]
    assert sandwell.neighbours and sandwell.la.region == "West Midlands"
    long = benchmark_rows(list(benches.values()))
    assert len(long) == len(benches) * len(THEMES)
    assert {"theme_name", "weakness_share", "neighbours_weakness_share", "region_net_score",
            "rank_among_neighbours"} <= set(long[0])


@pytest.mark.parametrize("content, message", [
    (None, "council lookup not found"),
    ("urn,la_code\n1,2\n", "missing column(s) la_code_new, local_authority_ons_name"),
    (b"\xff\xfe\x00bad", "not UTF-8 text"),
    ("urn,la_code,la_code_new,local_authority_ons_name,region_name,ons_la_type,stat_neighbours\n", "no councils"),
    ("urn,la_code,la_code_new,local_authority_ons_name,region_name,ons_la_type,stat_neighbours\n"
     "1,302,E1,Barnet,London,LB,\n2,302,E2,Barnet2,London,LB,\n", ":3: la_code 302 appears twice"),
    ("urn,la_code,la_code_new,local_authority_ons_name,region_name,ons_la_type,stat_neighbours\n"
     "1,,E1,Barnet,London,LB,\n", ":2: a row without la_code"),
])
def test_a_bad_lookup_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "lookup.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as exc:
        read_lookup(path)
    assert str(exc.value).startswith(str(path)) and message in str(exc.value) and "--lookup" in str(exc.value)


@pytest.mark.slow  # a CLI process
def test_analyse_with_a_bad_lookup_fails_before_tagging(tmp_path, params):
    bad = tmp_path / "lookup.csv"
    bad.write_text("name\nBarnet\n", encoding="utf-8")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "pipeline", "analyse", str(params.paths.corpus_text / "bury_2021-12-17.txt"),
                        "-o", str(out), "--lookup", str(bad), "--model", str(tmp_path / "no-model")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stderr == f"error: {bad}:1: missing column(s) urn, la_code, la_code_new, " \
        "local_authority_ons_name, region_name, ons_la_type, stat_neighbours; give a CSV like " \
        "shared/corpus/la_lookup.csv (paths.la_lookup in params.yaml, or --lookup).\n"
    assert not out.exists()
