"""Parse pool: the server's parsing (ingest + segment) in supervised worker processes.

Reading an upload or a pasted text and cutting it into sentences is the one part of a
request whose cost depends on what a stranger sends, so the server never does it on its
event loop: :class:`ParsePool` hands each job to one of ``serve.parse_workers`` processes
and waits for it on a thread, so ``/health`` and other requests are answered meanwhile.

Each worker
- is a fresh interpreter (``python -m pipeline.parse_pool``, talking over a socket pair):
  it inherits neither the server's listening socket (nothing but its end of the pair is
  passed) nor uvicorn's signal handlers (SIGTERM and SIGINT are reset to their default
  actions anyway), nor does it re-import the server's main module as multiprocessing's
  ``spawn`` would; it runs in a process group of its own, so a Ctrl-C at the terminal
  lets running parses finish while the server shuts down;
- dies with the server: ``PR_SET_PDEATHSIG`` (Linux) sends it SIGKILL when the server
  goes, however it goes (SIGKILL included), and a watchdog thread checks the parent
  every second on every platform;
- runs under ``RLIMIT_AS`` (``serve.parse_memory_mb``): a file that inflates past it is a
  MemoryError in the worker, a 422 for the client, not a server out of memory;
- has ``serve.parse_timeout_s`` per job: past it the worker is killed (SIGKILL) and
  replaced, and the client gets a 422; a worker that crashes is replaced the same way.

Workers are started from the event-loop thread only: ``PR_SET_PDEATHSIG`` fires when the
*thread* that forked the child ends, and the thread pool's threads come and go.
Jobs wait at most ``parse_timeout_s`` for a free worker, then get a 503.
"""

from __future__ import annotations

import asyncio
from array import array
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import anyio

from pipeline.errors import InputError
from pipeline.schema import Sentence

_MB = 1024 * 1024
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_WATCHDOG_S = 1.0  # how often a worker checks that its server is still there
_STARTUP_S = 60.0  # how long a new worker may take to import its parsers


@dataclass(frozen=True)
class ParseSettings:
    """What a worker needs to read and segment like the CLI does (from params.yaml)."""

    max_file_mb: float
    limits: dict[str, float]  # pipeline.ingest.ingest_limits(params.ingest)
    max_sentence_chars: int
    heading_max_words: int
    memory_mb: float  # RLIMIT_AS of the worker


@dataclass(frozen=True)
class Parsed:
    """A parsed document, packed for the trip back: unpickling holds the GIL the event loop needs, and
    9,000 Sentence objects took ~190 ms to unpickle under load, these arrays and one string ~1 ms."""

    report_id: str
    title: str
    numbers: bytes  # index, start, end of each unit (array 'q')
    texts: str  # the units' texts, one after the other
    text_lengths: bytes  # array 'q'
    sections: list[str]  # few distinct strings: pickled once each
    grades: list[str | None]
    kinds: list[str]
    pages: bytes = b""  # 1-based PDF page of each unit, 0 for none (array 'q')
    kind: str = "text"  # the document's kind (pdf, text, html, docx), as ingest's Document.kind
    source: str = ""  # where it came from (the server puts the upload's file name here)

    @classmethod
    def of(cls, report_id: str, title: str, units: list[Sentence], kind: str = "text", source: str = "") -> Parsed:
        numbers = array("q", [n for u in units for n in (u.index, u.start, u.end)]).tobytes()
        lengths = array("q", [len(u.text) for u in units]).tobytes()
        pages = array("q", [u.page or 0 for u in units]).tobytes()
        return cls(report_id, title, numbers, "".join(u.text for u in units), lengths,
                   [u.section for u in units], [u.grade for u in units], [u.kind for u in units],
                   pages, kind, source)

    def __len__(self) -> int:
        return len(self.kinds)

    def units(self) -> list[Sentence]:
        numbers, lengths, pages = array("q"), array("q"), array("q")
        numbers.frombytes(self.numbers)
        lengths.frombytes(self.text_lengths)
        pages.frombytes(self.pages)
        out, at = [], 0
        for i, n in enumerate(lengths):
            out.append(Sentence(self.report_id, numbers[3 * i], numbers[3 * i + 1], numbers[3 * i + 2],
                                self.sections[i], self.grades[i], self.texts[at:at + n], self.kinds[i],
                                (pages[i] or None) if pages else None))
            at += n
        return out


class ParseRefused(Exception):
    """The job could not be parsed: ``status`` and a one-line ``message`` for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------- #
# The worker process
# --------------------------------------------------------------------------- #
def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the watchdog below still ends the worker
            pass

    def watchdog() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(_WATCHDOG_S)

    if os.getppid() != parent_pid:  # the server went before the prctl took effect
        os._exit(1)
    threading.Thread(target=watchdog, name="parent-watchdog", daemon=True).start()


def _parse(job: tuple[str, str, str], s: ParseSettings) -> Parsed:
    from pipeline.ingest import document_from_text, read_document
    from pipeline.segment import segment

    kind, name, payload = job
    if kind == "text":
        doc = document_from_text(payload, name, max_text_mb=s.limits["max_text_mb"])
    else:
        doc = read_document(payload, s.max_file_mb, report_id=name, **s.limits)
    return Parsed.of(doc.report_id, doc.title, segment(doc, s.max_sentence_chars, s.heading_max_words),
                     doc.kind, doc.source)


def _worker_main(conn: Connection, parent_pid: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _die_with_parent(parent_pid)
    settings: ParseSettings = conn.recv()
    # import and warm the parsers before the memory limit, which is meant for the input
    import blingfire  # noqa: F401
    import bs4  # noqa: F401
    import docx  # noqa: F401
    import lxml.etree  # noqa: F401
    import pypdfium2  # noqa: F401

    _parse(("text", "warm-up", "Warm-up. The council is good."), settings)
    if settings.memory_mb:
        import resource

        limit = int(settings.memory_mb * _MB)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        name = job[1]
        try:
            reply: tuple[str, Any] = ("ok", _parse(job, settings))
        except InputError as exc:
            reply = ("refused", str(exc))
        except MemoryError:
            reply = ("refused", f"{name}: parsing needs more memory than the {settings.memory_mb:g} MB a parse may "
                                "use (serve.parse_memory_mb in params.yaml); send a smaller file or plain text.")
        except RecursionError:
            reply = ("refused", f"{name}: the document is nested too deeply to read; send plain text.")
        except Exception as exc:  # a library failing on a malformed file
            reply = ("refused", f"{name}: could not be read ({exc.__class__.__name__}); check the file.")
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("refused", f"{name}: the result is too large to return; send a smaller document."))


# --------------------------------------------------------------------------- #
# The server side
# --------------------------------------------------------------------------- #
class _Worker:
    def __init__(self, settings: ParseSettings):
        ours, theirs = socket.socketpair()
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.parse_pool", str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, process_group=0,
            )
        self.conn = Connection(ours.detach())
        self.conn.send(settings)
        self.ready = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, job: tuple[str, str, str], timeout: float) -> tuple[str, Any]:
        """On a thread: wait for start-up if need be, send the job, wait ``timeout`` for the answer."""
        try:
            if not self.ready:
                if not self.conn.poll(_STARTUP_S):
                    return ("dead", "did not start")
                self.conn.recv()
                self.ready = True
            self.conn.send(job)
            if not self.conn.poll(timeout):
                return ("timeout", None)
            return self.conn.recv()
        except Exception:  # closed, broken or garbled: the worker is replaced
            return ("dead", None)

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not refused
            pass
        self.conn.close()


class ParsePool:
    """``size`` parse workers; :meth:`parse_text` / :meth:`parse_file` from the event loop."""

    def __init__(self, settings: ParseSettings, size: int, timeout: float):
        self.settings = settings
        self.size = size
        self.timeout = timeout
        self._idle: asyncio.Queue[_Worker] | None = None
        self._all: set[_Worker] = set()
        self._closed = False

    def _spawn(self) -> _Worker:
        w = _Worker(self.settings)
        self._all.add(w)
        return w

    async def start(self) -> None:
        """Start the workers (on the event-loop thread) and wait until they have loaded their parsers."""
        self._idle = asyncio.Queue()
        workers = [self._spawn() for _ in range(self.size)]

        def wait_ready(w: _Worker) -> None:
            try:
                if w.conn.poll(_STARTUP_S):
                    w.conn.recv()
                    w.ready = True
            except (EOFError, OSError):
                pass
            if not w.ready:
                self.close()
                raise RuntimeError(f"a parse worker did not start (exit code {w.process.poll()}); see the log above.")

        for w in workers:
            await anyio.to_thread.run_sync(wait_ready, w)
            self._idle.put_nowait(w)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._all if w.process.pid]

    def _replace(self, w: _Worker) -> None:
        w.kill()
        self._all.discard(w)
        assert self._idle is not None
        if not self._closed:  # no new worker once the server is shutting down
            self._idle.put_nowait(self._spawn())

    async def _run(self, job: tuple[str, str, str]) -> Parsed:
        assert self._idle is not None, "ParsePool.start() was not awaited"
        name = job[1]
        try:
            w = await asyncio.wait_for(self._idle.get(), timeout=self.timeout)
        except (asyncio.TimeoutError, TimeoutError):
            raise ParseRefused(503, "the server is busy parsing other documents; retry in a moment.")
        if not w.alive():
            self._replace(w)
            w = await self._idle.get()
        outcome: tuple[str, Any] = ("dead", None)
        try:
            outcome = await anyio.to_thread.run_sync(w.call, job, self.timeout)
        finally:
            if outcome[0] in ("ok", "refused"):
                self._idle.put_nowait(w)
            else:  # timed out, crashed, or the request was cancelled mid-parse
                self._replace(w)
        status, value = outcome
        if status == "ok":
            return value
        if status == "refused":
            raise ParseRefused(422, value)
        if status == "timeout":
            raise ParseRefused(422, f"{name}: parsing took longer than {self.timeout:g} s (serve.parse_timeout_s in "
                                    "params.yaml); send a smaller file or plain text.")
        raise ParseRefused(422, f"{name}: the document crashed the parser; check that it is a valid document.")

    async def parse_text(self, text: str, name: str) -> Parsed:
        return await self._run(("text", name, text))

    async def parse_file(self, path: str, name: str) -> Parsed:
        return await self._run(("file", name, path))

    def close(self) -> None:
        self._closed = True
        for w in list(self._all):
            w.kill()
        self._all.clear()


if __name__ == "__main__":  # a worker: python -m pipeline.parse_pool FD PARENT_PID
    from pipeline.parse_pool import _worker_main as _main  # the module's own classes, not __main__'s, are pickled

    try:
        _main(Connection(int(sys.argv[1])), int(sys.argv[2]))
    except (EOFError, OSError):  # the server closed its end: nothing left to do
        pass
