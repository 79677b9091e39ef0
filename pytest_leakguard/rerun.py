"""One more run of a test that already passed: setup, call and teardown, no reports.

pytest's ``runtestprotocol`` makes a report for every phase and wraps every
phase in output capture and log capture.  A re-run that passes needs none of
the reports, and capture once around the whole run does what capture three
times does, so a re-run here:

* calls the phase hooks (``pytest_runtest_setup``, ``_call``, ``_teardown``)
  of every plugin except pytest's capture, logging and skipping plugins, so
  fixtures, pytest-asyncio, pytest-randomly, pytest-timeout... work as in a
  normal run;
* wraps the three phases once in the capture plugin's ``item_capture`` and the
  logging plugin's per-phase log capture (what ``capsys`` and ``caplog`` need);
* skips the skipping plugin, which evaluates ``skipif``/``xfail`` marks: the
  test passed with them already;
* makes a report only when a phase failed, for the error message (and records
  a passed phase where ``tmp_path`` looks for it, as the tmpdir plugin's report
  hook does);
* gives ``tmp_path`` (and every numbered ``tmp_path_factory.mktemp``) the same
  directory, emptied, on every re-run instead of a new numbered one: pathlib
  interns the parts of every path, and from Python 3.12 on interned strings are
  never freed, so a new directory name per run was a leak of one string per run.

This matters because every allocation is traced while tests are measured: a
full protocol run allocated about twice what a re-run here allocates.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, cast

import pytest

from . import compat
from .compat import Phase, forget_request

ONCE_PER_RUN = ("capturemanager", "logging-plugin")
"""Plugins whose phase wrappers are applied once around a whole re-run instead."""

NOT_RERUN = ("skipping",)
"""Plugins whose phase hooks a re-run of a passing test does not need."""

PHASES: tuple[Phase, ...] = ("setup", "call", "teardown")


class Rerun:
    """Runs one test again and again; made once per checked test."""

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.nextitem = function_scope_end(item)
        manager = item.config.pluginmanager
        removed = {manager.get_plugin(name) for name in (*ONCE_PER_RUN, *NOT_RERUN)}
        removed.discard(None)
        self.hooks: dict[str, Any] = {}
        for when in PHASES:
            name = f"pytest_runtest_{when}"
            # item.ihook already leaves out the conftests of other directories.
            everyone = {impl.plugin for impl in getattr(manager.hook, name).get_hookimpls()}
            here = {impl.plugin for impl in getattr(item.ihook, name).get_hookimpls()}
            self.hooks[when] = manager.subset_hook_caller(name, list((everyone - here) | removed))
        self.capture = manager.get_plugin("capturemanager")
        self.logging = manager.get_plugin("logging-plugin")
        self.temp_dirs: dict[tuple[int, str], list[Path]] = {}
        """Numbered temporary directories the re-runs made, per factory and base name."""
        self.reraise: tuple[type[BaseException], ...] = (pytest.exit.Exception,)
        if not item.config.getoption("usepdb", False):
            self.reraise += (KeyboardInterrupt,)

    def __call__(self) -> pytest.TestReport | None:
        """Run the test once; the report of the first phase that did not pass, if any."""
        item = self.item
        compat.renew_request(item)
        failed: pytest.TestReport | None = None
        try:
            with self._captured(), _same_temp_dirs(self.temp_dirs):
                for when in PHASES:
                    if when == "call" and failed is not None:
                        continue
                    info = pytest.CallInfo.from_call(
                        partial(self._phase, when), when=when, reraise=self.reraise
                    )
                    # unittest hands a failure to pytest's TestCaseFunction, which keeps
                    # it in ``_excinfo`` for its report hook instead of raising it.
                    reported = compat.unittest_excinfo(item)
                    if (info.excinfo is not None or reported) and failed is None:
                        failed = item.ihook.pytest_runtest_makereport(item=item, call=info)
                    elif failed is None and when != "teardown":
                        # What the tmpdir plugin's report hook records of a passed phase;
                        # tmp_path's teardown reads it.
                        compat.mark_phase_passed(item, when)
        finally:
            forget_request(self.item)
        return failed

    def _phase(self, when: Phase) -> None:
        if when == "teardown":
            self.hooks[when](item=self.item, nextitem=self.nextitem)
        else:
            self.hooks[when](item=self.item)

    @contextlib.contextmanager
    def _captured(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            if self.capture is not None:
                stack.enter_context(compat.item_capture(self.capture, self.item))
            if self.logging is not None:
                stack.callback(compat.forget_logs, self.item.stash, self.logging)
                stack.enter_context(compat.log_capture(self.logging, self.item))
            yield


@contextlib.contextmanager
def _same_temp_dirs(made: dict[tuple[int, str], list[Path]]) -> Iterator[None]:
    """Within the block, the n-th numbered ``mktemp(name)`` of a run reuses the last run's."""
    used: dict[tuple[int, str], int] = {}

    def mktemp(
        original: Any, self: pytest.TempPathFactory, basename: str, numbered: bool = True
    ) -> Path:
        if not numbered:
            return cast(Path, original(self, basename, numbered))
        key = (id(self), basename)
        index = used[key] = used.get(key, -1) + 1
        paths = made.setdefault(key, [])
        if index < len(paths):
            path = paths[index]
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(mode=0o700)
            return path
        path = original(self, basename, numbered)
        paths.append(path)
        return cast(Path, path)

    # Undone exactly: a session run in-process inside the test patches it too.
    patch = compat.patch_mktemp(mktemp)
    try:
        yield
    finally:
        patch.undo()


def function_scope_end(item: pytest.Item) -> pytest.Item:
    """The ``nextitem`` whose teardown ends ``item``'s function scope and nothing more.

    ``teardown_exact(nextitem)`` pops the nodes not in ``nextitem.listchain()``:
    the parent's chain keeps every collector up.
    """
    return cast(pytest.Item, item.parent)
