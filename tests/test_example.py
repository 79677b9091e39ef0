"""The example applications (examples/shop, examples/web): what their READMEs promise
their first command shows.

Each example is copied and run as ``pytest --leakguard shop`` (or ``web``) in a
subprocess, as a user would run it: one test leaks, and the report names the line that
allocates the leaked memory and the module-level container that keeps it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def copy_example(pytester: pytest.Pytester, name: str = "shop") -> Path:
    target = pytester.path / name
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache")
    shutil.copytree(EXAMPLES / name, target, ignore=ignore)
    return target


def line_of(path: Path, text: str) -> int:
    """The number of the one line of ``path`` that contains ``text``."""
    numbers = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(numbers) == 1, f"{text!r} is on lines {numbers} of {path}"
    return numbers[0]


def run_example(pytester: pytest.Pytester, *args: str, name: str = "shop") -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "--leakguard", name, *args
    )


def test_example_reports_the_leak_its_line_and_its_holder(pytester: pytest.Pytester) -> None:
    shop = copy_example(pytester)
    lines_line = line_of(shop / "shop" / "handlers.py", '"lines": [{"sku": line.sku')
    result = run_example(pytester)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*_ test_receipt _*",
            "memory leak: retained memory grows from run to run*",
            "  > heap: +* B/run over * runs, grew in * of *",
            "where it is allocated (tracemalloc*",
            f"  shop/handlers.py:{lines_line}: +* B/run*",
            '      "lines": [{"sku": line.sku, "quantity": line.quantity} for line in *',
            "      called from tests/test_orders.py:*",
            "who keeps it alive (containers growing per run):",
            "  module shop.handlers . _RESPONSE_CACHE (dict): +1/run *",
            "*= leakguard =*",
            "LEAKED shop/tests/test_orders.py::test_receipt - *",  # as pytest prints it
            "7 checked: 1 leaked, 6 clean",
            "*= 1 failed, 6 passed in *",
        ]
    )
    assert_grew_in_every_run(result, "heap")


def assert_grew_in_every_run(result: pytest.RunResult, *probes: str) -> None:
    """The probes grew in every measured run: the window's 20 and the confirmation's."""
    for probe in probes:
        line = next(x for x in result.outlines if x.startswith(f"  > {probe}: +"))
        found = re.search(r"over (\d+) runs, grew in (\d+) of (\d+)", line)
        assert found is not None, line
        runs, grew, of = map(int, found.groups())
        assert runs == grew == of, line
        assert runs >= 20, line


def test_example_leak_is_found_by_counts_without_the_heap_probe(
    pytester: pytest.Pytester,
) -> None:
    # Without `heap`, rss (64 KiB resolution) cannot see a few blocks per run: the
    # counts decide, as the reference's advice to leave `heap` out assumes.
    copy_example(pytester)
    result = run_example(pytester, "--leakguard-probes=-heap")
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*_ test_receipt _*",
            "memory leak: retained memory grows from run to run*",
            "  > blocks: +*/run over * runs, grew in * of *",
            "  > objects: +*/run over * runs, grew in * of *",
            "    rss: *",
            "*= leakguard =*",
            "LEAKED shop/tests/test_orders.py::test_receipt - *",
            "7 checked: 1 leaked, 6 clean",
            "*= 1 failed, 6 passed in *",
        ]
    )
    assert_grew_in_every_run(result, "blocks", "objects")


def test_event_bus_holding_subscribers_strongly_would_leak(pytester: pytest.Pytester) -> None:
    """The README's claim: the bus is clean only because it holds bound methods weakly."""
    shop = copy_example(pytester)
    events = shop / "shop" / "events.py"
    weak = "entries.append(weakref.WeakMethod(callback, entries.remove))"
    source = events.read_text()
    assert weak in source
    events.write_text(source.replace(weak, "entries.append(lambda: callback)  # strong"))
    result = run_example(pytester, "-k", "confirmation")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*_ test_order_confirmation_is_sent _*",
            "memory leak: retained memory grows from run to run*",
            "growing types (objects per run): *shop.notifications.Notifier +1*",
            "who keeps it alive (containers growing per run):",
            "  module shop.events . bus . _subscribers . order.created (list): +1/run *",
            "LEAKED shop/tests/test_orders.py::test_order_confirmation_is_sent - *",
        ]
    )


def test_web_example_reports_the_leaking_listener_its_line_and_its_holder(
    pytester: pytest.Pytester,
) -> None:
    """examples/web: a Flask view connects a receiver to a signal on every request."""
    pytest.importorskip("flask")
    web = copy_example(pytester, "web")
    connect_line = line_of(web / "notes" / "views.py", "note_shared.connect(confirm, weak=False)")
    result = run_example(pytester, name="web")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*_ test_share _*",
            "memory leak: retained memory grows from run to run*",
            "  > heap: +*/run over * runs, grew in *",
            "where it is allocated (tracemalloc*",
            f"  notes/views.py:{connect_line}: +*/run*",
            "      note_shared.connect(confirm, weak=False)",
            "      called from tests/test_api.py:*",
            "who keeps it alive (containers growing per run):",
            "  module notes.signals . note_shared . receivers (dict): +1/run *",
            "*= leakguard =*",
            "LEAKED web/tests/test_api.py::test_share - *",
            "6 checked: 1 leaked, 5 clean",
            "*= 1 failed, 5 passed in *",
        ]
    )


def test_web_example_fixed_as_its_readme_says_is_clean(pytester: pytest.Pytester) -> None:
    """The README's fix (disconnect when the request is done) makes test_share clean:
    the receiver was the leak, and the check does not flag the service otherwise."""
    pytest.importorskip("flask")
    web = copy_example(pytester, "web")
    views = web / "notes" / "views.py"
    source = views.read_text()
    leaky = """    note_shared.connect(confirm, weak=False)
    for recipient in request.get_json()["to"]:
        note.shared_with.append(recipient)
        note_shared.send(note, recipient=recipient)
"""
    fixed = """    with note_shared.connected_to(confirm):
        for recipient in request.get_json()["to"]:
            note.shared_with.append(recipient)
            note_shared.send(note, recipient=recipient)
"""
    assert leaky in source
    views.write_text(source.replace(leaky, fixed))
    result = run_example(pytester, "-k", "share", name="web")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["1 checked: 1 clean", "*= 1 passed, 5 deselected in *"])
