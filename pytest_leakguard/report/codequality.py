"""GitLab Code Quality report (``--leakguard-codequality``): one issue per non-clean test,
at its allocating line, shown in the merge request's widget and diff.

The format is the subset of Code Climate's that GitLab reads: a JSON array of issues with
``description``, ``check_name``, ``fingerprint``, ``severity`` and ``location.path`` /
``location.lines.begin`` (paths relative to the project's root, ``CI_PROJECT_DIR``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..result import ERROR, INCONCLUSIVE, LEAK
from .json_report import write_text_atomic
from .locations import Finding, findings, repository_root

_CHECKS = {
    LEAK: ("leakguard-leak", "major", "memory leak"),
    INCONCLUSIVE: ("leakguard-inconclusive", "minor", "leak check inconclusive"),
    ERROR: ("leakguard-error", "info", "leak check error"),
}


def issue(finding: Finding) -> dict[str, Any]:
    """The Code Quality issue of one finding."""
    check_name, severity, what = _CHECKS[finding.status]
    description = f"{what} in {finding.nodeid}: {finding.summary}"
    if finding.holder:
        description += f"; kept alive by {finding.holder}"
    # Stable across runs and line moves: GitLab matches issues of two pipelines by it.
    key = "\0".join((check_name, finding.nodeid, finding.path))
    return {
        "type": "issue",
        "description": description,
        "check_name": check_name,
        "categories": ["Performance"],
        "fingerprint": hashlib.sha256(key.encode("utf-8")).hexdigest()[:32],
        "severity": severity,
        "location": {"path": finding.path, "lines": {"begin": finding.line or 1}},
    }


def build(
    results: Sequence[Mapping[str, Any]], rootdir: Path, repository: Path
) -> list[dict[str, Any]]:
    """The report: an issue per leaked, inconclusive or errored test (``[]`` if none)."""
    return [issue(found) for found in findings(list(results), rootdir, repository)]


def write(
    path: str,
    results: Sequence[Mapping[str, Any]],
    rootdir: Path,
    environ: Mapping[str, str],
    start: Path,
) -> None:
    """Write the report to ``path`` atomically, paths relative to ``CI_PROJECT_DIR``
    (outside GitLab, to ``start``: the directory pytest was started from)."""
    repository = repository_root(environ, "CI_PROJECT_DIR", start)
    payload = build(results, rootdir, repository)
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")
