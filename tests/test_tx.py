"""pytest-xdist's ``--tx``, its distributed engine: workers on two Python versions.

One worker is a ``popen`` one on this interpreter; the other is a remote one, as on
another machine: an execnet socket server run by a second Python version, in a virtual
environment with the checkout installed (its counter compiled for that version), reached
with ``--tx socket=HOST:PORT`` and sent the tests with ``--rsyncdir``.  The checks run in
each worker and the verdicts travel to the controller, which reports them.

(A ``popen//python=OTHER`` worker would not do: xdist gives a popen worker the
controller's ``sys.path``, so another version imports this one's packages.)
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
# Builds a venv of another Python version and compiles the counter there: .ci/run's slow step.
pytestmark = pytest.mark.own_step("slow")

ROOT = Path(__file__).resolve().parent.parent
PREFERRED = ((3, 12), (3, 13), (3, 10), (3, 11), (3, 9))
"""Versions to try for the second worker, first found wins (not this one)."""

TESTS = """
import platform

import pytest

_KEPT = []


@pytest.fixture(autouse=True)
def _python(record_property):
    # Which interpreter made the check: it travels with the verdict.
    record_property("python", platform.python_version())


def test_leaks():
    _KEPT.append(bytearray(512))


def test_clean():
    assert sum(range(100)) == 4950
"""


def _version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    major, minor = out.split()
    return int(major), int(minor)


def find_second_python() -> str | None:
    """An interpreter of another supported version than this one: pyenv's, or on PATH."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for wanted in PREFERRED:
        if wanted == sys.version_info[:2]:
            continue
        candidates = sorted(pyenv.glob(f"{wanted[0]}.{wanted[1]}.*/bin/python"), reverse=True)
        on_path = shutil.which(f"python{wanted[0]}.{wanted[1]}")
        for python in [*map(str, candidates), *([on_path] if on_path else [])]:
            if _version(python) == wanted:
                return python
    return None


def _copy_checkout(target: Path) -> Path:
    """The source without its build artefacts and environments (they would be copied in)."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", ".ci-venv", ".tox", "build", "dist", "*.egg-info", "__pycache__",
        "*.so", ".*_cache", "docs", "examples",
    )  # fmt: skip
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


@pytest.fixture(scope="session")
def second_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The python of a virtual environment of another version, with pytest, xdist,
    execnet and the checkout installed; built once per session."""
    pytest.importorskip("xdist")
    base = find_second_python()
    if base is None:
        pytest.skip(
            "no second Python version found (pyenv's ~/.pyenv/versions/3.X.*/bin/python or"
            " python3.X on PATH, 3.9 to 3.13): --tx with two versions needs one"
        )
    where = tmp_path_factory.mktemp("second-python")
    env_dir = where / "venv"
    subprocess.run([base, "-m", "venv", str(env_dir)], check=True, timeout=120)
    python = str(env_dir / ("Scripts" if os.name == "nt" else "bin") / "python")
    source = _copy_checkout(where / "src")
    install = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run(
        [*install, str(source), "pytest-xdist", "execnet"],
        timeout=600,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(f"installing the checkout into {python} failed:\n{done.stderr[-3000:]}")
    return python


@pytest.fixture
def remote_worker(second_python: str, tmp_path: Path) -> Iterator[str]:
    """``socket=HOST:PORT``: an execnet socket server of the second Python (a remote
    worker's host), stopped after the test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    home = tmp_path / "remote"
    home.mkdir()
    server = subprocess.Popen(
        [second_python, "-m", "execnet.script.socketserver", address],
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, server)
        yield address
    finally:
        server.kill()
        server.wait()


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    """Until the server listens (it exits with an error otherwise)."""
    while server.poll() is None:
        with socket.socket() as client:
            client.settimeout(1)
            if client.connect_ex(("127.0.0.1", port)) == 0:
                # execnet's server serves one connection at a time: let this one go.
                return
        time.sleep(0.1)  # not listening yet
    raise AssertionError(f"the socket server of the second Python exited: {server.returncode}")


def test_verdicts_arrive_from_workers_on_two_python_versions(
    pytester: pytest.Pytester, second_python: str, remote_worker: str
) -> None:
    project = pytester.mkdir("proj")
    (project / "test_two.py").write_text(TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider", "-v",
        "--dist", "each", "--max-worker-restart", "0",
        "--tx", f"socket={remote_worker}", "--rsyncdir", str(project),
        "--tx", f"popen//python={sys.executable}",
        "--leakguard", "--leakguard-json", "report.json", "--junitxml", "junit.xml",
        str(project),
        timeout=300,
    )  # fmt: skip
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 1, output
    ours, theirs = platform.python_version(), _full_version(second_python)
    assert ours.rsplit(".", 1)[0] != theirs.rsplit(".", 1)[0]
    result.stdout.fnmatch_lines_random(
        [f"[[]gw0[]] * Python {theirs} *", f"[[]gw1[]] * Python {ours} *"]
    )
    # Each worker checked each test (--dist each): a leak and a clean verdict from each,
    # with the version of the interpreter that made the check.
    by_python: dict[str, dict[str, str]] = {}
    for case in ET.parse(pytester.path / "junit.xml").getroot().iter("testcase"):
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        verdicts = by_python.setdefault(str(properties["python"]), {})
        verdicts[str(case.get("name"))] = str(properties["leakguard_verdict"])
    expected = {"test_leaks": "leak", "test_clean": "clean"}
    assert by_python == {ours: expected, theirs: expected}, output
    report = json.loads((pytester.path / "report.json").read_text())
    verdicts = sorted((t["nodeid"], t["verdict"]) for t in report["tests"])
    assert verdicts == [
        ("proj/test_two.py::test_clean", "clean"),
        ("proj/test_two.py::test_clean", "clean"),
        ("proj/test_two.py::test_leaks", "leak"),
        ("proj/test_two.py::test_leaks", "leak"),
    ]
    result.stdout.fnmatch_lines(["4 checked: 2 leaked, 2 clean"])


def _full_version(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
