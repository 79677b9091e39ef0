"""The HTML report (``--leakguard-html``, ``pytest-leakguard html``): one self-contained page.

:func:`render` takes the JSON report's dict (see :mod:`.json_report`) and
returns a single HTML document: inline CSS, inline SVG charts and a few lines
of inline JavaScript (the filter box), nothing loaded from anywhere else.  A
Content-Security-Policy in the page forbids any other script, style, font or
image, so the file shows the same offline, from a CI artefact or a mail.

Every string that comes from the tests (node ids, messages, source lines,
reprs of objects) is escaped with :func:`html.escape` (``quote=True``), in
text and in attributes alike.  No test data is embedded in the script: the
filter reads ``data-nodeid`` and ``data-verdict`` attributes, and, past the first
:data:`PAGE_SIZE` one-line tests, JSON in the text of a hidden element (``<``, ``>`` and
``&`` escaped), which the script parses and shows with ``textContent``, never as markup.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.resources
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from typing import Any, NamedTuple

from ..result import CLEAN, ERROR, GROWING, INCONCLUSIVE, LEAK, NOISY, SKIPPED, VERDICTS, Status
from ..result import TestResult as Verdict
from ..units import format_amount, shown
from .terminal import ordered
from .text import cost_lines, runs_phrase

LABELS = {status.value: status.label for status in Status}
"""The badge of each verdict, as the terminal summary words it."""

_COUNT_WORDS = {status.value: status.counted for status in Status}
_OPEN = (LEAK, INCONCLUSIVE, ERROR)
"""Verdicts whose section has the details (charts, explanation), unfolded when the page opens;
the others get one line."""

PAGE_SIZE = 200
"""One-line tests (clean, skipped) in the page as it opens; the script shows more on demand."""

# The chart's geometry, in SVG user units (= CSS pixels at 100 % zoom).
_WIDTH, _HEIGHT = 270, 128
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 8, 8, 20
_PLOT_W, _PLOT_H = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

_STYLE, _SCRIPT = "report.css", "report.js"
"""The page's style sheet and filter script, package data in ``report/static/``."""


@functools.cache
def _static(name: str) -> str:
    """The text of ``static/<name>``, package data read once per process.

    Read as text: universal newlines keep the page (and its CSP hashes) the same
    whatever line endings a checkout gave the file.
    """
    package = __name__.rpartition(".")[0]  # files() takes a package; joinpath one part (3.9)
    resource = importlib.resources.files(package).joinpath("static").joinpath(name)
    # The page's <style> and <script> open with a line break, as they always did.
    return "\n" + resource.read_text(encoding="utf-8")


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@functools.cache
def _policy() -> str:
    """The page's Content-Security-Policy: only its own style and script run, no network."""
    return (
        "default-src 'none'; "
        f"style-src {_csp_hash(_static(_STYLE))}; "
        f"script-src {_csp_hash(_static(_SCRIPT))}; "
        "base-uri 'none'; form-action 'none'"
    )


def esc(value: object) -> str:
    """``str(value)`` escaped for HTML text and (double- or single-quoted) attribute values."""
    return escape(str(value), quote=True)


class ReportError(Exception):
    """A JSON report that cannot be rendered; the message names the file and the problem."""


def read_report(path: str) -> dict[str, Any]:
    """Read a ``--leakguard-json`` report for :func:`render`; raises :class:`ReportError`."""
    try:
        with open(path, encoding="utf-8") as stream:
            payload = json.load(stream)
    # ValueError: not JSON, or an integer of more than 4300 digits; RecursionError: too deep
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ReportError(f"cannot read JSON report {path}: {shown(exc)}") from None
    return check_report(payload, path)


def check_report(payload: Any, path: str) -> dict[str, Any]:
    """``payload`` (read from ``path``) if it is a report :func:`render` takes, else
    :class:`ReportError`."""
    from .json_report import SCHEMA_VERSION

    if not isinstance(payload, dict) or not isinstance(payload.get("tests"), list):
        raise ReportError(f"{path} is not a leakguard JSON report")
    version = payload.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ReportError(f"{path} has an unknown report version")
    return payload


_DEPTH = 24
"""Containers nested deeper than this in a report are dropped: the report's own are ~8 deep."""
_LIMIT = 2.0**63
"""Numbers beyond this are dropped: no figure is that large, and the charts' arithmetic stays
finite."""


def _clean(value: Any, depth: int = 0) -> Any:
    """A report's value made safe to render: hand-edited or hostile JSON may hold anything.

    Non-finite and out-of-range numbers become ``None`` (``str`` of a huge integer
    raises, ``float`` of it overflows), containers deeper than :data:`_DEPTH` too.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        finite = not isinstance(value, float) or math.isfinite(value)
        return value if finite and -_LIMIT <= value <= _LIMIT else None
    if isinstance(value, Mapping):
        if depth >= _DEPTH:
            return None
        return {str(k): _clean(v, depth + 1) for k, v in value.items() if _key(k)}
    if isinstance(value, (list, tuple)):
        return None if depth >= _DEPTH else [_clean(v, depth + 1) for v in value]
    return value  # an object of an in-process payload: trusted


def _key(key: Any) -> bool:
    """Whether a mapping's key can be shown (JSON keys are strings; a payload's may not be)."""
    return isinstance(key, str) or _clean(key) is not None


def render(payload: Mapping[str, Any], *, page_size: int = PAGE_SIZE) -> str:
    """The whole HTML page for a JSON report dict (``{"version", "settings", ...}``).

    Leaks, inconclusive tests and errors get their details; the others one line each, of
    which the first ``page_size`` are in the page and the rest in compact data that its
    script lists on demand (a report of 20,000 tests stays a few megabytes).
    """
    tests = _tests(_items(payload.get("tests")))
    payload = _clean({key: value for key, value in payload.items() if key != "tests"})
    anchors: dict[str, str] = {}  # node id -> the id of its section, for links
    for index, test in enumerate(tests):
        anchors.setdefault(test["nodeid"], f"t{index}")
    settings = _mapping(payload.get("settings"))
    environment = _mapping(payload.get("environment"))
    probes = settings.get("probes")
    probe_order = [str(p) for p in probes] if isinstance(probes, list) else []
    counts = _counts(tests)
    title = "pytest-leakguard report: " + (_count_phrase(counts) or "no test checked")
    if payload.get("complete") is False:
        title = "INCOMPLETE " + title
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_policy())}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="pytest-leakguard">',
        f"<title>{esc(title)}</title>",
        f"<style>{_static(_STYLE)}</style>",
        "</head>",
        "<body>",
        _header(tests, counts, settings, environment),
    ]
    if payload.get("complete") is False:
        reason = payload.get("incomplete_reason") or "the run did not finish"
        parts.append(
            '<p class="panel incomplete" id="incomplete"><strong>Incomplete report:</strong>'
            f" {esc(reason)}; tests that did not run are missing.</p>"
        )
    comparison = payload.get("baseline")
    if isinstance(comparison, Mapping):
        parts.append(_baseline_panel(comparison, anchors))
    parts.append(_root_causes(tests, anchors))
    parts.append(_files_panel(tests))
    parts.append(_test_list(tests, probe_order, page_size))
    parts.append(f"<script>{_static(_SCRIPT)}</script>")
    parts.extend(["</body>", "</html>", ""])
    return "\n".join(parts)


# -- the data ---------------------------------------------------------------------------


def _tests(tests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tests in the page's order: those with details (leaks worst first, inconclusive,
    errors), then the others by verdict and node id, reduced to what their line shows."""
    detailed, lines = [], []
    for test in tests:
        if _text(_clean(test.get("verdict"), _DEPTH)) in _OPEN:
            # At the depth of a test in the report: {"tests": [test]}
            detailed.append(_normalise(_clean(test, 2)))
        else:  # the bulk of a large report: only the few fields a line shows are read
            lines.append(_line(test))
    rank = {status: index for index, status in enumerate(VERDICTS)}
    lines.sort(key=lambda t: (rank.get(t["verdict"], len(rank)), t["nodeid"]))
    return _ordered(detailed) + lines


def _line(test: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a test without details, each checked as :func:`_normalise` does."""
    scalar = {key: _clean(test.get(key), _DEPTH) for key in _LINE_FIELDS}
    data: dict[str, Any] = {key: _text(scalar[key]) for key in ("nodeid", "verdict", "reason")}
    data["verdict"] = data["verdict"] or SKIPPED
    data.update((key, _whole(scalar[key])) for key in ("warmup", "runs"))
    return data


_LINE_FIELDS = ("nodeid", "verdict", "reason", "warmup", "runs")


def _normalise(test: Mapping[str, Any]) -> dict[str, Any]:
    """A test's dict with every field present and of the expected type (hand-edited JSON)."""
    data = dict(test)
    data["nodeid"] = _text(data.get("nodeid"))
    data["verdict"] = _text(data.get("verdict")) or SKIPPED
    for key in ("reason", "error", "message"):
        data[key] = _text(data.get(key))
    for key in ("warmup", "runs"):
        data[key] = _whole(data.get(key))
    for key in ("growth_per_run", "tail_growth_per_run", "sustained_growth_per_run"):
        data[key] = _typed(data.get(key), lambda v: _number(v) is not None)
    data["thresholds"] = _typed(
        data.get("thresholds"), lambda v: v is None or _number(v) is not None
    )
    data["rising_runs"] = _typed(
        data.get("rising_runs"), lambda v: v is not False and _whole(v) == v
    )
    for key in ("trend", "units"):
        data[key] = _typed(data.get(key), lambda v: isinstance(v, str))
    data["samples"] = _typed(data.get("samples"), lambda v: isinstance(v, list))
    data["suppressions"] = _items(data.get("suppressions"))
    if not isinstance(data.get("explanation"), Mapping):
        data["explanation"] = None
    return data


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _whole(value: Any) -> int:
    """A count of runs: a whole number 0 or more, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _typed(value: Any, ok: Callable[[Any], bool]) -> dict[str, Any]:
    """A mapping's entries whose values pass ``ok`` (an entry of the wrong type is left out)."""
    return {k: v for k, v in value.items() if ok(v)} if isinstance(value, Mapping) else {}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


_BAD_FIGURES = (KeyError, TypeError, ValueError, AttributeError, ArithmeticError)
"""What a verdict rebuilt from hand-edited figures may raise: the page then shows the raw ones."""


def _verdict(test: Mapping[str, Any]) -> Verdict | None:
    if test["verdict"] not in VERDICTS:
        return None
    try:
        verdict = Verdict.from_dict(test)
        for check in (verdict.summary, verdict.message, verdict.severity):
            check()  # on hand-edited figures, these may raise too
    except _BAD_FIGURES:
        return None
    return verdict


def _ordered(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The terminal summary's order: leaks (worst first), inconclusive, error, clean, skipped."""
    try:
        return [dict(t) for t in ordered(tests)]
    except _BAD_FIGURES:
        rank = {status: index for index, status in enumerate(VERDICTS)}
        return sorted(tests, key=lambda t: (rank.get(t["verdict"], len(rank)), t["nodeid"]))


def _counts(tests: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(VERDICTS, 0)
    for test in tests:
        counts[test["verdict"]] = counts.get(test["verdict"], 0) + 1
    return counts


def _count_phrase(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {_COUNT_WORDS.get(s, s)}" for s, n in counts.items() if n)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _amount(value: Any, unit: str, signed: bool = False) -> str:
    number = _number(value)
    if number is None:
        return "?"
    sign = "+" if signed and number >= 0 else ""
    return sign + format_amount(number, unit)


# -- the page's parts -------------------------------------------------------------------


def _header(
    tests: Sequence[Mapping[str, Any]],
    counts: Mapping[str, int],
    settings: Mapping[str, Any],
    environment: Mapping[str, Any],
) -> str:
    """The title, the counts by verdict (buttons that filter), the settings, the environment."""
    chips = [
        f'<button type="button" class="chip v-{esc(status)}" data-verdict="{esc(status)}"'
        f' title="show only these"><span>{n} {esc(_COUNT_WORDS.get(status, status))}</span>'
        "</button>"
        for status, n in counts.items()
        if n
    ]
    worst = (
        "v-leak"
        if counts.get(LEAK) or counts.get(ERROR)
        else "v-inconclusive"
        if counts.get(INCONCLUSIVE)
        else "v-clean"
    )
    return (
        '<header class="panel" id="run">'
        "<h1>pytest-leakguard report</h1>"
        f'<div class="counts"><span class="total {worst}">{len(tests)} checked</span>'
        + "".join(chips)
        + "</div>"
        + '<div class="run">'
        + _facts("Settings", settings)
        + _facts("Environment", environment)
        + "</div></header>"
    )


def _facts(title: str, values: Mapping[str, Any]) -> str:
    items = []
    for key, value in values.items():
        if isinstance(value, (list, tuple)):
            shown = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        else:
            shown = str(value)
        items.append(f"<div><dt>{esc(key)}</dt><dd>{esc(shown)}</dd></div>")
    body = "".join(items) or '<div><dd class="empty">not recorded</dd></div>'
    return f'<div class="facts"><h2>{esc(title)}</h2><dl>{body}</dl></div>'


def _node_link(nodeid: str, anchors: Mapping[str, str]) -> str:
    anchor = anchors.get(nodeid)
    text = f'<span class="nodeid">{esc(nodeid)}</span>'
    return f'<a href="#{anchor}">{text}</a>' if anchor else text


def _baseline_panel(comparison: Mapping[str, Any], anchors: Mapping[str, str]) -> str:
    """The comparison with the baseline: its status, counts, changes and node ids."""
    regressions = _comparison_rows(comparison, "regressions")
    improvements = _comparison_rows(comparison, "improvements")
    new_leaks = _comparison_names(comparison, "new_leaks")
    new_tests = _comparison_names(comparison, "new_tests")
    removed = _comparison_names(comparison, "removed_tests")
    status = (
        '<span class="status-fail">FAILED</span>'
        if comparison.get("failed")
        else '<span class="status-pass">passed</span>'
    )
    parts = [
        '<section class="panel" id="baseline">',
        f"<h2>Baseline comparison: {status}</h2>",
        f"<p>{len(regressions)} regressions, {len(new_leaks)} new leaks,"
        f" {len(improvements)} improvements, {len(new_tests)} new tests,"
        f" {len(removed)} removed tests</p>",
        _environment_changes(comparison.get("environment_changes")),
        _changes_table(regressions, improvements, anchors),
        _node_lists(new_leaks, new_tests, removed, anchors),
        "</section>",
    ]
    return "".join(parts)


def _comparison_names(comparison: Mapping[str, Any], key: str) -> list[str]:
    value = comparison.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def _comparison_rows(comparison: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = comparison.get(key)
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def _environment_changes(environment: Any) -> str:
    """A warning per environment value that differs from the baseline's."""
    if not isinstance(environment, Mapping) or not environment:
        return ""
    items = []
    for key, change in environment.items():
        old, new = [*change, None, None][:2] if isinstance(change, list) else (None, None)
        items.append(
            f"<li>the environment differs from the baseline's: {esc(key)}"
            f" {esc(old)} &rarr; {esc(new)}</li>"
        )
    return f'<ul class="warnings">{"".join(items)}</ul>'


def _changes_table(
    regressions: Sequence[Mapping[str, Any]],
    improvements: Sequence[Mapping[str, Any]],
    anchors: Mapping[str, str],
) -> str:
    """The regressions, then the improvements, a row per test and probe."""
    if not regressions and not improvements:
        return ""
    rows = [
        _change_row(kind, change, anchors)
        for kind, changes in (("regression", regressions), ("improvement", improvements))
        for change in changes
    ]
    return (
        '<table class="data changes"><thead><tr><th></th><th>test</th><th>probe</th>'
        '<th class="num">baseline</th><th class="num">now</th><th class="num">change</th>'
        '<th class="num">tolerance</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
    )


def _change_row(kind: str, change: Mapping[str, Any], anchors: Mapping[str, str]) -> str:
    unit = str(change.get("unit") or "count")
    return (
        f'<tr class="{kind}"><td>{kind}</td>'
        f"<td>{_node_link(str(change.get('nodeid', '')), anchors)}</td>"
        f'<td class="mono">{esc(change.get("probe", ""))}</td>'
        f'<td class="num">{esc(_amount(change.get("baseline"), unit))}/run</td>'
        f'<td class="num">{esc(_amount(change.get("now"), unit))}/run</td>'
        f'<td class="num">{esc(_amount(change.get("change"), unit, True))}/run</td>'
        f'<td class="num">{esc(_amount(change.get("tolerance"), unit))}/run</td></tr>'
    )


def _node_lists(
    new_leaks: Sequence[str],
    new_tests: Sequence[str],
    removed: Sequence[str],
    anchors: Mapping[str, str],
) -> str:
    """The new leaks (unfolded), new tests and removed tests, each list linking to the tests."""
    parts = []
    for title, nodeids, opened in (
        ("New leaks (were not leaks in the baseline)", new_leaks, True),
        ("New tests (not in the baseline, judged by the budget)", new_tests, False),
        ("Removed tests (in the baseline, not in this run)", removed, False),
    ):
        if nodeids:
            links = "".join(f"<li>{_node_link(n, anchors)}</li>" for n in nodeids)
            parts.append(
                f"<details{' open' if opened else ''}><summary>{esc(title)}: {len(nodeids)}"
                f"</summary><ul>{links}</ul></details>"
            )
    return "".join(parts)


def _test_list(
    tests: Sequence[Mapping[str, Any]], probe_order: Sequence[str], page_size: int
) -> str:
    """The filter box, the legend of the charts, a section per test with details, then a
    line per other test (the first ``page_size``; the rest as data for the script)."""
    options = "".join(
        f'<option value="{esc(status)}">{esc(LABELS[status])}</option>' for status in VERDICTS
    )
    parts = [
        '<section id="tests">',
        '<div class="toolbar">',
        '<input id="filter" type="search" placeholder="Filter tests by node id"'
        ' aria-label="Filter tests by node id" autocomplete="off">',
        '<select id="verdict" aria-label="Verdict">'
        f'<option value="">every verdict</option>{options}</select>',
        f'<span id="shown" class="legend">{len(tests)} tests</span>',
        "</div>",
        '<p class="legend"><span><span class="key series"></span>a probe after each run'
        " (run 0: the test&#39;s own run)</span>"
        '<span><span class="key band"></span>warm-up runs</span>'
        '<span><span class="key budget"></span>the budget: tolerated growth per run'
        " from the last warm-up run</span></p>",
    ]
    if not tests:
        parts.append('<p class="empty">No test was checked.</p>')
    detailed = sum(1 for test in tests if test["verdict"] in _OPEN)
    for index, test in enumerate(tests[:detailed]):
        parts.append(_test_section(test, f"t{index}", probe_order))
    if len(tests) > detailed:
        parts.append(_one_liners(tests[detailed:], detailed, page_size))
    parts.append("</section>")
    return "\n".join(parts)


def _one_liners(tests: Sequence[Mapping[str, Any]], first: int, page_size: int) -> str:
    """The tests without details, one line each, numbered from ``first``: the first
    ``page_size`` as elements; all of them, if there are more, as data for the script."""
    kinds: dict[tuple[str, str, str], int] = {}  # (verdict, label, brief) -> its index
    files: dict[str, int] = {}
    rows = []
    for test in tests:
        status = test["verdict"]
        kind = (status, LABELS.get(status, status.upper()), _brief(test, None))
        path, sep, rest = test["nodeid"].partition("::")
        rows.append(
            [files.setdefault(path, len(files)), sep + rest, kinds.setdefault(kind, len(kinds))]
        )
    kind_list = list(kinds)
    shown = "".join(
        _one_liner(test, f"t{first + index}", *kind_list[row[2]])
        for index, (test, row) in enumerate(zip(tests[:page_size], rows))
    )
    parts = [f'<div id="compact">{shown}</div>']
    if len(tests) > page_size:
        rest = len(tests) - page_size
        data = {"first": first, "page": page_size, "files": list(files), "kinds": kind_list}
        data["tests"] = rows
        # Text, not an attribute: no quote needs escaping (JSON has many).
        text = escape(json.dumps(data, separators=(",", ":")), quote=False)
        parts.append(
            f'<button type="button" id="more">show {min(rest, page_size)} more'
            f" ({rest} not shown)</button>"
            f'<div id="compact-data" hidden>{text}</div>'
        )
    return "".join(parts)


def _one_liner(test: Mapping[str, Any], anchor: str, status: str, label: str, brief: str) -> str:
    """A test's line without details; report.js builds the same for the tests it adds."""
    return (
        f'<article class="test compact v-{esc(status)}" id="{anchor}"'
        f' data-nodeid="{esc(test["nodeid"])}" data-verdict="{esc(status)}"><details><summary>'
        f'<span class="badge v-{esc(status)}">{esc(label)}</span>'
        f'<span class="nodeid">{esc(test["nodeid"])}</span>'
        + (f'<span class="brief">{esc(brief)}</span>' if brief else "")
        + "</summary></details></article>"
    )


def _brief(test: Mapping[str, Any], verdict: Verdict | None) -> str:
    """What a test's line says after its node id."""
    status = test["verdict"]
    if status == CLEAN:
        return runs_phrase(test["runs"], test["warmup"])
    if status in (ERROR, SKIPPED) or verdict is None:
        return str(test["reason"])
    return verdict.summary()


def _root_causes(tests: Sequence[Mapping[str, Any]], anchors: Mapping[str, str]) -> str:
    """The leaks that share a root cause (their explanation's ``root_cause``: one holder and
    allocation site), a group per cause two or more share, each test linked to its section."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for test in tests:
        cause = _mapping(test.get("explanation")).get("root_cause")
        if test["verdict"] == LEAK and isinstance(cause, Mapping) and cause.get("id"):
            groups.setdefault(str(cause["id"]), []).append(test)
    shared = [members for members in groups.values() if len(members) > 1]
    if not shared:
        return ""
    leaks = sum(len(members) for members in shared)
    parts = [
        '<section class="panel" id="causes">',
        f"<h2>Leaks by root cause: {leaks} leaks, {len(shared)} root causes</h2>",
    ]
    for members in shared:
        cause = members[0]["explanation"]["root_cause"]
        site = cause.get("site")
        where = f", allocated at <code>{esc(site)}</code>" if site else ""
        items = "".join(
            f"<li>{_node_link(test['nodeid'], anchors)}"
            + (" (explained)" if "sites" in test["explanation"] else "")
            + "</li>"
            for test in members
        )
        parts.append(
            f"<details open><summary>{len(members)} leaks, one root cause"
            f" (<code>{esc(cause['id'])}</code>): <code>{esc(cause.get('holder', '?'))}</code>"
            f"{where}</summary><ul>{items}</ul></details>"
        )
    parts.append("</section>")
    return "".join(parts)


def _files_panel(tests: Sequence[Mapping[str, Any]]) -> str:
    """The tests counted by file and verdict; a file's button filters the list to it."""
    if not tests:
        return ""
    by_file: dict[str, dict[str, int]] = {}
    for test in tests:
        counts = by_file.setdefault(test["nodeid"].partition("::")[0], {})
        counts[test["verdict"]] = counts.get(test["verdict"], 0) + 1
    present = _counts(tests)
    columns = [status for status, n in present.items() if n]
    rows = (
        f'<tr><td><button type="button" class="file" data-file="{esc(path)}">{esc(path)}'
        f'</button></td><td class="num">{sum(counts.values())}</td>'
        + "".join(f'<td class="num v-{esc(s)}">{counts.get(s) or ""}</td>' for s in columns)
        + "</tr>"
        for path, counts in sorted(by_file.items())
    )
    headers = ["file", _Num("checked")]
    headers += [_Num(esc(_COUNT_WORDS.get(status, status))) for status in columns]
    return (
        '<section class="panel" id="files"><details><summary><h2>Tests by file:'
        f" {len(by_file)} files</h2></summary>{_table(headers, rows)}</details></section>"
    )


def _test_section(test: Mapping[str, Any], anchor: str, probe_order: Sequence[str]) -> str:
    """One test: a summary line (the filter reads its data attributes), then the details."""
    status = test["verdict"]
    verdict = _verdict(test)
    label = LABELS.get(status, status.upper())
    brief = _brief(test, verdict)
    opened = " open" if status in _OPEN else ""
    parts = [
        f'<article class="test v-{esc(status)}" id="{anchor}" data-nodeid="{esc(test["nodeid"])}"'
        f' data-verdict="{esc(status)}">',
        f"<details{opened}><summary>",
        f'<span class="badge v-{esc(status)}">{esc(label)}</span>',
        f'<span class="nodeid">{esc(test["nodeid"])}</span>',
        f'<span class="brief">{esc(brief)}</span>' if brief else "",
        '</summary><div class="body">',
    ]
    if verdict is not None and status in VERDICTS and status != SKIPPED:
        parts.append(f'<p class="headline">{esc(verdict.message().splitlines()[0])}</p>')
    if test["reason"] and test["reason"] != brief:
        parts.append(f'<p class="reason">{esc(test["reason"])}</p>')
    if test["error"]:
        parts.append(f'<pre class="error">{esc(test["error"])}</pre>')
    parts.append(_charts(test, verdict, probe_order))
    parts.append(_probe_table(verdict, probe_order))
    if test["explanation"]:
        parts.append(_explanation(test["explanation"]))
    if test["message"]:
        parts.append(
            '<details class="message"><summary>failure message, as pytest prints it</summary>'
            f"<pre>{esc(test['message'])}</pre></details>"
        )
    parts.append("</div></details></article>")
    return "".join(parts)


def _probe_names(
    test: Mapping[str, Any], verdict: Verdict | None, order: Sequence[str]
) -> list[str]:
    """Probes with samples: the offending ones first, then in the settings' order."""
    names = list(test["samples"])
    offending = [t.probe for t in verdict.offending] if verdict is not None else []
    position = {name: index for index, name in enumerate(order)}

    def key(name: str) -> tuple[int, int, str]:
        return (0 if name in offending else 1, position.get(name, len(position)), name)

    return sorted(names, key=key)


def _series(values: Any) -> list[float] | None:
    if not isinstance(values, list) or not values:
        return None
    numbers = [_number(v) for v in values]
    if any(n is None for n in numbers):
        return None
    return [n for n in numbers if n is not None]


def _charts(test: Mapping[str, Any], verdict: Verdict | None, order: Sequence[str]) -> str:
    """A chart per probe that moved; the probes that never did, in one line."""
    offending = {t.probe for t in verdict.offending} if verdict is not None else set()
    figures, constant = [], []
    for probe in _probe_names(test, verdict, order):
        values = _series(test["samples"][probe])
        if values is None:
            continue
        unit = str(test["units"].get(probe) or "count")
        if len(set(values)) == 1 and probe not in offending:
            constant.append(f"{probe} {format_amount(values[0], unit)}")
            continue
        figures.append(_figure(test, probe, values, unit, probe in offending))
    parts = []
    if figures:
        parts.append('<div class="charts">' + "".join(figures) + "</div>")
    if constant:
        parts.append(
            '<p class="constant">constant over every run: '
            f'<span class="mono">{esc(", ".join(constant))}</span></p>'
        )
    return "".join(parts)


def _figure(
    test: Mapping[str, Any], probe: str, values: Sequence[float], unit: str, offending: bool
) -> str:
    """One probe's chart under a caption: its growth per run and its trend."""
    trend = str(test["trend"].get(probe) or "")
    growth = test["growth_per_run"].get(probe)
    caption = f"<b>{esc(probe)}</b>"
    if _number(growth) is not None:
        caption += f" {esc(_amount(growth, unit, signed=True))}/run"
    if trend:
        caption += f' &middot; <span class="trend-{esc(trend)}">{esc(trend)}</span>'
    threshold = _number(test["thresholds"].get(probe))
    if threshold is not None:
        label = f"{probe} over the runs, budget {format_amount(threshold, unit)}/run"
    elif probe in test["thresholds"]:
        caption += " &middot; informative"
        label = f"{probe} over the runs (informative: no budget)"
    else:
        label = f"{probe} over the runs"
    # Points to hover only where the section is unfolded: a long clean suite stays small.
    dots = test["verdict"] in _OPEN
    svg = chart(values, test["warmup"], threshold, unit, trend, label, dots=dots)
    kind = ' class="offending"' if offending else ""
    return f"<figure{kind}><figcaption>{caption}</figcaption>{svg}</figure>"


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def chart(
    values: Sequence[float],
    warmup: int,
    threshold: float | None,
    unit: str = "count",
    trend: str = "",
    label: str = "",
    *,
    dots: bool = True,
) -> str:
    """An inline SVG line chart of one probe's samples.

    The x axis is the run (0: the test's own run, then ``warmup`` warm-up runs,
    shaded, then the measured runs); the dashed budget line starts at the last
    warm-up sample and rises by ``threshold`` per run (none when ``None``).
    With ``dots``, each sample (up to 40) is a point whose tooltip gives its value.
    """
    last = len(values) - 1
    warmup = max(0, min(warmup, last))
    budget = _budget_ends(values, warmup, threshold)
    plot = _Plot(last, *_value_range([*values, *(budget or ())]))
    parts = [
        f'<svg class="chart" role="img" width="{_WIDTH}" height="{_HEIGHT}"'
        f' viewBox="0 0 {_WIDTH} {_HEIGHT}">',
        f"<title>{esc(label)}</title>" if label else "",
        _chart_frame(plot, warmup),
    ]
    if budget is not None and threshold is not None:
        parts.append(
            f'<line class="budget" x1="{_fmt(plot.x(warmup))}" y1="{_fmt(plot.y(budget[0]))}"'
            f' x2="{_fmt(plot.x(last))}" y2="{_fmt(plot.y(budget[1]))}">'
            f"<title>budget: {esc(format_amount(threshold, unit))}/run</title></line>"
        )
    trend_class = f"t-{trend}" if trend in (GROWING, NOISY) else "t-flat"
    parts.append(_chart_series(plot, values, unit, trend_class, dots))
    parts.append(_chart_labels(plot, values, unit, warmup))
    parts.append("</svg>")
    return "".join(parts)


class _Plot(NamedTuple):
    """A chart's scales: from the run's index to x, from a sample's value to y."""

    last: int
    low: float
    high: float

    def x(self, index: float) -> float:
        return _LEFT + (index / self.last * _PLOT_W if self.last else _PLOT_W / 2)

    def y(self, value: float) -> float:
        return _TOP + (self.high - value) / (self.high - self.low) * _PLOT_H


def _budget_ends(
    values: Sequence[float], warmup: int, threshold: float | None
) -> tuple[float, float] | None:
    """The budget line's values at the last warm-up run and the last run (no line: ``None``)."""
    last = len(values) - 1
    if threshold is None or last <= warmup:
        return None
    return (values[warmup], values[warmup] + threshold * (last - warmup))


def _value_range(candidates: Sequence[float]) -> tuple[float, float]:
    """The y axis's bottom and top: every value with a margin, never an empty range."""
    low, high = min(candidates), max(candidates)
    # A flat series gets a band around it, so that y() never divides by zero.
    pad = max(1.0, abs(high) * 0.05) if high == low else (high - low) * 0.06
    return low - pad, high + pad


def _chart_frame(plot: _Plot, warmup: int) -> str:
    """The shaded warm-up band, if any, then the plot's frame."""
    band = (
        f'<rect class="band" x="{_fmt(plot.x(0))}" y="{_TOP}"'
        f' width="{_fmt(plot.x(warmup) - plot.x(0))}"'
        f' height="{_PLOT_H}"><title>warm-up runs</title></rect>'
        if warmup > 0
        else ""
    )
    return (
        band + f'<rect class="frame" x="{_LEFT}" y="{_TOP}" width="{_PLOT_W}"'
        f' height="{_PLOT_H}"></rect>'
    )


def _chart_series(
    plot: _Plot, values: Sequence[float], unit: str, trend_class: str, dots: bool
) -> str:
    """The samples' line and, for up to 40 samples, a point per sample with its value."""
    points = " ".join(f"{_fmt(plot.x(i))},{_fmt(plot.y(v))}" for i, v in enumerate(values))
    parts = [f'<polyline class="series {trend_class}" points="{points}"></polyline>']
    if dots and len(values) <= 40:
        parts.extend(
            f'<circle class="dot {trend_class}" cx="{_fmt(plot.x(index))}"'
            f' cy="{_fmt(plot.y(value))}" r="2.2">'
            f"<title>run {index}: {esc(format_amount(value, unit))}</title></circle>"
            for index, value in enumerate(values)
        )
    return "".join(parts)


def _chart_labels(plot: _Plot, values: Sequence[float], unit: str, warmup: int) -> str:
    """The highest and lowest values on the y axis; the first, last warm-up and last run."""
    top, low = max(values), min(values)
    parts = []
    for value in [top, low] if low != top else [top]:
        parts.append(
            f'<text x="{_LEFT - 6}" y="{_fmt(plot.y(value) + 4)}" text-anchor="end">'
            f"{esc(format_amount(value, unit))}</text>"
        )
    last, bottom = plot.last, _TOP + _PLOT_H
    for tick in sorted({0, warmup, last}):
        anchor = "start" if tick == 0 and last else "end" if tick == last and last else "middle"
        name = f"run {tick}" if tick == last and last else str(tick)
        parts.append(
            f'<text x="{_fmt(plot.x(tick))}" y="{bottom + 14}" text-anchor="{anchor}">{name}</text>'
        )
    if warmup > 0 and plot.x(warmup) - plot.x(0) >= 52:
        parts.append(
            f'<text x="{_fmt((plot.x(0) + plot.x(warmup)) / 2)}" y="{_TOP + 12}"'
            ' text-anchor="middle">warm-up</text>'
        )
    return "".join(parts)


def _probe_table(verdict: Verdict | None, order: Sequence[str]) -> str:
    """Every probe's figures, as the failure message lists them, in a table."""
    if verdict is None or not verdict.trends:
        return ""
    offending = {t.probe for t in verdict.offending}
    position = {name: index for index, name in enumerate(order)}
    rows = []
    for trend in sorted(verdict.trends, key=lambda t: (position.get(t.probe, len(order)), t.probe)):
        budget = (
            "informative"
            if trend.threshold is None
            else f"{format_amount(trend.threshold, trend.unit)}/run"
        )
        mark = " &#9664;" if trend.probe in offending else ""
        rows.append(
            f'<tr><td class="mono">{esc(trend.probe)}{mark}</td>'
            f'<td class="trend-{esc(trend.trend)}">{esc(trend.trend)}</td>'
            f'<td class="num">{esc(_amount(trend.growth_per_run, trend.unit, True))}/run</td>'
            f'<td class="num">{esc(_amount(trend.tail_growth_per_run, trend.unit, True))}/run</td>'
            f'<td class="num">{trend.rising_runs} of {trend.runs}</td>'
            f'<td class="num">{esc(budget)}</td></tr>'
        )
    headers = [
        "probe",
        "trend",
        _Num("growth"),
        _Num("tail growth"),
        _Num("grew in"),
        _Num("budget"),
    ]
    return (
        '<details class="probes"><summary>every probe&#39;s figures</summary>'
        f"{_table(headers, rows)}</details>"
    )


class _Num(str):
    """The header of a numeric (right-aligned) column of :func:`_table`."""


def _table(headers: Sequence[str], rows: Iterable[str]) -> str:
    """A data table: ``headers`` are trusted literals, ``rows`` escaped ``<tr>`` elements."""
    cells = "".join(
        f'<th class="num">{header}</th>' if isinstance(header, _Num) else f"<th>{header}</th>"
        for header in headers
    )
    return (
        f'<table class="data"><thead><tr>{cells}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _folded(summary: str, lines: Sequence[Any]) -> str:
    frames = esc("\n".join(str(line) for line in lines))
    return f"<details><summary>{summary}</summary><pre>{frames}</pre></details>"


def _site_row(where: str, detail: str, site: Mapping[str, Any]) -> str:
    """One allocation site: where, the code (or caller) with its stack folded, size and count."""
    return (
        f'<tr><td class="mono">{esc(where)}</td><td class="code">{detail}</td>'
        f'<td class="num">+{esc(_amount(site.get("size_per_run"), "bytes"))}</td>'
        f'<td class="num">+{esc(_amount(site.get("count_per_run"), "count"))}</td></tr>'
    )


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _explanation(explanation: Mapping[str, Any]) -> str:
    """What the deep probes found: resources, sites, types, holders, chain, sizes, native."""
    native = explanation.get("native")
    parts = [
        '<div class="explanation">',
        _open_resources(explanation),
        _allocation_sites(explanation),
        _growing_types(explanation),
        _holders(explanation),
        _chain(explanation),
        _sizes(explanation),
        _graph(explanation),
        _native(native) if isinstance(native, Mapping) else "",
        _notes(explanation),
    ]
    parts.extend(f'<p class="empty">{esc(line)}</p>' for line in cost_lines(explanation))
    parts.append("</div>")
    return "".join(parts)


def _open_resources(explanation: Mapping[str, Any]) -> str:
    """The resources each probe saw opened by the runs and not closed."""
    resources = explanation.get("resources")
    if not isinstance(resources, Mapping):
        return ""
    parts = []
    for probe, lines in resources.items():
        found = lines if isinstance(lines, list) else [lines]
        items = "".join(f"<li><code>{esc(line)}</code></li>" for line in found)
        parts.append(f"<h3>new {esc(probe)} still open after the runs</h3><ul>{items}</ul>")
    return "".join(parts)


def _allocation_sites(explanation: Mapping[str, Any]) -> str:
    """Tracemalloc's growing sites; an empty list hints at native memory."""
    if "sites" not in explanation:
        return ""
    runs = explanation.get("runs")
    over = f", growth over {esc(runs)} more runs" if runs else ""
    heading = f"<h3>where it is allocated (tracemalloc{over}, per run)</h3>"
    sites = _items(explanation.get("sites"))
    if sites:
        return heading + _sites_table(sites)
    return (
        heading + '<p class="empty">no growing Python allocation: native memory?'
        " try --leakguard-native</p>"
    )


def _growing_types(explanation: Mapping[str, Any]) -> str:
    columns = [("type", "type", _TEXT), ("objects per run", "count_per_run", "count")]
    return _listing("growing types", _items(explanation.get("types")), columns)


def _holders(explanation: Mapping[str, Any]) -> str:
    columns = [
        ("container", "path", _TEXT),
        ("entries per run", "growth_per_run", "count"),
        ("example", "example", _NOTE),
    ]
    heading = "who keeps it alive (containers growing per run)"
    return _listing(heading, _items(explanation.get("holders")), columns)


_TEXT, _NOTE = "text", "note"
"""The kinds of :func:`_listing`'s text columns: a missing value is ``?``, or nothing."""


def _listing(
    heading: str, items: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str, str]]
) -> str:
    """A heading over a table of ``items`` (nothing if none), a column per ``(header, key,
    kind)``: kind :data:`_TEXT` or :data:`_NOTE`, or a unit for a growth per run."""
    if not items:
        return ""
    headers = [header if kind in (_TEXT, _NOTE) else _Num(header) for header, _, kind in columns]
    rows = (
        "<tr>" + "".join(_cell(item, key, kind) for _, key, kind in columns) + "</tr>"
        for item in items
    )
    return f"<h3>{heading}</h3>" + _table(headers, rows)


def _cell(item: Mapping[str, Any], key: str, kind: str) -> str:
    if kind == _TEXT:
        return f'<td class="mono">{esc(item.get(key, "?"))}</td>'
    if kind == _NOTE:
        return f'<td class="mono">{esc(item.get(key) or "")}</td>'
    return f'<td class="num">+{esc(_amount(item.get(key), kind))}</td>'


def _chain(explanation: Mapping[str, Any]) -> str:
    if not explanation.get("chain"):
        return ""
    return f"<h3>back-reference chain</h3><pre>{esc(explanation['chain'])}</pre>"


def _sizes(explanation: Mapping[str, Any]) -> str:
    columns = [
        ("type", "type", _TEXT),
        ("bytes per run", "size_per_run", "bytes"),
        ("objects per run", "count_per_run", "count"),
    ]
    return _listing("sizes by type (pympler)", _items(explanation.get("sizes")), columns)


def _graph(explanation: Mapping[str, Any]) -> str:
    graph = explanation.get("graph")
    if not isinstance(graph, Mapping) or not graph.get("dot"):
        return ""
    svg = f" (picture: <code>{esc(graph['svg'])}</code>)" if graph.get("svg") else ""
    return f"<h3>back-reference graph</h3><p><code>{esc(graph['dot'])}</code>{svg}</p>"


def _notes(explanation: Mapping[str, Any]) -> str:
    notes = explanation.get("notes")
    if not isinstance(notes, list) or not notes:
        return ""
    items = "".join(f"<li>{esc(note)}</li>" for note in notes)
    return f"<h3>notes</h3><ul>{items}</ul>"


def _native(native: Mapping[str, Any]) -> str:
    """What memray saw: native allocation sites the extra runs left allocated, with both stacks."""
    rows = []
    for site in _items(native.get("sites")):
        where = str(site.get("function", "?"))
        if site.get("file"):
            where += f" at {site['file']}:{site.get('line', '?')}"
        stack = site.get("native_stack")
        detail = f"<code>{esc(site['python'])}</code>" if site.get("python") else ""
        if isinstance(stack, list) and stack:
            detail += _folded("native stack", stack)
        rows.append(_site_row(where, detail, site))
    parts = [f"<h3>native allocations (memray, {esc(native.get('runs', '?'))} more runs)</h3>"]
    if rows:
        headers = ["allocated in", "called from", _Num("size per run")]
        parts.append(_table([*headers, _Num("allocations per run")], rows))
    notes = native.get("notes")
    if isinstance(notes, list) and notes:
        parts.append("<ul>" + "".join(f"<li>{esc(note)}</li>" for note in notes) + "</ul>")
    parts.extend(f'<p class="empty">{esc(line)}</p>' for line in cost_lines(native))
    return "".join(parts)


def _sites_table(sites: Iterable[Mapping[str, Any]]) -> str:
    rows = []
    for site in sites:
        where = f"{site.get('file', '?')}:{site.get('line', '?')}"
        code = f"<code>{esc(site['code'])}</code>" if site.get("code") else ""
        traceback = site.get("traceback")
        if isinstance(traceback, list) and len(traceback) > 1:
            code += _folded("traceback", traceback)
        rows.append(_site_row(where, code, site))
    return _table(["where", "code", _Num("size per run"), _Num("blocks per run")], rows)
