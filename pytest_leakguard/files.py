"""Writing report and baseline files carefully, and checking their paths early.

What is at an output path is never replaced by something of another kind:

* a symbolic link is followed: its target is written, the link stays;
* a character device (``/dev/null``, ``/dev/stdout``) is written in place;
* a FIFO is written in place when a reader has it open, else refused (not waited on);
* a socket or a block device is refused;
* a regular file (or a new one) is written through a temporary file in the same
  directory, fsynced and renamed over it, with the mode of the file it replaces: an
  interrupted run never leaves half a file.

Temporary files carry the writer's process id (``.leakguard-PID-XXXX.tmp``): those of a
process that no longer runs (killed with SIGKILL) are removed by the next write.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

_PREFIX = ".leakguard-"
_SUFFIX = ".tmp"
_STALE_SECONDS = 3600
"""Age after which a temporary file without a process id in its name is stale."""


class OutputPathError(OSError):
    """A path a report or baseline cannot be written to; the message says why."""


def write_json(path: str, payload: Mapping[str, Any]) -> None:
    """Write JSON (sorted keys, indented) to ``path`` as :func:`write_text` does."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (see the module docstring for what is done per kind)."""
    target = os.path.realpath(path)  # through symlinks: the link is kept, its target written
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except OSError as exc:
        raise OutputPathError(f"cannot write {path}: {exc.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        _write_in_place(path, target, mode, text)
        return
    directory = os.path.dirname(target)
    try:
        os.makedirs(directory, exist_ok=True)
        remove_stale_temporaries(directory)
        _replace(target, text)
    except OSError as exc:
        raise OutputPathError(f"cannot write {path}: {exc}") from None


def _replace(target: str, text: str) -> None:
    """Write a regular file atomically: temporary file, fsync, rename."""
    fd, tmp = tempfile.mkstemp(
        prefix=f"{_PREFIX}{os.getpid()}-", suffix=_SUFFIX, dir=os.path.dirname(target)
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            # mkstemp makes the file 0600: give it the mode of the file it replaces,
            # or the mode a plain open() would give a new one.
            os.chmod(tmp, _mode_for(target))
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _write_in_place(path: str, target: str, mode: int, text: str) -> None:
    """A special file: written through, never replaced."""
    problem = _special_problem(mode)
    if problem is not None:
        raise OutputPathError(f"cannot write {path}: it {problem}")
    flags = os.O_WRONLY
    if stat.S_ISFIFO(mode):
        flags |= os.O_NONBLOCK  # a FIFO nobody reads would block the run forever
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO and stat.S_ISFIFO(mode):
            raise OutputPathError(
                f"cannot write {path}: it is a FIFO (named pipe) that nobody is reading"
            ) from None
        raise OutputPathError(f"cannot write {path}: {exc.strerror}") from None
    try:
        os.set_blocking(fd, True)  # the reader is there: let it take the text at its pace
        with os.fdopen(fd, "w", encoding="utf-8", closefd=False) as stream:
            stream.write(text)
    except OSError as exc:
        raise OutputPathError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _special_problem(mode: int) -> str | None:
    """Why a file that is neither regular nor a directory cannot take a report, if it cannot."""
    if stat.S_ISSOCK(mode):
        return "is a socket"
    if stat.S_ISBLK(mode):
        return "is a block device (a disk), not a file"
    return None


def check_output_path(path: Path) -> str | None:
    """Why ``path`` cannot take a report or baseline, or ``None`` if it can.

    The reason is a predicate for the path: ``"is a directory, not a file path"``.

    Run at configure time, so that a bad path is a usage error before any test runs
    rather than a lost report after all of them.  Creates no directory and leaves
    nothing behind.
    """
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return _check_new_file(target)
    except OSError as exc:
        return f"cannot be used: {exc.strerror}"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file path"
    if not stat.S_ISREG(mode):
        return _special_problem(mode)
    if not os.access(target, os.W_OK):
        return "is not writable"
    return _check_directory(target.parent)


def _check_new_file(target: Path) -> str | None:
    """A file to be created: its nearest existing ancestor must be a writable directory."""
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"cannot be created: {ancestor} is not a directory"
    return _check_directory(ancestor)


def _check_directory(directory: Path) -> str | None:
    """Try to create (and remove) a file there: access() says yes to root in /proc."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{_PREFIX}{os.getpid()}-", suffix=_SUFFIX, dir=directory)
    except OSError as exc:
        return f"cannot be written: no file can be created in {directory} ({exc.strerror})"
    os.close(fd)
    os.unlink(tmp)
    return None


def remove_stale_temporaries(directory: str) -> list[str]:
    """Remove the temporary files of writers that died before their rename; returns them."""
    removed: list[str] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if name.startswith(_PREFIX) and name.endswith(_SUFFIX):
            path = os.path.join(directory, name)
            if _stale(name[len(_PREFIX) : -len(_SUFFIX)], path):
                try:
                    os.unlink(path)
                except OSError:
                    continue  # another run removed it first, or it is not ours to remove
                removed.append(path)
    return removed


def _stale(middle: str, path: str) -> bool:
    pid, sep, _ = middle.partition("-")
    # os.kill(pid, 0) would terminate the process on Windows: there, age alone decides.
    if sep and pid.isdigit() and os.name == "posix":
        return int(pid) != os.getpid() and not _alive(int(pid))
    try:  # no process id to ask (an older name, or Windows): stale once it is old
        return time.time() - os.lstat(path).st_mtime > _STALE_SECONDS
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _mode_for(path: str) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def misread_paths(
    args: Sequence[str], flags: Iterable[str], invocation_dir: Path
) -> list[tuple[str, str]]:
    """(flag, value) of ``flags`` given with the value apart, naming an existing path.

    pytest chooses the rootdir and the ini file from the command line before it loads
    any plugin, so before it knows these options take a value: such a value is taken
    for a test path then.
    """
    wanted = set(flags)
    return [
        (flag, value)
        for flag, value in zip(args, args[1:])
        if flag in wanted and (invocation_dir / value).exists()
    ]


def setup_moved(config: Any, misread: Sequence[str]) -> str | None:
    """How taking ``misread`` for test paths changed pytest's rootdir or ini file, if it did.

    Recomputes pytest's choice (:func:`compat.rootdir_and_inifile`) with and without
    those paths.
    """
    from . import compat

    taken = compat.rootdir_and_inifile(config, misread)
    meant = compat.rootdir_and_inifile(config, ())
    if taken == meant:
        return None
    return (
        f"the rootdir became {taken[0]} instead of {meant[0]}"
        f" and the ini file {taken[1] or 'none'} instead of {meant[1] or 'none'}"
    )
