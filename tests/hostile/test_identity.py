"""Issue 13, item 11: two inputs that would be one report are an error naming both; page names never collide."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pipeline.analyse import page_names, tagged_inputs
from pipeline.cli import main
from pipeline.inputs import report_key, segment_paths
from pipeline.predict import tag_paths

TEXT = "The council is good. Children are safe.\n"


def _tree(tmp_path, names):
    for n in names:
        f = tmp_path / n
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(TEXT.replace("council", f"council {n}"), encoding="utf-8")
    return tmp_path


def test_report_key():
    assert report_key("Bury_2021-12-17") == report_key("bury-2021_12 17") == "bury_2021_12_17"
    assert report_key("Ynys Môn") != report_key("Ynys Mon")


def test_same_file_name_in_two_folders_is_an_error_naming_both(tmp_path, params):
    _tree(tmp_path, ["a/same.txt", "b/same.txt", "a/other.txt"])
    errors: list[str] = []
    recs = segment_paths([str(tmp_path / "a"), str(tmp_path / "b")], params, errors)
    assert {r["report"] for r in recs} == {"same", "other"}
    assert [r["text"] for r in recs if r["report"] == "same"][0] == "The council a/same.txt is good."
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'b' / 'same.txt'}: report id 'same' is already {tmp_path / 'a' / 'same.txt'}'s")


def test_names_differing_only_in_case_or_dash_underscore_are_one_report(tmp_path, params):
    _tree(tmp_path, ["Bury-2021.txt", "bury_2021.txt", "BURY 2021.txt"])
    errors: list[str] = []
    recs = segment_paths([str(tmp_path)], params, errors)
    assert len({r["report"] for r in recs}) == 1 and len(errors) == 2
    assert all("only in case or punctuation" in e for e in errors)


def test_the_same_file_twice_is_read_once(tmp_path, params):
    _tree(tmp_path, ["a.txt"])
    errors: list[str] = []
    recs = segment_paths([str(tmp_path / "a.txt"), str(tmp_path), str(tmp_path / "." / "a.txt")], params, errors)
    assert errors == [] and len(recs) == 2


def test_predict_sentences_and_analyse_jsonl_inputs_too(tmp_path, params, tiny_model):
    _tree(tmp_path, ["x/s.txt", "y/s.txt"])
    errors: list[str] = []
    recs = tag_paths(tiny_model, [str(tmp_path / "x" / "s.txt"), str(tmp_path / "y" / "s.txt")], params, errors,
                     sentences=True)
    assert {r["report"] for r in recs} == {"s"} and len(recs) == 1 and len(errors) == 1
    # predict's JSONL holding report 'Rep' and a file 'rep.txt' given to analyse
    jl = tmp_path / "tagged.jsonl"
    jl.write_text("".join(json.dumps({**r, "report": "Rep"}) + "\n" for r in recs), encoding="utf-8")
    _tree(tmp_path, ["rep.txt"])
    errors = []
    records, metas = tagged_inputs([str(jl), str(tmp_path / "rep.txt")], params, lambda: tiny_model, errors)
    assert set(metas) == {"Rep"} and len(errors) == 1 and "rep.txt: report id 'rep' differs from 'Rep'" in errors[0]


def test_page_names_never_collide():
    names = page_names(["Bury_2021", "bury-2021", "BURY 2021", "Ynys Môn", "ynys_m_n", "", "x"])
    assert len(set(names.values())) == 7
    assert names["BURY 2021"] == "bury_2021.html" and names["Bury_2021"] == "bury_2021-2.html"


def test_cli_exit_code_and_message(tmp_path):
    _tree(tmp_path, ["a/r.txt", "b/r.txt"])
    r = CliRunner().invoke(main, ["segment", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 1 and r.stderr.count("error: ") == 1 and "b/r.txt: report id 'r'" in r.stderr
    assert (tmp_path / "o.jsonl").read_text(encoding="utf-8").count('"report": "r"') == 2
