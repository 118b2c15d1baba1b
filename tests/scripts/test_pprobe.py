"""``pprobe`` with a swapped ``bootstrap``: the probe text of a real app,
read and set through its store."""

from __future__ import annotations

import os
from typing import Any

import pytest
from pyramid.interfaces import IRouter
from pyramid.router import Router
from webtest import TestApp

from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.scripts import pprobe

from ..helpers import PATIENCE, in_thread
from .bootstrap import make_registry


def test_refuses_the_memory_store(swap, capsys):
    # Without probestatus.store, the app keeps 1.0's text in this process.
    assert get_app_status(make_registry()).store is None
    boot = swap(make_registry)
    assert pprobe.main(["pprobe", "app.ini", "--off", "draining"]) == 5
    out, err = capsys.readouterr()
    assert out == ""
    assert "probestatus.store" in err and "file://" in err and "redis://" in err
    assert err.startswith("pprobe: ")
    assert boot.calls == [("app.ini", {"__script__": "pprobe"})]
    assert boot.closed == 1


@pytest.mark.parametrize("argv", [[], ["--show"], ["--on"]])
def test_refuses_the_memory_store_for_every_action(swap, capsys, argv):
    swap(make_registry)
    assert pprobe.main(["pprobe", "app.ini", *argv]) == 5


def file_store_registry(path: Any) -> Any:
    return lambda: make_registry({"probestatus.store": f"file://{path}"})


def test_show_off_on_through_a_file_store(swap, capsys, tmp_path):
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


def test_a_view_of_the_same_app_sees_the_change(swap, capsys, tmp_path):
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


def test_an_unreadable_store_exits_3(swap, capsys, tmp_path):
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
def test_rejects_bad_texts_before_loading(swap, capsys, text, message):
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
def test_usage_errors_exit_64(swap, capsys, argv, message):
    swap(make_registry)
    assert pprobe.main(["pprobe", *argv]) == 64
    assert message in capsys.readouterr().err


def test_load_failure_exits_4(swap, capsys):
    swap(lambda: make_registry({"probestatus.nonsense": "1", "svcstatus.timeout": "x"}))
    assert pprobe.main(["pprobe", "app.ini", "--show"]) == 4
    assert capsys.readouterr().err.startswith(
        "pprobe: cannot load the application from 'app.ini': "
    )


def test_help_documents_the_exit_codes(capsys):
    assert pprobe.main(["pprobe", "-h"]) == 0
    out = capsys.readouterr().out
    assert "--off TEXT" in out and "--on" in out and "--show" in out
    assert "5   the application uses the in-memory store" in out


@pytest.mark.parametrize("text", ["", "   "])
def test_refuses_an_empty_text(swap, capsys, text):
    # --off "$REASON" with REASON unset would answer 503 with an empty page.
    boot = swap(make_registry)
    assert pprobe.main(["pprobe", "app.ini", "--off", text]) == 64
    err = capsys.readouterr().err
    assert "--off: the text is empty" in err
    assert boot.calls == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_at_the_probe_path_exits_3_without_hanging(swap, capsys, tmp_path):
    probe = tmp_path / "probe.txt"
    swap(file_store_registry(probe))
    os.mkfifo(probe)
    try:
        thread, out = in_thread(pprobe.main, ["pprobe", "app.ini", "--show"])
        thread.join(PATIENCE)
        assert not thread.is_alive(), "pprobe hangs on the FIFO"
    finally:
        try:  # let a hanging reader go
            os.close(os.open(probe, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert out == [3]
    assert "it is a FIFO" in capsys.readouterr().err
    # --off replaces whatever is at the path (the rename does not open it).
    assert pprobe.main(["pprobe", "app.ini", "--off", "maintenance"]) == 0
    assert probe.read_text() == "maintenance"
