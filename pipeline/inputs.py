"""Inputs: the paths a command is given -> documents and sentences, tolerating bad files.

Every command that reads reports goes through here: :func:`expand_paths` turns files,
directories and ``-`` into input files (one message per missing path),
:func:`iter_documents` reads them (one message per unreadable file, the others still
read), :func:`read_sentence_lines` reads one-sentence-a-line files,
:func:`pdf_sources` finds the PDFs among the inputs (for links to their pages), and
:func:`segment_paths` is the ``segment`` command.  Progress bars are drawn only when
stderr is a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable, Iterator

from tqdm import tqdm

from pipeline.config import Params
from pipeline.errors import InputError
from pipeline.ingest import Document, document_from_text, ingest_limits, iter_input_files, read_document
from pipeline.segment import segment

STDIN = "-"


def expand_paths(paths: Iterable[str], errors: list[str], stdin: bool = True) -> list[Path | str]:
    """Files and directories (recursively) as input files, ``-`` (standard input) kept where allowed."""
    files: list[Path | str] = []
    for p in paths:
        if p == STDIN and stdin:
            files.append(STDIN)
        elif not Path(p).exists():
            errors.append(f"{p}: no such file or directory; check the path.")
        else:
            files.extend(iter_input_files([p]))
    return files


def pdf_sources(paths: Iterable[str]) -> dict[str, Path]:
    """Report id -> file, for the PDFs among the inputs (pages of tagged HTML link to them)."""
    out: dict[str, Path] = {}
    for f in expand_paths(paths, [], stdin=False):
        path = Path(f)
        try:
            is_pdf = path.suffix.lower() == ".pdf" or path.open("rb").read(5) == b"%PDF-"
        except OSError:
            continue
        if is_pdf:
            out[path.stem] = path
    return out


def progress_bar(items: list, desc: str, unit: str, minimum: int = 3):
    """``items`` with a progress bar on stderr when it is a terminal and there are enough items."""
    return tqdm(items, desc=desc, unit=unit, file=sys.stderr, disable=len(items) < minimum or not sys.stderr.isatty())


def iter_documents(paths: Iterable[str], params: Params, errors: list[str]) -> Iterator[Document]:
    """Yield a Document per readable input; record one message per bad input."""
    for f in progress_bar(expand_paths(paths, errors), "reading", "file"):
        try:
            if f == STDIN:
                yield document_from_text(sys.stdin.read(), "stdin", max_text_mb=params.ingest.max_text_mb)
            else:
                yield read_document(f, params.ingest.max_file_mb, **ingest_limits(params.ingest))
        except InputError as exc:
            errors.append(str(exc))
        except Exception as exc:  # a library failing on a malformed file
            errors.append(f"{f}: could not be read ({exc.__class__.__name__}: {exc}); check the file.")


def read_sentence_lines(paths: Iterable[str], errors: list[str]) -> Iterator[tuple[str, list[str]]]:
    """(report name, non-empty stripped lines) per UTF-8 text file or ``-``."""
    for path in paths:
        try:
            raw = sys.stdin.read() if path == STDIN else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{path}: cannot read sentences ({exc.__class__.__name__}); give a UTF-8 text file.")
            continue
        yield ("stdin" if path == STDIN else Path(path).stem), [ln.strip() for ln in raw.splitlines() if ln.strip()]


def segment_paths(paths: Iterable[str], params: Params, errors: list[str]) -> list[dict]:
    """Every sentence of every readable input, as sentence records."""
    return [s.to_dict() for doc in iter_documents(paths, params, errors)
            for s in segment(doc, params.segment.max_sentence_chars, params.segment.heading_max_words)]
