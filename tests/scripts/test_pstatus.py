"""``pstatus`` with a swapped ``bootstrap``, as Pyramid's own script tests do.

The swapped ``bootstrap`` returns the registry of a real Pyramid
configuration (``Configurator`` + ``add_status_handler`` + commit); the
handlers run through the real evaluator.
"""

from __future__ import annotations

import io
import json
import os
import pty
import signal
from typing import Any, List

import pytest

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.probe.drain import Drainer
from lovely.ws.status.scripts import pstatus

from ..helpers import fixed
from .bootstrap import make_registry


@pytest.fixture(autouse=True)
def colour_environment(monkeypatch):
    """A terminal that can show colours, without ``NO_COLOR``."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")


def three(**extra: Any) -> Any:
    """A registry factory with one handler in each state."""
    return lambda: make_registry(
        database=fixed(state=OK, detail="connected"),
        cache=fixed(state=YELLOW, detail="evictions are high"),
        queue=fixed(state=RED, detail="broker unreachable"),
        **extra,
    )


def test_all_ok_prints_a_table_and_exits_0(swap, capsys):
    boot = swap(lambda: make_registry(database=fixed(state=OK, detail="connected"),
                                      disk=fixed(state=OK)))
    assert pstatus.main(["pstatus", "production.ini"]) == 0
    out, err = capsys.readouterr()
    assert out == (
        "NAME      STATE  DETAIL\n"
        "database  OK     connected\n"
        "disk      OK\n"
        "\n"
        "OK (2 handlers: 2 OK)\n"
    )
    assert err == ""
    assert boot.calls == [("production.ini", {"__script__": "pstatus"})]
    assert boot.logging_calls == [("production.ini", {"__script__": "pstatus"})]
    assert boot.closed == 1


@pytest.mark.parametrize(
    "states, code",
    [
        ((OK, OK), 0),
        ((OK, YELLOW), 1),
        ((YELLOW, YELLOW), 1),
        ((YELLOW, RED), 2),
        ((RED, OK), 2),
    ],
)
def test_exit_code_is_the_worst_state(swap, capsys, states, code):
    swap(lambda: make_registry(a=fixed(state=states[0]), b=fixed(state=states[1])))
    assert pstatus.main(["pstatus", "app.ini"]) == code
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .startswith({0: OK, 1: YELLOW, 2: RED}[code] + " (2 handlers")
    )


def test_mixed_table_is_sorted_and_aligned(swap, capsys):
    swap(three())
    assert pstatus.main(["pstatus", "app.ini"]) == 2
    assert capsys.readouterr().out == (
        "NAME      STATE   DETAIL\n"
        "cache     YELLOW  evictions are high\n"
        "database  OK      connected\n"
        "queue     RED     broker unreachable\n"
        "\n"
        "RED (3 handlers: 1 OK, 1 YELLOW, 1 RED)\n"
    )


def test_no_handlers_is_ok(swap, capsys):
    swap(make_registry)
    assert pstatus.main(["pstatus", "app.ini"]) == 0
    assert capsys.readouterr().out == "No status handlers are registered.\n"


def test_failing_and_invalid_handlers_are_red(swap, capsys):
    def broken():
        raise ConnectionError("refused")

    swap(lambda: make_registry(broken=broken, nonsense=lambda: {"state": "GREENISH"}))
    assert pstatus.main(["pstatus", "app.ini"]) == 2
    out = capsys.readouterr().out
    assert "broken    RED    ConnectionError: refused\n" in out
    assert "nonsense  RED    invalid status: state 'GREENISH' is not one of OK" in out


def test_handlers_run_under_the_configured_timeout(swap, capsys, blocked):
    swap(lambda: make_registry({"svcstatus.timeout": "0.2"}, stuck=blocked,
                               fine=fixed(state=OK)))
    assert pstatus.main(["pstatus", "app.ini"]) == 2
    out = capsys.readouterr().out
    assert "stuck  RED    timed out after 0.2 seconds\n" in out
    assert "fine   OK\n" in out


def test_the_apps_own_and_the_process_wide_handlers_are_shown(swap, capsys):
    addStatusHandler("shared", fixed(state=OK, detail="process-wide"))
    addStatusHandler("cache", fixed(state=RED, detail="process-wide"))
    # The app's own handler of a name wins in that app.
    swap(lambda: make_registry(cache=fixed(state=YELLOW, detail="the app's")))
    assert pstatus.main(["pstatus", "app.ini"]) == 1
    assert capsys.readouterr().out == (
        "NAME    STATE   DETAIL\n"
        "cache   YELLOW  the app's\n"
        "shared  OK      process-wide\n"
        "\n"
        "YELLOW (2 handlers: 1 OK, 1 YELLOW)\n"
    )
    assert pstatus.main(["pstatus", "app.ini", "--only", "shared"]) == 0


def test_json(swap, capsys):
    swap(three(extra=fixed(state=OK, detail={"nested": [1, 2]})))
    assert pstatus.main(["pstatus", "app.ini", "--format", "json"]) == 2
    out = capsys.readouterr().out
    assert out.endswith("}\n")
    assert json.loads(out) == {
        "database": {"state": OK, "detail": "connected"},
        "cache": {"state": YELLOW, "detail": "evictions are high"},
        "queue": {"state": RED, "detail": "broker unreachable"},
        "extra": {"state": OK, "detail": {"nested": [1, 2]}},
    }


def test_csv(swap, capsys):
    swap(three())
    assert pstatus.main(["pstatus", "-f", "csv", "app.ini"]) == 2
    assert capsys.readouterr().out == (
        "cache\tYELLOW\tevictions are high\n"
        "database\tOK\tconnected\n"
        "queue\tRED\tbroker unreachable\n"
    )


def test_csv_without_handlers_prints_nothing(swap, capsys):
    swap(make_registry)
    assert pstatus.main(["pstatus", "app.ini", "--format=csv"]) == 0
    assert capsys.readouterr().out == ""


def test_prometheus(swap, capsys):
    swap(three())
    assert pstatus.main(["pstatus", "app.ini", "--format=prometheus"]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[:5] == [
        "# HELP svc_status Status 0->OK, 1->YELLOW, 2->RED",
        "# TYPE svc_status untyped",
        'svc_status{name="cache"} 1',
        'svc_status{name="database"} 0',
        'svc_status{name="queue"} 2',
    ]
    assert "# TYPE svc_status_duration_seconds gauge" in lines
    assert sum(line.startswith("svc_status_duration_seconds{") for line in lines) == 3


def test_only_evaluates_the_named_handlers(swap, capsys):
    calls = []

    def counted(state):
        def handler():
            calls.append(state)
            return {"state": state}

        return handler

    swap(lambda: make_registry(a=counted(OK), b=counted(YELLOW), c=counted(RED)))
    assert pstatus.main(["pstatus", "app.ini", "--only", "b", "a", "b"]) == 1
    assert sorted(calls) == [OK, YELLOW]
    out = capsys.readouterr().out
    assert out.splitlines()[1:3] == ["a     OK", "b     YELLOW"]
    assert "2 handlers" in out


def test_only_can_be_repeated_and_mixed_with_vars(swap, capsys):
    boot = swap(three())
    argv = [
        "pstatus",
        "--only=queue",
        "app.ini#web",
        "http_port=8080",
        "--only",
        "cache",
    ]
    assert pstatus.main(argv) == 2
    assert boot.calls == [
        ("app.ini#web", {"http_port": "8080", "__script__": "pstatus"})
    ]
    out = capsys.readouterr().out
    assert "queue" in out and "cache" in out and "database" not in out


def test_only_with_an_unknown_name_exits_3(swap, capsys):
    calls = []
    boot = swap(
        lambda: make_registry(a=lambda: calls.append(1) or {"state": OK}, b=fixed(state=OK))
    )
    assert pstatus.main(["pstatus", "app.ini", "--only", "a", "zz", "yy"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "pstatus: unknown status handlers 'zz', 'yy'; registered: a, b\n"
    assert calls == []  # nothing was evaluated
    assert boot.closed == 1


def test_colour_when_forced(swap, capsys):
    swap(three())
    assert pstatus.main(["pstatus", "app.ini", "--color"]) == 2
    out = capsys.readouterr().out
    assert "cache     \x1b[33mYELLOW\x1b[0m  evictions are high\n" in out
    assert "database  \x1b[32mOK\x1b[0m      connected\n" in out
    assert "queue     \x1b[31mRED\x1b[0m     broker unreachable\n" in out
    assert out.endswith(
        "\x1b[1m\x1b[31mRED\x1b[0m (3 handlers: 1 OK, 1 YELLOW, 1 RED)\n"
    )


def test_no_colour_on_a_pipe(swap, capsys):
    swap(three())
    assert pstatus.main(["pstatus", "app.ini"]) == 2
    assert "\x1b" not in capsys.readouterr().out


@pytest.fixture
def terminal(monkeypatch):
    """``use()`` makes ``sys.stdout`` a real pseudo-terminal; ``read()`` its output."""
    master, slave = pty.openpty()
    stream = io.TextIOWrapper(io.FileIO(slave, "w"), encoding="utf-8")
    chunks: List[bytes] = []

    def use() -> None:
        # Inside the test: pytest's capturing sets sys.stdout between phases.
        monkeypatch.setattr("sys.stdout", stream)

    def read() -> str:
        stream.flush()
        os.set_blocking(master, False)
        try:
            while True:
                chunks.append(os.read(master, 65536))
        except BlockingIOError:
            pass
        return b"".join(chunks).decode("utf-8")

    try:
        yield use, read
    finally:
        stream.close()
        os.close(master)


def test_colour_on_a_terminal(swap, terminal):
    use, read = terminal
    swap(three())
    use()
    assert pstatus.main(["pstatus", "app.ini"]) == 2
    text = read()
    assert "\x1b[33mYELLOW\x1b[0m" in text
    assert "\x1b[31mRED\x1b[0m" in text


@pytest.mark.parametrize(
    "argv, env",
    [
        (["--no-color"], {}),
        (["--no-colour"], {}),
        ([], {"NO_COLOR": "1"}),
        ([], {"TERM": "dumb"}),
    ],
)
def test_no_colour_on_a_terminal_when_asked(swap, terminal, monkeypatch, argv, env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    use, read = terminal
    swap(three())
    use()
    assert pstatus.main(["pstatus", "app.ini", *argv]) == 2
    text = read()
    assert "RED" in text
    assert "\x1b" not in text


def test_control_characters_in_details_cannot_reach_the_terminal(swap, capsys):
    swap(lambda: make_registry(evil=fixed(state=YELLOW, detail="line one\nline two\x1b[2J\tend")))
    assert pstatus.main(["pstatus", "app.ini"]) == 1
    out = capsys.readouterr().out
    assert "evil  YELLOW  line one\\nline two\\x1b[2J\\tend\n" in out
    assert "\x1b" not in out


def test_quiet_prints_nothing_but_keeps_the_code(swap, capsys):
    swap(three())
    assert pstatus.main(["pstatus", "app.ini", "-q"]) == 2
    assert pstatus.main(["pstatus", "app.ini"], quiet=True) == 2
    assert capsys.readouterr() == ("", "")


def test_load_failure_exits_4(swap, capsys):
    def fail():
        raise FileNotFoundError(2, "No such file or directory", "missing.ini")

    boot = swap(fail)
    assert pstatus.main(["pstatus", "missing.ini"]) == 4
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "pstatus: cannot load the application from 'missing.ini': FileNotFoundError: "
        "[Errno 2] No such file or directory: 'missing.ini'\n"
    )
    assert boot.closed == 0


def test_configuration_errors_are_unwrapped(swap, capsys):
    swap(lambda: make_registry({"svcstatus.timeout": "soon"}))
    assert pstatus.main(["pstatus", "app.ini"]) == 4
    err = capsys.readouterr().err
    assert err.startswith(
        "pstatus: cannot load the application from 'app.ini': SettingsError: "
        "bad value for setting 'svcstatus.timeout'"
    )
    assert "ConfigurationExecutionError" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "requires a config file argument"),
        (["app.ini", "--format", "xml"], "invalid choice: 'xml'"),
        (["app.ini", "novar"], "Variable assignment 'novar' invalid"),
        (["app.ini", "--color", "--no-color"], "not allowed with argument"),
        (["app.ini", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_64_not_2(swap, capsys, argv, message):
    boot = swap(three())
    assert pstatus.main(["pstatus", *argv]) == 64
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("usage: pstatus")
    assert message in err
    assert boot.calls == []


def test_help_documents_the_exit_codes(capsys):
    assert pstatus.main(["pstatus", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--only NAME" in out
    for line in (
        "0   every handler is OK",
        "2   at least one handler is RED",
        "64  bad command line",
    ):
        assert line in out


def test_the_command_class_can_be_driven_like_ptweens(swap, capsys):
    swap(three())
    command = pstatus.PStatusCommand(["pstatus", "app.ini", "--format", "csv"])
    assert command.run() == 2
    assert capsys.readouterr().out.count("\n") == 3


def test_the_drain_on_sigterm_of_the_app_is_undone(swap, capsys):
    before = signal.getsignal(signal.SIGTERM)
    installed = []

    def registry():
        made = make_registry({"probestatus.drain_seconds": "30"}, a=fixed(state=OK))
        installed.append((signal.getsignal(signal.SIGTERM), get_app_status(made).drainer))
        return made

    swap(registry)
    try:
        assert pstatus.main(["pstatus", "app.ini", "-q"]) == 0
        handler, drainer = installed[0]
        assert isinstance(handler, Drainer)  # the app did install it
        assert drainer is handler
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        signal.signal(signal.SIGTERM, before)


def test_format_table_directly():
    assert pstatus.format_table([]) == ["No status handlers are registered."]
    lines = pstatus.format_table(
        [("a-long-name", {"state": OK}), ("b", {"state": RED, "detail": 7})]
    )
    assert lines == [
        "NAME         STATE  DETAIL",
        "a-long-name  OK",
        "b            RED    7",
        "",
        "RED (2 handlers: 1 OK, 1 RED)",
    ]
