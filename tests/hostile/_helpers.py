"""Helpers of the hostile-input suite: a hard per-call time budget, and tiny PDFs made by hand."""

from __future__ import annotations

import signal
import time
import zlib
from contextlib import contextmanager
from typing import Iterator


class OverBudget(AssertionError):
    pass


@contextmanager
def within(seconds: float, what: str = "the call") -> Iterator[None]:
    """Fail if the block takes longer than ``seconds``: interrupted at the budget (SIGALRM also
    stops a running regular expression), so a regression fails fast instead of hanging."""

    def _alarm(signum, frame):  # noqa: ARG001
        raise OverBudget(f"{what} ran past its {seconds:g} s budget")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    elapsed = time.perf_counter() - t0
    assert elapsed < seconds, f"{what} took {elapsed:.2f} s (budget {seconds:g} s)"


def _pdf_string(s: str) -> bytes:
    return b"(" + s.encode("latin-1", "replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def make_pdf(pages: list[list[str]], compress: bool = False) -> bytes:
    """A PDF whose pages show the given lines in Helvetica, one text line per line (no library needed)."""
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    objs: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(n_pages)) + b"] /Count %d >>" % n_pages,
        font_id: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for i, lines in enumerate(pages):
        page_id, content_id = 3 + 2 * i, 4 + 2 * i
        objs[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (font_id, content_id)
        )
        body = b"BT /F1 9 Tf 11 TL 40 800 Td " + b" ".join(_pdf_string(ln) + b" Tj T*" for ln in lines) + b" ET"
        if compress:
            body = zlib.compress(body, 9)
            objs[content_id] = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream"
        else:
            objs[content_id] = b"<< /Length %d >>\nstream\n" % len(body) + body + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for k in sorted(objs):
        offsets[k] = len(out)
        out += b"%d 0 obj\n" % k + objs[k] + b"\nendobj\n"
    xref = len(out)
    size = max(objs) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for k in range(1, size):
        out += b"%010d 00000 n \n" % offsets[k]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)
