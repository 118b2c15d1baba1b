"""Prometheus alerting rules for the status families, written as YAML.

:func:`alert_rules` without handlers gives the generic rules shipped as
``alerts.yml``; with the handlers of an app (:func:`handler_rules`, what
``pstatus --emit prometheus-rules`` prints) each handler's rules wait as
long as its timeout and ttl say.

How long a state must last before an alert fires (``for:``):

* RED: three scrape intervals, or twice the handler's ttl plus its
  timeout if that is longer (one cached RED result must not page anybody),
  rounded up to whole minutes;
* YELLOW, and RED of a non-critical handler: five times that;
* the handler takes its whole timeout: as for RED;
* an instance out of rotation (``svc_status_probe == 0``): 30 minutes, far
  longer than a drain or a deploy takes.

Handlers of an instance that is out of rotation (decommissioned or
draining) raise no alert: it is being taken down on purpose. A handler
that a series ``svc_status_critical{name="..."} == 0`` marks (for example
from a recording rule) is non-critical: its RED is a warning, not a page.
"""
from __future__ import annotations

import json
import math
import re
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from ..appstatus import AppStatus
from ..evaluation import DEFAULT_TIMEOUT

__all__: List[str] = ["HandlerRule", "alert_rules", "handler_rules"]

#: Prometheus' own default ``scrape_interval``.
DEFAULT_SCRAPE_INTERVAL = 60.0
#: How long an instance may stay out of rotation before it is reported.
OUT_OF_ROTATION_MINUTES = 30
GROUP = "lovely-ws-status"

# A label sample's name never ends up in these: they select states only.
_IN_ROTATION = "unless on (job, instance) (svc_status_probe == 0)"
_CRITICAL = "unless on (job, instance, name) (svc_status_critical == 0)"
_NON_CRITICAL = "and on (job, instance, name) (svc_status_critical == 0)"


class HandlerRule(NamedTuple):
    """What the rules need to know of one handler."""

    name: str
    timeout: float
    ttl: Optional[float] = None


def handler_rules(app: AppStatus) -> List[HandlerRule]:
    """The handlers ``app`` reports, with their timeouts and ttls."""
    rules = []
    for name, handler in sorted(app.all_handlers().items(), key=lambda item: str(item[0])):
        options = app.options_of(name, handler)
        timeout = app.evaluator.timeout if options.timeout is None else options.timeout
        rules.append(HandlerRule(str(name), timeout, options.ttl))
    return rules


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60.0 - 1e-9))


def _waits(timeout: float, ttl: Optional[float], scrape_interval: float) -> Tuple[int, int]:
    """``for:`` of RED and of YELLOW, in minutes."""
    red = _minutes(max(3 * scrape_interval, 2 * (ttl or 0.0) + timeout))
    return red, 5 * red


def _seconds(value: float) -> str:
    return f"{value:g}"


def _label_text(name: str) -> str:
    # The exposition writes what UTF-8 cannot carry as backslash escapes.
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _promql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def _matchers(names: Sequence[str], job: Optional[str]) -> str:
    parts = []
    if job is not None:
        parts.append("job=" + _promql_string(job))
    if len(names) == 1:
        parts.append("name=" + _promql_string(_label_text(names[0])))
    elif names:
        pattern = "|".join(_RE2_SPECIAL.sub(r"\\\1", _label_text(n)) for n in names)
        parts.append("name=~" + _promql_string(pattern))
    return "{" + ", ".join(parts) + "}" if parts else ""


def _rule(alert: str, expr: str, minutes: int, severity: str, summary: str,
          description: str) -> List[str]:
    return [
        f"      - alert: {alert}",
        f"        expr: {json.dumps(expr, ensure_ascii=False)}",
        f"        for: {minutes}m",
        "        labels:",
        f"          severity: {severity}",
        "        annotations:",
        f"          summary: {json.dumps(summary)}",
        f"          description: {json.dumps(description)}",
    ]


def _handler_group(names: Sequence[str], timeout: float, ttl: Optional[float], job: Optional[str],
                   scrape_interval: float) -> List[str]:
    red, yellow = _waits(timeout, ttl, scrape_interval)
    selector = _matchers(names, job)
    status = f"svc_status{selector}"
    took = f"svc_status_duration_seconds{selector}"
    on = "{{ $labels.instance }}"
    handler = "{{ $labels.name }}"
    # Measured from the start of the request: a little less than the timeout
    # when the clock's resolution says so.
    limit = _seconds(timeout * 0.99)
    lines: List[str] = []
    lines += _rule(
        "StatusHandlerRed", f"({status} == 2) {_CRITICAL} {_IN_ROTATION}", red, "critical",
        f"{handler} is RED on {on}",
        f"The status handler {handler} has been RED for {red} minutes.")
    lines += _rule(
        "StatusHandlerRedNonCritical", f"({status} == 2) {_NON_CRITICAL} {_IN_ROTATION}",
        yellow, "warning",
        f"{handler} (non-critical) is RED on {on}",
        f"The non-critical status handler {handler} has been RED for {yellow} minutes.")
    lines += _rule(
        "StatusHandlerYellow", f"({status} == 1) {_IN_ROTATION}", yellow, "warning",
        f"{handler} is YELLOW on {on}",
        f"The status handler {handler} has been YELLOW for {yellow} minutes.")
    lines += _rule(
        "StatusHandlerTimedOut",
        f"(({took} >= {limit}) or ({status} == 2 unless on (job, instance, name) {took})) "
        f"{_IN_ROTATION}",
        red, "warning",
        f"{handler} times out on {on}",
        f"The status handler {handler} has taken its whole timeout ({_seconds(timeout)} s), "
        f"or is still running from an earlier request, for {red} minutes.")
    return lines


def _instance_rules(job: Optional[str], scrape_interval: float) -> List[str]:
    red, _ = _waits(DEFAULT_TIMEOUT, None, scrape_interval)
    up = "up" + ("{job=" + _promql_string(job) + "}" if job is not None else "")
    lines: List[str] = []
    lines += _rule(
        "StatusEndpointDown",
        f"({up} == 0) and on (job, instance) "
        "count by (job, instance) (last_over_time(svc_status[1h]))",
        red, "critical",
        "The status of {{ $labels.instance }} cannot be scraped",
        f"{{{{ $labels.instance }}}} reported svc_status within the last hour, "
        f"but cannot be scraped for {red} minutes.")
    probe = "svc_status_probe" + ("{job=" + _promql_string(job) + "}" if job is not None else "")
    lines += _rule(
        "StatusInstanceOutOfRotation", f"{probe} == 0", OUT_OF_ROTATION_MINUTES, "warning",
        "{{ $labels.instance }} is out of rotation",
        f"/probe_status of {{{{ $labels.instance }}}} has answered 503 (decommissioned or "
        f"draining) for {OUT_OF_ROTATION_MINUTES} minutes.")
    return lines


def alert_rules(
    handlers: Optional[Sequence[HandlerRule]] = None,
    job: Optional[str] = None,
    scrape_interval: float = DEFAULT_SCRAPE_INTERVAL,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """A Prometheus rule file (YAML) with the alerts of the module's docstring.

    :param handlers: one set of rules per group of handlers that wait
        alike; ``None``: one set for every handler, with ``timeout``.
    :param job: the scrape job (``job="..."`` in every selector); ``None``:
        any job that has the families.
    :param scrape_interval: seconds between two scrapes of the job.
    """
    groups: Dict[Tuple[float, Optional[float]], List[str]] = {}
    if handlers is None:
        groups[(timeout, None)] = []
    else:
        for rule in handlers:
            groups.setdefault((rule.timeout, rule.ttl), []).append(rule.name)
    lines = [
        "# Alerting rules for lovely-ws-status's svc_status families.",
        f"# for: derived from a scrape interval of {_seconds(scrape_interval)} s "
        "and the handlers' timeouts and ttls.",
        "groups:",
        f"  - name: {GROUP}",
        "    rules:",
    ]
    for (group_timeout, ttl), names in groups.items():
        lines += _handler_group(names, group_timeout, ttl, job, scrape_interval)
    lines += _instance_rules(job, scrape_interval)
    return "\n".join(lines) + "\n"


