"""Check that the Markdown docs cover the code and that their links resolve.

Run by ``tox -e docs`` and ``.ci/run``: ``python docs/check_docs.py``.  Fails
(exit 1) when an option, ini key, marker argument, probe or JSON field is not
in the docs, or when a relative link points to a missing file or heading.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from pytest_leakguard.config import MARKER_HELP, MARKER_KWARGS, OPTIONS, Option
from pytest_leakguard.probes import BUILTIN_PROBES
from pytest_leakguard.report.json_report import fields

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
REPOSITORY = "https://github.com/pytest-leakguard/pytest-leakguard/"
"""Pages in docs/ link to files outside docs/ (the example, the benchmark scripts) through
the repository's address, which works on GitHub and in the built site alike; such a link must
name a file or directory that exists here: ``REPOSITORY + "blob/main/PATH"`` (or ``tree``)."""


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", title)))
    return found


def check_links(path: Path) -> list[str]:
    problems = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if target.startswith(REPOSITORY):
            rest = target[len(REPOSITORY) :]
            file_part, _, anchor = re.sub(r"^(blob|tree)/main/", "", rest).partition("#")
            if not rest.startswith(("blob/main/", "tree/main/")) or not (ROOT / file_part).exists():
                problems.append(f"{path.relative_to(ROOT)}: link to missing {target}")
            elif anchor and file_part.endswith(".md") and anchor not in anchors(ROOT / file_part):
                problems.append(f"{path.relative_to(ROOT)}: link to missing heading {target}")
            continue
        if re.match(r"[a-z]+:", target):
            continue  # an external link
        if _outside_docs(path, target):
            problems.append(
                f"{path.relative_to(ROOT)}: {target} is outside docs/: use {REPOSITORY}"
            )
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{path.relative_to(ROOT)}: link to missing {target}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            problems.append(f"{path.relative_to(ROOT)}: link to missing heading {target}")
    return problems


def _outside_docs(page: Path, target: str) -> bool:
    """A relative link from a page in docs/ to a file that the built site does not have."""
    if not page.resolve().is_relative_to(DOCS):
        return False  # README.md and CHANGELOG.md, read on GitHub only
    return not (page.parent / target.partition("#")[0]).resolve().is_relative_to(DOCS)


def check_coverage() -> list[str]:
    reference = (DOCS / "reference.md").read_text(encoding="utf-8")
    json_doc = (DOCS / "json-report.md").read_text(encoding="utf-8")
    problems = []
    for option in OPTIONS:
        for name in (option.flag, option.ini_key):
            if f"`{name}" not in reference:
                problems.append(f"docs/reference.md does not document {name}")
        if option.bounds is not None and not _documents_bounds(reference, option):
            low, high = option.bounds
            problems.append(
                f"docs/reference.md does not give the bounds of {option.flag}: {low} to {high}"
            )
    signature = MARKER_HELP.partition(":")[0]  # leakguard(enabled=True, budget=None, ...)
    if f"@pytest.mark.{signature}" not in " ".join(reference.split()):
        problems.append(f"docs/reference.md does not show the marker as @pytest.mark.{signature}")
    for kwarg in MARKER_KWARGS:
        if f"| `{kwarg}` |" not in reference:
            problems.append(f"docs/reference.md does not document the marker argument {kwarg}")
    for probe in BUILTIN_PROBES:
        if f"| `{probe}` |" not in reference:
            problems.append(f"docs/reference.md does not document the probe {probe}")
    for field in fields():
        if f"| `{field}` |" not in json_doc:
            problems.append(f"docs/json-report.md does not document the field {field}")
    return problems


def _documents_bounds(reference: str, option: Option) -> bool:
    """The option's row in the options table says ``LOW to HIGH`` (digits grouped or not)."""
    assert option.bounds is not None
    low, high = option.bounds
    wanted = {f"{low} to {high}", f"{low:,} to {high:,}", f"{low:_} to {high:_}"}
    rows = [line for line in reference.splitlines() if line.startswith(f"| `{option.flag}")]
    return any(text in row for row in rows for text in wanted)


def main() -> int:
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md"]
    pages += sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.relative_to(DOCS).parts)
    problems = check_coverage()
    for page in pages:
        problems.extend(check_links(page))
    for problem in problems:
        print(problem)
    print(f"checked {len(pages)} pages: {'ok' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
