"""Prometheus text exposition: the ``svc_status`` and
``svc_status_duration_seconds`` families."""
from __future__ import annotations

import math
import re
from typing import Any, Iterable, List, Optional, Sequence, Set, Tuple
from typing import Mapping as MappingT

from ..states import NUMERIC_VALUES, severity
from ..text import to_text

__all__ = [
    "PROMETHEUS_CONTENT_TYPE",
    "PROMETHEUS_HELP",
    "DURATION_HELP",
    "render_prometheus",
    "render_prometheus_columns",
    "escape_label_value",
    "format_number",
]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=UTF-8"
PROMETHEUS_HELP = "Status 0->OK, 1->YELLOW, 2->RED"
DURATION_HELP = "Seconds the last evaluation of the status handler took"


def escape_label_value(value: Any) -> str:
    """A label value as the Prometheus text format wants it (no quotes)."""
    text = to_text(value)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: keep the scrape valid UTF-8
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if "\\" in text or '"' in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text


_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def format_number(value: Any) -> str:
    """A sample value as Prometheus expects it; ``NaN`` for non-numbers.

    A string that already is a number in Prometheus' syntax is written as
    it is (``'12'`` stays ``12``, as 1.0 wrote it).
    """
    if type(value) is str and _NUMBER.fullmatch(value):
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
    seen: Optional[Set[str]] = None
    for name, label, status in zip(names, labels, statuses):
        state = status.get("state")
        value = values.get(state, 2) if type(state) is str else severity(state)
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
    items: Iterable[Tuple[Any, MappingT[str, Any]]],
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
    pairs = list(items)
    names = [name for name, _ in pairs]
    lines = list(_HEAD)
    _status_lines(lines, names, _label_values(names), [status for _, status in pairs])
    if durations is not None:
        timed = list(durations)
        _duration_lines(lines, _label_values(n for n, _ in timed), [s for _, s in timed])
    lines.append("")
    return "\n".join(lines)


def render_prometheus_columns(
    names: Sequence[Any],
    statuses: Sequence[MappingT[str, Any]],
    seconds: Optional[Sequence[Optional[float]]] = None,
) -> str:
    """:func:`render_prometheus` from parallel sequences, ``seconds`` aligned
    with ``names``, as a report's ``sorted_columns()`` returns them (no pairs
    to build)."""
    labels = _label_values(names)
    lines = list(_HEAD)
    _status_lines(lines, names, labels, statuses)
    if seconds is not None:
        _duration_lines(lines, labels, seconds)
    lines.append("")
    return "\n".join(lines)
