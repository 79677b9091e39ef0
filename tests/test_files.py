"""Output files: what is at a path is never clobbered, a bad path is a usage error before any
test runs, one failed write does not cost the others, incomplete runs say so, and path options
work with their value apart (``--leakguard-json PATH``) as well as joined (``=PATH``).

Runs that measure go to a subprocess (process-wide state); they load leakguard (and xdist) only.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_baseline_e2e import PLUGINS, XDIST_MODES, isolated, output  # noqa: F401 (fixture)

from pytest_leakguard.baseline import load

QUICK = (*PLUGINS, "--leakguard", "--leakguard-warmup=1", "--leakguard-runs=1")
"""Cheap checks: these tests are about the files, not the figures."""

TESTS = """
def test_one():
    assert [1, 2]

def test_two():
    assert {"a": 1}
"""


def assert_clean_exit(result: pytest.RunResult) -> None:
    text = output(result)
    assert "INTERNALERROR" not in text, text
    assert "Traceback" not in text, text


def assert_usage_error(result: pytest.RunResult, *fragments: str) -> None:
    assert_clean_exit(result)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output(result)
    for fragment in fragments:
        assert fragment in output(result), output(result)


def report(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


# ---------------------------------------------------------------- never clobber what is there


def test_symlinked_outputs_are_written_through_the_link(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=TESTS)
    real = pytester.mkdir("real")
    for name in ("r.json", "r.html", "b.json"):
        (real / name).write_text("old\n")
        (pytester.path / name).symlink_to(real / name)
    result = pytester.runpytest_subprocess(
        *QUICK,
        "--leakguard-json=r.json",
        "--leakguard-html=r.html",
        "--leakguard-save-baseline=b.json",
    )
    assert_clean_exit(result)
    assert result.ret == pytest.ExitCode.OK, output(result)
    for name in ("r.json", "r.html", "b.json"):
        link = pytester.path / name
        assert link.is_symlink(), f"{name}: the link was replaced"
        assert os.readlink(link) == str(real / name)
        assert (real / name).read_text() != "old\n", f"{name}: the target was not written"
    assert report(real / "r.json")["complete"] is True
    assert sorted(load(str(real / "b.json")).tests) == [
        "test_app.py::test_one",
        "test_app.py::test_two",
    ]
    # the target's content, kept as PATH.bak beside the path given
    assert (pytester.path / "b.json.bak").read_text() == "old\n"
    assert sorted(p.name for p in real.iterdir()) == ["b.json", "r.html", "r.json"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="mknod needs root")
def test_a_character_device_is_written_in_place_not_replaced(pytester: pytest.Pytester) -> None:
    # A device of our own, like /dev/null (1, 3): main replaced /dev/null itself when root.
    pytester.makepyfile(test_app=TESTS)
    device = pytester.path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    result = pytester.runpytest_subprocess(
        *QUICK, "--leakguard-html=null", "--leakguard-json=null", "--leakguard-save-baseline=null"
    )
    assert_clean_exit(result)
    assert result.ret == pytest.ExitCode.OK, output(result)
    assert stat.S_ISCHR(device.stat().st_mode), "the device was replaced by a regular file"
    assert not (pytester.path / "null.bak").exists()


def test_a_fifo_with_a_reader_gets_the_report(tmp_path: Path) -> None:
    from pytest_leakguard import files

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    opened = threading.Event()

    def read() -> None:
        with open(fifo, encoding="utf-8") as stream:
            opened.set()
            received.append(stream.read())

    reader = threading.Thread(target=read)
    reader.start()
    # open() of a FIFO for reading blocks until a writer comes: the writer retries
    # until the reader is there (ENXIO until then), as a user's `cat pipe` would be.
    for _ in range(10_000):
        try:
            files.write_text(str(fifo), "report\n")
            break
        except files.OutputPathError:
            continue
    reader.join(timeout=60)
    assert received == ["report\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix sockets")
def test_a_socket_is_refused_at_configure_time(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=TESTS)
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind("sock")  # relative: a long absolute path exceeds the 108-byte limit
        result = pytester.runpytest_subprocess(*QUICK, "--leakguard-json=sock")
    finally:
        server.close()
    assert_usage_error(result, "--leakguard-json", "sock is a socket")


def test_regular_file_keeps_its_mode(tmp_path: Path) -> None:
    from pytest_leakguard import files

    path = tmp_path / "r.json"
    path.write_text("old")
    path.chmod(0o640)
    files.write_json(str(path), {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert json.loads(path.read_text()) == {"a": 1}


# ---------------------------------------------------------------- bad paths: before any test


BAD_PATHS = [
    pytest.param("a_file/r.json", "cannot be created: ", id="parent-is-a-file"),
    pytest.param("/proc/leakguard/r.json", "cannot be written: no file can be created", id="proc"),
    pytest.param(".", ". is a directory", id="directory"),
]


@pytest.mark.parametrize(
    "flag", ["--leakguard-json", "--leakguard-html", "--leakguard-save-baseline"]
)
@pytest.mark.parametrize(("value", "fragment"), BAD_PATHS)
@pytest.mark.parametrize("mode", XDIST_MODES)
def test_a_bad_output_path_is_a_usage_error_before_any_test(
    pytester: pytest.Pytester, flag: str, value: str, fragment: str, mode: tuple[str, ...]
) -> None:
    if "-n" in mode:
        pytest.importorskip("xdist")
    if value.startswith("/proc") and not Path("/proc/self").is_dir():
        pytest.skip("no /proc")
    pytester.makepyfile(test_app="def test_ran():\n    open('ran', 'w').close()\n")
    pytester.makefile("", a_file="not a directory")
    good = "--leakguard-json=good.json" if flag != "--leakguard-json" else "--leakguard-html=g.html"
    result = pytester.runpytest_subprocess(*QUICK, *mode, good, f"{flag}={value}")
    assert_usage_error(result, flag, fragment)
    assert not (pytester.path / "ran").exists(), "the tests ran before the path was checked"


def test_an_ini_output_path_is_named_in_the_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=TESTS)
    pytester.makefile("", a_file="x")
    pytester.makeini("[pytest]\nleakguard_html = a_file/r.html\n")
    result = pytester.runpytest_subprocess(*QUICK)
    assert_usage_error(result, "ini key leakguard_html in", "a_file/r.html cannot be created")


FAILING_AT_THE_END = [
    pytest.param(
        "--leakguard-save-baseline",
        "fifo",
        "*baseline not written*fifo: it is a FIFO (named pipe) that nobody is reading*",
        id="baseline-is-a-fifo-nobody-reads",
    ),
    pytest.param(
        "--leakguard-json",
        "late",
        "*leakguard: ERROR: JSON report not written*late*",
        id="json-path-became-a-directory",
    ),
]


@pytest.mark.parametrize(("flag", "value", "line"), FAILING_AT_THE_END)
@pytest.mark.parametrize("mode", XDIST_MODES)
def test_a_write_that_fails_at_the_end_does_not_stop_the_others(
    pytester: pytest.Pytester, flag: str, value: str, line: str, mode: tuple[str, ...]
) -> None:
    if "-n" in mode:
        pytest.importorskip("xdist")
    # Both paths are fine when pytest starts: a FIFO may get a reader, and the
    # test makes "late" a directory meanwhile.
    pytester.makepyfile(
        test_app="import os\n\ndef test_it():\n    os.makedirs('late', exist_ok=True)\n"
    )
    os.mkfifo(pytester.path / "fifo")
    outputs = {
        "--leakguard-json": "r.json",
        "--leakguard-html": "r.html",
        "--leakguard-save-baseline": "b.json",
        flag: value,
    }
    args = (f"{f}={v}" for f, v in outputs.items())
    result = pytester.runpytest_subprocess(*QUICK, *mode, *args)
    assert_clean_exit(result)
    result.stdout.fnmatch_lines([line])
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output(result)  # asked for, not written
    assert stat.S_ISFIFO((pytester.path / "fifo").stat().st_mode)
    written = set(outputs.values())
    if "r.json" in written:
        assert report(pytester.path / "r.json")["complete"] is True
    if "r.html" in written:
        assert "pytest-leakguard report" in (pytester.path / "r.html").read_text()
    if "b.json" in written:
        assert sorted(load(str(pytester.path / "b.json")).tests) == ["test_app.py::test_it"]


# ---------------------------------------------------------------- stale temporary files


@pytest.mark.skipif(os.name != "posix", reason="process ids are asked with os.kill(pid, 0)")
def test_stale_temporary_files_of_dead_writers_are_removed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=TESTS)
    out = pytester.mkdir("out")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = out / f".leakguard-{int(dead.stdout)}-abc123.tmp"
    stale.write_text("half a report")
    alive = out / f".leakguard-{os.getpid()}-def456.tmp"  # a writer still running
    alive.write_text("being written")
    result = pytester.runpytest_subprocess(*QUICK, "--leakguard-json=out/r.json")
    assert result.ret == pytest.ExitCode.OK, output(result)
    assert sorted(p.name for p in out.iterdir()) == [alive.name, "r.json"]


def test_temporary_files_without_a_process_id_are_stale_once_old(tmp_path: Path) -> None:
    from pytest_leakguard import files

    old = tmp_path / ".leakguard-abc123.tmp"  # as written before the names carried a pid
    recent = tmp_path / ".leakguard-def456.tmp"
    other = tmp_path / "notes.tmp"
    for path in (old, recent, other):
        path.write_text("x")
    os.utime(old, (1, 1))
    os.utime(other, (1, 1))
    assert files.remove_stale_temporaries(str(tmp_path)) == [str(old)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [recent.name, other.name]


# ---------------------------------------------------------------- incomplete runs

INTERRUPTED = """
def test_a():
    pass

def test_b():
    raise KeyboardInterrupt

def test_c():
    pass
"""


CRASHING = """
import os

def test_a():
    pass

def test_crash():
    os._exit(1)

def test_c():
    pass
"""


XDIST = ("-p", "xdist.plugin", "-n", "2")
INCOMPLETE_RUNS = [
    pytest.param(INTERRUPTED, (), pytest.ExitCode.INTERRUPTED, "interrupted", id="ctrl-c"),
    pytest.param(
        INTERRUPTED, XDIST, pytest.ExitCode.INTERRUPTED, "xdist worker", id="ctrl-c-xdist"
    ),
    pytest.param(CRASHING, XDIST, pytest.ExitCode.TESTS_FAILED, "xdist worker", id="crash-xdist"),
]


@pytest.mark.parametrize(("source", "mode", "status", "reason"), INCOMPLETE_RUNS)
def test_an_incomplete_run_marks_its_reports_and_saves_no_baseline(
    pytester: pytest.Pytester,
    source: str,
    mode: tuple[str, ...],
    status: pytest.ExitCode,
    reason: str,
) -> None:
    if mode:
        pytest.importorskip("xdist")
    pytester.makepyfile(test_app=source)
    result = pytester.runpytest_subprocess(
        *QUICK,
        *mode,
        "--leakguard-json=r.json",
        "--leakguard-html=r.html",
        "--leakguard-save-baseline=b.json",
    )
    assert_clean_exit(result)
    assert result.ret == status, output(result)
    # a baseline without the tests that did not run would read as "removed" next time
    assert not (pytester.path / "b.json").exists(), output(result)
    data = report(pytester.path / "r.json")
    assert data.get("complete") is False, data
    assert reason in str(data["incomplete_reason"]), data
    assert "Incomplete report" in (pytester.path / "r.html").read_text()
    result.stdout.fnmatch_lines([f"*baseline not saved to*the run is incomplete (*{reason}*"])


def test_an_incomplete_report_is_refused_as_a_baseline_unless_allowed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_app=INTERRUPTED)
    pytester.runpytest_subprocess(*QUICK, "--leakguard-json=r.json")
    assert report(pytester.path / "r.json")["complete"] is False
    pytester.makepyfile(test_app=TESTS)
    refused = pytester.runpytest_subprocess(*QUICK, "--leakguard-baseline=r.json")
    assert_usage_error(refused, "r.json is incomplete (interrupted", "--leakguard-allow-incomplete")
    allowed = pytester.runpytest_subprocess(
        *QUICK, "--leakguard-baseline=r.json", "--leakguard-allow-incomplete"
    )
    assert_clean_exit(allowed)
    assert allowed.ret == pytest.ExitCode.OK, output(allowed)


def test_allow_incomplete_saves_a_baseline_marked_incomplete(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=INTERRUPTED)
    result = pytester.runpytest_subprocess(
        *QUICK, "--leakguard-save-baseline=b.json", "--leakguard-allow-incomplete"
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED, output(result)
    saved = json.loads((pytester.path / "b.json").read_text())
    assert saved["complete"] is False, saved
    assert saved["incomplete_reason"] == "interrupted", saved
    assert list(saved["tests"]) == ["test_app.py::test_a"]
    pytester.makepyfile(test_app=TESTS)
    refused = pytester.runpytest_subprocess(*QUICK, "--leakguard-baseline=b.json")
    assert_usage_error(refused, "b.json is incomplete (interrupted)")


# ---------------------------------------------------------------- --leakguard-json PATH


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    """A project with an ini file and a package test module (wrong rootdir: ImportError)."""
    pytester.makeini("[pytest]\npythonpath = src\n")
    (pytester.path / "src" / "app").mkdir(parents=True)
    (pytester.path / "src" / "app" / "__init__.py").write_text("")
    (pytester.path / "src" / "app" / "core.py").write_text("VALUE = 1\n")
    pytester.makepyfile(test_app="from app.core import VALUE\n\ndef test_it():\n    assert VALUE\n")
    return pytester.path


PATH_FLAGS = ["--leakguard-json", "--leakguard-html", "--leakguard-save-baseline"]


@pytest.mark.parametrize("flag", PATH_FLAGS)
@pytest.mark.parametrize("joined", [True, False], ids=["joined", "apart"])
def test_path_options_outside_the_project_in_both_forms(
    pytester: pytest.Pytester,
    project: Path,
    tmp_path_factory: pytest.TempPathFactory,
    flag: str,
    joined: bool,
) -> None:
    target = tmp_path_factory.mktemp("reports") / "out"
    args = [f"{flag}={target}"] if joined else [flag, str(target)]
    first = pytester.runpytest_subprocess(*QUICK, *args)  # the file does not exist yet
    assert_clean_exit(first)
    assert first.ret == pytest.ExitCode.OK, output(first)
    assert target.is_file()
    second = pytester.runpytest_subprocess(*QUICK, *args)  # now it does
    if joined:
        assert_clean_exit(second)
        assert second.ret == pytest.ExitCode.OK, output(second)
        second.stdout.fnmatch_lines([f"rootdir: {project}*"])
    else:
        # pytest took the file for a test path while choosing the rootdir and ini file:
        # nothing a plugin can undo; a clear usage error instead of an ImportError.
        assert_usage_error(second, f"{flag}={target}", f"took {target}")
        assert "ImportError" not in output(second)


def test_path_apart_inside_the_project_keeps_working(
    pytester: pytest.Pytester, project: Path
) -> None:
    for _ in range(2):  # the second time, the file exists
        result = pytester.runpytest_subprocess(*QUICK, "--leakguard-json", "r.json")
        assert_clean_exit(result)
        assert result.ret == pytest.ExitCode.OK, output(result)
    assert report(project / "r.json")["complete"] is True


# ---------------------------------------------------------------- node ids in the summary


def test_summary_node_ids_are_relative_to_the_invocation_directory(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\n")
    sub = pytester.mkdir("sub")
    (sub / "test_leaks.py").write_text(
        "_KEPT = []\n\ndef test_leak():\n    _KEPT.append('x' * (100_000 + len(_KEPT)))\n"
    )
    monkeypatch.chdir(sub)
    result = pytester.runpytest_subprocess(
        *PLUGINS,
        "--leakguard",
        "--leakguard-max-runs=5",
        "--leakguard-confirm-runs=5",
        "--leakguard-explain=no",
        "-rf",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output(result)
    # the leakguard section, then pytest's short summary: the same form
    result.stdout.fnmatch_lines(
        [
            "LEAKED test_leaks.py::test_leak - blocks*",
            "*short test summary*",
            "LEAKED test_leaks.py::test_leak - memory leak*",
        ]
    )
    assert "LEAKED sub/" not in output(result)


def test_unit_cwd_relative() -> None:
    from pytest_leakguard.report.terminal import cwd_relative

    root = Path("/p")
    assert cwd_relative("sub/t.py::test[a::b]", root, root) == "sub/t.py::test[a::b]"
    assert cwd_relative("sub/t.py::test[a::b]", root, root / "sub") == "t.py::test[a::b]"
    assert cwd_relative("t.py::C::test", root, root / "other") == "../t.py::C::test"
