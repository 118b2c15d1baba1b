"""``pstatus`` and ``pprobe`` with a swapped ``bootstrap``, like Pyramid's tests.

The swapped ``bootstrap`` returns the registry of a real Pyramid
configuration (``Configurator`` + ``add_status_handler`` + commit); the
handlers run through the real evaluator.
"""

from __future__ import annotations

import io
import json
import os
import pty
import threading
from typing import Any, Dict, List

import pytest
from pyramid.config import Configurator
from pyramid.interfaces import IRouter
from pyramid.router import Router

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.scripts import pprobe, pstatus


class Bootstrap:
    """Stands in for ``pyramid.paster.bootstrap``; records how it was called."""

    def __init__(self, make_registry: Any) -> None:
        self.make_registry = make_registry
        self.calls: List[Any] = []
        self.closed = 0

    def __call__(self, config_uri: str, options: Any = None) -> Dict[str, Any]:
        self.calls.append((config_uri, options))
        registry = self.make_registry()

        def closer() -> None:
            self.closed += 1

        return {"registry": registry, "closer": closer, "app": None, "root": None}


def make_registry(settings: Any = None, **handlers: Any) -> Any:
    config = Configurator(settings=settings or {})
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    for name, handler in handlers.items():
        config.add_status_handler(name, handler)
    config.commit()
    return config.registry


def fixed(state: str, detail: Any = None) -> Any:
    def handler() -> Dict[str, Any]:
        status = {"state": state}
        if detail is not None:
            status["detail"] = detail
        return status

    return handler


@pytest.fixture
def swap(monkeypatch):
    """``swap(registry_factory)`` installs a recording bootstrap in both scripts."""
    logging_calls: List[Any] = []

    def install(factory: Any) -> Bootstrap:
        boot = Bootstrap(factory)
        for cls in (pstatus.PStatusCommand, pprobe.PProbeCommand):
            monkeypatch.setattr(cls, "bootstrap", staticmethod(boot))
            monkeypatch.setattr(
                cls,
                "setup_logging",
                staticmethod(
                    lambda uri, global_conf=None: logging_calls.append(
                        (uri, global_conf)
                    )
                ),
            )
        boot.logging_calls = logging_calls
        return boot

    return install


@pytest.fixture(autouse=True)
def no_colour_env(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")


def three(**extra: Any) -> Any:
    return lambda: make_registry(
        database=fixed(OK, "connected"),
        cache=fixed(YELLOW, "evictions are high"),
        queue=fixed(RED, "broker unreachable"),
        **extra,
    )


# ---------------------------------------------------------------- pstatus


def test_all_ok_prints_a_table_and_exits_0(swap, capsys):
    boot = swap(lambda: make_registry(database=fixed(OK, "connected"), disk=fixed(OK)))
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
    swap(lambda: make_registry(a=fixed(states[0]), b=fixed(states[1])))
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


def test_handlers_run_under_the_configured_timeout(swap, capsys):
    release = threading.Event()

    def stuck():
        release.wait(60)
        return {"state": OK}

    swap(
        lambda: make_registry({"svcstatus.timeout": "0.2"}, stuck=stuck, fine=fixed(OK))
    )
    try:
        assert pstatus.main(["pstatus", "app.ini"]) == 2
    finally:
        release.set()
    out = capsys.readouterr().out
    assert "stuck  RED    timed out after 0.2 seconds\n" in out
    assert "fine   OK\n" in out


def test_json(swap, capsys):
    swap(three(extra=fixed(OK, {"nested": [1, 2]})))
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
        lambda: make_registry(a=lambda: calls.append(1) or {"state": OK}, b=fixed(OK))
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
    swap(lambda: make_registry(evil=fixed(YELLOW, "line one\nline two\x1b[2J\tend")))
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
    import signal

    from lovely.ws.status.drain import Drainer

    before = signal.getsignal(signal.SIGTERM)
    installed = []

    def registry():
        made = make_registry({"probestatus.drain_seconds": "30"}, a=fixed(OK))
        installed.append(signal.getsignal(signal.SIGTERM))
        return made

    swap(registry)
    try:
        assert pstatus.main(["pstatus", "app.ini", "-q"]) == 0
        assert isinstance(installed[0], Drainer)  # the app did install it
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


# ---------------------------------------------------------------- pprobe


def test_pprobe_refuses_the_memory_store(swap, capsys):
    boot = swap(make_registry)
    assert pprobe.main(["pprobe", "app.ini", "--off", "draining"]) == 5
    out, err = capsys.readouterr()
    assert out == ""
    assert "probestatus.store" in err and "file://" in err and "redis://" in err
    assert err.startswith("pprobe: ")
    assert boot.calls == [("app.ini", {"__script__": "pprobe"})]
    assert boot.closed == 1


@pytest.mark.parametrize("argv", [[], ["--show"], ["--on"]])
def test_pprobe_refuses_the_memory_store_for_every_action(swap, capsys, argv):
    swap(make_registry)
    assert pprobe.main(["pprobe", "app.ini", *argv]) == 5


def file_store_registry(path: Any) -> Any:
    return lambda: make_registry({"probestatus.store": f"file://{path}"})


def test_pprobe_show_off_on_through_a_file_store(swap, capsys, tmp_path):
    probe = tmp_path / "probe.txt"
    boot = swap(file_store_registry(probe))
    assert pprobe.main(["pprobe", "app.ini"]) == 0
    assert capsys.readouterr() == ("OK\n", "")

    assert pprobe.main(["pprobe", "app.ini", "--off", "deploying v42 – ünïcode"]) == 0
    assert capsys.readouterr() == ("deploying v42 – ünïcode\n", "")
    assert probe.read_text(encoding="utf-8") == "deploying v42 – ünïcode"

    assert pprobe.main(["pprobe", "app.ini", "--show"]) == 1
    assert capsys.readouterr().out == "deploying v42 – ünïcode\n"

    assert pprobe.main(["pprobe", "app.ini", "--on", "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    assert pprobe.main(["pprobe", "app.ini", "--show"]) == 0
    assert capsys.readouterr().out == "OK\n"
    assert boot.closed == 5


def test_pprobe_a_view_of_the_same_app_sees_the_change(swap, capsys, tmp_path):
    from webtest import TestApp

    probe = tmp_path / "probe.txt"
    registry = file_store_registry(probe)()
    swap(lambda: registry)
    app = TestApp(registry.queryUtility(IRouter) or Router(registry))
    assert app.get("/probe_status").text == "OK"
    assert pprobe.main(["pprobe", "app.ini", "--off", "maintenance"]) == 0
    response = app.get("/probe_status", status=503)
    assert response.text == "maintenance"
    assert pprobe.main(["pprobe", "app.ini", "--on"]) == 0
    assert app.get("/probe_status", status=200).text == "OK"


def test_pprobe_an_unreadable_store_exits_3(swap, capsys, tmp_path):
    probe = tmp_path / "probe.txt"

    def registry():
        made = file_store_registry(probe)()
        probe.mkdir()  # after the settings check: a directory is no probe file
        return made

    swap(registry)
    assert pprobe.main(["pprobe", "app.ini", "--show"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("pprobe: the probe store is unavailable: cannot read")


@pytest.mark.parametrize(
    "text, message",
    [
        ("x" * 1025, "1025 characters long; at most 1024"),
        ("two\nlines", "control character U+000A"),
        ("bell\x07", "control character U+0007"),
        ("nul\x00", "control character U+0000"),
    ],
)
def test_pprobe_rejects_bad_texts_before_loading(swap, capsys, text, message):
    boot = swap(make_registry)
    assert pprobe.main(["pprobe", "app.ini", "--off", text]) == 64
    err = capsys.readouterr().err
    assert message in err
    assert boot.calls == []


def test_check_text_accepts_the_longest_and_unicode():
    assert pprobe.check_text("x" * 1024) is None
    assert pprobe.check_text("Wartung bis 14:00 – déploiement 🚀") is None
    assert pprobe.check_text("") is None


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "requires a config file argument"),
        (["app.ini", "--on", "--off", "x"], "not allowed with argument"),
        (["app.ini", "--show", "--on"], "not allowed with argument"),
        (["app.ini", "--off"], "expected one argument"),
    ],
)
def test_pprobe_usage_errors_exit_64(swap, capsys, argv, message):
    swap(make_registry)
    assert pprobe.main(["pprobe", *argv]) == 64
    assert message in capsys.readouterr().err


def test_pprobe_load_failure_exits_4(swap, capsys):
    swap(lambda: make_registry({"probestatus.nonsense": "1", "svcstatus.timeout": "x"}))
    assert pprobe.main(["pprobe", "app.ini", "--show"]) == 4
    assert capsys.readouterr().err.startswith(
        "pprobe: cannot load the application from 'app.ini': "
    )


def test_pprobe_help_documents_the_exit_codes(capsys):
    assert pprobe.main(["pprobe", "-h"]) == 0
    out = capsys.readouterr().out
    assert "--off TEXT" in out and "--on" in out and "--show" in out
    assert "5   the application uses the in-memory store" in out
