"""Issue 13, items 8 and 10 through ``analyse`` itself: the output directory is replaced as a whole
(an interrupt leaves the old set or the new set, and says which), metadata values are escaped in
the dashboard and written as text in the spreadsheets."""

from __future__ import annotations

import csv

import openpyxl
import pytest
from click.testing import CliRunner

import pipeline.analyse as analyse
from pipeline.cli import main
from pipeline.errors import UserError

pytestmark = pytest.mark.slow  # each test runs analyse end to end (charts included), a few seconds each

XSS = "<img src=x onerror=alert(1)>"


def _inputs(tmp_path, seeds):
    d = tmp_path / "in"
    d.mkdir()
    for i, s in enumerate(seeds[:2]):
        (d / f"council_{i}_2024-01-0{i + 1}.txt").write_text(s.read_text(encoding="utf-8"), encoding="utf-8")
    return d


def _run(args, tiny_models):
    return CliRunner().invoke(main, ["analyse", *args, "--model", str(tiny_models / "champion")])


def test_metadata_values_are_escaped_and_written_as_text(tmp_path, seeds, tiny_models):
    d = _inputs(tmp_path, seeds)
    meta = tmp_path / "meta.csv"
    meta.write_text("report_id,local_authority,publication_date,overall_effectiveness\n"
                    f'council_0_2024-01-01,"=HYPERLINK(""http://evil.example"")","{XSS}",good\n', encoding="utf-8")
    out = tmp_path / "out"
    r = _run([str(d), "-o", str(out), "--metadata", str(meta)], tiny_models)
    assert r.exit_code == 0, r.stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    rows = list(csv.DictReader((out / "reports.csv").open(encoding="utf-8", newline="")))
    assert rows[0]["council"].startswith("'=") or rows[1]["council"].startswith("'=")
    ws = openpyxl.load_workbook(out / "summary.xlsx")["reports"]
    council = [c for c in ws["B"][1:] if c.value and str(c.value).startswith("=")]
    assert council and all(c.data_type == "s" for c in council)


def test_an_interrupt_leaves_the_old_set_and_says_so(tmp_path, seeds, tiny_models, monkeypatch):
    d = _inputs(tmp_path, seeds)
    out = tmp_path / "out"
    assert _run([str(d), "-o", str(out)], tiny_models).exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (d / "council_0_2024-01-01.txt").unlink()  # the next run has one report fewer

    def interrupted(*_a, **_k):  # half-way through writing the new set
        raise KeyboardInterrupt

    monkeypatch.setattr(analyse, "_theme_bars_png", interrupted)
    r = _run([str(d), "-o", str(out)], tiny_models)
    assert r.exit_code == 130 and "interrupted; nothing was written" in r.stderr
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # the old set, whole
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no staging left


def test_a_finished_run_replaces_the_whole_set_and_an_interrupt_after_it_says_so(tmp_path, seeds, tiny_models,
                                                                                 monkeypatch):
    d = _inputs(tmp_path, seeds)
    out = tmp_path / "out"
    assert _run([str(d), "-o", str(out)], tiny_models).exit_code == 0
    assert len(list((out / "reports").iterdir())) == 2
    (d / "council_0_2024-01-01.txt").unlink()

    def interrupted(*_a, **_k):  # after the swap, while printing
        raise KeyboardInterrupt

    monkeypatch.setattr(analyse, "correlation_text", interrupted)
    r = _run([str(d), "-o", str(out)], tiny_models)
    assert r.exit_code == 130 and f"interrupted; written in full before the interrupt: {out}" in r.stderr
    assert [p.name for p in (out / "reports").iterdir()] == ["council_1_2024_01_02.html"]  # no page of the old set


def test_a_directory_holding_other_files_is_refused_before_tagging(tmp_path, seeds, tiny_models, params, monkeypatch):
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.docx").write_text("precious", encoding="utf-8")
    monkeypatch.setattr(analyse, "tag_archive", lambda *a, **k: pytest.fail("tagged before the check"))
    with pytest.raises(UserError, match=r"home: holds files this command did not write \(thesis\.docx\)"):
        analyse.analyse_archive([str(seeds[0])], out, params, [])
    for bad, why in ((tmp_path / "f", "is a file"), (tmp_path / "f" / "x", "is a file, so no output directory")):
        (tmp_path / "f").write_text("x", encoding="utf-8")
        with pytest.raises(UserError, match=why):
            analyse.analyse_archive([str(seeds[0])], bad, params, [])
    assert (out / "thesis.docx").read_text(encoding="utf-8") == "precious"
