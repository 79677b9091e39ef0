"""Merge the JSON reports or baselines of a sharded run into one (pure, no pytest import).

A suite split across CI machines (pytest-split, matrix jobs) writes one report
or baseline per shard.  The merged file is what one run of the whole suite
would have written: the tests of every shard, the settings and environment
they share.  What cannot be merged without lying is a :class:`Conflict`: a
test measured in two shards, or shards run with different settings or in
different environments (their figures are not comparable).  An input marked
``"complete": false`` (its run was interrupted) covers only part of its shard;
the merge of it is marked incomplete too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import baseline

REPORT = "report"
BASELINE = "baseline"


class InputError(Exception):
    """An input that cannot be read or is not a report or baseline; names the file."""


class Conflict(Exception):
    """The inputs disagree; ``problems`` lists every disagreement, each naming the files."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Shard:
    """One input file: its path, its kind (:data:`REPORT` or :data:`BASELINE`), its content."""

    path: str
    kind: str
    data: Mapping[str, Any]

    @property
    def complete(self) -> bool:
        """False for a file its run marked incomplete; a file without the key is complete."""
        return self.data.get("complete", True) is not False


def read(path: str) -> Shard:
    """Read ``path`` as JSON and tell a baseline from a report (not validated further)."""
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path} is not valid JSON (truncated or corrupt?): {exc}") from None
    if isinstance(data, dict) and data.get("format") == baseline.FORMAT:
        return Shard(path, BASELINE, data)
    if isinstance(data, dict) and isinstance(data.get("tests"), list):
        return Shard(path, REPORT, data)
    raise InputError(f"{path} is not a leakguard JSON report or baseline")


def kind_of(shards: Sequence[Shard]) -> str:
    """The one kind of all inputs; :class:`InputError` for a mix of reports and baselines."""
    kinds = {shard.kind for shard in shards}
    if len(kinds) > 1:
        listing = ", ".join(f"{shard.path} ({shard.kind})" for shard in shards)
        raise InputError(f"cannot merge reports with baselines: {listing}")
    return kinds.pop()


def merge_reports(shards: Sequence[Shard]) -> dict[str, Any]:
    """One JSON report with the tests of every shard; :class:`Conflict` if they disagree."""
    problems = _same(shards, ("version", "settings", "environment"))
    tests: list[dict[str, Any]] = []
    owners: dict[str, str] = {}
    for shard in shards:
        for test in shard.data["tests"]:
            nodeid = test.get("nodeid") if isinstance(test, dict) else None
            if not isinstance(nodeid, str):
                raise InputError(f"{shard.path} has a test without a nodeid: {test!r:.80}")
            problems += _claim(owners, nodeid, shard.path)
            tests.append(test)
    tests.sort(key=lambda test: str(test["nodeid"]))
    first = shards[0].data
    merged: dict[str, Any] = {**first, "tests": tests}
    merged["suppressions_used"] = _suppressions(shards)
    known = {"version", "settings", "environment", "tests", "suppressions_used", "complete"}
    problems += _same(shards, sorted({k for s in shards for k in s.data} - known - {"baseline"}))
    if any("baseline" in shard.data for shard in shards):
        comparison, trouble = _comparisons(shards)
        problems += trouble
        merged["baseline"] = comparison
    if problems:
        raise Conflict(problems)
    return _mark(merged, shards)


def merge_baselines(shards: Sequence[Shard]) -> baseline.Baseline:
    """One baseline with the tests of every shard; :class:`Conflict` if they disagree.

    Each input is validated by :func:`pytest_leakguard.baseline.load`
    (:class:`~pytest_leakguard.baseline.BaselineError` names a malformed one).
    """
    problems = _same(shards, ("environment",))
    tests: dict[str, dict[str, Any]] = {}
    owners: dict[str, str] = {}
    environment: dict[str, Any] = {}
    for shard in shards:
        loaded = baseline.load(shard.path)
        environment = environment or loaded.environment
        for nodeid, entry in loaded.tests.items():
            problems += _claim(owners, nodeid, shard.path)
            tests[nodeid] = entry
    if problems:
        raise Conflict(problems)
    return baseline.Baseline(dict(sorted(tests.items())), environment)


def baseline_json(merged: baseline.Baseline, shards: Sequence[Shard]) -> dict[str, Any]:
    """The merged baseline's file content, marked incomplete if an input was."""
    return _mark(merged.to_json(), shards)


def incomplete(shards: Sequence[Shard]) -> list[str]:
    """The paths of the inputs whose run marked them incomplete."""
    return [shard.path for shard in shards if not shard.complete]


def _mark(merged: dict[str, Any], shards: Sequence[Shard]) -> dict[str, Any]:
    # Written when an input had the key, so a merge of complete files reads as one run's file.
    if any("complete" in shard.data for shard in shards):
        merged["complete"] = not incomplete(shards)
    return merged


def _claim(owners: dict[str, str], nodeid: str, path: str) -> list[str]:
    """Record that ``path`` measured ``nodeid``; a problem if another file did too."""
    if nodeid in owners:
        where = path if owners[nodeid] == path else f"{owners[nodeid]} and {path}"
        return [f"{nodeid} is in {where} (twice: shards must not overlap)"]
    owners[nodeid] = path
    return []


def _same(shards: Sequence[Shard], keys: Sequence[str]) -> list[str]:
    """A problem per key whose value is not the same in every input."""
    problems = []
    first = shards[0]
    for key in keys:
        for shard in shards[1:]:
            if shard.data.get(key) != first.data.get(key):
                problems.append(
                    f"{key} differs: {first.path} has {_show(first.data.get(key))},"
                    f" {shard.path} has {_show(shard.data.get(key))}"
                )
                break
    return problems


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."


def _suppressions(shards: Sequence[Shard]) -> dict[str, dict[str, float]]:
    """The shards' ``suppressions_used`` summed per pattern, most used first."""
    used: dict[str, dict[str, float]] = {}
    for shard in shards:
        entries = shard.data.get("suppressions_used") or {}
        if not isinstance(entries, dict):
            raise InputError(f"{shard.path}: suppressions_used is not an object")
        for pattern, counts in entries.items():
            total = used.setdefault(str(pattern), {"tests": 0, "bytes_per_run": 0.0})
            for key in total:
                value = counts.get(key, 0) if isinstance(counts, dict) else None
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise InputError(f"{shard.path}: suppressions_used[{pattern!r}] is malformed")
                total[key] += value
    return dict(sorted(used.items(), key=lambda kv: (-kv[1]["tests"], kv[0])))


def _row_key(row: Any) -> tuple[str, str]:
    """Rows by test, then probe; a row of ``new_leaks`` or ``new_tests`` is a node id."""
    if isinstance(row, dict):
        return str(row.get("nodeid")), str(row.get("probe"))
    return str(row), ""


def _comparisons(shards: Sequence[Shard]) -> tuple[dict[str, Any], list[str]]:
    """The shards' baseline comparisons as one: each shard compared its tests with the
    whole baseline, so a test is removed only if no shard has it."""
    missing = [shard.path for shard in shards if "baseline" not in shard.data]
    if missing:
        return {}, [f"a baseline comparison is in some reports, not in {', '.join(missing)}"]
    parts = [_comparison(shard) for shard in shards]
    seen = {str(t["nodeid"]) for shard in shards for t in shard.data["tests"]}
    removed = set.intersection(*(set(map(str, part["removed_tests"])) for part in parts)) - seen
    merged: dict[str, Any] = {
        "failed": any(part.get("failed") for part in parts),
        "removed_tests": sorted(removed),
        "environment_changes": {},
    }
    for key in _ROWS:
        merged[key] = sorted((row for part in parts for row in part[key]), key=_row_key)
    for part in parts:
        merged["environment_changes"].update(part["environment_changes"])
    return merged, []


_ROWS = ("regressions", "improvements", "new_leaks", "new_tests")
_SHAPES: dict[str, type] = {**dict.fromkeys((*_ROWS, "removed_tests"), list)}
_SHAPES["environment_changes"] = dict


def _comparison(shard: Shard) -> dict[str, Any]:
    """A shard's baseline comparison, its lists and objects checked (missing ones empty)."""
    part = shard.data["baseline"]
    if not isinstance(part, dict):
        raise InputError(f"{shard.path}: baseline is not an object")
    checked = dict(part)
    for key, kind in _SHAPES.items():
        value = part.get(key) or kind()
        if not isinstance(value, kind):
            raise InputError(f"{shard.path}: baseline.{key} is not {kind.__name__}")
        checked[key] = value
    return checked
