"""``pstatus``: print the status handlers of an application; exit 0/1/2.

The handlers run exactly as behind ``/svc_status`` (isolated, under the
configured timeouts), so the exit code can serve as a Docker
``HEALTHCHECK`` or a Kubernetes exec probe.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import AbstractSet, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..appstatus import evaluate, get_app_status
from ..evaluation.report import StatusReport
from ..prometheus import DASHBOARD_FILE, read_file
from ..prometheus.rules import DEFAULT_SCRAPE_INTERVAL, alert_rules, handler_rules
from ..render import FORMATS as REPORT_FORMATS
from ..render.csv import mark_non_critical
from ..states import NUMERIC_VALUES, OK, RED, YELLOW, severity
from ..text import escape_controls, to_text
from . import EXIT_UNKNOWN_NAME, Command, dedupe, run_command

__all__ = ["main"]

#: The exit code of each state: its severity.
EXIT_CODES = NUMERIC_VALUES

#: ``text`` is the table of :func:`format_table`; the others are the bodies
#: of ``/svc_status`` in that format (see :data:`lovely.ws.status.render.FORMATS`).
FORMATS = ("text", "json", "csv", "prometheus")

#: What ``--emit`` writes instead of evaluating the handlers.
EMITS = ("prometheus-rules", "grafana-dashboard")

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def scrape_interval(value: str) -> float:
    """Seconds from ``30``, ``30s``, ``1m`` or ``1h`` (``--scrape-interval``)."""
    text = value.strip().lower()
    factor = _UNITS.get(text[-1:], None)
    number = text[:-1] if factor is not None else text
    try:
        seconds = float(number) * (factor or 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 30s or 1m, not {value!r}") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive duration, not {value!r}")
    return seconds

_ANSI = {OK: "\x1b[32m", YELLOW: "\x1b[33m", RED: "\x1b[31m"}
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"

def _cell(value: Any) -> str:
    # ESC among the escaped characters: a handler's detail cannot drive the
    # terminal.
    return escape_controls(to_text(value))


def format_table(
    items: Sequence[Tuple[Any, Mapping[str, Any]]], colour: bool = False,
    non_critical: AbstractSet[Any] = frozenset(),
) -> List[str]:
    """Lines of an aligned ``NAME STATE DETAIL`` table and a summary line.

    With ``colour``, states are wrapped in ANSI colours (green, yellow,
    red); the alignment is computed on the plain text. The handlers named
    in ``non_critical`` say so in their detail, and their ``RED`` counts
    as ``YELLOW`` in the summary.
    """
    if not items:
        return ["No status handlers are registered."]
    rows = []
    critical_red = 0
    for name, status in items:
        if non_critical and name in non_critical:
            status = mark_non_critical(status)
        elif status.get("state") == RED:
            critical_red += 1
        state = status.get("state")
        detail = status.get("detail")
        rows.append(
            (
                _cell(name),
                _cell("" if state is None else state),
                "" if detail is None else _cell(detail),
            )
        )
    header = ("NAME", "STATE", "DETAIL")
    name_width = max(len(header[0]), *(len(r[0]) for r in rows))
    state_width = max(len(header[1]), *(len(r[1]) for r in rows))

    def paint(state: str, text: str, bold: bool = False) -> str:
        if not colour or state not in _ANSI:
            return text
        return (_BOLD if bold else "") + _ANSI[state] + text + _RESET

    lines = [
        f"{header[0]:<{name_width}}  {header[1]:<{state_width}}  {header[2]}".rstrip()
    ]
    for name, state, detail in rows:
        padding = " " * (state_width - len(state))
        lines.append(
            f"{name:<{name_width}}  {paint(state, state)}{padding}  {detail}".rstrip()
        )
    states = [r[1] for r in rows]
    tally = [(states.count(s), s) for s in (OK, YELLOW)]
    if non_critical:
        tally += [(critical_red, RED), (states.count(RED) - critical_red, "RED non-critical")]
    else:
        tally.append((states.count(RED), RED))
    counts = ", ".join(f"{n} {s}" for n, s in tally if n)
    worst = max(states, key=severity)
    if worst == RED and non_critical and not critical_red:
        worst = YELLOW
    lines.append("")
    lines.append(
        "{} ({} handler{}: {})".format(
            paint(worst, worst, bold=True),
            len(rows),
            "" if len(rows) == 1 else "s",
            counts,
        )
    )
    return lines


def render(report: StatusReport, fmt: str, colour: bool = False) -> str:
    """The text ``pstatus`` prints for ``report`` in the format ``fmt``."""
    if fmt == "text":
        return "\n".join(format_table(report.sorted_items(), colour, report.non_critical))
    return REPORT_FORMATS[fmt].render(report)


class PStatusCommand(Command):
    description = """\
    Evaluate the status handlers of a Pyramid application, print them and
    exit with the worst state: 0 when all are OK, 1 when the worst is
    YELLOW, 2 when one is RED (the RED of a non-critical handler counts as
    YELLOW). The handlers run as behind /svc_status, each in isolation and
    under its timeout (setting svcstatus.timeout); --group NAME runs those
    of one group (liveness, readiness, startup or the app's own).

    This command accepts one positional argument named "config_uri" which
    specifies the PasteDeploy config file to load the application from.
    The format is "inifile#name". If the name is left off, "main" will be
    assumed. Example: "pstatus production.ini#main".
    """
    epilog = """\
    exit codes:
      0   every handler is OK (or none is registered)
      1   the worst state is YELLOW
      2   at least one handler is RED (the RED of a handler registered
          with critical=False counts as YELLOW)
      3   --only named a handler that is not registered, or --group a
          group that does not exist
      4   the application could not be loaded from the configuration
      64  bad command line
    """
    script_name = "pstatus"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "-f",
            "--format",
            choices=FORMATS,
            default="text",
            help="Output format (default: text, an aligned table).",
        )
        parser.add_argument(
            "--group",
            metavar="NAME",
            help="Evaluate only the handlers of this group (such as liveness, "
            "readiness or startup); with --only, those of them in the group.",
        )
        parser.add_argument(
            "--only",
            metavar="NAME",
            nargs="+",
            action="extend",
            help="Evaluate only these handlers (repeatable). Put the names "
            "after the config file, or use --only=NAME.",
        )
        colour = parser.add_mutually_exclusive_group()
        colour.add_argument(
            "--color",
            "--colour",
            dest="colour",
            action="store_true",
            default=None,
            help="Colour the states even when stdout is not a terminal.",
        )
        colour.add_argument(
            "--no-color",
            "--no-colour",
            dest="colour",
            action="store_false",
            help="Never colour (also: the NO_COLOR environment variable).",
        )
        parser.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            help="Print nothing; only the exit code tells the state.",
        )
        parser.add_argument(
            "--emit",
            choices=EMITS,
            help="Print Prometheus alerting rules for the application's handlers "
            "(their for: follow the handlers' timeouts and ttls), or a Grafana "
            "dashboard, instead of evaluating the handlers.",
        )
        parser.add_argument(
            "--job",
            help="With --emit prometheus-rules: the scrape job's name, so the rules "
            "select only its series.",
        )
        parser.add_argument(
            "--scrape-interval",
            type=scrape_interval,
            default=DEFAULT_SCRAPE_INTERVAL,
            metavar="DURATION",
            help="With --emit prometheus-rules: the job's scrape interval "
            "(default: 1m, Prometheus' own default).",
        )

    def __init__(self, argv: Sequence[str], quiet: bool = False) -> None:
        super().__init__(argv, quiet)
        self.quiet = self.quiet or self.args.quiet

    def use_colour(self) -> bool:
        """Colour when asked to, else only on a terminal without NO_COLOR."""
        if self.args.colour is not None:
            return bool(self.args.colour)
        if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
            return False
        isatty = getattr(self.stdout, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False

    def run_with(self, env: Dict[str, Any]) -> int:
        registry = env["registry"]
        names: Optional[List[str]] = dedupe(self.args.only)
        if names is not None:
            handlers = get_app_status(registry).all_handlers()
            unknown = [n for n in names if n not in handlers]
            if unknown:
                known = ", ".join(sorted(map(str, handlers))) or "none"
                self.err(
                    "unknown status handler{} {}; registered: {}".format(
                        "" if len(unknown) == 1 else "s",
                        ", ".join(repr(n) for n in unknown),
                        known,
                    )
                )
                return EXIT_UNKNOWN_NAME
        app = get_app_status(registry)
        group = self.args.group
        if group is not None and group not in app.groups():
            self.err("unknown group {!r}; groups: {}".format(
                group, ", ".join(sorted(app.groups()))))
            return EXIT_UNKNOWN_NAME
        if self.args.emit is not None:
            if group is not None:
                members = app.members(group)
                names = [n for n in names or members if n in members]
            return self.emit(app, names)
        # This process is no worker of the app: its evaluation is not one
        # that the app's other processes should count.
        app.checks.share = False
        fmt = self.args.format
        timed = fmt != "text" and REPORT_FORMATS[fmt].timed
        report = evaluate(registry, names=names, durations=timed, group=group)
        if not self.quiet:
            text = render(report, fmt, self.use_colour())
            if text:
                self.out(text[:-1] if text.endswith("\n") else text)
        return severity(report.state)


    def emit(self, app: Any, names: Optional[List[str]]) -> int:
        """``--emit``: print the rules or the dashboard; exit 0."""
        if self.args.emit == "grafana-dashboard":
            text = read_file(DASHBOARD_FILE)
        else:
            rules = handler_rules(app)
            if names is not None:
                rules = [rule for rule in rules if rule.name in names]
            text = alert_rules(rules, job=self.args.job,
                               scrape_interval=self.args.scrape_interval,
                               timeout=app.evaluator.timeout)
        self.out(text[:-1] if text.endswith("\n") else text)
        return 0


def main(argv: Sequence[str] = sys.argv, quiet: bool = False) -> int:
    """Entry point of ``pstatus``; returns the exit code."""
    return run_command(PStatusCommand, argv, quiet)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main() or 0)
