"""Building without a C compiler: the package still builds, and says what is missing.

Builds a wheel with pip (in a subprocess, with build isolation, as a user's
``pip install`` of the sdist would) from a copy of the source, so the checkout
gets no ``build/`` directory.  CI (``.ci/run``) checks the other side: the
repaired manylinux wheel installs and loads the counter where no compiler is.
"""

from __future__ import annotations

import os
import platform
import pty
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ["setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "pytest_leakguard"]

pytestmark = [
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or platform.python_implementation() != "CPython",
        reason="CC=/bin/false stands for a missing compiler with the Unix compiler of CPython",
    ),
    # A pip build with build isolation (tens of seconds): .ci/run's slow step.
    pytest.mark.own_step("slow"),
]


def test_a_build_without_a_compiler_warns_and_installs_without_the_counter(
    tmp_path: Path,
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCE:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("*.so"))
        else:
            shutil.copy2(ROOT / name, source / name)
    env = {**os.environ, "CC": "/bin/false", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # Without -v, in a terminal as a user runs it: pip hides a successful build's output.
    code, text = _in_a_terminal(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(source)],
        env,
    )
    assert code == 0, text
    assert "WARNING: pytest-leakguard is installed without its compiled allocation counter" in text
    assert "install a prebuilt wheel of pytest-leakguard, or a C compiler" in text
    (wheel,) = tmp_path.glob("pytest_leakguard-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "pytest_leakguard/plugin.py" in names
    # the HTML report's style sheet and script are package data
    assert "pytest_leakguard/report/static/report.css" in names
    assert "pytest_leakguard/report/static/report.js" in names
    assert not [name for name in names if "_alloccount" in name and name.endswith((".so", ".pyd"))]


def _in_a_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``command`` with a pseudo-terminal as its controlling terminal: exit code, output."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execve(command[0], command, env)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace")
