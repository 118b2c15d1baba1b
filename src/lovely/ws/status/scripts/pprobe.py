"""``pprobe``: read or set the text of ``/probe_status`` from a shell.

The text lives in the store the application configures with
``probestatus.store`` (a file or Redis), which every worker process reads,
so an operator can drain an instance without crafting an HTTP ``POST``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, Sequence

from ..appstatus import get_app_status

# The rules of the stores themselves (the view applies the same), so a text
# pprobe accepts is always one the workers can serve.
from ..probe.store import StoreUnavailable, check_text
from ..text import escape_controls
from . import (
    EXIT_MEMORY_STORE,
    EXIT_STORE_UNAVAILABLE,
    Command,
    UsageError,
    run_command,
)

__all__ = ["main"]

EXIT_DECOMMISSIONED = 1


class PProbeCommand(Command):
    description = """\
    Show or set the text that /probe_status answers. "OK" means in service
    (200); any other text means decommissioned (503, the text tells why),
    so a load balancer drains the instance.

    The text is read from and written to the store that the application
    configures with the setting probestatus.store, which must be shared by
    the worker processes (file:// or redis://); the default in-memory store
    lives inside each worker and cannot be reached from here.

    This command accepts one positional argument named "config_uri" which
    specifies the PasteDeploy config file to load the application from.
    The format is "inifile#name". If the name is left off, "main" will be
    assumed. Example: "pprobe production.ini --off 'deploying v42'".
    """
    epilog = """\
    exit codes:
      0   done; with --show (the default): the text is OK
      1   --show: the text is not OK (the instance is decommissioned)
      3   the store cannot be used (Redis down, file not writable, no
          valid text in it); a text that could not be stored may have
          been stored all the same (a write that timed out)
      4   the application could not be loaded from the configuration
      5   the application uses the in-memory store, out of reach of pprobe
      64  bad command line (including a text that is empty, too long
          or has control characters)
    """
    script_name = "pprobe"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--off",
            metavar="TEXT",
            help="Decommission: store TEXT, so /probe_status answers 503 TEXT.",
        )
        action.add_argument(
            "--on",
            action="store_true",
            help="Put back in service: store OK, so /probe_status answers 200.",
        )
        action.add_argument(
            "--show",
            action="store_true",
            help="Print the current text (the default); exit 1 unless OK.",
        )
        parser.add_argument(
            "-q", "--quiet", action="store_true", help="Print nothing on success."
        )

    def __init__(self, argv: Sequence[str], quiet: bool = False) -> None:
        super().__init__(argv, quiet)
        self.quiet = self.quiet or self.args.quiet
        if self.args.off is not None:
            problem = check_text(self.args.off)
            if problem:
                raise UsageError(f"--off: {problem}")
            if not self.args.off.strip():
                # An unset shell variable (--off "$REASON") more likely than
                # a wish to answer 503 with an empty page.
                raise UsageError(
                    "--off: the text is empty; say why the instance is out of "
                    "rotation (--on puts it back)"
                )

    def run_with(self, env: Dict[str, Any]) -> int:
        store = get_app_status(env["registry"]).store
        if store is None:
            self.err(
                "the application keeps the probe text in memory, inside each "
                "worker process, where pprobe cannot reach it. Set "
                "probestatus.store to a file:// or redis:// URL shared by the "
                "workers, or POST to /probe_status on each worker."
            )
            return EXIT_MEMORY_STORE
        try:
            if self.args.off is not None:
                store.set(self.args.off)
                text = self.args.off
            elif self.args.on:
                store.set("OK")
                text = "OK"
            else:
                text = store.get()
        except (StoreUnavailable, OSError) as exc:
            message = str(exc).strip() or type(exc).__name__
            self.err(f"the probe store is unavailable: {message}")
            return EXIT_STORE_UNAVAILABLE
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()
        # Escaped: the built-in stores serve only texts that pass
        # check_text(), a store an application made itself need not.
        self.out(escape_controls(text))
        if self.args.off is None and not self.args.on and text != "OK":
            return EXIT_DECOMMISSIONED
        return 0


def main(argv: Sequence[str] = sys.argv, quiet: bool = False) -> int:
    """Entry point of ``pprobe``; returns the exit code."""
    return run_command(PProbeCommand, argv, quiet)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main() or 0)
