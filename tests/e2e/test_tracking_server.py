"""Training against a real MLflow tracking server on loopback (MLFLOW_TRACKING_URI)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real processes, servers, a browser or Spark, and a corpus model

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def mlflow_server(tmp_path):
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [str(mlflow_bin), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("mlflow server did not start")
    yield url
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)


def test_train_logs_and_registers_on_a_tracking_server(tmp_path, mlflow_server):
    from mlflow import MlflowClient

    from tests.conftest import MECHANICS_MODEL, small_data, write_params

    pf = write_params(tmp_path, models=tmp_path / "models", mlflow_db=tmp_path / "unused.db", data=small_data(tmp_path),
                      model=MECHANICS_MODEL)
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server}
    r = subprocess.run([sys.executable, "-m", "pipeline", "--params", str(pf), "train"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"MLflow tracking: {mlflow_server}" in r.stdout
    assert not (tmp_path / "unused.db").exists()
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    mv = client.get_model_version_by_alias("ofsted-tagger", "champion")
    run = client.get_run(mv.run_id)
    assert run.data.metrics["dev_type_macro_f1"] > 0.8
    assert {"git_commit", "data.train_hash"} <= set(run.data.tags)
    arts = {a.path for a in client.list_artifacts(mv.run_id, "report")}
    assert {"report/confusion_dev.png", "report/theme_f1_dev.png", "report/misclassified_dev.csv",
            "report/classification_report.txt"} <= arts
