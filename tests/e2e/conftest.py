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




# --------------------------------------------------------------------------- #
# Accessibility: axe-core (npm, installed by scripts/test.sh into tests/e2e/node_modules) injected into a page
# --------------------------------------------------------------------------- #
AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
BLOCKING_IMPACTS = ("serious", "critical")


def describe_violations(violations: list[dict]) -> str:
    """One line per violation and up to three of its elements, for an assertion message."""
    lines = []
    for v in violations:
        lines.append(f"{v['impact']}: {v['id']}: {v['help']} ({len(v['nodes'])} elements)")
        for n in v["nodes"][:3]:
            lines.append(f"    {' '.join(map(str, n['target']))}: {n.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


@pytest.fixture(scope="session")
def axe_violations():
    """``axe_violations(page)`` -> the serious and critical WCAG 2.2 A/AA violations axe-core finds in the page
    as it is now (call it after the page has rendered what is to be checked)."""
    if not AXE_JS.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{AXE_JS} is missing: scripts/test.sh installs axe-core with npm")
        pytest.skip("axe-core not installed (scripts/test.sh installs it: npm install --prefix tests/e2e)")
    source = AXE_JS.read_text(encoding="utf-8")

    def run(page, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict]:
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.add_script_tag(content=source)
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            list(AXE_TAGS))
        return [v for v in result["violations"] if v["impact"] in impacts]

    return run
