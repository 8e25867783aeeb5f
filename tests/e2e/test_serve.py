"""The HTTP API end to end: the real server on a free loopback port, called over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ROOT, free_port, running_server, wait_ready


pytestmark = pytest.mark.slow  # real processes, servers, a browser or Spark, and a corpus model

def test_health_ready_model(server):
    assert httpx.get(server + "/health").json() == {"status": "ok"}
    assert httpx.get(server + "/ready").json() == {"status": "ready"}
    info = httpx.get(server + "/v1/model").json()
    assert info["name"] == "ofsted-tagger" and info["version"] == "1" and info["alias"] == "champion"
    assert info["run_id"] and info["trained_at"] and info["metrics"]["dev"]["type_macro_f1"] > 0.8
    assert httpx.get(server + "/docs").status_code == 200
    assert "/v1/sentences" in httpx.get(server + "/openapi.json").json()["paths"]


def test_sentences_match_predict_sentences(server, trained):
    from pipeline.predict import load_model, tag_sentences

    sents = ["Caseloads are manageable.", "Ensure that return home interviews are timely.", "Supervision is not always regular."]
    got = httpx.post(server + "/v1/sentences", json={"sentences": sents}).json()["sentences"]
    want = tag_sentences(load_model(str(trained["model_dir"]), trained["params"]), sents, "request")
    assert got == want
    assert [r["type"] for r in got] == ["strength", "recommendation", "weakness"]


def test_report_as_json_text_and_as_pdf_upload(server, seeds, params):
    r = httpx.post(server + "/v1/reports", json={"text": seeds[0].read_text(encoding="utf-8"), "report": "wokingham"})
    assert r.status_code == 200
    body = r.json()
    assert body["report"] == "wokingham" and len(body["sentences"]) > 20
    assert body["summary"]["sentences"] == len(body["sentences"]) and "front_door" in body["summary"]["by_theme"]
    pdf = params.paths.corpus_pdf / "bury_2021-12-17.pdf"
    r = httpx.post(server + "/v1/reports", files={"file": (pdf.name, pdf.read_bytes(), "application/pdf")}, timeout=60)
    assert r.status_code == 200, r.text
    recs = r.json()["sentences"]
    assert r.json()["report"] == "bury_2021-12-17"
    assert any(x["section"] == "What needs to improve?" and x["type"] == "recommendation" for x in recs)


@pytest.mark.parametrize("case", [
    "malformed_json", "wrong_type", "empty_list", "blank_sentence", "too_many", "extra_field",
    "report_not_object", "report_empty_text", "wrong_content_type",
])
def test_bad_requests_get_a_clear_4xx(server, case):
    post = lambda path, **kw: httpx.post(server + path, **kw)
    r = {
        "malformed_json": lambda: post("/v1/sentences", content=b'{"sentences": [', headers={"content-type": "application/json"}),
        "wrong_type": lambda: post("/v1/sentences", json={"sentences": "one"}),
        "empty_list": lambda: post("/v1/sentences", json={"sentences": []}),
        "blank_sentence": lambda: post("/v1/sentences", json={"sentences": ["ok.", "  "]}),
        "too_many": lambda: post("/v1/sentences", json={"sentences": ["Plans are good."] * 51}),
        "extra_field": lambda: post("/v1/sentences", json={"sentences": ["a."], "x": 1}),
        "report_not_object": lambda: post("/v1/reports", json=["text"]),
        "report_empty_text": lambda: post("/v1/reports", json={"text": ""}),
        "wrong_content_type": lambda: post("/v1/reports", content=b"text", headers={"content-type": "text/plain"}),
    }[case]()
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert isinstance(r.json()["error"], str) and r.json()["error"]
    assert httpx.get(server + "/health").status_code == 200


def test_bad_uploads(server, tmp_path, params):
    pdf = (params.paths.corpus_pdf / "bury_2021-12-17.pdf").read_bytes()
    r = httpx.post(server + "/v1/reports", files={"file": ("broken.pdf", pdf[:3000], "application/pdf")})
    assert r.status_code == 422 and r.json()["error"].startswith("broken.pdf: not a readable PDF")
    r = httpx.post(server + "/v1/reports", files={"file": ("tool.exe", b"MZ\x90\x00", "application/octet-stream")})
    assert r.status_code == 415 and "unsupported file type" in r.json()["error"]
    r = httpx.post(server + "/v1/reports", files={"file": ("big.txt", b"Plans are good. " * 80000, "text/plain")})
    assert r.status_code == 413 and "over 1 MB" in r.json()["error"]
    r = httpx.post(server + "/v1/reports", files={"file": ("empty.txt", b"", "text/plain")})
    assert r.status_code == 422 and "empty.txt: the file is empty" in r.json()["error"]
    r = httpx.post(server + "/v1/reports", files={"other": ("a.txt", b"x", "text/plain")})
    assert r.status_code == 422 and "'file' field" in r.json()["error"]
    assert httpx.get(server + "/ready").status_code == 200


def test_web_page_is_served(server):
    r = httpx.get(server + "/")
    assert r.status_code == 200 and "ofsted-tagger" in r.text and "/static/app.js" in r.text
    assert httpx.get(server + "/static/app.js").status_code == 200
    assert httpx.get(server + "/static/nothing.js").status_code == 404


def test_binds_to_loopback_by_default(params):
    assert params.serve.host == "127.0.0.1"


def test_schemathesis_finds_no_server_error(server):
    st = Path(sys.executable).with_name("schemathesis")
    r = subprocess.run([str(st), "run", server + "/openapi.json", "--checks", "not_a_server_error",
                        "--max-examples", "40", "--seed", "1", "--request-timeout", "30"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]
    assert httpx.get(server + "/health").status_code == 200


def test_mlflow_models_serve_the_same_model(trained):
    port = free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{trained['params'].paths.mlflow_db}",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen([str(mlflow_bin), "models", "serve", "-m", "models:/ofsted-tagger@champion",
                             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, "/ping", timeout=120)
        r = httpx.post(url + "/invocations", json={"inputs": [
            {"text": "Caseloads are manageable.", "mode": "sentence", "report": "x"},
            {"text": "Ensure that return home interviews are timely.", "mode": "sentence", "report": "x"}]}, timeout=60)
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        assert [p["type"] for p in preds] == ["strength", "recommendation"]
        assert set(preds[0]["type_scores"]) == {"strength", "weakness", "recommendation", "neutral"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_pdf_parsing_has_a_time_limit(trained, tmp_path, params):
    from tests.conftest import write_params

    pf = write_params(tmp_path, serve={"parse_timeout_s": 0.001}, models=trained["params"].paths.models)
    with running_server(pf) as url:
        pdf = params.paths.corpus_pdf / "bromley_2019-01-07.pdf"
        r = httpx.post(url + "/v1/reports", files={"file": (pdf.name, pdf.read_bytes(), "application/pdf")}, timeout=60)
        assert r.status_code == 422 and "parsing took longer than" in r.json()["error"]
        ok = httpx.post(url + "/v1/sentences", json={"sentences": ["Plans are clear."]})
        assert ok.status_code == 200


def test_serve_refuses_a_missing_model_with_one_line(tmp_path):
    from tests.conftest import write_params

    pf = write_params(tmp_path, models=tmp_path / "none")
    r = subprocess.run([sys.executable, "-m", "pipeline", "--params", str(pf), "serve", "--port", str(free_port())],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "no trained model yet" in r.stderr and "Traceback" not in r.stderr
