"""Shared fixtures: the real corpus and seeds, the project's params."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Params, default_params

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def params() -> Params:
    return default_params()


@pytest.fixture(scope="session")
def corpus_pdfs(params: Params) -> list[Path]:
    pdfs = sorted(params.paths.corpus_pdf.glob("*.pdf"))
    assert len(pdfs) == 108, f"expected the 108 corpus PDFs under {params.paths.corpus_pdf}"
    return pdfs


@pytest.fixture(scope="session")
def seeds(params: Params) -> list[Path]:
    files = sorted(params.paths.seeds.glob("*.txt"))
    assert len(files) == 5
    return files
