"""End-to-end: a leak's failure message names the allocating line and the holder."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest
from helpers import read_report

LEAKS = """
import functools
import logging

ORDERS = []


class Order:
    registry = []

    def __init__(self, number):
        self.number = number


class Bus:
    def on_event(self):
        pass


CALLBACKS = []


@functools.lru_cache(maxsize=None)
def price(n):
    return [n] * 3


COUNTER = [0]


def test_module_list():
    ORDERS.append(Order(1))


def test_class_registry():
    Order.registry.append(Order(2))


def test_logging_handler():
    logging.getLogger("shop.audit").addHandler(logging.NullHandler())


def test_callbacks():
    CALLBACKS.append(Bus().on_event)


def test_lru_cache():
    COUNTER[0] += 1
    price(COUNTER[0] + 1000)


NAMES = []


def test_strings():
    COUNTER[0] += 1
    NAMES.append([str(COUNTER[0]) * 500])


def test_logs_and_leaks():
    logging.getLogger("shop.orders").warning("order %s placed", len(ORDERS))
    ORDERS.append(Order(4))


def test_clean():
    Order(3)
"""

# (test, allocating line, holder text, chain text or None)
CASES = [
    ("test_module_list", "ORDERS.append(Order(1))", "module test_leaks . ORDERS (list)", "Order"),
    (
        "test_class_registry",
        "Order.registry.append(Order(2))",
        "module test_leaks . Order . registry (list)",
        "dict['registry']",
    ),
    (
        "test_logging_handler",
        'logging.getLogger("shop.audit").addHandler(logging.NullHandler())',
        "loggerDict . shop.audit . handlers (list)",
        "NullHandler",
    ),
    (
        "test_callbacks",
        "CALLBACKS.append(Bus().on_event)",
        "module test_leaks . CALLBACKS (list)",
        "dict['CALLBACKS']",
    ),
    (
        "test_lru_cache",
        "price(COUNTER[0] + 1000)",
        "module test_leaks . price (_lru_cache_wrapper)",
        None,
    ),
]


@pytest.fixture(scope="module")
def leak_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """Run the leaking suite once in a subprocess; return its output and JSON report."""
    return _run(tmp_path_factory)


def _run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """The tests' output and report entries by name; graphs go to ``graphs/`` there."""
    import subprocess
    import sys

    directory = tmp_path_factory.mktemp("explain")
    (directory / "test_leaks.py").write_text(LEAKS)
    report = directory / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--leakguard",
            f"--leakguard-json={report}",
            "--leakguard-graph-dir=graphs",
            "--leakguard-clean-details",  # the clean test's samples are checked
            "-o",
            "addopts=",
            "test_leaks.py",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    data = read_report(report)
    return result.stdout, {t["nodeid"].split("::")[-1]: t for t in data["tests"]}


@pytest.mark.parametrize(("name", "line", "holder", "chain"), CASES, ids=[c[0] for c in CASES])
def test_message_names_site_and_holder(
    leak_run: tuple[str, dict[str, Any]], name: str, line: str, holder: str, chain: str | None
) -> None:
    output, tests = leak_run
    test = tests[name]
    assert test["verdict"] == "leak"
    message = test["message"]
    # The allocating line of the test's own code, with file and line number.
    # The top site is the innermost frame of the user's code; the test's line is
    # that site or the line it was called from.
    sites = test["explanation"]["sites"]
    assert sites[0]["file"] == "test_leaks.py"
    assert f"test_leaks.py:{sites[0]['line']}:" in message
    assert any(line in text for text in [sites[0]["code"], *sites[0]["called_from"]])
    assert line in message
    assert holder in message
    if chain is not None:
        assert chain in (test["explanation"]["chain"] or "")
    # The same explanation is printed in the terminal.
    assert line in output


def test_log_records_of_the_runs_are_not_an_allocation_site(
    leak_run: tuple[str, dict[str, Any]],
) -> None:
    """pytest's log capture keeps one run's records until the next run: not growth."""
    _, tests = leak_run
    test = tests["test_logs_and_leaks"]
    assert test["verdict"] == "leak"
    codes = [site["code"] for site in test["explanation"]["sites"]]
    assert any("ORDERS.append(Order(4))" in code for code in codes), codes
    assert not any(".warning(" in code for code in codes), codes


def test_clean_tests_never_run_deep_probes(leak_run: tuple[str, dict[str, Any]]) -> None:
    _, tests = leak_run
    clean = tests["test_clean"]
    assert clean["verdict"] == "clean"
    assert clean["explanation"] is None
    # Only the normal run, the warm-up and the measured runs: no explanation runs.
    assert len(clean["samples"]["blocks"]) == 1 + clean["warmup"] + clean["runs"]
    assert not (tmp_graphs(tests) / "test_leaks.py__test_clean.dot").exists()


def tmp_graphs(tests: dict[str, Any]) -> Any:
    """The run's graph directory, found from a leak's graph."""
    from pathlib import Path

    return Path(tests["test_module_list"]["explanation"]["graph"]["dot"]).parent


def test_sizes_by_type_with_pympler(leak_run: tuple[str, dict[str, Any]]) -> None:
    pytest.importorskip("pympler")
    _, tests = leak_run
    test = tests["test_module_list"]
    sizes = {entry["type"]: entry for entry in test["explanation"]["sizes"]}
    # One Order per run: its own bytes (sys.getsizeof), not its referents'.
    order = sizes["test_leaks.Order"]
    assert order["count_per_run"] == 1
    assert 16 <= order["size_per_run"] <= 128
    assert "growing types by size (pympler, bytes per run): " in test["message"]
    assert "test_leaks.Order +" in test["message"]
    # The lru_cache keeps a new list and a new int per run: strings and numbers count too.
    cached = {entry["type"] for entry in tests["test_lru_cache"]["explanation"]["sizes"]}
    assert {"list", "int"} <= cached
    # Strings are not tracked by gc (no growing type), yet the bytes of those that a
    # new object holds are counted.
    strings = tests["test_strings"]["explanation"]
    assert "str" not in {entry["type"] for entry in strings["types"]}
    (text,) = [entry for entry in strings["sizes"] if entry["type"] == "str"]
    assert text["count_per_run"] == 1
    assert text["size_per_run"] >= 1000


def test_back_reference_graph(leak_run: tuple[str, dict[str, Any]]) -> None:
    import shutil
    from pathlib import Path

    _, tests = leak_run
    test = tests["test_module_list"]
    graph = test["explanation"]["graph"]
    dot = Path(graph["dot"])
    assert dot.name == "test_leaks.py__test_module_list.dot"
    assert dot.parent.name == "graphs"
    text = dot.read_text()
    assert text.startswith("digraph ObjectGraph")
    # The graph runs from the leaked Order up through the list to the module.
    assert "Order" in text
    assert "ORDERS" in text
    assert f"back-reference graph: {dot}" in test["message"]
    if shutil.which("dot") is None:
        assert graph["svg"] is None
        pytest.skip("Graphviz's dot is not installed: no SVG to check")
    svg = Path(graph["svg"])
    assert svg == dot.with_suffix(".svg")
    assert "<svg" in svg.read_text()
    assert f"(SVG: {svg})" in test["message"]


def test_graph_names() -> None:
    from pytest_leakguard.explain import graph_name

    name = graph_name("tests/test_a.py::TestB::test_c[x-1]")
    assert name == "tests_test_a.py__TestB__test_c_x-1_"
    long_a = graph_name("test_a.py::test_b[" + "a" * 300 + "]")
    long_b = graph_name("test_a.py::test_b[" + "a" * 299 + "b]")
    assert len(long_a) == len(long_b) == 120
    assert long_a != long_b


# Loaded with -p; placed after pytest's assertion rewriter, so a failed import goes
# through the rewriter first, as when the extras are not installed.
HIDE_EXTRAS = """
import sys

from _pytest.assertion.rewrite import AssertionRewritingHook


class HideExtras:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("objgraph", "pympler"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


rewriter = [isinstance(finder, AssertionRewritingHook) for finder in sys.meta_path]
sys.meta_path.insert(rewriter.index(True) + 1, HideExtras())
"""


def test_without_the_extras_the_explanation_names_only_the_leak(
    pytester: pytest.Pytester,
) -> None:
    # Each failed import of objgraph went through pytest's import hook, which fills
    # fnmatch's and re's caches: they were named as growing containers.
    pytester.makepyfile(test_leaks=LEAKS, hide_extras=HIDE_EXTRAS)
    result = pytester.runpytest_subprocess(
        "-p",
        "hide_extras",
        "-p",
        "no:randomly",
        "--leakguard",
        "--leakguard-json=report.json",
        "test_leaks.py::test_module_list",
    )
    (test,) = json.loads((pytester.path / "report.json").read_text())["tests"]
    assert test["verdict"] == "leak", result.stdout.str()
    explanation = test["explanation"]
    holders = [holder["path"] for holder in explanation["holders"]]
    assert holders == ["module test_leaks . ORDERS (list)"], holders
    assert "no back-reference chain: objgraph, a dependency, is missing" in " ".join(
        explanation["notes"]
    )
    assert "sizes" not in explanation


def test_the_explanation_says_what_it_cost(leak_run: tuple[str, dict[str, Any]]) -> None:
    output, tests = leak_run
    explanation = tests["test_module_list"]["explanation"]
    assert explanation["seconds"] >= explanation["cpu_seconds"] * 0.5 > 0
    shown = f"explained in {explanation['seconds']:.2f} s ({explanation['cpu_seconds']:.2f} s CPU)"
    assert shown in tests["test_module_list"]["message"]
    assert shown in output


def test_the_heap_walks_run_untraced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Traced with 25 frames, the walks cost seconds on a large heap (6 to 13 s seen)."""
    import tracemalloc

    from pytest_leakguard import explain

    traced: dict[str, bool] = {}

    def spy(name: str, real: Any) -> Any:
        def call(*args: Any) -> Any:
            traced.setdefault(name, tracemalloc.is_tracing())
            return real(*args)

        return call

    for name in ("_holder_sizes", "_type_counts", "_heap_ids"):
        monkeypatch.setattr(explain, name, spy(name, getattr(explain, name)))
    absorbed = []
    explainer = explain.Explainer(".")
    try:
        explainer.before(absorb=lambda: absorbed.append(tracemalloc.is_tracing()))
        # One absorbing run before the walks, untraced; one after, traced with every frame
        # like the snapshot.
        assert absorbed == [False, True]
        assert tracemalloc.get_traceback_limit() == explain.FRAMES
    finally:
        explainer.abort()
    assert traced == {"_holder_sizes": False, "_type_counts": False, "_heap_ids": False}
    assert not tracemalloc.is_tracing()


def test_the_absorbing_run_counts_for_the_walks() -> None:
    """The walks see the absorbing run; growth per run divides by it too."""
    from pytest_leakguard import explain

    kept: list[object] = []
    explainer = explain.Explainer(".")

    class Kept:
        pass

    globals()["_KEPT"] = kept
    try:
        explainer.before(absorb=lambda: kept.append(Kept()))
        for _ in range(3):
            kept.append(Kept())
        result = explainer.after(3)
    finally:
        explainer.abort()
        del globals()["_KEPT"]
    holders = {h["path"]: h["growth_per_run"] for h in result["holders"]}
    assert holders[f"module {__name__} . _KEPT (list)"] == 1


# ---------------------------------------------------------------- the launcher's frame


@pytest.fixture
def launcher(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> tuple[str, str]:
    """(rootdir, launcher): `../venv/bin/pytest` started from the project.

    Python names the script "/project/../venv/bin/pytest": under the rootdir as a
    string, and not under ``sys.prefix``.
    """
    rootdir = str(tmp_path / "project")
    script = f"{rootdir}/../venv/bin/pytest"
    monkeypatch.setattr(sys.modules["__main__"], "__file__", script, raising=False)
    return rootdir, script


def test_the_launcher_started_by_a_relative_path_is_not_a_user_frame(
    launcher: tuple[str, str],
) -> None:
    from pytest_leakguard.frames import is_user_frame as _is_user_frame

    rootdir, launcher_file = launcher
    assert not _is_user_frame(launcher_file, rootdir)
    assert not _is_user_frame(launcher_file, rootdir)
    assert _is_user_frame(f"{rootdir}/tests/test_app.py", rootdir)


def test_the_launcher_is_never_the_allocation_site(launcher: tuple[str, str]) -> None:
    # Growth made by pytest's machinery, called from the launcher: no user frame
    # but the test's own, which must be the site (not the launcher's line 8).
    import tracemalloc

    from pytest_leakguard.explain import _sites

    rootdir, launcher_file = launcher
    machinery: dict[str, Any] = {}
    exec(
        compile(
            "def grow(kept):\n    kept.append(bytearray(5000))\n",
            f"/x/_pytest{os.sep}runner.py",
            "exec",
        ),
        machinery,
    )
    main: dict[str, Any] = {"grow": machinery["grow"]}
    exec(compile("def console_main(kept):\n    grow(kept)\n", launcher_file, "exec"), main)
    kept: list[bytearray] = []
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(25)
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(3):
            main["console_main"](kept)
        after = tracemalloc.take_snapshot()
    finally:
        if started:
            tracemalloc.stop()
    sites = _sites(before, after, rootdir, 3)
    assert sites, "the growth has a site"
    assert all("bin/pytest" not in site["file"] for site in sites), sites
    assert all("bin/pytest" not in line for site in sites for line in site["traceback"]), sites
