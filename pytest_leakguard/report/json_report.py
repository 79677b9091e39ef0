"""The JSON report (``--leakguard-json``), written atomically."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from ..suppress import used_counts

SCHEMA_VERSION = 1

_FIELDS = (
    "nodeid",
    "verdict",
    "reason",
    "warmup",
    "runs",
    "growth_per_run",
    "tail_growth_per_run",
    "sustained_growth_per_run",
    "rising_runs",
    "trend",
    "thresholds",
    "units",
    "samples",
    "error",
    "explanation",
    "suppressions",
    "message",
)


def build(
    results: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    environment: Mapping[str, Any],
) -> dict[str, Any]:
    """The report as a dict: ``{"version": 1, "settings", "environment", "tests": [...],
    "suppressions_used": {...}}``."""
    tests = [{key: data.get(key) for key in _FIELDS} for data in results]
    tests.sort(key=lambda t: str(t["nodeid"]))
    return {
        "version": SCHEMA_VERSION,
        "settings": dict(settings),
        "environment": dict(environment),
        "tests": tests,
        "suppressions_used": used_counts(results),
    }


def write_atomic(path: str, payload: Mapping[str, Any]) -> None:
    """Write JSON (sorted keys, indented) to ``path`` atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` through a temporary file in the same directory, then rename.

    An interrupted run never leaves a half-written file behind.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".leakguard-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            # mkstemp makes the file 0600: give it the mode of the file it replaces,
            # or the mode a plain open() would give a new one.
            os.chmod(tmp, _mode_for(path))
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _mode_for(path: str) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
