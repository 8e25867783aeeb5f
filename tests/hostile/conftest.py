"""Fixtures of the hostile-input suite: a tiny model saved as a models/ directory (fitted in a second
on the synthetic sentences, no corpus training), its params file, and a real server using it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, write_params


@pytest.fixture(scope="session")
def tiny_models(tiny_model, tmp_path_factory) -> Path:
    """A models/ directory whose champion is the tiny model (with a model card)."""
    models = tmp_path_factory.mktemp("tiny") / "models"
    (models / "champion").mkdir(parents=True)
    tiny_model.save(models / "champion" / "model.joblib")
    (models / "champion" / "model_card.json").write_text(json.dumps({"name": "tiny", "version": "0"}), encoding="utf-8")
    return models


def tiny_params(tmp: Path, tiny_models: Path, serve: dict | None = None, **kw) -> Path:
    return write_params(tmp, serve={"max_upload_mb": 1, **(serve or {})}, models=tiny_models, **kw)


@contextlib.contextmanager
def started_server(params_file: Path):
    """``ofsted-tagger serve`` on a free port with this params file; yields (url, process)."""
    from tests.e2e.conftest import free_port, wait_ready

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "--params", str(params_file), "serve", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def tiny_server(tiny_models, tmp_path_factory):
    """A server with the tiny model, a 1 MB body cap and two parse workers; yields its URL."""
    pf = tiny_params(tmp_path_factory.mktemp("tiny_server"), tiny_models,
                     serve={"parse_workers": 2, "parse_timeout_s": 20})
    with started_server(pf) as (url, _proc):
        yield url
