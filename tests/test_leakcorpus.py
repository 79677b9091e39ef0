"""The pure parts of benchmarks/leakcorpus.py: reading the tools' output, the table, saved runs.

The script itself builds venvs and runs both tools (minutes); these tests check what it concludes
from their output, on output captured from real runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

import pytest
from helpers import load_benchmark


@pytest.fixture(scope="module")
def corpus() -> ModuleType:
    return load_benchmark("leakcorpus")


MEMRAY_NATIVE = """\
Test was allowed to leak 1.0KiB per location but at least one location leaked more
----------------------------- memray-leaked-memory -----------------------------
List of leaked allocations:
    - 10.7KiB allocated here:
        PyUnicode_New:Objects/unicodeobject.c:1425
        objToJSONFile:<unknown>:0
        ...
    - 1.2KiB allocated here:
        _PyCode_CreateLineArray:Objects/codeobject.c:740

================================ MEMRAY REPORT =================================
\t - test_dump:/tmp/t/test_x.py:17 -> 1.0MiB
"""

MEMRAY_PYTHON = """\
List of leaked allocations:
\t\t- test_frozendict_as_key:/tmp/t/test_frozendict_hash.py:8 -> 54.4KiB
\t\t- <dictcomp>:/tmp/t/test_frozendict_hash.py:7 -> 20.3KiB
\t\t- wrapper:/tmp/v/pytest_memray/plugin.py:299 -> 480.0B
=========================== short test summary info ============================
"""


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (MEMRAY_NATIVE, "2 locations over the limit, largest 10.7 KiB"),
        (MEMRAY_PYTHON, "3 locations over the limit, largest 54.4 KiB"),
        ("1 passed in 0.4s", ""),
    ],
)
def test_leaked_locations_come_from_the_leak_section_only(
    corpus: ModuleType, output: str, expected: str
) -> None:
    # The 1.0MiB of the high-watermark report after the section is not a leak.
    assert corpus._leaked_locations(output) == expected


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (24.0, "bytes", "+24 B"),
        (147018.8, "bytes", "+143.6 KiB"),
        (5e6, "bytes", "+4.8 MiB"),
        (1748.5, "count", "+1,748"),
        (3.05, "count", "+3.05"),
        (1.0, "count", "+1"),
    ],
)
def test_amounts(corpus: ModuleType, value: float, unit: str, shown: str) -> None:
    assert corpus._amount(value, unit) == shown


def make_row(corpus: ModuleType, leaky: str, fixed: str, tool: str = "memray") -> object:
    row = corpus.Row("c", "p", "C", "1", "2", "3.11", "https://x/1", "+1 / 0")
    verdicts = {"leaky": leaky, "fixed": fixed}
    runs = {k: corpus.Run(v, v in corpus.FLAGGED) for k, v in verdicts.items()}
    other = {k: corpus.Run("not run") for k in verdicts}
    row.memray, row.leakguard = (runs, other) if tool == "memray" else (other, runs)
    return row


@pytest.mark.parametrize(
    ("leaky", "fixed", "right"),
    [
        ("leak", "clean", True),
        ("leak", "leak", False),
        ("clean", "clean", False),
        ("leak", "error", False),
        ("inconclusive", "clean", True),
    ],
)
def test_right_means_leaky_flagged_and_fixed_clean(
    corpus: ModuleType, leaky: str, fixed: str, right: bool
) -> None:
    assert make_row(corpus, leaky, fixed).right("memray") is right


def test_saved_runs_of_one_case_combine_each_tools_latest(
    corpus: ModuleType, tmp_path: Path
) -> None:
    first = make_row(corpus, "leak", "leak", tool="memray")
    second = make_row(corpus, "leak", "clean", tool="leakguard")
    third = make_row(corpus, "leak", "clean", tool="memray")
    for name, row, limit in (("a", first, "1 KB"), ("b", second, "1 KB"), ("c", third, "10 KB")):
        (tmp_path / f"{name}.json").write_text(json.dumps({"limit": limit, "rows": [asdict(row)]}))
    rows, limit = corpus.load([str(tmp_path / f"{n}.json") for n in "abc"])
    assert len(rows) == 1
    assert rows[0].right("leakguard")
    assert rows[0].right("memray")
    assert limit == "10 KB"
    assert corpus.table(rows, limit)[-1] == (
        "Told the leaky release from the fixed one: pytest-leakguard 1 of 1, pytest-memray"
        " (`limit_leaks('10 KB')`) 1 of 1."
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--case", "nope"], "--case: unknown case(s) nope (see --list)"),
        (["--tools", "valgrind"], "--tools: 'valgrind': a comma-separated subset"),
    ],
)
def test_bad_arguments_are_usage_errors(
    corpus: ModuleType, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        corpus.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_every_case_has_its_test_file(corpus: ModuleType) -> None:
    names = [case.name for case in corpus.CASES]
    assert len(names) == len(set(names)) >= 10
    for case in corpus.CASES:
        assert (corpus.TESTS / case.test).is_file(), case.test
        assert case.kind in {"pure", "C", "C buffer", "native", "fds"}
        assert case.source.startswith("https://github.com/")


@pytest.mark.parametrize(("fixed", "status"), [("clean", 0), ("leak", 1)])
def test_exit_status_is_1_unless_leakguard_tells_every_case_apart(
    corpus: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fixed: str,
    status: int,
) -> None:
    def measure(*args: object) -> object:
        return make_row(corpus, "leak", fixed, tool="leakguard")

    monkeypatch.setattr(corpus, "measure", measure)
    argv = ["--case", corpus.CASES[0].name, "--work", str(tmp_path), "--tools", "leakguard"]
    assert corpus.main(argv) == status
    assert "Told the leaky release from the fixed one" in capsys.readouterr().out
