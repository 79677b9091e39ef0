"""Every private pytest, pluggy, ``os.environ`` and ``threading`` internal the plugin touches,
in one place.

Re-running a test inside a session needs what pytest keeps private: its runner's
``call_and_report``, the session's ``SetupState``, fixture finalizers, the
logging plugin's per-phase capture, pluggy's hook executor.  Every such touch is
a small named function here, saying why no public API serves and the versions it
holds for: pytest 8.0 to 9.2 and pluggy 1.3 to 1.7 (run on pytest 8.0.2 with
pluggy 1.3.0, and on pytest 9.2.0 with pluggy 1.7.0).
Public names are used wherever one exists (``pytest.CallInfo``,
``pytest.TempPathFactory``, ``pytest.exit.Exception``).

:func:`check` runs once at ``pytest_configure``: when an internal is gone (a newer
pytest), ``--leakguard`` is a usage error naming the pytest version, instead of an
INTERNALERROR in the middle of the run; without ``--leakguard`` it is a warning.
``tests/test_structure.py`` keeps every other module free of these names.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import _pytest.logging
import _pytest.runner
import _pytest.tmpdir
import pytest

from .probes.patching import Patch

Phase = Literal["setup", "call", "teardown"]
HookExec = Callable[[str, Sequence[Any], Mapping[str, Any], bool], Any]

_CALL_AND_REPORT = _pytest.runner.call_and_report
"""pytest's own, as imported before any plugin ran a test (flaky replaces it meanwhile)."""


def call_and_report(
    item: pytest.Item, when: Phase, log: bool = True, **kwds: Any
) -> pytest.TestReport:
    """One phase of pytest's protocol, with its report (pytest 8.0-9.2: not public API)."""
    return _CALL_AND_REPORT(item, when, log, **kwds)


@contextlib.contextmanager
def own_call_and_report() -> Iterator[None]:
    """Within the block, ``_pytest.runner.call_and_report`` is pytest's own (flaky patches it)."""
    replaced = _pytest.runner.call_and_report
    _pytest.runner.call_and_report = _CALL_AND_REPORT
    try:
        yield
    finally:
        _pytest.runner.call_and_report = replaced


def teardown_exact(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Tear down the session's stack as ``nextitem`` needs (pytest 8.0-9.2: no public API)."""
    item.session._setupstate.teardown_exact(nextitem)


def node_finalizers(item: pytest.Item) -> Iterator[list[Any]]:
    """The finalizer list of each node set up (pytest 8.0-9.2 ``SetupState.stack``: private)."""
    for finalizers, _ in item.session._setupstate.stack.values():
        yield finalizers


def rerun_tables(item: pytest.Item) -> list[dict[Any, Any]]:
    """The dicts that every run of ``item`` adds keys to and deletes them from: its stash
    (``Stash._storage``) and the session's setup stack (``SetupState.stack``, pytest 8.0-9.2)."""
    found = [getattr(item.stash, "_storage", None), item.session._setupstate.stack]
    return [table for table in found if type(table) is dict]


def fixture_finalizers(fixturedef: pytest.FixtureDef[Any]) -> list[Any]:
    """The finalizers registered on a fixture (pytest 8.0-9.2 ``_finalizers``: no public API)."""
    return cast("list[Any]", fixturedef._finalizers)


def has_request(item: pytest.Item) -> bool:
    """Whether the item has a per-run fixture request (pytest 8.0-9.2 ``Function._request``)."""
    return hasattr(item, "_request")


def renew_request(item: pytest.Item) -> None:
    """As runtestprotocol does before a run: a fresh request (``_initrequest``, pytest 8.0-9.2)."""
    function = cast(Any, item)
    if has_request(item) and not function._request:
        function._initrequest()


def forget_request(item: pytest.Item) -> None:
    """As runtestprotocol does after a run: the next run builds a fresh request."""
    if has_request(item):
        function = cast(Any, item)
        function._request = False
        function.funcargs = None


def unittest_excinfo(item: pytest.Item) -> Any:
    """The failure unittest handed to pytest's ``TestCaseFunction`` (``_excinfo``, 8.0-9.2)."""
    return getattr(item, "_excinfo", None)


def report_sections(item: pytest.Item) -> list[tuple[str, str, str]] | None:
    """The captured output sections kept on the item (``Item._report_sections``, 8.0-9.2)."""
    return getattr(item, "_report_sections", None)


def mark_phase_passed(item: pytest.Item, when: Phase) -> None:
    """Record a passed phase as the tmpdir plugin's report hook does (``tmppath_result_key``)."""
    item.stash.setdefault(_pytest.tmpdir.tmppath_result_key, {})[when] = True


def patch_mktemp(replacement: Callable[..., Path]) -> Patch:
    """Replace ``pytest.TempPathFactory.mktemp(self, basename, numbered=True)`` (8.0-9.2)."""
    return Patch(pytest.TempPathFactory, "mktemp", replacement)


def item_capture(capture: Any, item: pytest.Item) -> contextlib.AbstractContextManager[None]:
    """The capture plugin's output capture of one phase (``CaptureManager``: not public API)."""
    return cast("contextlib.AbstractContextManager[None]", capture.item_capture("call", item))


def log_capture(plugin: Any, item: pytest.Item) -> contextlib.AbstractContextManager[None]:
    """The logging plugin's capture of one phase (``_runtest_for``, pytest 8.0-9.2: private)."""
    stash = item.stash
    stash[_pytest.logging.caplog_records_key] = {}
    run = plugin._runtest_for(item, "call")
    if hasattr(run, "__enter__"):  # pytest >= 8.1: a context manager
        return cast("contextlib.AbstractContextManager[None]", run)
    return contextlib.contextmanager(lambda: run)()  # pytest 8.0: a generator


def forget_logs(stash: pytest.Stash, plugin: Any) -> None:
    """As the logging plugin's teardown does: the records must not outlive the run."""
    # In a normal run the teardown phase's capture drops the call phase's records.
    for name in ("caplog_handler", "report_handler"):
        handler = getattr(plugin, name, None)
        if handler is not None:
            handler.reset()
    if _pytest.logging.caplog_records_key in stash:
        del stash[_pytest.logging.caplog_records_key]
    if _pytest.logging.caplog_handler_key in stash:
        del stash[_pytest.logging.caplog_handler_key]


def hookexec(manager: pytest.PytestPluginManager) -> HookExec:
    """pluggy's hook executor (``_inner_hookexec``, pluggy 1.3-1.7, as add_hookcall_monitoring)."""
    return cast(HookExec, cast(Any, manager)._inner_hookexec)


def set_hookexec(manager: pytest.PytestPluginManager, executor: HookExec) -> None:
    """Replace pluggy's hook executor (no public API holds a hook's calls back)."""
    cast(Any, manager)._inner_hookexec = executor


def rootdir_and_inifile(config: Any, extra: Sequence[str]) -> tuple[Path, Path | None]:
    """pytest's rootdir and ini file for the early ``config``'s paths plus ``extra``.

    ``_pytest.config.findpaths.determine_setup`` (pytest 8.0-9.2; no public API recomputes
    the choice): its parameters changed between pytest 8.0 and 9, so the keywords it
    does not take go.  The values come from pytest's own options in the namespace.
    """
    from _pytest.config.findpaths import determine_setup

    ns = config.known_args_namespace
    kwargs = {
        "inifile": ns.inifilename,
        "override_ini": ns.override_ini,
        "rootdir_cmd_arg": ns.rootdir or None,
        "invocation_dir": config.invocation_params.dir,
    }
    accepted = inspect.signature(determine_setup).parameters
    kwargs = {key: value for key, value in kwargs.items() if key in accepted}
    rootdir, inifile = determine_setup(args=[*ns.file_or_dir, *extra], **kwargs)[:2]
    return rootdir, inifile


def environ_table() -> Any:
    """``os.environ``'s table (``_data``, CPython 3.9-3.13; ``None`` where it has none)."""
    return getattr(os.environ, "_data", None)


def replace_environ_table(data: dict[Any, Any], fresh: dict[Any, Any]) -> None:
    """Give ``os.environ`` (and ``os.environb``, which shares it on POSIX) a new table."""
    os.environ._data = fresh  # type: ignore[attr-defined]
    environb = getattr(os, "environb", None)
    if environb is not None and getattr(environb, "_data", None) is data:
        environb._data = fresh


def shutdown_locks() -> tuple[set[Any], Any] | None:
    """``threading``'s set of the locks of running non-daemon threads, and the lock that
    guards it (``_shutdown_locks``, CPython 3.9-3.12; ``None`` where it has none)."""
    threading = sys.modules.get("threading")
    locks = getattr(threading, "_shutdown_locks", None)
    guard = getattr(threading, "_shutdown_locks_lock", None)
    if type(locks) is not set or guard is None:
        return None
    return locks, guard


def dangling_threads() -> set[Any] | None:
    """The set of weak references behind ``threading``'s registry of every ``Thread`` made
    (``_dangling``, a ``WeakSet``, CPython 3.9-3.13); ``None`` where it has none, or while
    the registry is being iterated (it defers its removals then)."""
    threading = sys.modules.get("threading")
    registry = getattr(threading, "_dangling", None)
    data = getattr(registry, "data", None)
    if type(data) is not set or getattr(registry, "_iterating", True):
        return None
    return data


def thread_tables() -> tuple[dict[Any, Any], dict[Any, Any], Any] | None:
    """``threading``'s tables of running and starting threads, and the lock that guards
    them (``_active``, ``_limbo``, ``_active_limbo_lock``, CPython 3.9-3.13)."""
    threading = sys.modules.get("threading")
    active = getattr(threading, "_active", None)
    limbo = getattr(threading, "_limbo", None)
    lock = getattr(threading, "_active_limbo_lock", None)
    if type(active) is not dict or type(limbo) is not dict or lock is None:
        return None
    return active, limbo, lock


def _assigns(cls: type, name: str) -> bool:
    """Whether ``cls.__init__`` sets attribute ``name`` (an instance attribute)."""
    init = vars(cls).get("__init__")
    return name in getattr(getattr(init, "__code__", None), "co_names", ())


def missing(config: pytest.Config) -> list[str]:
    """The internals above that this pytest and pluggy lack (empty: all there)."""
    logging_keys = ("caplog_records_key", "caplog_handler_key")
    found = {
        "_pytest.runner.call_and_report": callable(_CALL_AND_REPORT),
        "SetupState.teardown_exact": hasattr(_pytest.runner.SetupState, "teardown_exact"),
        "SetupState.stack": _assigns(_pytest.runner.SetupState, "stack"),
        "FixtureDef._finalizers": _assigns(pytest.FixtureDef, "_finalizers"),
        "Function._initrequest": hasattr(pytest.Function, "_initrequest"),
        "Item._report_sections": _assigns(pytest.Item, "_report_sections"),
        "LoggingPlugin._runtest_for": hasattr(_pytest.logging.LoggingPlugin, "_runtest_for"),
        "_pytest.logging stash keys": all(hasattr(_pytest.logging, k) for k in logging_keys),
        "_pytest.tmpdir.tmppath_result_key": hasattr(_pytest.tmpdir, "tmppath_result_key"),
        "TempPathFactory.mktemp(basename, numbered)": {"basename", "numbered"}
        <= set(inspect.signature(pytest.TempPathFactory.mktemp).parameters),
        "pluggy PluginManager._inner_hookexec": hasattr(config.pluginmanager, "_inner_hookexec"),
    }
    return [name for name, there in found.items() if not there]


def check(config: pytest.Config, enabled: bool) -> None:
    """Fail early, naming the pytest version, when an internal the re-runs need is gone.

    With leakguard enabled a usage error; otherwise a warning (the run may not check
    any test, and must not fail because of a plugin it does not use).
    """
    gone = missing(config)
    if not gone:
        return
    message = (
        f"leakguard: pytest {pytest.__version__} lacks internals it needs to re-run tests"
        f" ({', '.join(gone)}); see docs/compatibility.md for the supported versions"
    )
    if enabled:
        raise pytest.UsageError(message)
    config.issue_config_time_warning(pytest.PytestConfigWarning(message), stacklevel=2)
