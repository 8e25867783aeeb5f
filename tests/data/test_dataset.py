"""Expectations on the committed dataset: schema, labels, counts, no leakage."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import load_params
from pipeline.data import check_data, council_of, labels_path, read_metadata, read_split, split_path
from pipeline.ingest import read_document
from pipeline.data import sentence_id
from pipeline.label import THEMES, TYPES, parse_themes, read_labels
from pipeline.segment import segment
from tests.conftest import write_params


@pytest.fixture(scope="module")
def hand(params) -> dict:
    """data/labels/hand.csv read once for this module's tests (118,000 rows: about 1.4 s a read)."""
    return {r.id: r for r in read_labels(labels_path(params))}


def test_data_check_passes_and_prints_the_count(params):
    result = CliRunner().invoke(main, ["data", "check"])
    assert result.exit_code == 0, result.output
    n = int(result.output.split(" hand-labelled sentences")[0].split("\n")[-1])
    assert n >= 4000
    assert "data check passed" in result.output


def test_label_counts_meet_the_floor(hand):
    rows = list(hand.values())
    assert len({r.report for r in rows}) >= 120
    for t in TYPES:
        assert sum(r.type == t for r in rows) >= 400, t
    for th in THEMES:
        assert sum(th in r.themes for r in rows) >= 80, th


def test_every_seed_sentence_is_hand_labelled(hand, seeds):
    labelled = set(hand)
    for f in seeds:
        for s in segment(read_document(f, report_id=f"seed_{f.stem}")):
            assert sentence_id(s.report, s.text) in labelled, (f.name, s.text)


def test_no_council_on_two_sides(params):
    meta = read_metadata(params.paths.corpus_metadata)
    split = read_split(split_path(params))
    with split_path(params).open(encoding="utf-8") as fh:
        councils = [r["local_authority"] for r in csv.DictReader(fh)]
    assert len(councils) == len(set(councils))
    assert {council_of(r, meta) for r in meta} <= set(split)
    assert set(split.values()) == {"train", "dev", "test"}


def _copy_data(tmp_path: Path, params) -> Path:
    data = tmp_path / "data"
    (data / "labels").mkdir(parents=True)
    shutil.copy(labels_path(params), data / "labels" / "hand.csv")
    shutil.copy(split_path(params), data / "split.csv")
    return data


def _edit_rows(path: Path, changes: dict[int, dict]) -> None:
    """Apply ``changes[line]`` to the rows at those file lines (the header is line 1)."""
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    fields = list(rows[0])
    for line, change in changes.items():
        rows[line - 2].update(change)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


BAD_ROWS = [  # (line of hand.csv, change, the message expected for it)
    (5, {"type": "praise"}, r"hand\.csv:5: type 'praise' is not one of"),
    (6, {"themes": "front_door;daycare"}, r"hand\.csv:6: theme 'daycare' is not in the codebook"),
    (7, {"themes": "front_door;early_help;workforce;partnership"}, r"hand\.csv:7: 4 themes"),
    (8, {"text": "   "}, r"hand\.csv:8: empty text"),
    (9, {"report": "nowhere_2020-01-01"}, r"hand\.csv:9: .*council 'nowhere' of report nowhere_2020-01-01 is in no split"),
    (10, {"type": ""}, r"hand\.csv:10: type '' is not one of"),
]


def test_data_check_names_file_and_line_of_each_bad_row(tmp_path, params):
    """Each kind of bad row, a duplicate id and a council on two sides of the split are named by
    file and line, and `data check` exits 1 (one copy with all of them: the whole file is read
    twice, not twice per kind)."""
    import re

    data = _copy_data(tmp_path, params)
    labels = data / "labels" / "hand.csv"
    _edit_rows(labels, {line: change for line, change, _ in BAD_ROWS})
    lines = labels.read_text(encoding="utf-8").splitlines(keepends=True)
    labels.write_text("".join(lines + [lines[3]]), encoding="utf-8")  # a duplicate of line 4
    with (data / "split.csv").open("a", encoding="utf-8") as fh:  # and a council on both sides
        fh.write("barnet,test\nbarnet,train\n")
    pfile = write_params(tmp_path, data=data)
    errors = check_data(load_params(pfile)).errors
    for line, _, message in BAD_ROWS:
        assert any(re.search(message, e) for e in errors), (line, errors[:6])
    assert any(f"hand.csv:{len(lines) + 1}: duplicate id" in e for e in errors)
    assert any("council 'barnet' is on two sides" in e for e in errors)
    # the CLI prints them and exits 1
    result = CliRunner().invoke(main, ["--params", str(pfile), "data", "check"])
    assert result.exit_code == 1
    assert all(re.search(message, result.output) for _, _, message in BAD_ROWS), result.output[:500]


def test_reviewed_labels_follow_the_majority_of_three_readings(params, hand):
    """The review of disputed labels: where the second and third blind readings agree against the
    first, hand.csv has their type; where the third sides with the first, the first stands."""
    from pipeline.data import read_decision_files, review_section

    base = params.paths.data / "labels"
    first = read_decision_files(base / "hand", "batch_*.csv")
    second = read_decision_files(base / "hand", "review_*.csv")
    third = read_decision_files(base / "hand", "review3_*.csv")
    double = set(read_decision_files(base / "hand", "double*.csv"))
    assert set(second) <= set(hand) and set(third) <= set(second)
    changed = kept = 0
    for i, (t3, _) in third.items():
        if i in double:  # adjudicated in the double labelling already
            continue
        if t3 == second[i][0] != first[i][0]:
            assert hand[i].type == t3, i
            changed += 1
        else:
            assert hand[i].type == first[i][0], i
            kept += 1
    assert changed > 100 and kept > 100
    card = "\n".join(review_section(first, base))
    assert f"{len(second)} train sentences" in card


def test_majority_of_three_keeps_the_themes_two_readings_give():
    from pipeline.data import majority_of_three

    readings = [("weakness", "partnership;front_door"), ("weakness", "front_door"),
                ("strength", "front_door;leadership_governance")]
    assert majority_of_three(readings) == ("weakness", ["front_door"])
    # the type changes only when both later readings agree against the first
    readings = [("strength", "workforce"), ("weakness", "management_oversight;workforce"),
                ("weakness", "workforce;management_oversight")]
    assert majority_of_three(readings) == ("weakness", ["workforce", "management_oversight"])


def test_theme_reviewed_labels_follow_the_vote(params, hand):
    """Every sentence of the review of disputed themes has, in hand.csv, the themes two of its three
    blind readings give, and the type of the vote; the data card reports the review."""
    from pipeline.data import majority_of_three, theme_review_section, theme_review_readings

    base = params.paths.data / "labels"
    readings = theme_review_readings(base)
    assert len(readings) > 1000
    changed = 0
    for i, rs in readings.items():
        typ, themes = majority_of_three(rs)
        assert (hand[i].type, set(hand[i].themes)) == (typ, set(themes)), i
        changed += set(themes) != set(parse_themes(rs[0][1]))
    assert changed > 100
    assert f"{len(readings)} train sentences with three blind readings" in "\n".join(theme_review_section(base))


def test_dev_reread_measures_reader_agreement_on_themes(params, hand):
    """1,000 random dev sentences read twice more: readers agree on themes far above the model (micro-F1
    >= 0.90), and dev's labels are left as first read."""
    import re

    from pipeline.data import dev_reread_section, read_decision_files

    base = params.paths.data / "labels"
    first = read_decision_files(base / "hand", "batch_*.csv")
    text = "\n".join(dev_reread_section(first, base))
    assert "1000 dev sentences drawn at random" in text
    f1 = re.search(r"readings: (0\.\d{3}) and (0\.\d{3}) against the first reading, (0\.\d{3}) between", text)
    assert f1 and min(float(x) for x in f1.groups()) >= 0.90
    adjudicated = read_decision_files(base, "adjudicated.csv")  # the double labelling's decisions stand
    a = [i for i in read_decision_files(base / "hand", "devreread_a_*.csv") if i not in adjudicated]
    assert len(a) > 900
    assert all(set(hand[i].themes) == set(parse_themes(first[i][1])) for i in a)


def test_written_sentences_agree_with_their_second_reading(params):
    """Every written sentence that was read twice (review/second_reading.csv) kept only if both readings
    give the same type: scripts/second_reading.py removes the rest."""
    written = params.paths.data / "labels" / "written"
    second = {(r["file"], r["text"]): r["type"]
              for r in csv.DictReader((written / "review" / "second_reading.csv").open(encoding="utf-8", newline=""))}
    files = {f for f, _ in second}
    assert {"vocab_0.csv", "gaps2_3.csv", "vocab2_7.csv", "vocab4_0.csv"} <= files
    checked = 0
    for name in sorted(files):
        for r in csv.DictReader((written / name).open(encoding="utf-8", newline="")):
            if (name, r["text"]) in second:
                assert r["type"] == second[(name, r["text"])], f"{name}: {r['text']!r} read differently; remove it"
                checked += 1
    assert checked >= 20000


def test_labelled_sentences_get_their_neighbours_in_their_report(params, hand):
    """The theme tagger is fitted on each labelled sentence with the sentences around it in its
    report (or seed article), as `predict` segments that report."""
    from pipeline.data import label_contexts

    reports = {"barnsley_2014-08-08", "seed_001_2e0fc96518f4de0a"}
    rows = [r for r in hand.values() if r.report in reports]
    ctx = label_contexts(params, reports, progress=False)
    assert {r.report for r in rows} == reports and len(rows) > 500
    assert sum(r.id in ctx for r in rows) >= 0.99 * len(rows)
    with_text = [ctx[r.id] for r in rows if r.id in ctx]
    assert sum(bool(p) for p, _ in with_text) >= 0.95 * len(with_text)
    assert sum(bool(n) for _, n in with_text) >= 0.95 * len(with_text)
    texts = {r.text for r in rows}
    assert sum(p in texts for p, _ in with_text if p) >= 0.9 * len(with_text)  # neighbours are labelled sentences too


def test_the_learning_curve_in_the_data_card_shows_types_and_themes_in_context_and_alone(params):
    """data/learning_curve.json (written by `train --curve`) as the data card's table: a row per share
    of train, dev type and theme figures in context and alone."""
    from pipeline.data import _curve_section

    lines = _curve_section(params)
    assert lines and lines[0].startswith("### Learning curve")
    table = [ln for ln in lines if ln.startswith("| ") and ln[2].isdigit()]
    assert [ln.split(" | ")[0] for ln in table] == [f"| {f:.0%}" for f in params.evaluation.learning_curve]
    assert all(len(ln.strip("|").split("|")) == 6 for ln in table)
    # the type figure grows with the share of labels
    assert float(table[-1].split(" | ")[2]) > float(table[0].split(" | ")[2])
