"""Issue 13, items 4 and 7 (DOCX part): zip bombs are refused before anything is inflated, XML is
parsed defused, and a .docx that is not one gives the usual one-line error, never a traceback."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from pipeline.errors import InputError, UserError
from pipeline.ingest import read_document
from tests.hostile._helpers import within

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p></w:body></w:document>'
)


def _docx_bytes() -> bytes:
    import docx

    d = docx.Document()
    d.add_paragraph("The council is good. Children are safe.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _replace(data: bytes, name: str, content: bytes | None, extra: dict[str, bytes] | None = None) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            if info.filename == name:
                if content is not None:
                    out.writestr(name, content)
            else:
                out.writestr(info, src.read(info))
        for k, v in (extra or {}).items():
            out.writestr(k, v)
    return buf.getvalue()


def _with_zeros(data: bytes, name: str, mb: int) -> bytes:
    """A copy of the DOCX with one more entry of ``mb`` MB of zeros (deflated ~1000:1)."""
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z, z.open(name, "w", force_zip64=True) as fh:
        chunk = b"\0" * (1 << 20)
        for _ in range(mb):
            fh.write(chunk)
    return buf.getvalue()


@pytest.fixture(scope="module")
def good() -> bytes:
    return _docx_bytes()


@pytest.fixture(scope="module")
def bomb(good) -> bytes:
    return _with_zeros(good, "word/media/image1.png", 300)  # 300 KB that inflates to 300 MB


def _read_quickly(path: Path, **limits):
    tracemalloc.start()
    try:
        with within(1.0, f"reading {path.name}"):
            return read_document(path, **limits)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 30 * 1024 * 1024, f"{peak / 1e6:.0f} MB allocated: something was inflated"


def test_a_good_docx_still_reads(tmp_path, good):
    f = tmp_path / "good.docx"
    f.write_bytes(good)
    assert read_document(f).text == "The council is good. Children are safe."


def test_zip_bomb_is_refused_by_its_declared_size_before_inflating(tmp_path, bomb):
    f = tmp_path / "bomb.docx"
    f.write_bytes(bomb)
    assert f.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(InputError, match=r"bomb\.docx: the DOCX would inflate to 30\d MB, over the 200 MB limit \(ingest\.max_inflated_mb"):
        _read_quickly(f)


def test_zip_bomb_is_refused_by_its_ratio(tmp_path, good):
    f = tmp_path / "ratio.docx"
    f.write_bytes(_with_zeros(good, "word/media/image1.png", 20))
    with pytest.raises(InputError, match=r"ratio\.docx: 'word/media/image1\.png' in the DOCX inflates [\d,]+ times, over the 100 limit \(ingest\.max_zip_ratio"):
        _read_quickly(f)


def test_text_of_a_docx_is_capped(tmp_path, good):
    f = tmp_path / "long.docx"
    import docx

    import random

    rnd = random.Random(13)
    d = docx.Document()
    for _ in range(30):  # varied text: a run of one letter compresses 500 times and is refused as a bomb
        d.add_paragraph("".join(rnd.choice("abcdefghij klmnopqrstuvwxyz.") for _ in range(50_000)))
    d.save(str(f))
    with pytest.raises(InputError, match=r"long\.docx: its text runs past the 1 MB limit \(ingest\.max_text_mb"):
        read_document(f, max_text_mb=1)


BAD = {
    "not_a_zip": lambda good: b"This is plain text, not a Word file.\n",
    "empty": lambda good: b"",
    "truncated": lambda good: good[: len(good) // 2],
    "truncated_tail": lambda good: good[:-30],
    "bad_xml": lambda good: _replace(good, "word/document.xml", b"<w:document><w:body><w:p>unclosed"),
    "nested_entities": lambda good: _replace(good, "word/document.xml", BILLION_LAUGHS),
    "external_entity": lambda good: _replace(good, "word/document.xml", XXE),
    "no_document_part": lambda good: _replace(good, "word/document.xml", None),
    "bad_content_types": lambda good: _replace(good, "[Content_Types].xml", b"<Types/>"),
    "a_pdf_named_docx": lambda good: b"%PDF-1.4\n%%EOF\n",
}
MESSAGE = {
    "empty": r"the file is empty",
    "bad_xml": r"'word/document\.xml' in the DOCX is not well-formed XML",
    "nested_entities": r"'word/document\.xml' in the DOCX declares a DTD",
    "external_entity": r"'word/document\.xml' in the DOCX declares a DTD",
    "no_document_part": r"not a Word document",
}


@pytest.mark.parametrize("case", BAD)
def test_broken_docx_gives_one_line(tmp_path, good, case):
    f = tmp_path / f"{case}.docx"
    f.write_bytes(BAD[case](good))
    with within(1.0, case), pytest.raises(InputError) as err:
        read_document(f)
    msg = str(err.value)
    assert msg.startswith(f"{f}: ") and "\n" not in msg and msg.endswith(".")
    assert re.search(MESSAGE.get(case, r"not a readable DOCX file"), msg), msg


def test_cli_gives_one_line_per_broken_docx_and_no_traceback(tmp_path, good, bomb):
    files = []
    for case, make in BAD.items():
        f = tmp_path / f"{case}.docx"
        f.write_bytes(make(good))
        files.append(f)
    (tmp_path / "bomb.docx").write_bytes(bomb)
    files.append(tmp_path / "bomb.docx")
    (tmp_path / "good.docx").write_bytes(good)
    files.append(tmp_path / "good.docx")
    r = subprocess.run([sys.executable, "-m", "pipeline", "segment", *map(str, files)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    for f in files[:-1]:
        assert sum(str(f) + ":" in ln for ln in lines) == 1, (f, r.stderr)
    assert "The council is good." in r.stdout  # the good file is still tagged


def test_errors_are_user_errors():
    assert issubclass(InputError, UserError)
