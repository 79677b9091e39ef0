"""Where a checked test's finding belongs in the repository: for the CI reports that
point at a line (GitHub annotations, GitLab Code Quality)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..result import ERROR, INCONCLUSIVE, LEAK, TestResult

REPORTED = (LEAK, INCONCLUSIVE, ERROR)
"""The verdicts a CI report shows (clean and skipped tests have nothing to point at)."""


@dataclass(frozen=True)
class Finding:
    """One non-clean verdict, placed at a file (and line) of the repository."""

    nodeid: str
    status: str
    path: str
    """Relative to the repository's root, with ``/`` separators."""
    line: int | None
    """The allocating line of the leak, or ``None`` (the test's file only)."""
    summary: str
    """The verdict's short phrase: ``heap +1.2 KiB/run (20 runs)``."""
    holder: str | None
    """The container that keeps the leaked objects alive, when found."""


def findings(
    results: list[Mapping[str, Any]] | tuple[Mapping[str, Any], ...],
    rootdir: Path,
    repository: Path,
) -> list[Finding]:
    """The non-clean verdicts of ``results`` (JSON report entries), in node id order.

    A leak is placed at its largest allocation site that lies inside ``repository``
    (its code, not a library's), else at the test's file.  ``rootdir`` is pytest's
    rootdir: the explanation's and the node id's paths are relative to it.
    """
    found = []
    for data in sorted(results, key=lambda d: str(d["nodeid"])):
        if data["verdict"] not in REPORTED:
            continue
        nodeid = str(data["nodeid"])
        explanation = data.get("explanation") or {}
        path, line = _site(explanation.get("sites", []), rootdir, repository)
        if path is None:
            test_file = _inside(rootdir / nodeid.split("::", 1)[0], repository)
            path = test_file if test_file is not None else nodeid.split("::", 1)[0]
        holders = explanation.get("holders") or []
        found.append(
            Finding(
                nodeid=nodeid,
                status=data["verdict"],
                path=path,
                line=line,
                summary=TestResult.from_dict(data).summary(),
                holder=str(holders[0]["path"]) if holders else None,
            )
        )
    return found


def _site(
    sites: list[Mapping[str, Any]], rootdir: Path, repository: Path
) -> tuple[str | None, int | None]:
    for site in sites:
        path = _inside(rootdir / str(site["file"]), repository)
        if path is not None:
            return path, int(site["line"])
    return None, None


def _inside(path: Path, repository: Path) -> str | None:
    """``path`` relative to ``repository`` (``/`` separators), if it is a file inside it."""
    try:
        relative = path.resolve().relative_to(repository.resolve())
    except ValueError:
        return None
    return relative.as_posix() if path.is_file() else None


def repository_root(environ: Mapping[str, str], variable: str, default: Path) -> Path:
    """The checkout's root as the CI system names it (``variable``), else ``default``."""
    value = environ.get(variable, "")
    return Path(value) if value and os.path.isdir(value) else default
