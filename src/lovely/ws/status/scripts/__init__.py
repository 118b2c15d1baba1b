"""Console scripts shaped like Pyramid's own ``p*`` scripts.

``pstatus`` prints the status handlers of an application and exits with a
code a health check can use; ``pprobe`` reads or sets the text of the load
balancer probe. Both load the application from a PasteDeploy (plaster) URI
with :func:`pyramid.paster.bootstrap`, as ``proutes`` and ``ptweens`` do.

The exit codes shared by both scripts are defined here; the codes of the
states (0, 1, 2) belong to ``pstatus`` alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import warnings
from typing import Any, Dict, List, Optional, Sequence

# Pyramid imports pkg_resources, which recent setuptools deprecates on
# stderr at every start: noise in a health check's output, and not ours.
warnings.filterwarnings(
    "ignore", message="pkg_resources is deprecated", category=UserWarning, module="pyramid"
)

from pyramid.exceptions import ConfigurationExecutionError  # noqa: E402
from pyramid.paster import bootstrap, setup_logging  # noqa: E402
from pyramid.scripts.common import parse_vars  # noqa: E402

__all__ = [
    "EXIT_UNKNOWN_NAME",
    "EXIT_STORE_UNAVAILABLE",
    "EXIT_LOAD_FAILED",
    "EXIT_MEMORY_STORE",
    "EXIT_USAGE",
    "Command",
    "UsageError",
]

#: ``pstatus --only`` named a handler that is not registered.
EXIT_UNKNOWN_NAME = 3
#: ``pprobe`` could not reach the probe store (Redis down, file not writable).
EXIT_STORE_UNAVAILABLE = 3
#: The application could not be loaded from the configuration.
EXIT_LOAD_FAILED = 4
#: ``pprobe``: the configured store lives inside each process, out of reach.
EXIT_MEMORY_STORE = 5
#: Bad command line (``sysexits.h``'s ``EX_USAGE``). ``argparse`` would exit
#: with 2, which ``pstatus`` uses for RED, so a typo must not look like RED.
EXIT_USAGE = 64


class UsageError(Exception):
    """The command line is wrong; the message says why."""


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would sys.exit(2)
        raise UsageError(message)


class _LoadError(Exception):
    pass


def _describe(exc: BaseException) -> str:
    # Pyramid wraps errors raised by configuration actions; the wrapped one
    # is what the operator needs to read.
    inner = getattr(exc, "evalue", None)
    if isinstance(exc, ConfigurationExecutionError) and isinstance(
        inner, BaseException
    ):
        exc = inner
    message = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


class Command:
    """What ``pstatus`` and ``pprobe`` share: arguments, loading, output.

    ``bootstrap`` and ``setup_logging`` are class attributes so tests can
    swap them, as with Pyramid's scripts.
    """

    script_name = ""
    description = ""
    epilog = ""

    bootstrap = staticmethod(bootstrap)  # testing
    setup_logging = staticmethod(setup_logging)  # testing

    def __init__(self, argv: Sequence[str], quiet: bool = False) -> None:
        self.quiet = quiet
        self.stdout = sys.stdout
        self.stderr = sys.stderr
        self.parser = self.make_parser()
        # Options may come before, between or after the positional arguments.
        self.args = self.parser.parse_intermixed_args(list(argv[1:]))

    @classmethod
    def make_parser(cls) -> argparse.ArgumentParser:
        parser = _ArgumentParser(
            prog=cls.script_name,
            description=textwrap.dedent(cls.description),
            epilog=textwrap.dedent(cls.epilog),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument(
            "config_uri",
            nargs="?",
            default=None,
            help="The URI of the configuration file, for example "
            "production.ini or production.ini#main.",
        )
        parser.add_argument(
            "config_vars",
            nargs="*",
            default=(),
            help="Variables required by the config file. For example, "
            "`http_port=%%(http_port)s` would expect `http_port=8080` to be "
            "passed here.",
        )
        cls.add_arguments(parser)
        return parser

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add the options of the script."""

    # ------------------------------------------------------------ output

    def _write(self, stream: Any, text: str) -> None:
        if stream is None:  # started with the stream closed (>&-)
            return
        try:
            try:
                stream.write(text + "\n")
            except UnicodeEncodeError:
                # A terminal or pipe that cannot show every character (for
                # example lone surrogates in a handler's detail).
                encoding = getattr(stream, "encoding", None) or "ascii"
                stream.write(
                    text.encode(encoding, "backslashreplace").decode(encoding) + "\n"
                )
            stream.flush()
        except OSError:
            # Nobody reads any more (a closed pipe): the exit code is what
            # counts, so go on quietly rather than end with a traceback and
            # exit code 1, which pstatus uses for YELLOW.
            _silence(stream)

    def out(self, text: str) -> None:
        if not self.quiet:
            self._write(self.stdout, text)

    def err(self, text: str) -> None:
        # Errors are shown even with quiet: a health check records them.
        self._write(self.stderr, f"{self.script_name}: {text}")

    # ------------------------------------------------------------ loading

    def config_vars(self) -> Dict[str, str]:
        try:
            config_vars = parse_vars(self.args.config_vars)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        config_vars.setdefault("__script__", self.script_name)
        return config_vars

    def load(self) -> Dict[str, Any]:
        """Set up logging and bootstrap the application; ``_LoadError`` if not."""
        config_uri = self.args.config_uri
        config_vars = self.config_vars()
        try:
            self.setup_logging(config_uri, global_conf=config_vars)
            env = self.bootstrap(config_uri, options=config_vars)
        except Exception as exc:
            # A missing file, a missing section, an import error in the app
            # factory, a ConfigurationError at commit: all mean the same to
            # a health check, "this configuration does not start".
            raise _LoadError(
                f"cannot load the application from {config_uri!r}: {_describe(exc)}"
            ) from exc
        _undo_drain()
        return env

    def run(self) -> int:
        if not self.args.config_uri:
            raise UsageError("requires a config file argument")
        try:
            env = self.load()
        except _LoadError as exc:
            self.err(str(exc))
            return EXIT_LOAD_FAILED
        try:
            return self.run_with(env)
        finally:
            closer = env.get("closer")
            if closer is not None:
                closer()

    def run_with(self, env: Dict[str, Any]) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


def _silence(stream: Any) -> None:
    """Send what is still written to ``stream`` to the null device.

    Also spares the interpreter a failing flush of the buffer at exit
    (which would print an error and exit with code 120).
    """
    try:
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _undo_drain() -> None:
    # An app with probestatus.drain_seconds installs a SIGTERM handler that
    # delays the end of the process. A script is no server: a SIGTERM (from
    # a health check that took too long, or `timeout`) must end it at once.
    from ..probe.drain import uninstall_sigterm_handler

    try:
        uninstall_sigterm_handler()
    except ValueError:  # pragma: no cover - not the main thread
        pass


def run_command(cls: Any, argv: Sequence[str], quiet: bool) -> int:
    """Build and run ``cls``; turn usage errors and ``--help`` into exit codes."""
    try:
        command: Command = cls(argv, quiet)
        return command.run()
    except UsageError as exc:
        parser = cls.make_parser()
        stderr = sys.stderr
        if stderr is not None:
            try:
                if not quiet:
                    parser.print_usage(stderr)
                stderr.write(f"{cls.script_name}: error: {exc}\n")
                stderr.flush()
            except OSError:
                _silence(stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)


def dedupe(names: Optional[List[str]]) -> Optional[List[str]]:
    """``names`` without repeats, in their first order."""
    if names is None:
        return None
    return list(dict.fromkeys(names))
