"""``pstatus CONFIG --emit prometheus-rules`` and ``--emit grafana-dashboard``."""
from __future__ import annotations

import json
import subprocess

import pytest
from pyramid.config import Configurator

from lovely.ws.status import OK
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.prometheus import DASHBOARD_FILE, read_file
from lovely.ws.status.prometheus.rules import HandlerRule, alert_rules
from lovely.ws.status.scripts import pstatus
from lovely.ws.status.scripts.pstatus import scrape_interval

from ..helpers import fixed
from ..scripts.bootstrap import Bootstrap
from ..servers import need_binary


def registry(settings=None):
    config = Configurator(settings=settings or {"svcstatus.timeout": "2"})
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("db", fixed(state=OK), timeout=30)
    config.add_status_handler("cache", fixed(state=OK), ttl=60)
    config.commit()
    return config.registry


@pytest.fixture
def boot(monkeypatch):
    calls = []

    def make():
        calls.append(1)
        return registry()

    boot = Bootstrap(make)
    monkeypatch.setattr(pstatus.PStatusCommand, "bootstrap", staticmethod(boot))
    monkeypatch.setattr(pstatus.PStatusCommand, "setup_logging", staticmethod(boot.setup_logging))
    return boot


def test_rules_for_the_app_s_handlers(boot, capsys):
    assert pstatus.main(["pstatus", "app.ini", "--emit", "prometheus-rules"]) == 0
    out = capsys.readouterr().out
    assert out == alert_rules(
        [HandlerRule("cache", 2.0, 60.0), HandlerRule("db", 30.0)], timeout=2.0)
    assert boot.closed == 1


def test_rules_with_job_interval_and_only(boot, capsys):
    assert pstatus.main(["pstatus", "app.ini", "--emit=prometheus-rules", "--job", "shop",
                         "--scrape-interval", "15s", "--only=db"]) == 0
    assert capsys.readouterr().out == alert_rules(
        [HandlerRule("db", 30.0)], job="shop", scrape_interval=15.0, timeout=2.0)


def test_rules_run_no_handler(monkeypatch, capsys):
    calls = []

    def make():
        config = Configurator()
        config.include("lovely.ws.status")
        config.add_status_handler("counted", lambda: calls.append(1) or {"state": OK})
        config.commit()
        return config.registry

    boot = Bootstrap(make)
    monkeypatch.setattr(pstatus.PStatusCommand, "bootstrap", staticmethod(boot))
    monkeypatch.setattr(pstatus.PStatusCommand, "setup_logging", staticmethod(boot.setup_logging))
    assert pstatus.main(["pstatus", "app.ini", "--emit", "prometheus-rules"]) == 0
    assert calls == []


def test_promtool_accepts_the_rules(boot, capsys, tmp_path):
    pstatus.main(["pstatus", "app.ini", "--emit", "prometheus-rules"])
    path = tmp_path / "rules.yml"
    path.write_text(capsys.readouterr().out)
    result = subprocess.run([need_binary("promtool"), "check", "rules", str(path)],
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard(boot, capsys):
    assert pstatus.main(["pstatus", "app.ini", "--emit", "grafana-dashboard"]) == 0
    out = capsys.readouterr().out
    assert out == read_file(DASHBOARD_FILE)
    assert json.loads(out)["uid"] == "lovely-ws-status"


@pytest.mark.parametrize("value, seconds", [
    ("30", 30.0), ("30s", 30.0), ("1m", 60.0), ("1.5m", 90.0), ("1h", 3600.0), (" 2M ", 120.0),
])
def test_scrape_interval(value, seconds):
    assert scrape_interval(value) == seconds


@pytest.mark.parametrize("value", ["", "m", "0", "-1m", "1d", "inf", "nan", "fast"])
def test_bad_scrape_interval_is_a_usage_error(boot, capsys, value):
    code = pstatus.main(["pstatus", "app.ini", "--emit", "prometheus-rules",
                         f"--scrape-interval={value}"])
    assert code == 64
    assert "--scrape-interval" in capsys.readouterr().err


def test_pstatus_is_no_worker_of_the_app(boot, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    kept = []
    boot.make_registry = lambda: kept.append(registry()) or kept[-1]
    assert pstatus.main(["pstatus", "app.ini"]) == 0
    assert get_app_status(kept[0]).checks.share is False
    assert list(tmp_path.iterdir()) == []
