"""The JSON report (``--leakguard-json``); :mod:`pytest_leakguard.files` writes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..files import write_json as write_atomic
from ..files import write_text as write_text_atomic
from ..suppress import used_counts

__all__ = ["SCHEMA_VERSION", "build", "write_atomic", "write_text_atomic"]

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
    incomplete_reason: str | None = None,
) -> dict[str, Any]:
    """The report as a dict: ``{"version": 1, "complete", "incomplete_reason", "settings",
    "environment", "tests": [...], "suppressions_used": {...}}``.

    ``incomplete_reason`` says why the run did not check every test it should have
    (``"interrupted"``, ``"an xdist worker crashed"``...).
    """
    tests = [{key: data.get(key) for key in _FIELDS} for data in results]
    tests.sort(key=lambda t: str(t["nodeid"]))
    return {
        "version": SCHEMA_VERSION,
        "complete": incomplete_reason is None,
        "incomplete_reason": incomplete_reason,
        "settings": dict(settings),
        "environment": dict(environment),
        "tests": tests,
        "suppressions_used": used_counts(results),
    }
