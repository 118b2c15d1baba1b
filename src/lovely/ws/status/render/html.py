"""HTML: a self-contained, colour-coded page with one row per handler."""
from __future__ import annotations

import datetime
import html
import time
from typing import AbstractSet, Any, Iterable, List, Optional, Tuple
from typing import Mapping as MappingT

from ..states import OK, RED, STATES, YELLOW, severity, worst_state
from ..text import to_text

__all__ = ["HTML_CONTENT_TYPE", "render_html"]

HTML_CONTENT_TYPE = "text/html; charset=UTF-8"

_COLOURS = {OK: "#1e8e3e", YELLOW: "#f9ab00", RED: "#d93025"}
_BACKGROUNDS = {OK: "#e6f4ea", YELLOW: "#fef7e0", RED: "#fce8e6"}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{overall} - service status</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 60em;
  padding: 0 1em; color: #202124; }}
h1 {{ font-size: 1.4em; }}
.overall {{ display: inline-block; padding: .2em .8em; border-radius: 1em;
  color: #fff; background: {colour}; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 1em; }}
th, td {{ text-align: left; padding: .4em .6em; border-bottom: 1px solid #dadce0;
  vertical-align: top; }}
td.detail {{ white-space: pre-wrap; word-break: break-word; }}
tr.OK td.state {{ color: {ok}; }} tr.OK {{ background: {ok_bg}; }}
tr.YELLOW td.state {{ color: {yellow}; }} tr.YELLOW {{ background: {yellow_bg}; }}
tr.RED td.state {{ color: {red}; }} tr.RED {{ background: {red_bg}; }}
td.state {{ font-weight: bold; }}
footer {{ margin-top: 1em; color: #5f6368; font-size: .9em; }}
</style>
</head>
<body>
<h1>Service status <span class="overall" id="overall" data-state="{overall}">{overall}</span></h1>
<table>
<thead><tr><th>Handler</th><th>State</th><th>Detail</th><th>Seconds</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<footer>{count} handler{plural}; rendered <time datetime="{iso}">{iso}</time></footer>
</body>
</html>
"""


def render_html(
    items: Iterable[Tuple[Any, MappingT[str, Any]]],
    durations: Optional[MappingT[Any, Optional[float]]] = None,
    timestamp: Optional[float] = None,
    non_critical: AbstractSet[Any] = frozenset(),
) -> str:
    """A self-contained, colour-coded HTML page with one row per item.

    ``durations`` maps names to seconds; ``timestamp`` (default: now) is
    the time the footer shows. The rows of the handlers named in
    ``non_critical`` say so, and their ``RED`` counts as ``YELLOW`` for the
    page's overall state.
    """
    rows: List[str] = []
    states: List[str] = []
    for name, status in items:
        # anything but a valid state (even an unhashable one) shows as RED
        state = STATES[severity(status.get("state"))]
        detail = status.get("detail")
        seconds = None if durations is None else durations.get(name)
        mark = ""
        if non_critical and name in non_critical:
            mark = ' <span class="non-critical">non-critical</span>'
            states.append(YELLOW if state == RED else state)
        else:
            states.append(state)
        rows.append(
            '<tr class="{state}" data-state="{state}"{critical}><td class="name">{name}</td>'
            '<td class="state">{state}{mark}</td><td class="detail">{detail}</td>'
            '<td class="seconds">{seconds}</td></tr>'.format(
                state=state,
                critical=' data-critical="false"' if mark else "",
                mark=mark,
                name=html.escape(to_text(name)),
                detail="" if detail is None else html.escape(to_text(detail)),
                seconds="" if seconds is None else f"{seconds:.3f}",
            )
        )
    overall = worst_state(states)
    stamp = time.time() if timestamp is None else timestamp
    iso = datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).isoformat(
        timespec="seconds"
    )
    return _PAGE.format(
        overall=overall,
        colour=_COLOURS[overall],
        ok=_COLOURS[OK],
        yellow=_COLOURS[YELLOW],
        red=_COLOURS[RED],
        ok_bg=_BACKGROUNDS[OK],
        yellow_bg=_BACKGROUNDS[YELLOW],
        red_bg=_BACKGROUNDS[RED],
        rows="\n".join(rows),
        count=len(rows),
        plural="" if len(rows) == 1 else "s",
        iso=iso,
    )
