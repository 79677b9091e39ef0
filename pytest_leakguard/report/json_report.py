"""The JSON report (``--leakguard-json``), written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

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
    "message",
)


def build(
    results: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    environment: Mapping[str, Any],
) -> dict[str, Any]:
    """The report as a dict: ``{"version": 1, "settings", "environment", "tests": [...]}``."""
    tests = [{key: data.get(key) for key in _FIELDS} for data in results]
    tests.sort(key=lambda t: str(t["nodeid"]))
    return {
        "version": SCHEMA_VERSION,
        "settings": dict(settings),
        "environment": dict(environment),
        "tests": tests,
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
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
