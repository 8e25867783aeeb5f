"""Fixtures for end-to-end tests: the real server on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, path: str = "/ready", timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not become ready")


@contextlib.contextmanager
def running_server(params_file: Path):
    """``ofsted-tagger serve`` on a free loopback port, stopped on exit; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "--params", str(params_file), "serve", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    from tests.conftest import write_params

    tmp = tmp_path_factory.mktemp("serve")
    pf = write_params(tmp, serve={"max_sentences": 50, "max_upload_mb": 1},
                      models=trained["params"].paths.models, mlflow_db=trained["params"].paths.mlflow_db)
    with running_server(pf) as url:
        yield url


