"""Inputs: the paths a command is given -> documents and sentences, tolerating bad files.

Every command that reads reports goes through here: :func:`expand_paths` turns files,
directories and ``-`` into input files (one message per missing path),
:func:`iter_documents` reads them (one message per unreadable file, the others still
read), :func:`read_sentence_lines` reads one-sentence-a-line files,
:func:`pdf_sources` finds the PDFs among the inputs (for links to their pages), and
:func:`segment_paths` is the ``segment`` command.  Progress bars are drawn only when
stderr is a terminal.

Report identity: a report's id is its file name without the suffix (``stdin`` for ``-``).
Two inputs of one run whose ids are equal, or differ only in case or punctuation
(``Bury_2021`` and ``bury-2021``: one page name, one file on a case-insensitive disk), would
be merged into one report: the second is refused with an error naming both
(:class:`ReportIds`); the same file given twice is read once.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Iterable, Iterator

from tqdm import tqdm

from pipeline.config import Params
from pipeline.errors import InputError
from pipeline.ingest import (
    DEFAULT_MAX_TEXT_MB,
    Document,
    decode_text,
    document_from_text,
    ingest_limits,
    iter_input_files,
    read_document,
    text_too_long,
)
from pipeline.segment import segment

STDIN = "-"
_MB = 1024 * 1024


def report_key(report_id: str) -> str:
    """What makes two report ids the same report: letters and digits, case-folded, in order."""
    return "_".join(re.findall(r"[^\W_]+", report_id.casefold()))


def report_id_of(source: Path | str) -> str:
    return "stdin" if source == STDIN else Path(source).stem


class ReportIds:
    """Report ids taken in one run: a second input with the same id (by :func:`report_key`) is refused."""

    def __init__(self) -> None:
        self._taken: dict[str, tuple[str, str]] = {}  # key -> (report id, where it came from)

    def claim(self, report_id: str, source: str, errors: list[str]) -> bool:
        key = report_key(report_id)
        if key in self._taken:
            first_id, first_src = self._taken[key]
            if first_id == report_id:
                clash = f"report id '{report_id}' is already {first_src}'s, and the two would be merged into one report"
            else:
                clash = (f"report id '{report_id}' differs from '{first_id}' ({first_src}) only in case or punctuation, "
                         "which name one report (and one page)")
            errors.append(f"{source}: {clash}; skipped: rename one of them (a report id is the file name without "
                          "its suffix).")
            return False
        self._taken[key] = (report_id, source)
        return True


def unique_inputs(files: Iterable[Path | str], errors: list[str], ids: ReportIds | None = None) -> list[Path | str]:
    """Input files with the same file given twice read once, and report-id clashes refused (one error each)."""
    ids = ids if ids is not None else ReportIds()
    seen: set[Path | str] = set()
    out: list[Path | str] = []
    for f in files:
        real = f if f == STDIN else Path(f).resolve()
        if real in seen:
            continue
        seen.add(real)
        if ids.claim(report_id_of(f), str(f), errors):
            out.append(f)
    return out


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


def read_stdin(max_text_mb: float) -> str:
    """Standard input as text, by the rules for text files (UTF-8, not binary, at most ``max_text_mb``)."""
    limit = int(max_text_mb * _MB)
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise text_too_long("<stdin>", max_text_mb)
    return decode_text(Path("<stdin>"), data)


def iter_documents(paths: Iterable[str], params: Params, errors: list[str],
                   ids: ReportIds | None = None) -> Iterator[Document]:
    """Yield a Document per readable input; record one message per bad input (and per report-id clash)."""
    for f in progress_bar(unique_inputs(expand_paths(paths, errors), errors, ids), "reading", "file"):
        try:
            if f == STDIN:
                max_text_mb = params.ingest.max_text_mb
                yield document_from_text(read_stdin(max_text_mb), "stdin", max_text_mb=max_text_mb)
            else:
                yield read_document(f, params.ingest.max_file_mb, **ingest_limits(params.ingest))
        except InputError as exc:
            errors.append(str(exc))
        except Exception as exc:  # a library failing on a malformed file
            errors.append(f"{f}: could not be read ({exc.__class__.__name__}: {exc}); check the file.")


def read_sentence_lines(paths: Iterable[str], errors: list[str],
                        max_text_mb: float = DEFAULT_MAX_TEXT_MB) -> Iterator[tuple[str, list[str]]]:
    """(report name, non-empty stripped lines) per UTF-8 text file or ``-``."""
    for path in unique_inputs(paths, errors):
        try:
            if path == STDIN:
                raw = read_stdin(max_text_mb)
            else:
                if Path(path).stat().st_size > max_text_mb * _MB:
                    raise text_too_long(path, max_text_mb)
                raw = decode_text(Path(path), Path(path).read_bytes())
        except InputError as exc:  # "PATH: why; what to do"
            why = str(exc).split(": ", 1)[-1].split("; ")[0]
            errors.append(f"{path}: cannot read sentences ({why}); give a UTF-8 text file.")
            continue
        except OSError as exc:
            errors.append(f"{path}: cannot read sentences ({exc.strerror or exc.__class__.__name__}); "
                          "give a UTF-8 text file.")
            continue
        yield report_id_of(path), [ln.strip() for ln in raw.splitlines() if ln.strip()]


def segment_paths(paths: Iterable[str], params: Params, errors: list[str]) -> list[dict]:
    """Every sentence of every readable input, as sentence records."""
    return [s.to_dict() for doc in iter_documents(paths, params, errors)
            for s in segment(doc, params.segment.max_sentence_chars, params.segment.heading_max_words)]
