"""``pstatus --group NAME``, and non-critical handlers in the table and the
exit code."""
from __future__ import annotations

import json
import re

import pytest

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.scripts import pstatus

from ..helpers import fixed
from .bootstrap import make_registry


@pytest.fixture(autouse=True)
def no_colour(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")


def handlers():
    addStatusHandler("db", fixed(state=RED, detail="refused"))
    addStatusHandler("ping", fixed(state=OK, detail="pong"), groups=["liveness"])
    addStatusHandler("mail", fixed(state=RED, detail="smtp down"), critical=False,
                     groups=["liveness", "readiness"])


def test_group(swap, capsys):
    handlers()
    swap(make_registry)
    assert pstatus.main(["pstatus", "app.ini", "--group", "liveness"]) == 1
    assert capsys.readouterr().out == (
        "NAME  STATE  DETAIL\n"
        "mail  RED    (non-critical) smtp down\n"
        "ping  OK     pong\n"
        "\n"
        "YELLOW (2 handlers: 1 OK, 1 RED non-critical)\n"
    )


def test_group_and_a_critical_red(swap, capsys):
    handlers()
    swap(make_registry)
    assert pstatus.main(["pstatus", "app.ini", "--group=readiness"]) == 2
    assert capsys.readouterr().out == (
        "NAME  STATE  DETAIL\n"
        "db    RED    refused\n"
        "mail  RED    (non-critical) smtp down\n"
        "\n"
        "RED (2 handlers: 1 RED, 1 RED non-critical)\n"
    )


def test_group_with_only(swap, capsys):
    handlers()
    swap(make_registry)
    assert pstatus.main(["pstatus", "app.ini", "--group", "liveness", "--only=ping",
                         "--only=db"]) == 0
    assert capsys.readouterr().out.endswith("OK (1 handler: 1 OK)\n")


def test_a_group_that_does_not_exist(swap, capsys):
    handlers()
    swap(make_registry)
    assert pstatus.main(["pstatus", "app.ini", "--group", "nothing"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert "unknown group 'nothing'; groups: liveness, readiness, startup" in err


def test_a_standard_group_without_members(swap, capsys):
    swap(make_registry)
    assert pstatus.main(["pstatus", "app.ini", "--group", "liveness"]) == 0
    assert capsys.readouterr().out == "No status handlers are registered.\n"


def test_group_in_json_and_csv(swap, capsys):
    handlers()
    swap(make_registry)
    assert pstatus.main(["pstatus", "app.ini", "--group", "liveness", "-f", "json"]) == 1
    assert json.loads(capsys.readouterr().out) == {
        "ping": {"state": OK, "detail": "pong"},
        "mail": {"state": RED, "detail": "smtp down", "critical": False},
    }
    assert pstatus.main(["pstatus", "app.ini", "--group", "liveness", "-f", "csv"]) == 1
    assert capsys.readouterr().out == (
        "mail\tRED\t(non-critical) smtp down\nping\tOK\tpong\n")


@pytest.mark.parametrize("states, code", [
    ((RED,), 1), ((RED, YELLOW), 1), ((RED, OK), 1), ((OK, OK), 0),
])
def test_non_critical_red_exits_like_yellow(swap, capsys, states, code):
    for i, state in enumerate(states):
        addStatusHandler(f"h{i}", fixed(state=state), critical=False)
    swap(make_registry)
    assert pstatus.main(["pstatus", "app.ini", "-q"]) == code


def test_every_handler_critical_keeps_the_summary_of_1_0(swap, capsys):
    addStatusHandler("a", fixed(state=RED))
    addStatusHandler("b", fixed(state=OK), groups=["liveness"])
    swap(make_registry)
    assert pstatus.main(["pstatus", "app.ini"]) == 2
    assert capsys.readouterr().out.endswith("RED (2 handlers: 1 OK, 1 RED)\n")


def test_emit_rules_for_a_group(swap, capsys):
    handlers()
    swap(make_registry)
    assert pstatus.main(["pstatus", "app.ini", "--emit", "prometheus-rules",
                         "--group", "liveness"]) == 0
    selectors = set(re.findall(r'svc_status\{name=~?\\"([^\\]+)\\"', capsys.readouterr().out))
    assert selectors == {"mail|ping"}
