"""Pure functions from status results to text, one per output format.

Each takes ``(name, status)`` pairs (or a mapping) and returns ``str``; the
views are thin wrappers around them. None of them modifies a status dict.
"""
from __future__ import annotations

import datetime
import decimal
import html
import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any, Iterable, List, Optional, Sequence, Tuple
from typing import Mapping as MappingT

from . import NUMERIC_VALUES, OK, RED, YELLOW

__all__ = [
    "CSV_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "PROMETHEUS_CONTENT_TYPE",
    "HTML_CONTENT_TYPE",
    "PROMETHEUS_HELP",
    "render_csv",
    "render_json",
    "render_prometheus",
    "render_prometheus_columns",
    "render_html",
    "escape_label_value",
    "escape_controls",
    "format_number",
    "to_text",
]

CSV_CONTENT_TYPE = "text/csv; charset=UTF-8"
JSON_CONTENT_TYPE = "application/json"
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=UTF-8"
HTML_CONTENT_TYPE = "text/html; charset=UTF-8"

PROMETHEUS_HELP = "Status 0->OK, 1->YELLOW, 2->RED"
DURATION_HELP = "Seconds the last evaluation of the status handler took"

Items = Iterable[Tuple[Any, MappingT[str, Any]]]


def to_text(value: Any) -> str:
    """``str(value)``, but never raising (a broken ``__str__`` gets a placeholder)."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        # The text itself: str() of a ``(str, Enum)`` member is its name.
        return str.__str__(value)
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _state_value(state: Any) -> int:
    """0, 1 or 2 for a state that is not a plain ``str`` (2 unless valid)."""
    if isinstance(state, str):  # a str subclass such as an enum member
        return NUMERIC_VALUES.get(str.__str__(state), 2)
    return 2


# ---------------------------------------------------------------- CSV

# Characters that would end a line (str.splitlines() splits on all of
# these), the tab that separates fields, and the other control characters.
_CSV_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CSV_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _csv_escape_char(match: re.Match[str]) -> str:
    char = match.group()
    escape = _CSV_ESCAPES.get(char)
    if escape is None:
        code = ord(char)
        escape = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return escape


def escape_controls(text: str) -> str:
    """``text`` with tabs, line breaks and other control characters written
    as backslash escapes (``\\t``, ``\\n``, ``\\x1b``...), so it stays on one
    line and cannot drive a terminal."""
    if text.isprintable():
        return text
    return _CSV_UNSAFE.sub(_csv_escape_char, text)


def _csv_field(value: Any) -> str:
    return escape_controls(to_text(value))


def render_csv(items: Items) -> str:
    """One ``name<TAB>state<TAB>detail`` line per item, joined by newlines.

    A missing state or detail is empty. Tabs, newlines and other control
    characters inside a field are written as backslash escapes, so every
    item stays on one line. No newline follows the last line.
    """
    lines = []
    append = lines.append
    field = _csv_field
    # Once per handler per request: plain printable strings (nearly all)
    # go straight into an f-string.
    for name, status in items:
        # A missing key is empty; any value, None too, is its text (as in 1.0).
        state = status.get("state", "")
        detail = status.get("detail", "")
        if type(name) is not str or not name.isprintable():
            name = field(name)
        if type(state) is not str or not state.isprintable():
            state = field(state)
        if type(detail) is not str or not detail.isprintable():
            detail = field(detail)
        append(f"{name}\t{state}\t{detail}")
    return "\n".join(lines)


# ---------------------------------------------------------------- JSON


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return [_plain(v, ()) for v in value]
    if isinstance(value, BaseException):
        message = to_text(value)
        return f"{type(value).__name__}: {message}" if message else type(value).__name__
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {to_text(k): v for k, v in value.items()}
    return to_text(value)


def _plain(value: Any, parents: Tuple[int, ...]) -> Any:
    """A copy of ``value`` that ``json`` can encode strictly (the slow path)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        try:
            # Python refuses to print ints of more than 4300 digits (and so
            # does json); int subclasses may have their own broken __repr__.
            int.__repr__(value)
        except ValueError:
            return to_text(value)
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else to_text(value)
    if id(value) in parents:
        return "<recursion>"
    inner = parents + (id(value),)
    if len(inner) > 100:
        return "<too deep>"
    try:
        if isinstance(value, Mapping):
            return {
                (k if isinstance(k, str) else to_text(k)): _plain(v, inner)
                for k, v in list(value.items())
            }
        if isinstance(value, (list, tuple)):
            return [_plain(v, inner) for v in list(value)]
        converted = _json_default(value)
    except Exception:  # a container that cannot even be walked
        return to_text(value)
    if converted is value or isinstance(converted, str):
        return converted
    return _plain(converted, inner)


# Without the circular check the C encoder is a quarter faster; a cycle then
# ends in RecursionError, and the slow path handles it.
_encode_json = json.JSONEncoder(
    default=_json_default, allow_nan=False, check_circular=False, separators=(",", ":")
).encode


def render_json(data: MappingT[Any, Any]) -> str:
    """``data`` as compact JSON (as 1.0 wrote it); values ``json`` cannot
    encode become text.

    Dates and times are ISO 8601, ``Decimal`` and other objects their
    ``str()``, sets lists, exceptions ``"Class: message"``; NaN and infinity
    are text too, so the output is strict JSON that any parser accepts.
    """
    try:
        return _encode_json(data)
    except Exception:
        # Non-string keys, cycles, NaN, very deep nesting, huge ints, a dict
        # changed by another thread meanwhile: take the slow path.
        return json.dumps(_plain(data, ()), allow_nan=False, separators=(",", ":"))


# ---------------------------------------------------------------- Prometheus


def escape_label_value(value: Any) -> str:
    """A label value as the Prometheus text format wants it (no quotes)."""
    text = to_text(value)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: keep the scrape valid UTF-8
            text = text.encode("utf-8", "backslashreplace").decode("ascii")
    if "\\" in text or '"' in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text


_PROMETHEUS_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def format_number(value: Any) -> str:
    """A sample value as Prometheus expects it; ``NaN`` for non-numbers.

    A string that already is a number in Prometheus' syntax is written as
    it is (``'12'`` stays ``12``, as 1.0 wrote it).
    """
    if type(value) is str and _PROMETHEUS_NUMBER.fullmatch(value):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        try:
            return int.__repr__(value)
        except ValueError:  # more digits than Python prints: beyond any float
            return "+Inf" if value > 0 else "-Inf"
    try:
        number = float(value)
    except OverflowError:  # a number too large for a float (a huge Decimal)
        try:
            return "+Inf" if value > 0 else "-Inf"
        except Exception:
            return "NaN"
    except Exception:  # not a number at all, or a broken __float__
        return "NaN"
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return repr(number)


def _label_values(names: Iterable[Any]) -> List[str]:
    # Once per handler on every scrape: plain ASCII names without quote,
    # backslash or newline (nearly all) skip escaping.
    return [
        name if (type(name) is str and name.isascii() and "\\" not in name
                 and '"' not in name and "\n" not in name)
        else escape_label_value(name)
        for name in names
    ]


def _status_lines(
    lines: List[str], names: Sequence[Any], labels: Sequence[str],
    statuses: Sequence[MappingT[str, Any]],
) -> None:
    append = lines.append
    values = NUMERIC_VALUES
    seen = None
    for name, label, status in zip(names, labels, statuses):
        state = status.get("state")
        value = values.get(state, 2) if type(state) is str else _state_value(state)
        append(f'svc_status{{name="{label}"}} {value}')
        extra = status.get("labels")
        # (isinstance first: the truth of an arbitrary object may raise)
        if extra is not None and isinstance(extra, dict) and extra:
            if seen is None:
                seen = {to_text(n) for n in names}
            prefix = to_text(name) + "_"
            for key, number in list(extra.items()):
                full = prefix + to_text(key)
                if full in seen:
                    continue
                seen.add(full)
                append(f'svc_status{{name="{escape_label_value(full)}"}} '
                       f'{format_number(number)}')


def _duration_lines(lines: List[str], labels: Iterable[str], seconds: Iterable[Any]) -> None:
    lines.append("# HELP svc_status_duration_seconds " + DURATION_HELP)
    lines.append("# TYPE svc_status_duration_seconds gauge")
    # Nanoseconds are plenty, and fixed notation is much cheaper than repr()
    # on a scrape of a thousand handlers.
    lines.extend([
        f'svc_status_duration_seconds{{name="{label}"}} {value:.9f}'
        if type(value) is float and 0.0 <= value < 1e15
        else f'svc_status_duration_seconds{{name="{label}"}} {format_number(value)}'
        for label, value in zip(labels, seconds)
        if value is not None
    ])


_HEAD = ["# HELP svc_status " + PROMETHEUS_HELP, "# TYPE svc_status untyped"]


def render_prometheus(
    items: Sequence[Tuple[Any, MappingT[str, Any]]],
    durations: Optional[Iterable[Tuple[Any, Optional[float]]]] = None,
) -> str:
    """The ``svc_status`` family (and ``svc_status_duration_seconds``).

    One ``svc_status{name="..."}`` sample per item, in the given order, with
    the value of its state (0 OK, 1 YELLOW, 2 RED; anything else counts as
    RED), followed by one sample ``name="<name>_<label>"`` per entry of a
    ``labels`` dict. A label sample that would repeat a name already written
    is left out, so the text stays valid. ``durations`` adds a gauge family
    of ``(name, seconds)``. The text ends with a newline.
    """
    items = list(items)
    names = [name for name, _ in items]
    lines = list(_HEAD)
    _status_lines(lines, names, _label_values(names), [status for _, status in items])
    if durations is not None:
        pairs = list(durations)
        _duration_lines(lines, _label_values(n for n, _ in pairs), [s for _, s in pairs])
    lines.append("")
    return "\n".join(lines)


def render_prometheus_columns(
    names: Sequence[Any],
    statuses: Sequence[MappingT[str, Any]],
    seconds: Optional[Sequence[Optional[float]]] = None,
) -> str:
    """:func:`render_prometheus` from parallel sequences, ``seconds`` aligned
    with ``names`` (what the views have at hand, without building pairs)."""
    labels = _label_values(names)
    lines = list(_HEAD)
    _status_lines(lines, names, labels, statuses)
    if seconds is not None:
        _duration_lines(lines, labels, seconds)
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- HTML

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
    items: Sequence[Tuple[Any, MappingT[str, Any]]],
    durations: Optional[MappingT[Any, Optional[float]]] = None,
    timestamp: Optional[float] = None,
) -> str:
    """A self-contained, colour-coded HTML page with one row per item."""
    from .evaluation import worst_state

    rows = []
    states = []
    for name, status in items:
        state = status.get("state")
        # anything but a valid state (even an unhashable one) shows as RED
        state = (OK, YELLOW, RED)[_state_value(state)]
        states.append(state)
        detail = status.get("detail")
        seconds = None if durations is None else durations.get(name)
        rows.append(
            '<tr class="{state}" data-state="{state}"><td class="name">{name}</td>'
            '<td class="state">{state}</td><td class="detail">{detail}</td>'
            '<td class="seconds">{seconds}</td></tr>'.format(
                state=state,
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
