"""The JSON report (``--leakguard-json``); :mod:`pytest_leakguard.files` writes it.

Its form is described by ``report/schema.json`` (JSON Schema); each entry of
``tests`` is a result's JSON form (:meth:`pytest_leakguard.result.TestResult.to_json`):
the full form, or the compact form of a clean test whose probes did not move.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..files import write_json as write_atomic
from ..files import write_text as write_text_atomic
from ..suppress import used_counts

__all__ = [
    "SCHEMA_VERSION",
    "build",
    "dumps",
    "fields",
    "schema",
    "write",
    "write_atomic",
    "write_text_atomic",
]

SCHEMA_VERSION = 2
"""2: clean tests may be compact, and the report has the probes' ``units``."""

_TESTS = '"tests": "@tests@"'
"""Where :func:`dumps` puts the entries, one per line or block."""


def build(
    results: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any],
    environment: Mapping[str, Any],
    incomplete_reason: str | None = None,
    units: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The report as a dict: ``{"version": 2, "complete", "incomplete_reason", "settings",
    "environment", "units", "tests": [...], "suppressions_used": {...}}``.

    ``incomplete_reason`` says why the run did not check every test it should have
    (``"interrupted"``, ``"an xdist worker crashed"``...); ``units`` are the probes'
    units (a compact entry has none of its own).
    """
    tests = sorted(results, key=lambda t: str(t["nodeid"]))
    return {
        "version": SCHEMA_VERSION,
        "complete": incomplete_reason is None,
        "incomplete_reason": incomplete_reason,
        "settings": dict(settings),
        "environment": dict(environment),
        "units": dict(units or {}),
        "tests": tests,
        "suppressions_used": used_counts(results),
    }


def dumps(payload: Mapping[str, Any]) -> str:
    """The report's text: indented, sorted keys; a compact test entry on one line.

    One line per clean test keeps the file small (under 300 bytes per clean test)
    and a leak's entry stays readable in a diff.
    """
    tests = payload.get("tests")
    if not isinstance(tests, list):
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"
    head = json.dumps({**payload, "tests": "@tests@"}, indent=2, sort_keys=True)
    entries = [_entry(test) for test in tests]
    body = "[\n    " + ",\n    ".join(entries) + "\n  ]" if entries else "[]"
    return head.replace(_TESTS, '"tests": ' + body, 1) + "\n"


def _entry(test: Any) -> str:
    if isinstance(test, Mapping) and "flat" in test:
        return json.dumps(test, sort_keys=True)
    return json.dumps(test, indent=2, sort_keys=True).replace("\n", "\n    ")


def write(path: str, payload: Mapping[str, Any]) -> None:
    """Write the report to ``path`` (atomically, see :func:`pytest_leakguard.files.write_text`)."""
    write_text_atomic(path, dumps(payload))


def fields() -> tuple[str, ...]:
    """Every field the schema names: the top level's and a test entry's (both forms)."""
    found = schema()
    entries = found["$defs"]
    names = [
        *found["properties"],
        *entries["full"]["properties"],
        *entries["compact"]["properties"],
    ]
    return tuple(dict.fromkeys(names))


def schema() -> dict[str, Any]:
    """The report's JSON Schema (``report/schema.json``, package data)."""
    import importlib.resources

    text = importlib.resources.files(__package__).joinpath("schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
