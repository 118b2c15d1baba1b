"""HTML: the operators' status page, self-contained and reloading itself.

:func:`render_page` and :func:`render_html` are pure: what the page shows
besides the handlers (the app, the host, the version, the probe, how often
to reload) comes in a :class:`PageContext`. Every text is escaped, control
characters included; the page needs no script, image or other file.
"""
from __future__ import annotations

import datetime
import html
import json
import math
import time
from typing import AbstractSet, Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple
from typing import Mapping as MappingT

from ..evaluation.report import BACKGROUND, CACHED, FROM_SHARE, STALE, Origin, StatusReport
from ..evaluation.share import this_host
from ..states import OK, RED, STATES, YELLOW, severity, worst_state
from ..text import escape_controls, to_text
from .promvalues import format_number

__all__ = [
    "HTML_CONTENT_TYPE",
    "DEFAULT_REFRESH",
    "DRAINING",
    "OUT_OF_SERVICE",
    "PROBE_UNREACHABLE",
    "PageContext",
    "ProbeBanner",
    "render_html",
    "render_page",
    "version_fields",
]

HTML_CONTENT_TYPE = "text/html; charset=UTF-8"

#: Seconds between reloads of the page (``svcstatus.html_refresh``).
DEFAULT_REFRESH = 10.0

#: The host this process runs on.
HOST = this_host()

#: The kinds of :class:`ProbeBanner`: this process drains before it stops;
#: the probe was switched off (decommissioned); its store cannot be read.
DRAINING, OUT_OF_SERVICE, PROBE_UNREACHABLE = "draining", "out of service", "unreachable"


class ProbeBanner(NamedTuple):
    """Why the load-balancer probe fails: a banner on the page."""

    #: :data:`DRAINING`, :data:`OUT_OF_SERVICE` or :data:`PROBE_UNREACHABLE`.
    kind: str
    #: The text the probe answers (empty when its store cannot be read).
    text: str = ""


class PageContext(NamedTuple):
    """What the page shows besides the report."""

    #: The app's name (``svcstatus.name``); ``None``: none.
    name: Optional[str] = None
    #: The host that serves the page; ``None``: none.
    host: Optional[str] = HOST
    #: ``version`` and ``commit`` of the Dockerflow version, those it has.
    version: Optional[MappingT[str, str]] = None
    #: Why the probe fails; ``None`` while it answers ``OK`` (or there is none).
    probe: Optional[ProbeBanner] = None
    #: Seconds between reloads, rounded up to whole seconds; 0: never.
    refresh: float = DEFAULT_REFRESH
    #: The time that relative times count from; ``None``: the report's.
    now: Optional[float] = None


# Text and background of each state; every pair (and each text on every
# row's background) has a WCAG contrast of at least 4.5:1.
_TEXT = {OK: "#137333", YELLOW: "#8a4b00", RED: "#b3261e"}
_ROW = {OK: "#e6f4ea", YELLOW: "#fef7e0", RED: "#fce8e6"}
_BADGE = {OK: ("#ffffff", "#137333"), YELLOW: ("#202124", "#f9ab00"),
          RED: ("#ffffff", "#c5221f")}

_STYLE = """
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 75em;
  padding: 0 1em 1em; color: #202124; background: #ffffff;
  border-top: .4em solid {badge_bg}; overflow-wrap: break-word; }}
h1 {{ font-size: 1.4em; margin: .6em 0 .3em; }}
.overall {{ display: inline-block; padding: .1em .7em; border-radius: 1em;
  font-size: .8em; vertical-align: .1em; color: {badge_fg}; background: {badge_bg}; }}
.facts, .summary {{ margin: .2em 0; color: #3c4043; }}
.facts div {{ display: inline-block; margin-right: 1.2em; }}
.facts dt, .facts dd {{ display: inline; margin: 0; }}
.facts dd {{ overflow-wrap: anywhere; }}
.facts dt::after {{ content: ": "; }}
.banner {{ margin: .6em 0; padding: .6em .8em; border-radius: .3em;
  color: #ffffff; background: #202124; }}
table {{ border-collapse: collapse; width: 100%; margin-top: .8em; }}
th, td {{ text-align: left; padding: .4em .6em; border-bottom: 1px solid #dadce0;
  vertical-align: top; }}
th {{ color: #3c4043; font-size: .85em; white-space: nowrap; }}
td.name, td.detail, td.notes {{ word-break: break-word; overflow-wrap: anywhere; }}
td.state {{ font-weight: bold; white-space: nowrap; }}
td.seconds, td.since, td.notes {{ font-size: .9em; }}
td.seconds {{ white-space: nowrap; }}
td.since {{ min-width: 7em; }}
td.notes {{ min-width: 9em; }}
tr.OK {{ background: {ok_row}; }} tr.OK td.state {{ color: {ok}; }}
tr.YELLOW {{ background: {yellow_row}; }} tr.YELLOW td.state {{ color: {yellow}; }}
tr.RED {{ background: {red_row}; }} tr.RED td.state {{ color: {red}; }}
.non-critical {{ font-weight: normal; font-size: .85em; }}
.strip {{ display: flex; flex-wrap: wrap; gap: 2px; list-style: none; margin: .2em 0 0;
  padding: 0; }}
.strip li {{ font-size: .7em; font-weight: bold; padding: 0 .3em; border-radius: .2em; }}
.strip .OK {{ color: {ok_fg}; background: {ok_bg}; }}
.strip .YELLOW {{ color: {yellow_fg}; background: {yellow_bg}; }}
.strip .RED {{ color: {red_fg}; background: {red_bg}; }}
.label {{ display: inline-block; margin-right: .8em; }}
.origin {{ display: block; }}
footer {{ margin-top: 1em; color: #5f6368; font-size: .9em; }}
@media (max-width: 40em) {{
  thead {{ position: absolute; width: 1px; height: 1px; overflow: hidden;
    clip: rect(0 0 0 0); }}
  table, tbody, tr, td {{ display: block; }}
  tr {{ padding: .3em 0; border-bottom: 1px solid #dadce0; }}
  td {{ padding: .1em .6em; border: 0; }}
  td:empty {{ display: none; }}
  td.name, td.state {{ display: inline-block; }}
  td.name {{ font-weight: bold; }}
  td.seconds::before {{ content: "took "; }}
  td.since::before {{ content: "in state for "; }}
}}
"""

_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{refresh}<title>{overall} - {where}service status</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>{title} <span class="overall" id="overall" data-state="{overall}">{overall}</span></h1>
{facts}{summary}</header>
{banner}"""

_TABLE = """<table>
<thead><tr><th>Handler</th><th>State</th><th>Detail</th><th>Took</th>{more}</tr></thead>
<tbody>
{rows}
</tbody>
</table>
"""

_FOOT = (
    '<footer>{count} handler{plural}; rendered <time datetime="{iso}">{iso}</time>'
    "{reload}</footer>\n</body>\n</html>\n"
)

_BANNERS = {
    DRAINING: ("Draining", "this process is stopping; the probe answers {text}, so load "
               "balancers send it no new requests."),
    OUT_OF_SERVICE: ("Out of service", "the probe answers {text}, so load balancers "
                     "send this instance no requests."),
    PROBE_UNREACHABLE: ("Out of service", "the probe's store cannot be read, so the "
                        "probe answers 503."),
}

_ORIGINS = {CACHED: "cached", BACKGROUND: "background", STALE: "stale"}


class _Row(NamedTuple):
    name: Any
    status: MappingT[str, Any]
    seconds: Optional[float] = None
    critical: bool = True
    changed: Optional[float] = None
    transitions: Sequence[Tuple[Any, ...]] = ()
    origin: Optional[Origin] = None


def _text(value: Any) -> str:
    """``value`` as escaped HTML text on one line."""
    return html.escape(escape_controls(to_text(value)))


def _iso(when: Any) -> Optional[str]:
    try:
        moment = datetime.datetime.fromtimestamp(float(when), datetime.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return moment.isoformat(timespec="seconds")


def _span(seconds: float) -> str:
    """``seconds`` (at least 0) as ``42 s``, ``5 min``, ``3 h 20 min``, ``2 d 4 h``."""
    whole = int(seconds) if math.isfinite(seconds) and seconds > 0 else 0
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h" if hours % 24 else f"{hours // 24} d"


def _took(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0.0005:
        return "&lt;1 ms"
    if seconds < 0.9995:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    return _span(seconds)


def _state(value: Any) -> str:
    # anything but a valid state (even an unhashable one) shows as RED
    return STATES[severity(value)]


def _since(row: _Row, now: float) -> str:
    iso = None if row.changed is None else _iso(row.changed)
    if row.changed is None or iso is None:
        return ""
    text = f'<time datetime="{iso}" title="since {iso}">{_span(now - row.changed)}</time>'
    if len(row.transitions) < 2:
        # its only transition is when this process first saw it
        return "at least " + text
    chips = []
    for transition in row.transitions:
        state = _state(transition[1])
        chips.append(f'<li class="{state}" title="{state} from {_iso(transition[0]) or "?"}">'
                     f"{state}</li>")
    return (text + '<ol class="strip" aria-label="recent states, oldest first">'
            + "".join(chips) + "</ol>")


def _labels(status: MappingT[str, Any]) -> str:
    labels = status.get("labels")
    # (isinstance first: the truth of an arbitrary object may raise)
    if labels is None or not isinstance(labels, dict) or not labels:
        return ""
    shown = []
    for key, value in list(labels.items()):
        number = (format_number(value) if isinstance(value, (int, float))
                  else escape_controls(to_text(value)))
        shown.append(f'<span class="label">{_text(key)} <b>{html.escape(number)}</b></span>')
    return " ".join(shown)


def _origin(origin: Optional[Origin], now: float) -> str:
    if origin is None:
        return ""
    kind = to_text(origin.kind)
    age = _span(now - origin.time) if isinstance(origin.time, (int, float)) else "?"
    if kind == FROM_SHARE:
        who = f"shared by {_text(origin.source)}" if origin.source else "shared"
    else:
        who = html.escape(_ORIGINS.get(kind, escape_controls(kind)))
    return f'<span class="origin" data-origin="{_text(kind)}">{who}, {age} old</span>'


def _row(row: _Row, now: float, since: bool, notes: Optional[str]) -> str:
    state = _state(row.status.get("state"))
    detail = row.status.get("detail")
    critical = mark = ""
    if not row.critical:
        critical = ' data-critical="false"'
        mark = ' <span class="non-critical">non-critical</span>'
    seconds = ("" if row.seconds is None else
               f'<data value="{row.seconds!r}">{_took(row.seconds)}</data>')
    cells = [
        f'<tr class="{state}" data-state="{state}"{critical}>'
        f'<td class="name">{_text(row.name)}</td>'
        f'<td class="state">{state}{mark}</td>'
        f'<td class="detail">{"" if detail is None else _text(detail)}</td>'
        f'<td class="seconds">{seconds}</td>'
    ]
    if since:
        cells.append(f'<td class="since">{_since(row, now)}</td>')
    if notes is not None:
        cells.append(f'<td class="notes">{notes}</td>')
    return "".join(cells) + "</tr>"


def _facts(context: PageContext) -> str:
    facts = []
    if context.host:
        facts.append(("Host", context.host))
    for key in ("version", "commit"):
        value = (context.version or {}).get(key)
        if value:
            facts.append((key.capitalize(), value))
    if not facts:
        return ""
    return '<dl class="facts">{}</dl>\n'.format("".join(
        f'<div class="{name.lower()}"><dt>{name}</dt><dd>{_text(value)}</dd></div>'
        for name, value in facts))


def _banner(probe: Optional[ProbeBanner]) -> str:
    if probe is None:
        return ""
    title, sentence = _BANNERS.get(probe.kind, _BANNERS[OUT_OF_SERVICE])
    text = f"<q>{_text(probe.text)}</q>"
    return (f'<p class="banner" id="banner" role="status" data-kind="{html.escape(probe.kind)}">'
            f"<strong>{title}</strong>: {sentence.format(text=text)}</p>\n")


def _summary(states: List[str]) -> str:
    if not states:
        return '<p class="summary">No status handlers are registered.</p>\n'
    counts = ", ".join(f"{states.count(s)} {s}" for s in STATES if s in states)
    return f'<p class="summary">{counts}</p>\n'


def _page(rows: List[_Row], timestamp: float, context: Optional[PageContext],
          since: bool) -> str:
    context = PageContext() if context is None else context
    now = timestamp if context.now is None else context.now
    notes = [" ".join(filter(None, (_origin(row.origin, now), _labels(row.status))))
             for row in rows]
    # the column only when a row has notes: most pages have none
    has_notes = any(notes)
    lines: List[str] = []
    states: List[str] = []
    counted: List[str] = []
    for row, note in zip(rows, notes):
        state = _state(row.status.get("state"))
        states.append(state)
        counted.append(YELLOW if state == RED and not row.critical else state)
        lines.append(_row(row, now, since, note if has_notes else None))
    overall = worst_state(counted)
    fg, bg = _BADGE[overall]
    style = _STYLE.format(
        badge_fg=fg, badge_bg=bg,
        ok=_TEXT[OK], yellow=_TEXT[YELLOW], red=_TEXT[RED],
        ok_row=_ROW[OK], yellow_row=_ROW[YELLOW], red_row=_ROW[RED],
        ok_fg=_BADGE[OK][0], ok_bg=_BADGE[OK][1],
        yellow_fg=_BADGE[YELLOW][0], yellow_bg=_BADGE[YELLOW][1],
        red_fg=_BADGE[RED][0], red_bg=_BADGE[RED][1],
    )
    refresh = ""
    reload = ""
    if context.refresh and context.refresh > 0:
        every = max(1, math.ceil(context.refresh))
        # (the browser's own reload: it keeps the scroll position, and needs
        # no script, so the policy can forbid every script)
        refresh = f'<meta http-equiv="refresh" content="{every}">\n'
        reload = f"; reloads every {_span(every)}"
    # A tab shows the start of the title: the state, then which app where.
    where = " on ".join(_text(part) for part in (context.name, context.host) if part)
    page = [_HEAD.format(
        refresh=refresh, overall=overall, style=style, where=f"{where} - " if where else "",
        title=_text(context.name) if context.name else "Service status",
        facts=_facts(context), summary=_summary(states), banner=_banner(context.probe),
    )]
    if rows:
        more = ("<th>In state</th>" if since else "") + ("<th>Notes</th>" if has_notes else "")
        page.append(_TABLE.format(more=more, rows="\n".join(lines)))
    page.append(_FOOT.format(count=len(rows), plural="" if len(rows) == 1 else "s",
                             iso=_iso(timestamp) or "", reload=reload))
    return "".join(page)


def render_html(
    items: Iterable[Tuple[Any, MappingT[str, Any]]],
    durations: Optional[MappingT[Any, Optional[float]]] = None,
    timestamp: Optional[float] = None,
    non_critical: AbstractSet[Any] = frozenset(),
    context: Optional[PageContext] = None,
) -> str:
    """The page for ``(name, status)`` pairs, one row each, in their order.

    ``durations`` maps names to seconds; ``timestamp`` (default: now) is
    when the page was rendered. The rows of the handlers named in
    ``non_critical`` say so, and their ``RED`` counts as ``YELLOW`` for the
    page's overall state. ``context`` defaults to ``PageContext()``: this
    host, no name, reloads every :data:`DEFAULT_REFRESH` seconds.
    """
    rows = [
        _Row(name, status, None if durations is None else durations.get(name),
             not (non_critical and name in non_critical))
        for name, status in items
    ]
    return _page(rows, time.time() if timestamp is None else timestamp, context, False)


def render_page(report: StatusReport, context: Optional[PageContext] = None) -> str:
    """The page for ``report``, its handlers sorted by name.

    Besides what :func:`render_html` shows: since when each handler is in
    its state and its last transitions (a timed report), its ``labels``,
    and where a result the evaluation did not run came from.
    """
    names = report.names
    try:
        order = sorted(range(len(names)), key=names.__getitem__)
    except TypeError:  # names that are not all strings
        order = sorted(range(len(names)), key=lambda i: to_text(names[i]))
    changed, transitions = report.changed, report.transitions
    origins = report.origins or {}
    rows = [
        _Row(names[i], report.statuses[i], report.durations[i], report.is_critical(i),
             None if changed is None else changed[i],
             () if transitions is None else transitions[i],
             origins.get(names[i]) if origins else None)
        for i in order
    ]
    return _page(rows, report.timestamp, context, changed is not None)


def version_fields(body: bytes) -> Dict[str, str]:
    """``version`` and ``commit`` of a Dockerflow version body (JSON), those
    it has; nothing for a body that is no JSON object."""
    try:
        data = json.loads(body)
    except (ValueError, TypeError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    found = {}
    for key in ("version", "commit"):
        value = data.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = to_text(value)
            if text:
                found[key] = text
    return found
