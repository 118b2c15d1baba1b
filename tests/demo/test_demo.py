"""The demo app answers on every endpoint: in-process, and served by pserve
from its real .ini file, as the README's first command does."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from webtest import TestApp

from ..helpers import PATIENCE
from ..servers import free_port, http_ready, stop_process, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo"

demo = pytest.importorskip(
    "lovely_ws_status_demo", reason="the demo is installed by dev.py (pip install -e examples/demo)"
)


@pytest.fixture
def app(tmp_path):
    settings = {
        "sqlalchemy.url": f"sqlite:///{tmp_path}/demo.sqlite",
        "probestatus.store": f"file://{tmp_path}/var/probe.txt",
        "dockerflow.version_file": str(DEMO / "lovely_ws_status_demo" / "version.json"),
        "svcstatus.handlers": "disk = lovely.ws.status.checks.DiskSpaceCheck",
        "svcstatus.handler.disk.path": str(tmp_path),
    }
    return TestApp(demo.main({}, **settings))


def test_every_endpoint_answers(app):
    assert "/svc_status.html" in app.get("/").text
    names = {line.split("\t")[0] for line in app.get("/svc_status").text.splitlines()}
    assert names == {"database", "disk", "migrations", "queue-worker", "upstream"}
    statuses = app.get("/svc_status.json").json
    assert statuses["database"]["state"] == "OK"
    assert statuses["migrations"] == {"state": "OK", "detail": "at head 0001"}
    assert 'svc_status{name="database"} 0' in app.get("/svc_status.prometheus").text
    assert app.get("/svc_status.html").text.count('<tr class="') == 5
    assert app.get("/__version__").json["version"]
    assert app.get("/__heartbeat__", status=(200, 500)).json["checks"]["database"] == "ok"
    assert app.get("/__lbheartbeat__").status_int == 200


def test_decommission_through_the_file_store(app):
    assert app.get("/probe_status").text == "OK"
    app.post("/probe_status?body=maintenance")
    assert app.get("/probe_status", status=503).text == "maintenance"
    app.get("/__lbheartbeat__", status=503)
    app.post("/probe_status")
    assert app.get("/probe_status").text == "OK"


def test_flaky_upstream_changes_state_on_its_own(monkeypatch):
    upstream = demo.FlakyUpstream(period=6)
    states = []
    for second in range(6):  # each second of one period
        monkeypatch.setattr(demo.time, "time", lambda s=second: 600.0 + s)
        states.append(upstream()["state"])
    assert states == ["OK"] * 4 + ["YELLOW", "RED"]


def test_worker_reports_through_the_mixin():
    worker = demo.QueueWorker(interval=0.01)
    assert worker() == {"state": "YELLOW", "detail": "starting"}
    worker.start()
    from lovely.ws.status import STATUS_HANDLERS, waitForStatus

    STATUS_HANDLERS["worker"] = worker
    assert waitForStatus("worker", "OK", interval=0.01, timeout=PATIENCE)


@pytest.mark.server
def test_pserve_serves_the_demo_ini(tmp_path):
    """`python3 dev.py demo` runs exactly this: pserve on the demo's .ini."""
    pserve = shutil.which("pserve", path=os.path.dirname(sys.executable))
    if pserve is None:
        pytest.skip("pserve is not installed next to this Python")
    # A copy, so the test writes its database and probe file in tmp_path.
    ini = _demo_ini(tmp_path)
    for attempt in range(3):
        # Another process may take the free port before pserve binds it.
        port = free_port()
        # The port as `python3 dev.py demo --port N` gives it.
        proc = subprocess.Popen([pserve, str(ini), f"http_port={port}"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(http_ready(f"http://127.0.0.1:{port}/probe_status"), "pserve", proc)
            break
        except RuntimeError:
            stop_process(proc)
            if attempt == 2:
                raise
    try:
        base = f"http://127.0.0.1:{port}"

        def get(path):
            try:
                with urllib.request.urlopen(base + path, timeout=10) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()

        status, body = get("/svc_status")
        assert status == 200 and "database\tOK" in body
        page = get("/svc_status.html")[1]
        assert "<h1>lovely-ws-status demo <span" in page
        assert get("/svc_status.prometheus")[0] == 200
        assert get("/probe_status") == (200, "OK")
        assert json.loads(get("/__version__")[1])["build"] == "local"
        assert get("/__lbheartbeat__")[0] == 200
    finally:
        stop_process(proc)
        output = proc.stdout.read().decode(errors="replace")
    assert "Traceback" not in output, output


def _demo_ini(tmp_path: Path) -> Path:
    """A copy of the demo's .ini that keeps its files in ``tmp_path``."""
    ini = tmp_path / "development.ini"
    ini.write_text((DEMO / "development.ini").read_text())
    (tmp_path / "lovely_ws_status_demo").mkdir(exist_ok=True)
    shutil.copy(DEMO / "lovely_ws_status_demo" / "version.json",
                tmp_path / "lovely_ws_status_demo" / "version.json")
    return ini


def _script(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.skip(f"{name} is not installed next to this Python (pip install -e .)")
    return str(path)


@pytest.mark.server
def test_pstatus_and_pprobe_on_the_demo_ini(tmp_path):
    """The README's console-script commands, on the demo's own .ini."""
    ini = _demo_ini(tmp_path)

    def run(*args):
        return subprocess.run([_script(args[0]), str(ini), *args[1:]], capture_output=True,
                              text=True, timeout=120, cwd=str(tmp_path))

    done = run("pstatus", "--only", "database", "migrations", "disk", "--no-color")
    assert done.returncode == 0, done.stderr
    assert "database" in done.stdout and "at head 0001" in done.stdout
    done = run("pstatus", "--format", "json")
    report = json.loads(done.stdout)
    assert set(report) == {"database", "disk", "migrations", "queue-worker", "upstream"}
    # The upstream of the demo turns YELLOW or RED on a clock: the exit code
    # follows the worst state it reported, a non-critical RED counting as
    # YELLOW.
    def level(status):
        found = ("OK", "YELLOW", "RED").index(status["state"])
        return min(found, 1) if status.get("critical") is False else found

    assert done.returncode == max(map(level, report.values()))

    assert run("pprobe", "--off", "deploying").returncode == 0
    shown = run("pprobe", "--show")
    assert (shown.returncode, shown.stdout.strip()) == (1, "deploying")
    assert (tmp_path / "var" / "probe.txt").read_text() == "deploying"
    assert run("pprobe", "--on").returncode == 0
    assert run("pprobe", "--show").returncode == 0


def test_groups_behind_the_kubernetes_endpoints(app, monkeypatch):
    assert "/readyz" in app.get("/").text
    monkeypatch.setattr(demo.FlakyUpstream, "__call__",
                        lambda self: {"state": "RED", "detail": "connection refused"})
    # The worker alone is in liveness; it is never RED.
    live = app.get("/livez?verbose").text
    assert live in ("[+]queue-worker ok\nlivez check passed\n",
                    "[+]queue-worker ok (YELLOW)\nlivez check passed\n")
    ready = app.get("/readyz?verbose").text
    assert "[+]upstream ok (RED, non-critical)\n" in ready
    assert "[+]database ok\n" in ready and "[+]probe_status ok\n" in ready
    assert "migrations" not in ready
    started = app.get("/startupz?verbose").text
    assert "[+]migrations ok\n" in started and started.endswith("startupz check passed\n")
    assert app.get("/readyz/database").text == "ok"
    app.get("/livez/database", status=404)
    assert app.get("/svc_status?group=startup").text.startswith("database\tOK\t")
