"""Issue 13, item 12: every traceback the issue found is a one-line error now."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from pipeline.analyse import analyse_archive, read_tagged_jsonl
from pipeline.cli import main
from pipeline.config import load_params
from pipeline.errors import UserError
from pipeline.label import read_eval_file
from pipeline.predict import load_model, read_card, tag_sentences
from pipeline.serve import _model_info
from tests.conftest import ROOT, write_params


def _one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("data,why", [(b"\x7fELF\x02\x01\x01\x00\x00\x00" * 50, "looks like a binary file"),
                                      (b"caf\xe9 is good.\n", "not UTF-8 text (bad byte at offset 3)")])
def test_binary_or_non_utf8_stdin(data, why):
    r = subprocess.run([sys.executable, "-m", "pipeline", "segment", "-"], input=data, capture_output=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 1 and why in _one_line(r.stderr.decode())


@pytest.fixture()
def tagged_line(tiny_model):
    return tag_sentences(tiny_model, ["Caseloads are manageable."], "rep")[0]


@pytest.mark.parametrize("mutate,why", [
    (lambda r: [r], "a JSON list, not an object"),
    (lambda r: {**r, "type_scores": []}, "'type_scores' must map every label to a number"),
    (lambda r: {**r, "themes": ["no_such_theme"]}, "'themes' must be a list of the codebook's themes"),
    (lambda r: {**r, "type": "great"}, "'type' must be one of"),
    (lambda r: {**r, "report": 7}, "'report' and 'text' must be strings"),
    (lambda r: {k: v for k, v in r.items() if k != "text"}, "missing text"),
    (lambda r: {**r, "index": "one"}, "'index' has the wrong type"),
])
def test_malformed_predict_jsonl(tmp_path, tagged_line, mutate, why):
    f = tmp_path / "tagged.jsonl"
    f.write_text(json.dumps(tagged_line) + "\n" + json.dumps(mutate(dict(tagged_line))) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=rf"tagged\.jsonl:2: {why}"):
        read_tagged_jsonl(f)
    for args in (["analyse", str(f), "-o", str(tmp_path / "out")], ["compare", str(f), str(f)]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1 and why in _one_line(r.stderr)
    f.write_bytes(b'{"type_scores": 1}\n\xff\xfe\n')
    with pytest.raises(UserError, match="not UTF-8"):
        read_tagged_jsonl(f)


@pytest.mark.parametrize("content,why", [
    (b"report_id,local_authority\nbury_2021,Bury\nbury_2021,Bury\n", r"meta\.csv:3: report_id 'bury_2021' appears twice"),
    (b"id,council\nx,y\n", r"meta\.csv:1: needs a report_id column"),
    (b"report_id,local_authority\nx,caf\xe9\n", r"meta\.csv: not UTF-8 text"),
    (b'report_id,local_authority\nx,"' + b"a" * 200_000 + b'"\n', r"meta\.csv:\d: not a readable CSV"),
    (b"report_id,local_authority\n,Bury\n", r"meta\.csv:2: the report_id is empty"),
])
def test_bad_metadata_is_refused_before_any_tagging(tmp_path, params, seeds, monkeypatch, content, why):
    import pipeline.analyse as analyse

    def never(*_a, **_k):
        raise AssertionError("tagged before the metadata was checked")

    monkeypatch.setattr(analyse, "tag_archive", never)
    meta = tmp_path / "meta.csv"
    meta.write_bytes(content)
    with pytest.raises(UserError, match=why):
        analyse_archive([str(seeds[0])], tmp_path / "out", params, [], meta)


def test_evaluate_refuses_non_object_jsonl(tmp_path):
    f = tmp_path / "gold.jsonl"
    f.write_text('{"text": "Caseloads are fine.", "type": "strength", "themes": ["workforce"]}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"gold\.jsonl:2: a JSON list, not an object"):
        read_eval_file(f)
    f.write_text('{"text": "Caseloads are fine.", "type": "strength", "themes": 7}\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"gold\.jsonl:1: 'themes' must be a list"):
        read_eval_file(f)
    r = CliRunner().invoke(main, ["evaluate", str(f)])
    assert r.exit_code == 1 and "'themes' must be a list" in _one_line(r.stderr)


@pytest.mark.parametrize("edit,why", [
    (lambda t: t.replace("paths:\n", "paths: [1, 2]\nold_paths:\n", 1), r"invalid value at 'paths'"),
    (lambda t: t + "\n# caf\xe9\n", r"not UTF-8 text"),
    (lambda t: t.replace("max_upload_mb: 1", "max_upload_mb: .inf"), r"invalid value at 'serve\.max_upload_mb'"),
    (lambda t: t.replace("max_file_mb: 50", "max_file_mb: .nan"), r"invalid value at 'ingest\.max_file_mb'"),
    (lambda t: t.replace("port: 8000", "port: 83537"), r"invalid value at 'serve\.port'"),
    (lambda t: t.replace("parse_timeout_s: 30", "parse_timeout_s: .inf"), r"invalid value at 'serve\.parse_timeout_s'"),
])
def test_bad_params_files(tmp_path, edit, why):
    pf = write_params(tmp_path, serve={"max_upload_mb": 1})
    text = edit(pf.read_text(encoding="utf-8"))
    pf.write_bytes(text.encode("latin-1") if "caf\xe9" in text else text.encode("utf-8"))
    with pytest.raises(UserError, match=why):
        load_params(pf)
    r = CliRunner().invoke(main, ["--params", str(pf), "segment", "-"], input="Fine.")
    assert r.exit_code == 1 and _one_line(r.stderr)


@pytest.mark.parametrize("card", [b"[]", b"{not json", b"\xff\xfe", b'{"versions": [], "metrics": {"dev": 3}}'])
def test_a_broken_model_card_is_ignored_with_a_warning(tmp_path, tiny_model, params, card):
    d = tmp_path / "m"
    d.mkdir()
    tiny_model.save(d / "model.joblib")
    (d / "model_card.json").write_bytes(card)
    with pytest.warns(UserWarning) if card != b'{"versions": [], "metrics": {"dev": 3}}' else _nothing():
        assert read_card(d) in ({}, {"versions": [], "metrics": {"dev": 3}})
    with pytest.warns(UserWarning) if card != b'{"versions": [], "metrics": {"dev": 3}}' else _nothing():
        load_model(str(d), params)
        info = _model_info(str(d), params)
    assert info["name"] == params.tracking.registered_model and info["metrics"] == {}


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("args,why", [
    (["serve", "--port", "83537"], "Invalid value for '--port': 83537 is not in the range 1<=x<=65535"),
    (["serve", "--workers", "0"], "Invalid value for '--workers'"),
    (["segment"], "Missing argument 'PATHS...'"),
])
def test_usage_errors_are_one_line(args, why):
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and why in _one_line(r.stderr)
