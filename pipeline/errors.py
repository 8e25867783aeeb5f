"""Errors meant for people (one sentence naming the file and what to do), and safe output.

- :class:`UserError` / :class:`InputError`: a problem the user can fix, shown as one line.
- :func:`check_output_file` / :func:`check_output_dir`: an output path is a regular file,
  a directory we may replace, or a new path; never a symlink, FIFO, device, a path under
  a file or ''.
- :func:`atomic_write`: one file written beside its target and renamed into place.
- :func:`atomic_directory`: a set of files written into a temporary directory and swapped
  in for the target directory as a whole (``renameat2(RENAME_EXCHANGE)`` on Linux), so an
  interrupt leaves the old set or the new set, never a mix.
- :func:`written_outputs`: what has been written in full so far, so an interrupted command
  can say the truth.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterable, Iterator


class UserError(Exception):
    """A problem the user can fix; its message is shown as-is, exit code 1 or 2."""


class InputError(UserError):
    """One input file could not be read; other files may still be processed."""


_WRITTEN: list[Path] = []  # outputs written in full by this process, in order
_STAGING: set[Path] = set()  # temporary directories being filled (their files are not outputs yet)


def written_outputs() -> list[Path]:
    """Every output file or directory this process has put in place, in order."""
    return list(_WRITTEN)


def _record(path: Path) -> None:
    if not any(s == path or s in path.parents for s in _STAGING):
        _WRITTEN.append(path)


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _existing_ancestor(path: Path) -> Path:
    for parent in path.parents:
        if os.path.lexists(parent):
            return parent
    return Path(".")


def _check_new_path(path: Path, what: str) -> Path:
    """``path`` does not exist: its nearest existing ancestor must be a directory."""
    anc = _existing_ancestor(path)
    if not anc.is_dir():
        raise UserError(f"{path}: {anc} is not a directory, so no {what} can be created under it; "
                        "give a path inside a directory.")
    return path


def _lstat(raw: Path | str, what: str) -> os.stat_result | None:
    if not str(raw).strip():  # Path('') would be '.', the working directory
        raise UserError(f"'{raw}': the {what} path is empty; give a name for it.")
    path = Path(raw)
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        _raise_under_file(path, what)
    except OSError as exc:
        raise UserError(f"{path}: cannot be used as the {what} ({exc.strerror}); give another path.")


def _raise_under_file(path: Path, what: str) -> None:
    anc = next((p for p in path.parents if os.path.isfile(p)), path.parent)
    raise UserError(f"{path}: {anc} is a file, so no {what} can be created under it; give a path inside a directory.")


def check_output_file(path: Path | str) -> Path:
    """``path`` as an output file we may replace: an existing regular file or a new path.

    Refused with one line: '' , a directory, a symlink (even to a file: outputs never write
    through links), a FIFO, device or socket (``/dev/full``, process substitution), a path
    under a file.
    """
    st = _lstat(path, "output file")
    p = Path(path)
    if st is None:
        return _check_new_path(p, "output file")
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.stat(p).st_mode
            to = "" if stat.S_ISREG(target) else f" to {_kind(target)}" if not stat.S_ISDIR(target) else " to a directory"
        except OSError:
            to = " that points nowhere"
        raise UserError(f"{p}: is a symbolic link{to}; give a regular file or a new path (outputs never replace links).")
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"{p}: is a directory; give a file name (for example {p / 'tagged.jsonl'}).")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{p}: is {_kind(st.st_mode)}, not a regular file; give a regular file or a new path.")
    return p


def check_output_dir(path: Path | str, ours: Iterable[str] = ()) -> Path:
    """``path`` as an output directory we may replace as a whole: a new path, or a directory
    (a symlink to one is followed) holding nothing but ``ours`` (names a previous run wrote)."""
    st = _lstat(path, "output directory")
    p = Path(path)
    if st is None:
        return _check_new_path(p, "output directory")
    if stat.S_ISLNK(st.st_mode):
        if not p.is_dir():
            raise UserError(f"{p}: is a symbolic link to something that is not a directory; give a directory.")
        p = p.resolve()
        st = os.stat(p)
    if stat.S_ISREG(st.st_mode):
        raise UserError(f"{p}: is a file; give a directory (a new one, or one a previous run wrote).")
    if not stat.S_ISDIR(st.st_mode):
        raise UserError(f"{p}: is {_kind(st.st_mode)}, not a directory; give a directory.")
    strangers = sorted(set(os.listdir(p)) - set(ours))
    if strangers and ours:
        shown = ", ".join(strangers[:3]) + (" ..." if len(strangers) > 3 else "")
        raise UserError(f"{p}: holds files this command did not write ({shown}) and the whole directory is replaced; "
                        "give a new or empty directory.")
    return p


def _mkdirs(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        _raise_under_file(directory / "x", "output")
    except OSError as exc:
        raise UserError(f"{directory}: cannot create the output directory ({exc.strerror}); give another path.")


@contextmanager
def atomic_write(path: Path | str, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    ``path`` must be a regular file or a new path (:func:`check_output_file`).  If the block
    raises, the temporary file is removed and ``path`` is untouched, so no half-written
    output is ever left behind.
    """
    path = check_output_file(path)
    _mkdirs(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UserError(f"{path}: cannot write there ({exc.strerror}); give another path.")
    kwargs = {"encoding": encoding, "newline": ""} if "b" not in mode else {}
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        _record(path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT/SIGTERM held back (delivered after the block) while a few renames run."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step (Linux renameat2); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextmanager
def atomic_directory(path: Path | str, ours: Iterable[str] = ()) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``path``; when the block succeeds, it replaces
    ``path`` as a whole (the old set of files is removed), else it is removed and ``path`` is
    untouched.  ``path`` is checked by :func:`check_output_dir` with ``ours``."""
    target = check_output_dir(path, ours)
    _mkdirs(target.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:
        raise UserError(f"{target}: cannot write there ({exc.strerror}); give another path.")
    _STAGING.add(tmp)
    try:
        yield tmp
        mode = os.stat(target).st_mode & 0o7777 if target.is_dir() else 0o755
        os.chmod(tmp, mode)
        with _signals_deferred():
            if not target.is_dir():
                os.rename(tmp, target)
            elif not _exchange(tmp, target):  # no atomic swap here: two renames, signals held back
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
                os.rename(target, old / "x")
                os.rename(tmp, target)
                os.rename(old / "x", tmp)
                os.rmdir(old)
            _STAGING.discard(tmp)
            _record(target)
            shutil.rmtree(tmp, ignore_errors=True)  # the old set
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _STAGING.discard(tmp)
