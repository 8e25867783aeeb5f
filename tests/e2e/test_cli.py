"""The command line end to end, as a user runs it (real processes, real files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real processes, servers, a browser or Spark, and a corpus model

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, params: Path | None = None, stdin: str | None = None, env: dict | None = None):
    cmd = [sys.executable, "-m", "pipeline"] + (["--params", str(params)] if params else []) + list(args)
    e = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    e.update(env or {})
    return subprocess.run(cmd, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=600, env=e)


def test_segment_many_files_with_one_bad(tmp_path, seeds, params):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7 truncated")
    out = tmp_path / "out.csv"
    r = run("segment", str(seeds[0]), str(bad), str(params.paths.corpus_pdf / "bury_2021-12-17.pdf"),
            "--format", "csv", "--output", str(out))
    assert r.returncode == 1
    assert "broken.pdf: not a readable PDF" in r.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("report,index,start,end,page,section,grade,kind,text")
    assert "bury_2021-12-17" in text and "000_42ad1248cb764462" in text


def test_segment_stdin_jsonl(seeds):
    r = run("segment", "-", stdin=seeds[1].read_text(encoding="utf-8"))
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert recs[0]["report"] == "stdin" and {"index", "start", "end", "section", "grade", "text"} <= set(recs[0])


def test_predict_all_formats(tmp_path, trained, seeds, params):
    pf = trained["params_file"]
    pdf = str(params.paths.corpus_pdf / "bath_and_north_east_somerset_2025-08-05.pdf")
    jl = tmp_path / "t.jsonl"
    r = run("predict", str(seeds[0]), pdf, "--output", str(jl), params=pf)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in jl.read_text(encoding="utf-8").splitlines()]
    need = {"report", "index", "section", "text", "type", "confidence", "type_scores", "themes", "theme_scores", "evidence"}
    assert need <= set(recs[0])
    assert len(recs[0]["type_scores"]) == 4 and len(recs[0]["theme_scores"]) == 18
    bullets = [x for x in recs if x["report"].startswith("bath") and x["section"] == "What needs to improve?" and x["kind"] == "bullet"]
    assert bullets and all(x["type"] == "recommendation" for x in bullets)
    assert "bath_and_north_east_somerset_2025-08-05:" in r.stdout and "strengths" in r.stdout  # summary table
    for fmt in ("csv", "xlsx", "html"):
        out = tmp_path / f"t.{fmt}"
        r = run("predict", str(seeds[0]), "--output", str(out), "--no-summary", params=pf)
        assert r.returncode == 0 and out.stat().st_size > 1000, r.stderr
    import openpyxl

    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert wb.sheetnames == ["sentences", "summary"]
    page = (tmp_path / "t.html").read_text(encoding="utf-8")
    assert "class='s weakness'" in page and "<svg" in page and "Open Government Licence" in page
    assert (tmp_path / "t.csv").read_text(encoding="utf-8").startswith("report,index,page,section,grade,text,type,confidence")


def test_predict_sentences_keeps_input_order(tmp_path, trained):
    lines = ["Caseloads are manageable.", "", "Ensure that return home interviews are timely.", "Supervision is not always regular."]
    r = run("predict", "--sentences", "-", "--no-summary", stdin="\n".join(lines), params=trained["params_file"])
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["text"] for x in recs] == [ln for ln in lines if ln]
    assert [x["type"] for x in recs] == ["strength", "recommendation", "weakness"]


def test_predict_with_an_mlflow_uri(tmp_path, trained):
    uri = f"runs:/{trained['result'].run_id}/model"
    r = run("predict", "--sentences", "-", "--model", uri, "--no-summary", stdin="Caseloads are manageable.\n",
            params=trained["params_file"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["type"] == "strength"


@pytest.mark.parametrize("case", ["unknown", "corrupt", "not_a_model", "empty_input", "unreadable"])
def test_predict_bad_input_gives_one_clear_message_and_no_output(tmp_path, trained, seeds, case):
    pf = trained["params_file"]
    out = tmp_path / "out.jsonl"
    args = ["predict", str(seeds[0]), "--output", str(out)]
    if case == "unknown":
        args += ["--model", str(tmp_path / "nope")]
        expect = "no such model file"
    elif case == "corrupt":
        bad = tmp_path / "m"
        bad.mkdir()
        (bad / "model.joblib").write_bytes(b"\x80\x04garbage")
        args += ["--model", str(bad)]
        expect = "not a loadable model"
    elif case == "not_a_model":
        import joblib

        bad = tmp_path / "m2"
        bad.mkdir()
        joblib.dump({"a": 1}, bad / "model.joblib")
        args += ["--model", str(bad)]
        expect = "not an ofsted-tagger model"
    elif case == "empty_input":
        empty = tmp_path / "empty.txt"
        empty.write_text("")
        args[1] = str(empty)
        expect = "the file is empty"
    else:
        args[1] = str(tmp_path / "missing.pdf")
        expect = "no such file or directory"
    r = run(*args, params=pf)
    assert r.returncode != 0
    assert expect in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".out.jsonl.*"))


def test_model_built_by_another_sklearn_warns(tmp_path, trained):
    import shutil

    d = tmp_path / "old"
    shutil.copytree(trained["model_dir"], d)
    card = json.loads((d / "model_card.json").read_text())
    card["versions"]["scikit-learn"] = "0.24.2"
    (d / "model_card.json").write_text(json.dumps(card))
    r = run("predict", "--sentences", "-", "--model", str(d), "--no-summary", stdin="Caseloads are manageable.\n",
            params=trained["params_file"])
    assert r.returncode == 0
    assert "model built with scikit-learn 0.24.2" in r.stderr


def test_missing_default_model_says_train_first(tmp_path):
    from tests.conftest import write_params

    pf = write_params(tmp_path, models=tmp_path / "nomodels")
    r = run("predict", "--sentences", "-", stdin="x\n", params=pf)
    assert r.returncode == 1 and "run 'ofsted-tagger train' first" in r.stderr


def test_evaluate_a_labelled_file(tmp_path, trained):
    f = tmp_path / "gold.csv"
    f.write_text(
        "text,type,themes\n"
        "Caseloads are manageable.,strength,workforce\n"
        "Ensure that return home interviews are timely.,recommendation,missing_exploitation\n"
        "Supervision is not always regular.,weakness,management_oversight\n"
        "Inspectors visited the local authority in May.,neutral,\n",
        encoding="utf-8",
    )
    r = run("evaluate", str(f), params=trained["params_file"])
    assert r.returncode == 0, r.stderr
    assert "type macro-F1" in r.stdout and "themes: micro-F1" in r.stdout
    f.write_text("text,type,themes\nGood work.,praise,\n", encoding="utf-8")
    r = run("evaluate", str(f), params=trained["params_file"])
    assert r.returncode == 1 and "gold.csv:2: type 'praise' is not one of" in r.stderr


def test_evaluate_whole_reports_against_their_hand_labels(tmp_path, trained):
    """``evaluate LABELS --reports PDF``: a test council's original PDF read as predict reads it, scored on
    the hand labels of its sentences (read on the corpus text); labels of other reports are left out."""
    import csv

    report = "bristol_2023-03-10"  # a test council: never trained on
    with (ROOT / "data" / "labels" / "hand.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["report"] in (report, "barnet_2024-07-23")]
    mine = sum(r["report"] == report for r in rows)
    f = tmp_path / "gold.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    pdf = trained["params"].paths.corpus_pdf / f"{report}.pdf"
    r = run("evaluate", str(f), "--reports", str(pdf), params=trained["params_file"])
    assert r.returncode == 0, r.stderr
    found = int(r.stdout.split("scored ")[1].split()[0])
    assert f"of the {mine} labelled sentences of the tagged reports (1 report" in r.stdout and found >= 0.95 * mine
    macro = float(r.stdout.split("type macro-F1 ")[1].split()[0])
    assert macro >= 0.75, r.stdout  # 69 sentences: a sanity floor, the split's figure is scripts/score_reports.py's
    other = trained["params"].paths.corpus_pdf / "barnsley_2014-08-08.pdf"
    r = run("evaluate", str(f), "--reports", str(other), params=trained["params_file"])
    assert r.returncode == 1 and "none of its" in r.stderr and "labelled sentences is in the given reports" in r.stderr
    r = run("evaluate", str(f), "--reports", str(pdf), "--no-section", params=trained["params_file"])
    assert r.returncode == 1 and "--no-section and --reports do not go together" in r.stderr


def test_train_cli_registers_and_reports(tmp_path):
    from tests.conftest import MECHANICS_MODEL, small_data, write_params

    pf = write_params(tmp_path, models=tmp_path / "models", mlflow_db=tmp_path / "m.db", mlflow_artifacts=tmp_path / "art",
                      data=small_data(tmp_path), model=MECHANICS_MODEL)
    r = run("train", params=pf)
    assert r.returncode == 0, r.stderr
    assert "registered ofsted-tagger version 1: promoted to @champion" in r.stdout
    assert (tmp_path / "models" / "champion" / "model.joblib").is_file()
    card = json.loads((tmp_path / "models" / "champion" / "model_card.json").read_text())
    assert card["version"] == "1" and card["data"]["hashes"]["train"] and "scikit-learn" in card["versions"]
    r2 = run("train", params=pf)
    assert r2.returncode == 0 and "version 2: not promoted" in r2.stdout  # same data, same metrics: no change
