"""Regression tests: pytest's own machinery must not look like a leak over re-runs.

Each case once grew from run to run inside pytest (not in the test) and was
reported as a leak; the cause was fixed generically in the runner or settle().
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SUITE = """
import logging
import warnings

import pytest


@pytest.fixture(scope="module")
def database():
    return {"rows": []}


@pytest.fixture
def session(database):
    # A function-scoped fixture over a module-scoped one: pytest registers the
    # former's finish() on the latter at every setup.
    return dict(database)


def test_tmp_path(tmp_path):
    (tmp_path / "a.txt").write_text("x")


def test_function_fixture_over_module_fixture(session):
    assert session == {"rows": []}


def test_capsys(capsys):
    print("hello")
    assert capsys.readouterr().out == "hello\\n"


def test_caplog(caplog):
    logging.getLogger("shop").warning("low stock")
    assert "low stock" in caplog.text


def test_record_property(record_property):
    record_property("order", 1)


def test_recwarn(recwarn):
    warnings.warn("deprecated", DeprecationWarning)
    assert len(recwarn) == 1


def test_monkeypatch(monkeypatch):
    monkeypatch.setenv("SHOP_MODE", "test")
    monkeypatch.setattr(logging, "raiseExceptions", False)


def test_tmp_path_factory(tmp_path, tmp_path_factory):
    # Every run starts with empty directories; the paths of each run are recorded.
    first, second = tmp_path_factory.mktemp("data"), tmp_path_factory.mktemp("data")
    for directory in (tmp_path, first, second):
        assert not any(directory.iterdir())
        (directory / "a.txt").write_text("x")
    with open(__file__ + ".paths", "a") as paths:
        paths.write(f"{tmp_path} {first} {second}\\n")
"""


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Run the suite under --leakguard in a subprocess; results by test name."""
    directory: Path = tmp_path_factory.mktemp("false_positives")
    (directory / "test_pytest_machinery.py").write_text(SUITE)
    report = directory / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-o",
            "addopts=",
            "--leakguard",
            f"--leakguard-json={report}",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tests = json.loads(report.read_text())["tests"]
    found = {t["nodeid"].split("::")[-1]: t for t in tests}
    paths = (directory / "test_pytest_machinery.py.paths").read_text().splitlines()
    found["test_tmp_path_factory"]["paths"] = [line.split() for line in paths]
    return found


@pytest.mark.parametrize(
    "name",
    [
        "test_tmp_path",
        "test_function_fixture_over_module_fixture",
        "test_capsys",
        "test_caplog",
        "test_record_property",
        "test_recwarn",
        "test_monkeypatch",
        "test_tmp_path_factory",
    ],
)
def test_pytest_machinery_is_not_a_leak(verdicts: dict[str, dict[str, Any]], name: str) -> None:
    test = verdicts[name]
    assert test["verdict"] == "clean", test["message"]


def test_re_runs_reuse_their_temporary_directories(verdicts: dict[str, dict[str, Any]]) -> None:
    """A new numbered directory per run was a leak on Python 3.12: pathlib interns path parts.

    The normal run keeps its own directories; every re-run gets the same ones, emptied.
    """
    test = verdicts["test_tmp_path_factory"]
    runs = test["paths"]
    assert len(runs) == 1 + test["warmup"] + test["runs"]
    normal, *reruns = runs
    assert len(set(map(tuple, reruns))) == 1, reruns
    assert not set(normal) & set(reruns[0])
    assert len(set(reruns[0])) == 3  # two mktemp("data") in one run stay two directories
