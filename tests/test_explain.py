"""End-to-end: a leak's failure message names the allocating line and the holder."""

from __future__ import annotations

import json
from typing import Any

import pytest

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
    data = json.loads(report.read_text())
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


def test_clean_tests_never_run_deep_probes(leak_run: tuple[str, dict[str, Any]]) -> None:
    _, tests = leak_run
    clean = tests["test_clean"]
    assert clean["verdict"] == "clean"
    assert clean["explanation"] is None
    # Only the normal run, the warm-up and the measured runs: no explanation runs.
    assert len(clean["samples"]["blocks"]) == 1 + clean["warmup"] + clean["runs"]
