"""Issue 13, item 4 (PDF part): text that inflates is capped page by page (ingest.max_text_mb),
with a one-line error; the caps are params.yaml keys, validated."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from pipeline.config import IngestParams, default_params, load_params
from pipeline.errors import UserError
from pipeline.ingest import InputError, document_from_text, ingest_limits, read_document
from tests.conftest import write_params
from tests.hostile._helpers import make_pdf, within

LINE = "The council's services for children in care are good and improving steadily. " * 2  # 156 chars


def test_pdf_whose_text_inflates_is_refused_by_page_before_copying(tmp_path):
    # 30 KB of compressed content holding 1.9 MB of text on its first page
    f = tmp_path / "inflates.pdf"
    f.write_bytes(make_pdf([[LINE] * 12_000], compress=True))
    assert f.stat().st_size < 100_000
    with within(5.0, "PDF text bomb"), pytest.raises(
        InputError, match=r"inflates\.pdf: its text \(by page 1\) runs past the 1 MB limit \(ingest\.max_text_mb in params\.yaml\)"
    ):
        read_document(f, max_text_mb=1)


def test_pdf_text_is_counted_over_all_pages(tmp_path):
    f = tmp_path / "pages.pdf"
    f.write_bytes(make_pdf([[LINE] * 2_500] * 4, compress=True))  # ~0.4 MB a page
    with pytest.raises(InputError, match=r"pages\.pdf: its text \(by page 3\) runs past the 1 MB limit"):
        read_document(f, max_text_mb=1)
    assert read_document(f, max_text_mb=2).kind == "pdf"


def test_text_file_and_pasted_text_are_capped(tmp_path):
    f = tmp_path / "long.txt"
    f.write_text(LINE * 10_000, encoding="utf-8")  # 1.5 MB
    with pytest.raises(InputError, match=r"long\.txt: its text runs past the 1 MB limit"):
        read_document(f, max_text_mb=1)
    with pytest.raises(InputError, match=r"<stdin>: its text runs past the 1 MB limit"):
        document_from_text(LINE * 10_000, "stdin", max_text_mb=1)
    assert read_document(f, max_text_mb=2).text


def test_library_defaults_are_the_params_yaml_values():
    p = default_params().ingest
    defaults = {k: v.default for k, v in inspect.signature(read_document).parameters.items()}
    assert ingest_limits(p) == {k: defaults[k] for k in ("max_text_mb", "max_inflated_mb", "max_zip_ratio")}
    assert inspect.signature(document_from_text).parameters["max_text_mb"].default == p.max_text_mb
    assert defaults["max_mb"] == p.max_file_mb


@pytest.mark.parametrize("key,value", [("max_text_mb", 0), ("max_text_mb", -1), ("max_text_mb", float("inf")),
                                       ("max_inflated_mb", float("nan")), ("max_zip_ratio", 0.5),
                                       ("max_text_mb", "lots")])
def test_bad_limits_are_refused_with_the_key_named(tmp_path, key, value):
    pfile = write_params(tmp_path, ingest={key: value})
    with pytest.raises(UserError, match=rf"invalid value at 'ingest\.{key}'"):
        load_params(pfile)


def test_older_params_files_get_the_defaults():
    assert IngestParams(max_file_mb=50, pdf_timeout_s=30).max_text_mb == default_params().ingest.max_text_mb


def test_cli_uses_params_limits_and_prints_one_line(tmp_path):
    pfile = write_params(tmp_path, ingest={"max_text_mb": 1})
    f = tmp_path / "long.txt"
    f.write_text(LINE * 10_000, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "pipeline", "--params", str(pfile), "segment", str(f)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        f"error: {f}: its text runs past the 1 MB limit (ingest.max_text_mb in params.yaml); split the document and retry."
    )
