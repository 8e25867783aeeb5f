"""The annotation tool: writes straight to the label file, resumes, undoes."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pipeline.annotate import Session, items_from_sentences, run_terminal
from pipeline.data import sentence_id
from pipeline.ingest import read_document
from pipeline.label import read_labels
from pipeline.segment import segment


def _items(seeds, n=5):
    rows = []
    for s in segment(read_document(seeds[0], report_id="seed_x")):
        d = s.to_dict()
        d["id"] = sentence_id(s.report, s.text)
        rows.append(d)
    return items_from_sentences(rows, ["seed_x"])[:n]


def test_labels_are_written_at_once_and_resume_skips_them(tmp_path, seeds):
    f = tmp_path / "labels.csv"
    items = _items(seeds)
    s = Session.open(f, items, "tester")
    s.label("neutral")
    s.label("weakness", ["workforce", "leadership_governance"])
    rows = read_labels(f)
    assert [(r.type, r.themes) for r in rows] == [("neutral", ()), ("weakness", ("workforce", "leadership_governance"))]
    assert rows[1].source == "annotator:tester" and rows[1].text == items[1].text
    again = Session.open(f, items, "tester")
    assert again.current() == items[2]


def test_undo_removes_the_last_label_from_the_file(tmp_path, seeds):
    f = tmp_path / "labels.csv"
    items = _items(seeds)
    s = Session.open(f, items)
    s.label("neutral")
    s.skip()
    s.label("strength", ["front_door"])
    assert s.undo() == items[2].id
    assert [r.id for r in read_labels(f)] == [items[0].id]
    assert s.current() == items[2]
    assert s.undo() is None  # the skip: nothing written to remove
    assert s.undo() == items[0].id
    assert read_labels(f) == []


def test_terminal_loop_driven_by_keys(tmp_path, seeds):
    f = tmp_path / "labels.csv"
    items = _items(seeds)
    answers = iter(["n", "", "w", "3 1", "x", "u", "w", "3", "k", "r", "99", "r", "5", "q"])
    out: list[str] = []
    s = Session.open(f, items)
    n = run_terminal(s, ask=lambda _q: next(answers), say=out.append)
    rows = read_labels(f)
    assert [(r.type, r.themes) for r in rows] == [("neutral", ()), ("weakness", ("workforce",)),
                                                  ("recommendation", ("front_door",))]
    assert n == 3
    assert any("unknown key 'x'" in line for line in out)
    assert any(">>> " + items[0].text in line for line in out)


def test_label_command_in_the_terminal(tmp_path, params, seeds, monkeypatch):
    from pipeline.data import build_sentences
    from pipeline.config import load_params
    from tests.conftest import write_params

    pfile = write_params(tmp_path, data=tmp_path / "data")
    p = load_params(pfile)
    build_sentences(p, files=[seeds[0]], progress=False)
    f = tmp_path / "mine.csv"
    runner = CliRunner()
    args = ["--params", str(pfile), "label", "--label-file", str(f), "--report", f"seed_{seeds[0].stem}"]
    r = runner.invoke(main_cli(), args, input="s\n1\nq\n")
    assert r.exit_code == 0, r.output
    assert len(read_labels(f)) == 1
    r = runner.invoke(main_cli(), args, input="n\n\nq\n")
    rows = read_labels(f)
    assert [r.type for r in rows] == ["strength", "neutral"] and rows[0].id != rows[1].id


def main_cli():
    from pipeline.cli import main

    return main


@pytest.mark.slow
def test_uncertain_queue_serves_least_confident_first(model, seeds):
    rows = []
    for s in segment(read_document(seeds[0], report_id="seed_x")):
        d = s.to_dict()
        d["id"] = sentence_id(s.report, s.text)
        rows.append(d)
    order = model.uncertainty_order([r["text"] for r in rows], [r["id"] for r in rows], [r["section"] for r in rows])
    items = items_from_sentences(rows, order=order)
    conf = {r["id"]: c for r, c in zip(rows, model.predict([r["text"] for r in rows], [r["section"] for r in rows]).confidence)}
    seq = [conf[it.id] for it in items]
    assert seq == sorted(seq) and len(items) == len(rows)
