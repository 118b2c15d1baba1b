"""Prometheus text exposition (0.0.4) and OpenMetrics text (1.0.0), by hand.

The families, in this order:

``svc_status{name}``
    One sample per handler: the value of its state (0 OK, 1 YELLOW, 2 RED).
``svc_status_label{name, label}``
    One sample per entry of a handler's ``labels`` dict (only when there
    are any). With ``label_family=False`` they are written into
    ``svc_status`` as ``name="<handler>_<label>"`` instead, as 1.0 did.
``svc_status_duration_seconds{name}``
    How long each handler took.
``svc_status_last_change_timestamp_seconds{name}``
    Since when each handler has been in its state (seconds since the
    epoch, as this process saw it).
``svc_status_checks_total{name, state}``
    How many evaluations of each handler ended in each state, with
    ``_created`` samples as ``prometheus_client`` writes them (in text
    0.0.4, the gauge family ``svc_status_checks_created``).
``svc_status_probe``
    1 while ``/probe_status`` answers ``OK``, 0 otherwise.

Written by hand because it is about ten times faster than
``prometheus_client``'s exposition for a thousand handlers (and the text of
what stays the same from one scrape to the next is kept, see ``cache``);
the tests check it with ``prometheus_client``'s parsers and ``promtool``.
"""
from __future__ import annotations

from itertools import repeat
from operator import contains, itemgetter
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple
from typing import Mapping as MappingT

from ..states import NUMERIC_VALUES, severity
from ..text import to_text
from .promvalues import escape_label_value, format_number

__all__ = [
    "PROMETHEUS_CONTENT_TYPE",
    "OPENMETRICS_CONTENT_TYPE",
    "PROMETHEUS_HELP",
    "LABEL_HELP",
    "DURATION_HELP",
    "CHANGED_HELP",
    "CHECKS_HELP",
    "PROBE_HELP",
    "Series",
    "render_prometheus",
    "render_prometheus_columns",
    "render_exposition",
    "render_chunks",
    "escape_label_value",
    "format_number",
]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=UTF-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
PROMETHEUS_HELP = "Status 0->OK, 1->YELLOW, 2->RED"
LABEL_HELP = "A number from the labels of the status handler's result"
DURATION_HELP = "Seconds the last evaluation of the status handler took"
CHANGED_HELP = "When the state of the status handler last changed, as this process saw it"
CHECKS_HELP = "Evaluations of the status handler by the state they ended in"
PROBE_HELP = "1 while /probe_status answers OK, 0 while the instance is out of rotation"
CRITICAL_HELP = "0 for a status handler whose RED counts as YELLOW (critical=False)"

#: ``(name, state, created)``: one series of ``svc_status_checks``;
#: ``created`` (seconds since the epoch) is ``None`` to leave it out.
Series = Tuple[str, str, Optional[float]]


def _escaped(name: Any, odd: List[bool]) -> str:
    if type(name) is not str:
        odd.append(True)  # a name that is not text may repeat another's text
    return escape_label_value(name)


def _label_values(names: Iterable[Any], odd: List[bool]) -> List[str]:
    # Once per handler on every scrape: plain ASCII names without quote,
    # backslash or newline (nearly all) skip escaping.
    return [
        name if (type(name) is str and name.isascii() and "\\" not in name
                 and '"' not in name and "\n" not in name)
        else _escaped(name, odd)
        for name in names
    ]


class _Layout:
    """What one list of handler names gives, kept between scrapes in the
    caller's ``cache``: the sort order, the label values, and the text of
    the ``svc_status`` and duration samples with ``%`` where the values go."""

    __slots__ = ("names", "pick", "sorted_names", "labels", "odd",
                 "status_format", "duration_format")

    def __init__(self, names: Sequence[Any], sort: bool) -> None:
        self.names = names
        self.pick: Any = None
        n = len(names)
        if sort and n > 1:
            try:
                order = sorted(range(n), key=names.__getitem__)
            except TypeError:  # names that are not all strings
                order = sorted(range(n), key=lambda i: to_text(names[i]))
            self.pick = itemgetter(*order)
            self.sorted_names: Sequence[Any] = self.pick(names)
        else:
            self.sorted_names = names
        odd: List[bool] = []
        self.labels = _label_values(self.sorted_names, odd)
        self.odd = bool(odd)
        self.status_format: Optional[bytes] = None
        self.duration_format: Optional[bytes] = None
        if not self.odd:
            quoted = [label.replace("%", "%%") for label in self.labels]
            self.status_format = _encode("".join(
                [f'svc_status{{name="{label}"}} %d\n' for label in quoted]))
            self.duration_format = _encode("".join(
                [f'svc_status_duration_seconds{{name="{label}"}} %.9f\n' for label in quoted]))

    def columns(self, values: Optional[Sequence[Any]]) -> Any:
        """``values`` (aligned with the names) in the sorted order."""
        if values is None or self.pick is None:
            return values
        return self.pick(values)


def _layout(names: Sequence[Any], sort: bool, cache: Optional[Dict[str, Any]]) -> _Layout:
    if cache is not None:
        layout = cache.get("layout")
        try:
            if layout is not None and layout.names == names and cache.get("sorted") == sort:
                return layout  # type: ignore[no-any-return]
        except Exception:  # a name with a broken __eq__
            pass
    layout = _Layout(names, sort)
    if cache is not None and not layout.odd:
        cache["layout"], cache["sorted"] = layout, sort
    return layout


def _unique(labels: Sequence[str], statuses: Sequence[MappingT[str, Any]]) -> List[int]:
    """The indices of one handler per label value: of names with the same
    text (``1`` and ``'1'``) the worst state, so a RED one is never hidden."""
    keep: Dict[str, int] = {}
    for i, (label, status) in enumerate(zip(labels, statuses)):
        j = keep.get(label)
        if j is None or severity(status.get("state")) > severity(statuses[j].get("state")):
            keep[label] = i
    return sorted(keep.values())


def _encode(text: str) -> bytes:
    # (label values carry no lone surrogates: escape_label_value saw to it)
    return text.encode("utf-8", "backslashreplace")


class _Out:
    """The text being written: lines, and whole blocks already in bytes,
    so that a thousand handlers' text is copied as few times as can be."""

    __slots__ = ("chunks", "lines")

    def __init__(self) -> None:
        self.chunks: List[bytes] = []
        self.lines: List[str] = []

    def data(self, block: bytes) -> None:
        self.flush()
        self.chunks.append(block)

    def flush(self) -> None:
        if self.lines:
            self.chunks.append(_encode("".join(self.lines)))
            self.lines.clear()


def _family(lines: List[str], name: str, kind: str, doc: str, openmetrics: bool) -> None:
    if openmetrics and kind == "untyped":
        kind = "unknown"
    lines.append(f"# HELP {name} {doc}\n# TYPE {name} {kind}\n")


_STATE = itemgetter("state")
_VALUE = NUMERIC_VALUES.__getitem__


def _fast_statuses(layout: _Layout, statuses: Sequence[MappingT[str, Any]]) -> Optional[bytes]:
    """The ``svc_status`` samples from the layout's text, or ``None`` when a
    status needs a closer look (labels, a missing or invalid state)."""
    if layout.status_format is None:
        return None
    try:
        if any(map(contains, statuses, repeat("labels"))):
            return None
        return layout.status_format % tuple(map(_VALUE, map(_STATE, statuses)))
    except Exception:  # no state, an invalid one, not a dict
        return None


def _status_lines(
    lines: List[str], names: Sequence[Any], labels: Sequence[str],
    statuses: Sequence[MappingT[str, Any]], label_family: bool,
) -> List[str]:
    """The ``svc_status`` samples, one by one; returns the ``svc_status_label``
    samples (with ``label_family``; otherwise they are among the others)."""
    append = lines.append
    values = NUMERIC_VALUES
    extra_lines: List[str] = []
    seen: Optional[Set[str]] = None
    for name, label, status in zip(names, labels, statuses):
        state = status.get("state")
        value = values.get(state, 2) if type(state) is str else severity(state)
        append(f'svc_status{{name="{label}"}} {value}\n')
        extra = status.get("labels")
        # (isinstance first: the truth of an arbitrary object may raise)
        if extra is None or not isinstance(extra, dict) or not extra:
            continue
        if label_family:
            done: Set[str] = set()
            for key, number in list(extra.items()):
                key_label = escape_label_value(key)
                if key_label not in done:  # 1 and '1' are one label
                    done.add(key_label)
                    extra_lines.append(f'svc_status_label{{name="{label}",label="{key_label}"}} '
                                       f'{format_number(number)}\n')
            continue
        # 1.0's layout: "<handler>_<label>" among the handlers' samples.
        if seen is None:
            seen = set(labels)
        prefix = to_text(name) + "_"
        for key, number in list(extra.items()):
            full = escape_label_value(prefix + to_text(key))
            if full in seen:
                continue
            seen.add(full)
            append(f'svc_status{{name="{full}"}} {format_number(number)}\n')
    return extra_lines


def _duration_lines(out: _Out, layout: Optional[_Layout], labels: Sequence[str],
                    seconds: Sequence[Any]) -> None:
    # Nanoseconds are plenty, and fixed notation is much cheaper than
    # repr() on a scrape of a thousand handlers.
    if layout is not None and layout.duration_format is not None:
        try:
            # All finite floats from 0 to 1e15 (none missing): as one text.
            total = sum(seconds)
            if type(total) is float and total < 1e15 and min(seconds) >= 0.0:
                out.data(layout.duration_format % tuple(seconds))
                return
        except Exception:
            pass
    out.lines.extend([
        f'svc_status_duration_seconds{{name="{label}"}} {value:.9f}\n'
        if isinstance(value, (int, float)) and 0.0 <= value < 1e15
        else f'svc_status_duration_seconds{{name="{label}"}} {format_number(value)}\n'
        for label, value in zip(labels, seconds)
        if value is not None
    ])


def _change_block(labels: Sequence[str], since: Sequence[Any], openmetrics: bool) -> bytes:
    lines: List[str] = []
    name = "svc_status_last_change_timestamp_seconds"
    _family(lines, name, "gauge", CHANGED_HELP, openmetrics)
    if openmetrics:
        lines.append(f"# UNIT {name} seconds\n")
    lines.extend([f'{name}{{name="{label}"}} {format_number(value)}\n'
                  for label, value in zip(labels, since) if value is not None])
    return _encode("".join(lines))


def _check_text(series: Sequence[Series], openmetrics: bool, created: bool,
                counts: Optional[Sequence[Any]] = None) -> Tuple[str, str]:
    """The samples of ``svc_status_checks``: the counts' part and what
    follows it. Without ``counts``, the first part is a template with
    ``%d`` where each count goes (the ``_created`` values, fixed for a
    series, are written in)."""
    odd: List[bool] = []
    labels = _label_values([name for name, _, _ in series], odd)
    states = [escape_label_value(state) for _, state, _ in series]
    if counts is None:
        labels = [label.replace("%", "%%") for label in labels]
        states = [state.replace("%", "%%") for state in states]
        values = ["%d"] * len(series)
    else:
        values = [format_number(count) for count in counts]
    if openmetrics:
        lines = [f"# HELP svc_status_checks {CHECKS_HELP}\n"
                 "# TYPE svc_status_checks counter\n"]
        for label, state, value, (_, _, since) in zip(labels, states, values, series):
            labelset = f'{{name="{label}",state="{state}"}}'
            lines.append(f"svc_status_checks_total{labelset} {value}\n")
            if created and since is not None:
                lines.append(f"svc_status_checks_created{labelset} {format_number(since)}\n")
        return "".join(lines), ""
    # Text 0.0.4 has no _created samples: prometheus_client writes them as
    # a gauge family of their own, and so does this.
    lines = [f"# HELP svc_status_checks_total {CHECKS_HELP}\n"
             "# TYPE svc_status_checks_total counter\n"]
    lines.extend([f'svc_status_checks_total{{name="{label}",state="{state}"}} {value}\n'
                  for label, state, value in zip(labels, states, values)])
    if counts is None:  # back to the text as it is written
        labels = [label.replace("%%", "%") for label in labels]
        states = [state.replace("%%", "%") for state in states]
    tail = [f'svc_status_checks_created{{name="{label}",state="{state}"}} '
            f'{format_number(since)}\n'
            for label, state, (_, _, since) in zip(labels, states, series)
            if created and since is not None]
    if tail:
        tail.insert(0, f"# HELP svc_status_checks_created {CHECKS_HELP}\n"
                       "# TYPE svc_status_checks_created gauge\n")
    return "".join(lines), "".join(tail)


def _check_lines(out: _Out, series: Sequence[Series], counts: Sequence[Any],
                 openmetrics: bool, created: bool, cache: Optional[Dict[str, Any]]) -> None:
    key = (openmetrics, created)
    cached = None if cache is None else cache.get("checks")
    if cached is not None and cached[0] is series and cached[1] == key:
        template, tail = cached[2]
    else:
        template, tail = map(_encode, _check_text(series, openmetrics, created))
        if cache is not None:
            cache["checks"] = (series, key, (template, tail))
    try:
        whole = type(sum(counts)) is int  # (bools are ints, floats are not)
    except TypeError:
        whole = False
    if whole and len(counts) == len(series):
        out.data(template % tuple(counts))
        out.data(tail)
    else:
        out.lines.extend(_check_text(series, openmetrics, created, counts))


def render_chunks(
    names: Sequence[Any],
    statuses: Sequence[MappingT[str, Any]],
    seconds: Optional[Sequence[Optional[float]]] = None,
    *,
    openmetrics: bool = False,
    label_family: bool = True,
    checks: Optional[Tuple[Sequence[Series], Sequence[int]]] = None,
    created: bool = True,
    probe: Optional[bool] = None,
    sort: bool = False,
    cache: Optional[Dict[str, Any]] = None,
    changed: Optional[Sequence[Optional[float]]] = None,
    non_critical: Sequence[Any] = (),
) -> List[bytes]:
    """:func:`render_exposition` as UTF-8, in pieces to be sent one after
    the other."""
    picked: Optional[List[int]] = None  # the names kept of those with one text
    layout = _layout(names, sort, cache)
    names = layout.sorted_names
    labels = layout.labels
    statuses = layout.columns(statuses)
    seconds = layout.columns(seconds)
    fast: Optional[_Layout] = layout
    if layout.odd:
        fast = None
        if len(set(labels)) < len(labels):
            order = picked = _unique(labels, statuses)
            names = [names[i] for i in order]
            labels = [labels[i] for i in order]
            statuses = [statuses[i] for i in order]
            if seconds is not None:
                seconds = [seconds[i] for i in order]
    out = _Out()
    lines = out.lines
    _family(lines, "svc_status", "untyped", PROMETHEUS_HELP, openmetrics)
    block = None if fast is None else _fast_statuses(fast, statuses)
    label_lines: List[str] = []
    if block is not None:
        out.data(block)
    else:
        label_lines = _status_lines(lines, names, labels, statuses, label_family)
    if label_lines:
        _family(lines, "svc_status_label", "untyped", LABEL_HELP, openmetrics)
        lines.extend(label_lines)
    if seconds is not None:
        _family(lines, "svc_status_duration_seconds", "gauge", DURATION_HELP, openmetrics)
        if openmetrics:
            lines.append("# UNIT svc_status_duration_seconds seconds\n")
        _duration_lines(out, fast, labels, seconds)
    if changed is not None:
        # Reports share their list of changes until a state changes: so
        # does the text.
        kept = None if cache is None or fast is None else cache.get("changed")
        if kept is not None and kept[0] is changed and kept[1] is fast and kept[2] == openmetrics:
            out.data(kept[3])
        else:
            since = layout.columns(changed)
            if picked is not None:
                since = [since[i] for i in picked]
            block = _change_block(labels, since, openmetrics)
            if cache is not None and fast is not None:
                cache["changed"] = (changed, fast, openmetrics, block)
            out.data(block)
    if checks is not None and checks[0]:
        _check_lines(out, checks[0], checks[1], openmetrics, created, cache)
    if non_critical:
        _family(lines, "svc_status_critical", "gauge", CRITICAL_HELP, openmetrics)
        lines.extend(f'svc_status_critical{{name="{label}"}} 0\n'
                     for label in sorted(set(map(escape_label_value, non_critical))))
    if probe is not None:
        _family(lines, "svc_status_probe", "gauge", PROBE_HELP, openmetrics)
        lines.append(f"svc_status_probe {1 if probe else 0}\n")
    out.flush()
    return out.chunks


def render_exposition(
    names: Sequence[Any],
    statuses: Sequence[MappingT[str, Any]],
    seconds: Optional[Sequence[Optional[float]]] = None,
    *,
    openmetrics: bool = False,
    label_family: bool = True,
    checks: Optional[Tuple[Sequence[Series], Sequence[int]]] = None,
    created: bool = True,
    probe: Optional[bool] = None,
    sort: bool = False,
    cache: Optional[Dict[str, Any]] = None,
    changed: Optional[Sequence[Optional[float]]] = None,
    non_critical: Sequence[Any] = (),
) -> str:
    """The families of the module's docstring, from parallel sequences.

    One ``svc_status`` sample per name, in the given order (by name with
    ``sort``), with the value of its state (anything but a valid state
    counts as RED); names with the same text (``1`` and ``'1'``) give one
    sample, of the worst state. ``seconds`` (aligned with ``names``;
    ``None`` entries are left out) adds the duration family, ``changed``
    (likewise; a report's ``changed``) the last-change family, ``checks``
    (``(name, state, created)`` series and their counts) the counter family
    (if there are series; with ``_created`` samples if ``created``),
    ``probe`` the probe gauge, ``non_critical`` (names) the
    ``svc_status_critical`` family. ``openmetrics`` writes OpenMetrics instead of
    text 0.0.4 (without the final ``# EOF``, which comes after anything
    appended). ``cache``, a dict the caller keeps, saves work on the next
    call with the same names. The text ends with a newline.
    """
    return b"".join(render_chunks(
        names, statuses, seconds, openmetrics=openmetrics, label_family=label_family,
        checks=checks, created=created, probe=probe, sort=sort, cache=cache, changed=changed,
        non_critical=non_critical,
    )).decode("utf-8")


def render_prometheus(
    items: Iterable[Tuple[Any, MappingT[str, Any]]],
    durations: Optional[Iterable[Tuple[Any, Optional[float]]]] = None,
    label_family: bool = True,
) -> str:
    """:func:`render_exposition` (text 0.0.4) of ``(name, status)`` pairs;
    ``durations`` are ``(name, seconds)`` pairs, in any order."""
    pairs = list(items)
    names = [name for name, _ in pairs]
    seconds: Optional[List[Optional[float]]] = None
    if durations is not None:
        by_name: Dict[str, Optional[float]] = {}
        for name, value in durations:
            by_name.setdefault(to_text(name), value)
        seconds = [by_name.get(to_text(name)) for name in names]
    return render_exposition(names, [status for _, status in pairs], seconds,
                             label_family=label_family)


def render_prometheus_columns(
    names: Sequence[Any],
    statuses: Sequence[MappingT[str, Any]],
    seconds: Optional[Sequence[Optional[float]]] = None,
) -> str:
    """:func:`render_exposition` (text 0.0.4) of a report's ``sorted_columns()``."""
    return render_exposition(names, statuses, seconds)
